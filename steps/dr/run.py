"""One region-failover run: what it works on, when things happened, what it found, how it scores.

    DrillRun      plan, clock, journal, endpoints, target and resources (fixed when the run opens),
                  the helpers it starts (detector, canary, stakeholders, the outage injector) and:
    Moments       when things happened, in plan time (the scorecard's timeline)
    Findings      what the checks found: smoke reports, canary result, replication, action outcomes
    EndRun        ends the runbook early with an outcome (nothing failed over)
    score_run     DrillRun -> Scorecard;   judge(outcome, detail, card): the drill's outcome

``DrillRun`` is a plain class on purpose: Prefect walks the dataclasses and pydantic models a task
receives (looking for futures to resolve), never a plain object, so the runbook's tasks take the
run itself without Prefect visiting every client, thread and report it holds.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import BaseModel, Field

from odin_drills.errors import UsageError
from odin_drills.plan.drill import DrillPlan, Resources, ResolvedEndpoints, rebase_journey
from odin_drills.plan.models import SandboxTarget
from odin_drills.steps.actions import StepOutcome
from odin_drills.steps.dr.azure_reads import ReplicationRead
from odin_drills.steps.dr.canary import CanaryResult, CanaryWriter
from odin_drills.steps.dr.detection import OutageDetector
from odin_drills.steps.dr.scorecard import Criterion, DrillTimeline, ReplicationEvidence, Scorecard, score
from odin_drills.steps.dr.service_health import HealthReading
from odin_drills.steps.dr.stakeholders import Stakeholders
from odin_drills.steps.probes.smoke import SmokeReport
from odin_drills.steps.snapshot import Snapshot

if TYPE_CHECKING:
    from odin_drills.steps.dr.outage import OutageInjector
    from odin_drills.steps.journal import Journal

Mode = Literal["drill", "incident"]
Where = Literal["frontdoor", "primary", "secondary"]


class DrillOptions(BaseModel):
    """How a drill runs, beyond its plan file (the Prefect UI shows this as a form)."""

    human_confirm: bool = Field(
        default=False, description="wait for a person to approve the failover (as if the plan's "
        "decision.human_confirm were on); `odin decide RUN proceed|rollback` or the UI form answers")
    failback: bool = Field(default=True, description="fail back once the primary is healthy again "
                           "(the plan's failback.enabled must be on too)")
    inject_outage: bool = Field(default=True, description="cause the outage (sandbox: a region_outage fault; Azure: "
                                "the primary out of Front Door) when the plan's outage.inject is on; off: wait "
                                "for a real outage")
    max_parallel: int = Field(default=0, ge=0, le=16, description="failover actions that run at once; 0: the "
                              "drill file's resources.max_parallel (default 4)")
    wait_for_lock: bool = Field(default=True, description="queue behind another run on the same environment "
                                "(off: refuse at once, as `odin drill` does without --wait)")
    replication_lag_seconds: float | None = Field(
        default=None, ge=0, le=60, description="sandbox started by the drill only: SQL geo-replication lag in wall "
        "seconds (default: 5 s of plan time, kept between 0.5 and 2 wall seconds)")


@dataclass
class Action:
    """One world-changing step of the failover and its label in the journal and the UI."""

    label: str
    step: Any


@dataclass
class Moments:
    """When things happened, in plan time; None until they do."""

    outage_started_at: datetime | None = None
    detected_at: datetime | None = None
    decided_at: datetime | None = None
    failover_started_at: datetime | None = None
    failover_completed_at: datetime | None = None
    recovered_at: datetime | None = None
    validated_at: datetime | None = None
    failback_completed_at: datetime | None = None


@dataclass
class Findings:
    """What the runbook's checks found."""

    baseline_smoke: SmokeReport | None = None
    dr_smoke: SmokeReport | None = None
    failback_smoke: SmokeReport | None = None
    canary: CanaryResult | None = None
    replication: ReplicationEvidence | None = None
    replication_read: ReplicationRead | None = None  # the last replication read, stamped (steps.dr.azure_reads)
    outcomes: list[tuple[Action, StepOutcome]] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    worse: str | None = None
    rto_at_risk: str | None = None  # the first phase_budget that found the RTO at risk, as a sentence
    fail_back_now: str | None = None  # why the DR region is left at once (steps.dr.order.act_on_worse)
    dr_baseline: Snapshot | None = None  # metrics: the window before the outage (steps.dr.validation)
    validation: dict[str, Criterion] = field(default_factory=dict)  # what validation measured, by criterion
    failback_window: Criterion | None = None  # the failback against failback.window (steps.dr.failback_window)
    no_failback: str | None = None  # why this run did not fail back (failback_completed's evidence)
    service_health: HealthReading | None = None  # incident mode: Azure's latest word (steps.dr.incident)

    def failed_actions(self) -> list[str]:
        return [action.label for action, outcome in self.outcomes if not outcome.succeeded]


class EndRun(Exception):
    """Ends the runbook early with an outcome (no failover happened)."""

    def __init__(self, outcome: str, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


class DrillRun:
    """One run of the region-failover runbook (drill or incident). Not a dataclass: see the module."""

    def __init__(self, *, plan: DrillPlan, drill_id: str, mode: Mode, options: DrillOptions, clock: Any,
                 journal: Journal, endpoints: ResolvedEndpoints, target: Any, resources: Resources) -> None:
        self.plan, self.drill_id, self.mode, self.options = plan, drill_id, mode, options
        self.clock, self.journal = clock, journal
        self.endpoints, self.target, self.resources = endpoints, target, resources
        self.client = httpx.Client(follow_redirects=False)
        self.moments = Moments()
        self.found = Findings()
        self.waves: list[list[Action]] = []
        self.outage: OutageInjector | None = None  # None: wait for a real outage
        self.detector: OutageDetector | None = None
        self.canary: CanaryWriter | None = None
        self.stakeholders = Stakeholders(self)
        self._metrics: Any = None  # the plan's metrics: source, opened on first use (steps.dr.validation)

    def metric_source(self) -> Any:
        """The plan's ``metrics:`` (with ``alerts:`` beside it), one source for the baseline and the watch."""
        if self._metrics is None:
            from odin_drills.steps.probes.open import open_metric_source

            self._metrics = open_metric_source(self.plan, self.clock)
        return self._metrics

    @property
    def max_parallel(self) -> int:
        """Failover actions of one wave at once: the run's option (the UI form's), else the drill file's."""
        return self.options.max_parallel or self.plan.resources.max_parallel

    @property
    def primary(self) -> str:
        return self.plan.regions.primary

    @property
    def secondary(self) -> str:
        return self.plan.regions.secondary

    @property
    def title(self) -> str:
        return f"{'[DR drill] ' if self.mode == 'drill' else ''}{self.plan.name}: {self.primary} region outage"

    def note(self, phase: str, message: str, **data: Any) -> None:
        self.journal.append("note", phase=phase, message=message, **data)

    def journeys(self, where: Where) -> list[Any]:
        """The plan's smoke journeys sent through Front Door (sandbox: rebased onto it) or to one region's app."""
        if where == "frontdoor":
            if isinstance(self.plan.target, SandboxTarget):
                return [rebase_journey(j, self.endpoints.frontdoor) for j in self.plan.smoke]
            return list(self.plan.smoke)
        base = self.endpoints.regions[self.primary if where == "primary" else self.secondary]
        return [rebase_journey(j, base) for j in self.plan.smoke]

    def watch(self, phase: str) -> None:
        """Start probing each region and Front Door, and the canary writes (when the plan has them)."""
        self.detector = OutageDetector.from_plan(self.plan, self.endpoints, self.clock, self.journal,
                                                 phase="probes").start()
        if self.plan.canary.enabled:
            self.canary = CanaryWriter.from_plan(self.plan, self.endpoints, self.clock, self.journal,
                                                 phase="canary").start()
        else:
            self.note(phase, "canary disabled: data loss is not measured")

    def warm_up(self, wall_seconds: float = 15.0) -> None:
        """Before breaking anything: the primary answers its probes, and the canary has a few
        acknowledged writes (so the data at risk when the outage starts is measured)."""
        assert self.detector is not None
        deadline = time.monotonic() + wall_seconds
        while time.monotonic() < deadline:
            healthy = [r for r in self.detector.rounds() if r.probes[self.primary].ok]
            acked = len(self.canary.acknowledged()) if self.canary else 5
            if len(healthy) >= 2 and acked >= 5:
                return
            time.sleep(0.05)
        raise UsageError(f"{self.primary} did not answer its probes (or took no canary write) before the drill: "
                         "nothing was injected")

    def check_not_worse(self, after: SmokeReport, phase: str) -> None:
        """A failover must not leave the service worse than before the outage: critical journeys that
        passed through Front Door before it and fail now are reported (and shown in the report)."""
        baseline = self.found.baseline_smoke
        before = {r.name for r in (baseline.results if baseline else []) if r.critical and r.passed}
        broken = sorted(r.name for r in after.results if r.critical and not r.passed and r.name in before)
        if broken:
            self.found.worse = (f"after the failover {len(broken)} critical journey(s) fail through Front Door "
                                f"that passed before the outage: {', '.join(broken)}")
        self.journal.append("failover_check", phase=phase, verdict="worse" if broken else "restored",
                            reason=self.found.worse or "every critical journey that passed before the outage "
                            "passes through Front Door", broken=broken)

    def close(self) -> None:
        """End the drill's own outage if it still stands, stop every helper; never raises."""
        closers = (self.outage.clear if self.outage else None, self.stakeholders.stop,
                   self._metrics.close if self._metrics is not None else None,
                   self.canary.close if self.canary else None, self.detector.close if self.detector else None,
                   self.client.close)
        for closer in closers:
            if closer is not None:
                with contextlib.suppress(Exception):
                    closer()


def score_run(run: DrillRun) -> Scorecard:
    """RTO (detect/decide/recover), RPO and the criteria, from what the run recorded."""
    m, found = run.moments, run.found
    timeline = DrillTimeline(
        outage_started_at=m.outage_started_at or run.clock.now(), detected_at=m.detected_at,
        decided_at=m.decided_at, failover_completed_at=m.failover_completed_at, recovered_at=m.recovered_at,
        validated_at=m.validated_at, failback_completed_at=m.failback_completed_at)
    canary = found.canary or CanaryResult(attempted=0, acknowledged=0, failed_writes=0, verified=0)
    return score(timeline, canary, run.plan.targets, plan=run.plan.name, drill_id=run.drill_id, smoke=found.dr_smoke,
                 dr_region=run.secondary, failback_smoke=found.failback_smoke, replication=found.replication,
                 scored_at=run.clock.now(), rto_at_risk=found.rto_at_risk, failback_expected=run.mode == "drill",
                 measured=found.validation, failback_window=found.failback_window, no_failback=found.no_failback)


def judge(outcome: str, detail: str, card: Scorecard) -> tuple[str, str]:
    """A runbook that ran to its end passed only if every criterion did."""
    if outcome == "passed" and not card.passed:
        return "criteria_failed", "criteria missed: " + ", ".join(n for n, c in card.criteria.items() if not c.passed)
    return outcome, detail
