"""The end of an ``odin`` command that used Prefect: bounded, and honest about what Prefect missed.

Prefect ships run logs and events from background services (``APILogWorker``, ``EventsWorker``)
and drains them at interpreter exit with no time limit. With its API gone, each batch is retried
for a minute or more, again and again: ``odin migrate`` printed "Error logging to API" for minutes
after its last step and never exited. So before exiting, ``finish`` drains those services for at
most ``DRAIN_SECONDS``; if they drained and every run was recorded, the process exits normally.
Otherwise it tells the user once, in one line, that the run could not be (fully) recorded in
Prefect — the journal has all of it — and exits at once with the run's true exit code
(``os._exit``: the journal is fsynced, the lock released, the children stopped before this point).
"""

from __future__ import annotations

import os
import sys

DRAIN_SECONDS = 5.0


def _drain(seconds: float) -> bool:
    """Stop Prefect's queue services and wait up to ``seconds`` for their last items; True if done."""
    try:
        from prefect._internal.concurrency.services import _QueueServiceBase

        _done, pending = _QueueServiceBase.drain_all(timeout=seconds, at_exit=False)  # type: ignore[misc]
    except Exception:  # noqa: BLE001 - a Prefect internal that moved: fall back to the bounded exit
        return False
    return not pending


def notice(api_url: str, journals: list[str], why: str, *, recorded: bool, later: bool = False) -> str:
    """The one line: the run not recorded at all, or recorded with logs and events missing."""
    where = f"; its journal {journals[0]} holds the whole run" if journals else "; its journal holds the whole run"
    if not recorded:
        then = "; its final state goes to Prefect with the next odin command that finds it answering" if later else ""
        return (f"odin: notice: the Prefect API at {api_url} stopped answering ({why}): this run could not be "
                f"recorded in Prefect{where}{then}")
    return (f"odin: notice: the Prefect API at {api_url} did not answer for a while ({why}): some of this run's "
            f"logs and events are missing in Prefect{where}")


def _remember(journals: list[str]) -> bool:
    """Keep each unrecorded run's final state for the back-fill (``odin_drills.cli.backfill``)."""
    from odin_drills.cli.backfill import remember

    try:
        return bool(journals) and all([remember(journal) for journal in journals])
    except OSError:
        return False


def begin() -> None:
    """A command starts: only what happens from here on counts at its end (tests call ``main`` in-process)."""
    from odin_drills.cli.prefect_noise import LOST

    LOST.clear()
    if "odin_drills.flows.in_process" in sys.modules:
        sys.modules["odin_drills.flows.in_process"].UNRECORDED.clear()


def finish(code: int) -> int:
    """Return ``code`` for a normal exit, or exit at once with it when Prefect cannot take the end."""
    if "prefect" not in sys.modules:
        return code  # fast commands never import it
    from odin_drills.cli.prefect_noise import LOST
    from odin_drills.flows.in_process import UNRECORDED

    drained = _drain(1.0 if UNRECORDED else DRAIN_SECONDS)  # unrecorded: the API is gone, do not wait for it
    if drained and not UNRECORDED and not LOST:
        return code
    api_url = os.environ.get("PREFECT_API_URL", "(unset)")
    why = (UNRECORDED[0].why if UNRECORDED else LOST[0] if LOST
           else f"its last logs and events not taken within {DRAIN_SECONDS:g} s")
    journals = [u.journal for u in UNRECORDED if u.journal]
    later = _remember(journals)
    print(notice(api_url, journals, why.splitlines()[0][:200], recorded=not UNRECORDED, later=later),
          file=sys.stderr, flush=True)
    sys.stdout.flush()
    if drained and not UNRECORDED:
        return code  # the API came back, nothing is left waiting on it: a normal exit
    os._exit(code)  # the engine's thread may still be retrying a dead API: do not wait for it
