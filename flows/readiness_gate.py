"""The operational readiness review inside a migration: journaled at T-1w, and before T-0 the
plan's blocking items are reviewed again (attestations made since T-1w count) and T-0 refuses,
before touching anything, while one is unmet.

Kept out of ``flows.migration`` so the runbook gains two calls, not a module's worth of lines.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from odin_drills.steps.readiness import Inputs, ReadinessBlocked, ReadinessResult, blocking_lines, review


def review_readiness(run: Any, phase: str, *, smoke: Any = None) -> ReadinessResult:
    """Review every item and journal the result (``readiness`` entry). At T-1w the smoke run and
    undo check the phase just did are reused, not repeated."""
    undo_checked: dict[tuple[str, str], str | None] = {}
    if phase == "t-1w":
        for e in run.journal.entries():
            if e.kind == "undo_check" and e.phase == "t-1w" and e.step and e.data.get("status") in ("ok", "unreachable"):
                undo_checked[("t0", e.step)] = None if e.data.get("status") == "ok" else str(e.data.get("detail"))
    inputs = Inputs(run.plan, run.client, smoke=smoke, undo_checked=undo_checked,
                    source=run.source if run.plan.slo is not None else None, now=datetime.now(timezone.utc))
    result = review(inputs)
    run.journal.append("readiness", phase=phase, items=[i.model_dump(mode="json") for i in result.items],
                       **result.counts(), blocking_unmet=[i.id for i in result.blocking_unmet()])
    return result


def require_ready(run: Any) -> None:
    """Before T-0 touches anything: refuse (``ReadinessBlocked``, exit 2) while a blocking item is
    unmet. Not asked again once T-0 has begun (a resume must be able to finish what it started)."""
    if not run.plan.readiness.blocking:
        return
    if any(e.kind == "step_intent" and e.phase == "t0" for e in run.journal.entries()):
        return
    lines = blocking_lines(review_readiness(run, "t0"), run.plan_file)
    if lines:
        raise ReadinessBlocked(lines)
