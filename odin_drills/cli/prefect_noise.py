"""With the Prefect API gone, one line from odin instead of a screenful from Prefect every few seconds.

When the API dies mid-run, Prefect's background services complain on the console for every batch
they cannot send — "Unable to connect to ws://…", "Service 'EventsWorker' failed to process item",
"--- Error logging to API ---", "Still processing items" — every few seconds until the process
ends, which buries odin's own progress. The run does not depend on any of it (the journal is the
record), so in the ``odin`` process these messages are dropped, and ``LOST`` remembers that the API
was lost so the command's end (``odin_drills.cli.shutdown``) says it once, in one line.
"""

from __future__ import annotations

import logging

NOISY_LOGGERS = ("prefect.events.clients", "prefect._internal.concurrency", "EventsWorker", "APILogWorker",
                 "prefect.client", "odin_drills.steps.lock", "odin_drills.flows.best_effort")
SIGNS = ("Unable to connect to", "All connection attempts failed", "Connect call failed", "does not answer",
         "not answering", "Connection refused")
"""Messages that say the API cannot be reached: dropped, and remembered in ``LOST``."""
SHIPPING = ("'EventsWorker' failed to process", "'APILogWorker' failed to process", "Still processing items")
"""The log and event shippers giving up on a batch (they never say why): dropped, not taken as a sign."""

LOST: list[str] = []
"""The first sign of a lost Prefect API seen in this process (empty: none)."""


class ApiLostFilter(logging.Filter):
    """Drops the record if it says the Prefect API cannot be reached (and remembers that it did)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot format itself is not ours to judge
            return True
        if any(sign in text for sign in SIGNS):
            if not LOST:
                LOST.append(text.splitlines()[0][:200])
            return False
        return not any(sign in text for sign in SHIPPING)


def quiet() -> None:
    """Install the filter on Prefect's and odin's API-facing loggers, once per process."""
    logging.raiseExceptions = False  # Prefect's log shipper writes "--- Error logging to API ---" only if set
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ApiLostFilter) for f in logger.filters):
            logger.addFilter(ApiLostFilter())
