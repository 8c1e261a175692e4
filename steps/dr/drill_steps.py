"""The drill file's own steps (``steps.failover|validation|failback``), run on the migration's machinery.

    run_step(run, step, phase)            one step: an action (http, command, wait, notify, azure.*)
                                          through ``steps.intent.execute`` — identity, intent and undo
                                          journaled before it acts, its outcome after — with the drill's
                                          journal, client, clock, target and secrets; a smoke step runs
                                          the plan's journeys through Front Door
    run_in_order(run, phase, steps, one)  each step after the one before; the first that fails skips the
                                          rest (``step_skipped``, with why) and is returned
    owed_failback_steps(steps, entries)   the ``steps.failback`` a failback that began still owes (``odin
                                          rollback PLAN --drill ID`` runs them after its undos, once)

Why no second executor: a drill's changes must be undone by the same journal reading a migration's
are (``steps.intent.pending_undos``: once per ``phase/step``, newest first, reconciled after a
crash), so ``odin rollback PLAN --drill ID`` finds a custom step's change exactly as it finds a
built-in failover's. The journal's phase names are the runbook's: ``failover``, ``validation``,
``failback``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from odin_drills.plan.steps import SmokeStep
from odin_drills.steps import intent as wal
from odin_drills.steps.actions import StepOutcome
from odin_drills.steps.dr.run import DrillRun
from odin_drills.steps.journal import Entry
from odin_drills.steps.probes.smoke import run_journeys


@dataclass(frozen=True)
class FailedStep:
    label: str
    detail: str


def run_step(run: DrillRun, step: Any, phase: str) -> StepOutcome:
    """One custom step of the drill; never raises for a failing step (its outcome says so)."""
    if isinstance(step, SmokeStep):
        return smoke_step(run, step, phase)
    return wal.execute(run.journal, step, phase=phase, label=step.label, migration=run.drill_id, client=run.client,
                       clock=run.clock, target=run.target, secrets=run.plan.secrets,
                       progress=lambda message, **data: run.note(phase, message, step=step.label, **data))


def smoke_step(run: DrillRun, step: SmokeStep, phase: str) -> StepOutcome:
    """The plan's journeys (those the step names, default all) through Front Door; failed when a
    critical one fails."""
    journeys = [j for j in run.journeys("frontdoor") if step.journeys is None or j.name in step.journeys]
    report = run_journeys(journeys, client=run.client)
    run.journal.append("smoke", phase=phase, step=step.label, report=report, critical_failed=report.critical_failed,
                       noncritical_failed=report.noncritical_failed)
    if report.critical_failed:
        return StepOutcome(status="failed", detail=f"smoke step {step.label}: {report.critical_failed} critical "
                                                   "journey(s) failed through Front Door")
    return StepOutcome(status="ok", detail=f"smoke step {step.label}: {len(journeys)} journey(s) passed")


def run_in_order(run: DrillRun, phase: str, steps: Sequence[Any],
                 one: Callable[[Any], StepOutcome]) -> FailedStep | None:
    """``steps`` in order through ``one``; the first that fails ends the list: the rest are
    journaled ``step_skipped`` with the reason, and the failure is returned (None: all succeeded)."""
    for i, step in enumerate(steps):
        outcome = one(step)
        if outcome.succeeded:
            continue
        failed = FailedStep(step.label, outcome.detail.splitlines()[0] if outcome.detail else outcome.status)
        skip(run, phase, steps[i + 1:], f"steps.{phase}: {failed.label} failed before it")
        return failed
    return None


def skip(run: DrillRun, phase: str, steps: Sequence[Any], reason: str) -> None:
    for step in steps:
        run.journal.append("step_skipped", phase=phase, step=step.label, step_kind=step.kind, reason=reason)


FAILBACK = "failback"
"""The journal phase of ``steps.failback``, in the drill's own failback and in ``odin rollback``
alike: one identity per step (``failback/<name>``), so neither runs a step the other finished."""


def failback_begun(entries: list[Entry]) -> bool:
    """A failback started putting the service back: the drill's own (an undo in its ``failback``
    phase) or an ``odin rollback`` of it (``rollback_started``). A drill's early-end cleanup is not one."""
    return any(e.kind == "rollback_started" or (e.kind == "undo_started" and e.phase in (FAILBACK, "rollback"))
               for e in entries)


def owed_failback_steps(steps: Sequence[Any], entries: list[Entry], *, undos_pending: bool) -> list[Any]:
    """The drill file's ``steps.failback`` still to run, in order: none unless a failback is due
    (``undos_pending``) or began; then each step not yet done under ``failback/<name>`` — finished
    ok (an action, a wait), its smoke run passed, or its approval approved."""
    if not steps or not (undos_pending or failback_begun(entries)):
        return []
    return [step for step in steps if not _done(step, entries)]


def _done(step: Any, entries: list[Entry]) -> bool:
    mine = [e for e in entries if e.phase == FAILBACK]
    if step.kind == "smoke":
        return any(e.kind == "smoke" and e.step == step.label and not e.data.get("critical_failed") for e in mine)
    if step.kind == "approval":
        asked = [e.seq for e in mine if e.kind == "hold_started" and e.data.get("hold") == f"approval {step.label}"]
        answers = [e for e in mine if e.kind == "human_input" and asked and e.seq > asked[-1]]
        return bool(answers) and answers[0].data.get("action") == "proceed"
    return any(e.kind == "step_finished" and e.step == step.label and e.data.get("status") == "ok" for e in mine)
