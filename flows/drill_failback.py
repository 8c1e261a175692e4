"""``odin rollback PLAN --drill ID`` as the runbook's failback (``flows.drill_rollback`` runs it):
the plan's low-traffic window, and the drill file's ``steps.failback`` after the undos.

    owed_work(plan, entries)     anything to undo, and the ``steps.failback`` still owed
    window_checked(...)          outside ``failback.window`` with work to do, unless ``--force``: the
                                 drill's own outage still in place is ended now and the rest waits
                                 (its one line returned); with only the failback to do, refused (one
                                 line, exit 2); read before the journal is written
    run_failback_steps(...)      the owed ``steps.failback`` in order, through the drill failback's own
                                 executor (``flows.drill_tasks.run_drill_steps``) on a ``DrillRun`` over
                                 the drill's journal, so a step done once is never run twice

Why the drill's executor and a ``DrillRun``, not the undo path: a failback step is a step, not an
undo — its intent and undo are journaled before it acts, under ``failback/<name>``, exactly as
when the drill fails back by itself, so either path sees what the other did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from odin_drills.errors import OutsideChangeWindow
from odin_drills.flows.drill_tasks import run_drill_steps
from odin_drills.plan.drill import DrillPlan, ResolvedEndpoints
from odin_drills.plan.models import SandboxTarget
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.dr.cleanup import Undone, nothing_to_undo, outage_in_place
from odin_drills.steps.dr.drill_steps import FAILBACK, owed_failback_steps
from odin_drills.steps.dr.failback_window import outside_window
from odin_drills.steps.dr.run import DrillOptions, DrillRun
from odin_drills.steps.journal import Entry, Journal, read_journal


def owed_work(plan: DrillPlan, entries: list[Entry]) -> tuple[bool, list[Any]]:
    """(anything to undo, the ``steps.failback`` owed) for the drill's journal."""
    undos_pending = not nothing_to_undo(entries)
    return undos_pending, owed_failback_steps(plan.steps.failback, entries, undos_pending=undos_pending)


def window_checked(plan: DrillPlan, plan_file: str, folder: Path, now: Any, force: bool) -> str | None:
    """None: the rollback may do all its work (inside ``failback.window``, none declared, ``force``,
    or nothing to do). Outside it, with the drill's own outage still in place
    (``steps.dr.cleanup.outage_in_place``): why it is outside (``outside_window``'s line) — the outage
    is ended now, the failback waits. With only the failback to do: refused (``OutsideChangeWindow``,
    one line). Read before the journal is written, so a refusal leaves no trace but its line."""
    outside = outside_window(plan, now)
    if outside is None or force:
        return None
    entries = read_journal(folder / "journal.jsonl")
    undos, steps = owed_work(plan, entries)
    if not (undos or steps):
        return None
    if outage_in_place(entries):
        return outside
    raise OutsideChangeWindow(window_refusal(plan_file, outside))


def window_refusal(plan_file: str, outside: str) -> str:
    return f"{plan_file}: {outside}: wait for it, or pass --force (journaled with --by and --reason)"


def run_failback_steps(plan: DrillPlan, folder: Path, journal: Journal, clock: ScaledClock, target: Any,
                       frontdoor_url: str | None, done: Undone) -> tuple[bool, str]:
    """The drill file's ``steps.failback`` still owed, in order, through the failback's executor (a
    ``DrillRun`` on the journal: identity, intent and undo journaled before each acts); skipped when an
    undo failed — home is not reached through a half-undone failover. (ok, what the detail says)."""
    if not plan.steps.failback:
        return True, ""
    steps = owed_failback_steps(plan.steps.failback, journal.entries(), undos_pending=True)
    if not steps:
        return True, f"; steps.failback: already done ({len(plan.steps.failback)})"
    if not done.all_undone:
        reason = "steps.failback: an undo failed before it; run `odin rollback` again once it is fixed"
        journal.append("note", phase=FAILBACK, message=reason)
        for step in steps:
            journal.append("step_skipped", phase=FAILBACK, step=step.label, step_kind=step.kind, reason=reason)
        return False, f"; steps.failback: {len(steps)} skipped (an undo failed)"
    endpoints = (plan.resolve_endpoints(None) if not isinstance(plan.target, SandboxTarget)
                 else ResolvedEndpoints(frontdoor=(frontdoor_url or "").rstrip("/"), regions={}))
    started = next((e for e in journal.entries() if e.kind == "run_started"), None)
    run = DrillRun(plan=plan, drill_id=folder.name, mode="incident" if started and started.data.get("mode") == "incident"
                   else "drill", options=DrillOptions(), clock=clock, journal=journal, endpoints=endpoints,
                   target=target, resources=plan.resources)
    try:
        failed = run_drill_steps(run, FAILBACK, steps)
    finally:
        run.close()
    if failed is not None:
        return False, f"; steps.failback: {failed.label} failed ({failed.detail})"
    return True, f"; steps.failback: {len(steps)} of {len(plan.steps.failback)} run, all ok"
