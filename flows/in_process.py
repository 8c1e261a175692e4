"""A flow run in this process whose end is bounded, whatever the Prefect API does.

The journal, not the Prefect API, decides how a run ended. When the API dies mid-run, odin goes on
(tasks report through Prefect's event queue, the lock renews in its own thread, reports and
artifacts are best effort), journals ``run_finished`` with the true outcome and returns its
summary; then Prefect's engine tries to record the final state and, with the server gone, retries
for a minute or more and finally raises ``ConnectError`` — which would turn a completed migration
into a traceback, and a terminal that waits.

So the flow runs in a worker thread and the calling (main) thread waits for it:

- the engine finished: the summary is its final state's data, as before;
- the engine raised after the flow body returned its summary (``final_state`` keeps it per
  thread): that summary stands, and the run is noted in :data:`UNRECORDED`;
- the body returned but the engine is still busy a second later and the API's ``/health`` does not
  answer (or, whatever it answers, ``ENGINE_GRACE_SECONDS`` later): the same — the caller goes on
  and exits (``odin_drills.cli.shutdown``) without waiting;
- the engine raised before the body returned: that error, as before.

The main thread staying free also lets a signal reach odin's handler at once
(``odin_drills.cli.signals``) instead of landing inside a step.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, TypeVar

from odin_drills.flows.final_state import forget_summary, returned_summary, summary_of

T = TypeVar("T")

ENGINE_GRACE_SECONDS = 10.0
"""How long the engine may take to record a final state after the flow body returned. A healthy
API answers in milliseconds; past this, the API is taken as gone."""

POLL_SECONDS = 0.2
ASK_API_AFTER_SECONDS = 1.0
"""After this long, the API's ``/health`` is asked once: if it does not answer, odin stops waiting."""


def _api_answers() -> bool:
    from odin_drills.flows.best_effort import api_answers

    return api_answers(timeout=1.0)


@dataclass(frozen=True)
class Unrecorded:
    """A run whose final state (and maybe its last logs) did not reach Prefect."""

    flow: str
    journal: str
    why: str


UNRECORDED: list[Unrecorded] = []
"""Runs of this process that Prefect did not record; the CLI tells the user once, in one line."""


def run_in_process(flow_fn: Any, kind: type[T], **parameters: Any) -> T:
    """Run ``flow_fn(**parameters)`` in a worker thread; its summary (a ``kind``), bounded as above."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["state"] = flow_fn(**parameters, return_state=True)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
            box["error"] = exc

    name = getattr(flow_fn, "name", "flow")
    thread = threading.Thread(target=target, name=f"odin-flow-{name}", daemon=True)
    thread.start()
    returned_at: float | None = None
    asked_api = False
    try:
        while thread.is_alive():
            thread.join(POLL_SECONDS)  # short waits: signal handlers run in this thread between them
            if returned_at is None and returned_summary(thread.ident or 0) is not None:
                returned_at = time.monotonic()
            waited = time.monotonic() - returned_at if returned_at is not None else 0.0
            if waited > ENGINE_GRACE_SECONDS or (waited > ASK_API_AFTER_SECONDS and not asked_api and
                                                 not _api_answers()):
                break  # the engine is retrying a dead API: the summary is the run's record
            asked_api = asked_api or waited > ASK_API_AFTER_SECONDS
        summary = returned_summary(thread.ident or 0)
    finally:
        forget_summary(thread.ident or 0)
    if "state" in box:
        return summary_of(box["state"], kind)
    if isinstance(summary, kind):
        error = box.get("error")
        why = (f"{error.__class__.__name__}: {error}" if error is not None
               else "the run's final state was not taken")
        UNRECORDED.append(Unrecorded(flow=name, journal=str(getattr(summary, "journal", "") or ""), why=why))
        return summary
    if "error" in box:
        raise box["error"]
    raise RuntimeError(f"the {name} flow ended without a state or a summary")
