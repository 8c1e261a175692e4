"""Holds and approvals: a person decides from the Prefect UI form or ``odin decide``.

A hold pauses the flow run with ``pause_flow_run(wait_for_input=...)`` so the UI shows a form.
Prefect fails a run whose pause times out, so odin never lets that happen: a background thread
keeps watching the service (``monitor``) and resolves the hold itself — ``rollback`` when the
numbers escalate, the policy's default at the deadline — by resuming the run with that input,
before Prefect's own timeout (set with a margin) could fire. Whoever resumes first decides.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Literal

from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run as runtime_flow_run

PAUSE_MARGIN_SECONDS = 120
POLL_SECONDS = 1


class HumanDecision(RunInput):
    """The form a person fills in to end a hold."""

    action: Literal["proceed", "rollback"]
    reason: str
    by: str


def _resume_when_paused(flow_run_id: str, action: str, reason: str, by: str, stop: threading.Event) -> bool:
    """Resume the run with this decision once it is paused; give up if the hold ends first.

    The deadline can fall before the flow has finished pausing (a hold of a few seconds under a
    fast clock), so a "not paused" answer means "try again shortly" until the hold is over.
    """
    from prefect.client.orchestration import get_client

    while not stop.is_set():
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(flow_run_id).state  # type: ignore[arg-type]
        if state is not None and state.is_paused():
            try:
                resume_flow_run(flow_run_id, run_input={"action": action, "reason": reason, "by": by})  # type: ignore[arg-type]
                return True
            except Exception:  # someone else resumed it between our read and our resume
                return False
        stop.wait(0.2)
    return False


def wait_for_decision(
    *,
    deadline_wall_seconds: float,
    default: Literal["proceed", "rollback"],
    monitor: Callable[[threading.Event], str | None] | None = None,
    key: str | None = None,
) -> tuple[HumanDecision, datetime]:
    """Pause until a person (or the monitor, or the deadline) decides; return the decision and when."""
    flow_run_id = str(runtime_flow_run.id)
    stop = threading.Event()

    def deadline() -> None:
        end = time.monotonic() + deadline_wall_seconds
        while not stop.wait(timeout=min(0.2, max(0.0, end - time.monotonic()))):
            if time.monotonic() >= end:
                _resume_when_paused(flow_run_id, default, "hold deadline reached: applying the policy default",
                                    "odin (deadline)", stop)
                return

    def escalate() -> None:
        assert monitor is not None
        reason = monitor(stop)
        if reason and not stop.is_set():
            _resume_when_paused(flow_run_id, "rollback", f"escalation during the hold: {reason}", "odin (escalation)", stop)

    threads = [threading.Thread(target=deadline, name="odin-hold-deadline", daemon=True)]
    if monitor is not None:
        threads.append(threading.Thread(target=escalate, name="odin-hold-monitor", daemon=True))
    for thread in threads:
        thread.start()
    try:
        decision = pause_flow_run(
            wait_for_input=HumanDecision,
            timeout=int(deadline_wall_seconds) + PAUSE_MARGIN_SECONDS,
            poll_interval=POLL_SECONDS,
            key=key,
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    return decision, datetime.now(timezone.utc)  # type: ignore[return-value]


def decide(flow_run_id: str, action: str, reason: str, by: str) -> None:
    """``odin decide``: resume a held run with a person's decision."""
    resume_flow_run(flow_run_id, run_input={"action": action, "reason": reason, "by": by})  # type: ignore[arg-type]
