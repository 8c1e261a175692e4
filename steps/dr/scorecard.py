"""The quarterly DR test score: RTO and RPO achieved, against the plan's targets, with evidence.

Pure functions of what the drill recorded (all times are plan time, so under a time scale N every
span is wall seconds × N):

* **RTO** = first of N consecutive successful probes through Front Door − outage start, split
  into *detect* (outage start → confirmed), *decide* (confirmed → decision) and *recover*
  (decision → RTO end). The outage starts when the fault is injected (sandbox) or when the drill
  takes the primary out of Front Door (Azure).
* **RPO** = the span of acknowledged writes that were lost: from the oldest lost canary write to
  the newest write acknowledged before the failover; 0 when none was lost; unknown (None) when no
  canary write was acknowledged. The replication lag and storage last-sync time the Azure APIs
  reported are kept beside it, as reported.
* **Criteria**, each a bool with the sentence that proves it: ``failover_within_rto``,
  ``data_loss_within_rpo``, ``critical_journeys_in_dr_region``, ``failback_completed``,
  ``no_data_corruption``, and one per runbook phase budget (``detection_within_budget``,
  ``decision_within_budget``, ``failover_within_budget``, ``validation_within_budget``:
  ``steps.dr.budgets``). A target met exactly counts as met. A criterion without evidence (no
  canary writes, no smoke run, writes that could not be read back, a phase that never ended) is not met.
  With ``metrics:``, ``alerts:`` or ``validation.max_replication_lag`` in the drill file, validation adds what it measured:
  ``dr_region_within_baseline``, ``alerts_green``, ``replication_lag_within_limit`` (``steps.dr.validation``).
  With ``failback.window``, a drill's failback adds ``failback_in_window``: it started inside the
  window (after waiting for it), or why not (``steps.dr.failback_window``).
* ``rto_exceeded``: the RTO target passed without the service back; ``rto_at_risk``: the sentence of
  the first phase after which the remaining budgets no longer fit in the RTO (the run escalated it).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from odin_drills.plan.drill import Targets
from odin_drills.plan.durations import human_duration
from odin_drills.steps.dr.budgets import PhaseTime, phase_times
from odin_drills.steps.dr.canary import CanaryResult
from odin_drills.steps.probes.smoke import SmokeReport

CRITERIA = ("failover_within_rto", "data_loss_within_rpo", "critical_journeys_in_dr_region",
            "failback_completed", "no_data_corruption", "detection_within_budget", "decision_within_budget",
            "failover_within_budget", "validation_within_budget")


class DrillTimeline(BaseModel):
    """The moments a drill is scored on, in plan time."""

    outage_started_at: datetime = Field(description="fault injected (sandbox) / primary out of Front Door (Azure)")
    detected_at: datetime | None = Field(default=None, description="the outage was confirmed")
    decided_at: datetime | None = Field(default=None, description="the failover was decided (or approved)")
    failover_completed_at: datetime | None = Field(default=None, description="the failover actions finished")
    recovered_at: datetime | None = Field(
        default=None, description="first of N consecutive successful probes through Front Door")
    validated_at: datetime | None = Field(default=None, description="the validation phase ended")
    failback_completed_at: datetime | None = None


class ReplicationEvidence(BaseModel):
    """What the Azure APIs reported about replication around the failover, as reported."""

    replication_lag_seconds: float | None = None
    replication_state: str | None = None
    storage_last_sync_time: datetime | None = None


class Criterion(BaseModel):
    passed: bool
    evidence: str


class Scorecard(BaseModel):
    plan: str
    drill_id: str
    scored_at: datetime
    outage_started_at: datetime
    rto_seconds: float | None
    rto_target_seconds: float
    detect_seconds: float | None
    decide_seconds: float | None
    recover_seconds: float | None
    rpo_seconds: float | None
    rpo_target_seconds: float
    consecutive_successes: int
    canary_writes: int = Field(description="acknowledged canary writes")
    lost_writes: int
    failed_writes: int = Field(description="canary writes never acknowledged (not losses)")
    corrupted_writes: int
    unreadable_writes: int
    replication: ReplicationEvidence | None = None
    phases: list[PhaseTime] = Field(default_factory=list, description="each budgeted runbook phase, measured")
    rto_exceeded: bool = False
    rto_at_risk: str | None = None
    criteria: dict[str, Criterion]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.criteria.values())

    def to_json(self, report_path: str | Path) -> dict[str, Any]:
        """The ``--json`` scorecard, exactly: times in plan seconds, criteria as booleans."""
        return {
            "rto_seconds": self.rto_seconds,
            "rto_target_seconds": self.rto_target_seconds,
            "rpo_seconds": self.rpo_seconds,
            "rpo_target_seconds": self.rpo_target_seconds,
            "canary_writes": self.canary_writes,
            "lost_writes": self.lost_writes,
            "phases": {p.phase: {"seconds": p.seconds, "budget_seconds": p.budget_seconds, "within": p.within}
                       for p in self.phases},
            "rto_exceeded": self.rto_exceeded,
            "criteria": {name: c.passed for name, c in self.criteria.items()},
            "report": str(report_path),
        }

    def to_report(self) -> dict[str, Any]:
        """The ``--json`` fields (without ``report``) plus the rest worth showing, for
        ``odin_drills.reports.html.render_html(scorecard=...)``: phase times, write counts, what the APIs
        reported (when they did), and each criterion's evidence as ``"<criterion> (evidence)"``."""
        fields = self.to_json("")
        del fields["report"], fields["phases"]  # each phase's time and budget: its criterion's evidence
        replication = self.replication or ReplicationEvidence()
        fields.update({
            "detect_seconds": self.detect_seconds, "decide_seconds": self.decide_seconds,
            "recover_seconds": self.recover_seconds, "consecutive_successes": self.consecutive_successes,
            "failed_writes": self.failed_writes, "corrupted_writes": self.corrupted_writes,
            "unreadable_writes": self.unreadable_writes,
            "reported_replication_lag_seconds": replication.replication_lag_seconds,
            "reported_replication_state": replication.replication_state,
            "reported_storage_last_sync_time": None if replication.storage_last_sync_time is None
            else _at(replication.storage_last_sync_time),
            "rto_at_risk": self.rto_at_risk,
        })
        fields.update({f"{name} (evidence)": c.evidence for name, c in self.criteria.items()})
        return {k: v for k, v in fields.items() if v is not None or k in self.to_json("")}


def span(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from ``start`` to ``end`` (millisecond precision), None when either is unknown."""
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def score(
    timeline: DrillTimeline,
    canary: CanaryResult,
    targets: Targets,
    *,
    plan: str,
    drill_id: str | None = None,
    smoke: SmokeReport | None = None,
    dr_region: str | None = None,
    failback_smoke: SmokeReport | None = None,
    replication: ReplicationEvidence | None = None,
    scored_at: datetime | None = None,
    rto_at_risk: str | None = None,
    failback_expected: bool = True,
    measured: dict[str, Criterion] | None = None,
    failback_window: Criterion | None = None,
    no_failback: str | None = None,
) -> Scorecard:
    """Score one drill. ``smoke``: the critical journeys run against the DR region after the
    failover; ``failback_smoke``: the journeys after failing back (optional); ``rto_at_risk``: what
    the run's phase-budget check found, if it did; ``failback_expected`` off (incident mode, where the
    failback is a separate, confirmed run): ``failback_completed`` is not a criterion of this run.
    ``measured``: the criteria validation measured itself (``steps.dr.validation``:
    ``dr_region_within_baseline``, ``replication_lag_within_limit``, ``alerts_green``).
    ``failback_window``: the plan declares ``failback.window``: criterion ``failback_in_window``
    (``steps.dr.failback_window``); ``no_failback``: why the run did not fail back, said by
    ``failback_completed``."""
    scored_at = scored_at or datetime.now(timezone.utc)
    rto = span(timeline.outage_started_at, timeline.recovered_at)
    phases = phase_times(targets.budgets, outage_started_at=timeline.outage_started_at,
                         detected_at=timeline.detected_at, decided_at=timeline.decided_at,
                         failover_completed_at=timeline.failover_completed_at, validated_at=timeline.validated_at)
    rpo = canary.lost_span_seconds
    rpo = None if rpo is None else round(rpo, 3)
    criteria = {
        "failover_within_rto": _rto_criterion(timeline, rto, targets),
        "data_loss_within_rpo": _rpo_criterion(canary, rpo, targets, replication),
        "critical_journeys_in_dr_region": _journeys_criterion(smoke, dr_region),
        "failback_completed": _failback_criterion(timeline, failback_smoke, no_failback),
        "no_data_corruption": _corruption_criterion(canary),
        **{f"{p.phase}_within_budget": _budget_criterion(p) for p in phases},
    }
    if not failback_expected:
        del criteria["failback_completed"]
    if failback_window is not None and failback_expected:
        criteria["failback_in_window"] = failback_window
    criteria.update(measured or {})  # validation's own measurements (steps.dr.validation), when the plan asks
    waited = span(timeline.outage_started_at, scored_at)
    exceeded = rto > targets.rto if rto is not None else waited is not None and waited > targets.rto
    return Scorecard(
        plan=plan, drill_id=drill_id or uuid.uuid4().hex[:12], scored_at=scored_at,
        outage_started_at=timeline.outage_started_at,
        rto_seconds=rto, rto_target_seconds=targets.rto,
        detect_seconds=span(timeline.outage_started_at, timeline.detected_at),
        decide_seconds=span(timeline.detected_at, timeline.decided_at),
        recover_seconds=span(timeline.decided_at, timeline.recovered_at),
        rpo_seconds=rpo, rpo_target_seconds=targets.rpo,
        consecutive_successes=targets.consecutive_successes,
        canary_writes=canary.acknowledged, lost_writes=len(canary.lost), failed_writes=canary.failed_writes,
        corrupted_writes=len(canary.corrupted), unreadable_writes=len(canary.unreadable),
        replication=replication, phases=phases, rto_exceeded=exceeded, rto_at_risk=rto_at_risk, criteria=criteria,
    )


# --- one function per criterion ---------------------------------------------------------------
def _rto_criterion(timeline: DrillTimeline, rto: float | None, targets: Targets) -> Criterion:
    n = targets.consecutive_successes
    if rto is None:
        return Criterion(passed=False, evidence=f"the service never answered {n} probes in a row through Front "
                         f"Door after the outage at {_at(timeline.outage_started_at)}: RTO not achieved")
    passed = rto <= targets.rto
    evidence = (f"RTO {human(rto)} {'≤' if passed else '>'} target {human(targets.rto)}: outage at "
                f"{_at(timeline.outage_started_at)}, first of {n} successful probes in a row through Front Door "
                f"at {_at(timeline.recovered_at)}")
    if timeline.decided_at is not None and timeline.recovered_at is not None \
            and timeline.recovered_at < timeline.decided_at:
        evidence += (" — before the failover was even decided: the Front Door probe may not exercise the "
                     "data path (see detection.frontdoor_probe)")
    return Criterion(passed=passed, evidence=evidence)


def _rpo_criterion(canary: CanaryResult, rpo: float | None, targets: Targets,
                   replication: ReplicationEvidence | None) -> Criterion:
    reported = _reported(replication)
    if rpo is None:
        return Criterion(passed=False, evidence="no canary write was acknowledged: data loss was not measured" + reported)
    if canary.unreadable:
        return Criterion(passed=False, evidence=f"{len(canary.unreadable)} of {canary.acknowledged} acknowledged "
                         "writes could not be read back: data loss not fully measured" + reported)
    if not canary.lost:
        return Criterion(passed=rpo <= targets.rpo,
                         evidence=f"RPO 0: all {canary.acknowledged} acknowledged writes survived" + reported)
    passed = rpo <= targets.rpo
    return Criterion(passed=passed, evidence=(
        f"RPO {human(rpo)} {'≤' if passed else '>'} target {human(targets.rpo)}: {len(canary.lost)} of "
        f"{canary.acknowledged} acknowledged writes lost, oldest lost acknowledged at {_at(canary.oldest_lost_ack)}, "
        + (f"newest acknowledged before the failover at {_at(canary.newest_ack_before_failover)}"
           if canary.newest_ack_before_failover is not None
           else f"newest lost at {_at(canary.newest_lost_ack)} (failover start not given)") + reported))


def _journeys_criterion(smoke: SmokeReport | None, region: str | None) -> Criterion:
    where = f" in {region}" if region else " in the DR region"
    if smoke is None:
        return Criterion(passed=False, evidence=f"no smoke journeys ran{where}")
    critical = [r for r in smoke.results if r.critical]
    if not critical:
        return Criterion(passed=False, evidence=f"no critical journey was checked{where}")
    failed = [r for r in critical if not r.passed]
    if failed:
        detail = "; ".join(f"{r.name}: {', '.join(r.failures) or 'failed'}" for r in failed)
        return Criterion(passed=False, evidence=f"{len(failed)} of {len(critical)} critical journeys failed{where}: {detail}")
    names = ", ".join(r.name for r in critical)
    return Criterion(passed=True, evidence=f"all {len(critical)} critical journeys passed{where}: {names}")


def _failback_criterion(timeline: DrillTimeline, failback_smoke: SmokeReport | None,
                        no_failback: str | None = None) -> Criterion:
    if timeline.failback_completed_at is None:
        return Criterion(passed=False, evidence="failback did not complete" + (f": {no_failback}" if no_failback else ""))
    when = f"failed back at {_at(timeline.failback_completed_at)}"
    if failback_smoke is not None and failback_smoke.critical_failed:
        failed = ", ".join(r.name for r in failback_smoke.results if r.critical and not r.passed)
        return Criterion(passed=False, evidence=f"{when}, but critical journeys fail afterwards: {failed}")
    checked = " and the critical journeys pass" if failback_smoke is not None else ""
    return Criterion(passed=True, evidence=when + checked)


def _budget_criterion(phase: PhaseTime) -> Criterion:
    budget = human(phase.budget_seconds)
    if phase.seconds is None:
        where = "never started" if phase.started_at is None else f"started at {_at(phase.started_at)}, never ended"
        return Criterion(passed=False, evidence=f"{phase.phase} not measured ({where}): budget {budget}")
    return Criterion(passed=phase.within, evidence=(
        f"{phase.phase} took {human(phase.seconds)} {'≤' if phase.within else '>'} budget {budget} "
        f"({_at(phase.started_at)} → {_at(phase.ended_at)})"))


def _corruption_criterion(canary: CanaryResult) -> Criterion:
    if canary.corrupted:
        seqs = ", ".join(str(w.seq) for w in canary.corrupted[:10])
        return Criterion(passed=False, evidence=f"{len(canary.corrupted)} writes read back with a different payload "
                         f"than was acknowledged (canary seq {seqs})")
    if canary.unreadable:
        return Criterion(passed=False, evidence=f"{len(canary.unreadable)} acknowledged writes could not be read "
                         "back to compare")
    if not canary.verified:
        return Criterion(passed=False, evidence="no surviving canary write could be compared")
    return Criterion(passed=True, evidence=f"all {canary.verified} surviving writes read back with the SHA-256 "
                     "they were acknowledged with")


def _reported(replication: ReplicationEvidence | None) -> str:
    if replication is None:
        return ""
    parts = []
    if replication.replication_lag_seconds is not None:
        parts.append(f"reported replication lag {human(replication.replication_lag_seconds)}")
    if replication.replication_state:
        parts.append(f"replication state {replication.replication_state}")
    if replication.storage_last_sync_time is not None:
        parts.append(f"storage last sync {_at(replication.storage_last_sync_time)}")
    return f" ({'; '.join(parts)})" if parts else ""


human = human_duration
"""``2.4s``, ``12m 30s``, ``4h``, ``1h 5m``: for evidence sentences (the one formatter of every report)."""


def _at(moment: datetime | None) -> str:
    if moment is None:
        return "?"
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
