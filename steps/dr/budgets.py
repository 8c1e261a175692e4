"""Phase budgets: each runbook phase timed on the drill's clock and judged against the plan's budget.

    phase_times(...)      the four budgeted phases (detection, decision, failover, validation), each
                          from one moment to the next, with its budget — pure, for the scorecard
    rto_outlook(...)      after a phase: time since the outage began, plus the budgets of the phases
                          still to come; the RTO is *at risk* when that exceeds the target,
                          *exceeded* when the target has passed without the service back
    check_phase(run, p)   the runbook's call after each phase: journals ``phase_budget`` and, the
                          first time the RTO is at risk, says so to the journal and the stakeholders

The phases are contiguous (outage start ▸ confirmed ▸ decided ▸ actions done ▸ validated), so the
budgets and the RTO speak about the same timeline. Why an outlook and not only the final score: a
failover that has eaten its budget is worth escalating while there is still time to act on it
(the handbook's T+60 "services restored" message would otherwise be a promise nobody checked).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

from odin_drills.plan.drill import PhaseBudgets
from odin_drills.plan.durations import human_duration

if TYPE_CHECKING:
    from odin_drills.steps.dr.run import DrillRun

PHASES = ("detection", "decision", "failover", "validation")
RUNBOOK_PHASE = {"detect": "detection", "decide": "decision", "failover": "failover", "validate": "validation"}
"""The runbook's phase (``flows.region_failover.PHASES``) whose end closes each budgeted phase."""


class PhaseTime(BaseModel):
    """One budgeted phase as measured (plan seconds; None: it did not start or did not end)."""

    phase: str
    started_at: datetime | None = None
    ended_at: datetime | None = None
    seconds: float | None = None
    budget_seconds: float

    @property
    def within(self) -> bool:
        """Met exactly counts as met; a phase not measured is not within its budget."""
        return self.seconds is not None and self.seconds <= self.budget_seconds


class RtoOutlook(BaseModel):
    """After a phase: is the whole RTO still reachable if the rest of the runbook takes its budgets?"""

    elapsed_seconds: float
    remaining_budget_seconds: float
    projected_seconds: float
    rto_target_seconds: float
    at_risk: bool
    exceeded: bool


def phase_times(budgets: PhaseBudgets, *, outage_started_at: datetime | None, detected_at: datetime | None,
                decided_at: datetime | None, failover_completed_at: datetime | None,
                validated_at: datetime | None) -> list[PhaseTime]:
    """The four phases between consecutive moments, each with its budget."""
    bounds = (outage_started_at, detected_at, decided_at, failover_completed_at, validated_at)
    times = []
    for i, name in enumerate(PHASES):
        start, end = bounds[i], bounds[i + 1]
        seconds = None if start is None or end is None else round((end - start).total_seconds(), 3)
        times.append(PhaseTime(phase=name, started_at=start, ended_at=end, seconds=seconds,
                               budget_seconds=getattr(budgets, name)))
    return times


def rto_outlook(phase: str, budgets: PhaseBudgets, rto_target: float, *, outage_started_at: datetime,
                now: datetime, recovered_at: datetime | None) -> RtoOutlook:
    """Once the service is back the RTO is measured, not projected; until then the phases after
    ``phase`` are assumed to take their whole budget."""
    elapsed = round((now - outage_started_at).total_seconds(), 3)
    if recovered_at is not None:
        rto = round((recovered_at - outage_started_at).total_seconds(), 3)
        return RtoOutlook(elapsed_seconds=elapsed, remaining_budget_seconds=0.0, projected_seconds=rto,
                          rto_target_seconds=rto_target, at_risk=rto > rto_target, exceeded=rto > rto_target)
    later = PHASES[PHASES.index(phase) + 1:]
    remaining = float(sum(getattr(budgets, name) for name in later))
    return RtoOutlook(elapsed_seconds=elapsed, remaining_budget_seconds=remaining, projected_seconds=elapsed + remaining,
                      rto_target_seconds=rto_target, at_risk=elapsed + remaining > rto_target,
                      exceeded=elapsed > rto_target)


def check_phase(run: DrillRun, runbook_phase: str) -> None:
    """Journal the budget of the phase that just ended (``phase_budget``); the first time the RTO
    is at risk (or exceeded), a note and a stakeholder update say so."""
    name = RUNBOOK_PHASE.get(runbook_phase)
    m = run.moments
    if name is None or m.outage_started_at is None:
        return
    budgets = run.plan.targets.budgets
    measured = {t.phase: t for t in phase_times(budgets, outage_started_at=m.outage_started_at,
                                                 detected_at=m.detected_at, decided_at=m.decided_at,
                                                 failover_completed_at=m.failover_completed_at,
                                                 validated_at=m.validated_at)}[name]
    outlook = rto_outlook(name, budgets, run.plan.targets.rto, outage_started_at=m.outage_started_at,
                          now=run.clock.now(), recovered_at=m.recovered_at)
    run.journal.append("phase_budget", phase=runbook_phase, budget_phase=name, seconds=measured.seconds,
                       budget_seconds=measured.budget_seconds, within=measured.within,
                       elapsed_seconds=outlook.elapsed_seconds, projected_seconds=outlook.projected_seconds,
                       rto_target_seconds=outlook.rto_target_seconds, rto_at_risk=outlook.at_risk,
                       rto_exceeded=outlook.exceeded)
    if (outlook.at_risk or outlook.exceeded) and run.found.rto_at_risk is None:
        run.found.rto_at_risk = at_risk_sentence(name, measured, outlook)
        run.note(runbook_phase, run.found.rto_at_risk)
        run.stakeholders.update(progress=run.found.rto_at_risk)


def at_risk_sentence(name: str, measured: PhaseTime, outlook: RtoOutlook) -> str:
    h = human_duration
    took = "not measured" if measured.seconds is None else h(measured.seconds)
    if outlook.exceeded:
        return (f"RTO exceeded after {name} ({took}, budget {h(measured.budget_seconds)}): "
                f"{h(outlook.projected_seconds if outlook.remaining_budget_seconds == 0 else outlook.elapsed_seconds)} "
                f"> target {h(outlook.rto_target_seconds)}")
    return (f"RTO at risk after {name} ({took}, budget {h(measured.budget_seconds)}): {h(outlook.elapsed_seconds)} "
            f"elapsed + {h(outlook.remaining_budget_seconds)} of remaining budgets > target "
            f"{h(outlook.rto_target_seconds)}")
