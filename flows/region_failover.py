"""The region-failover runbook: detect ▸ decide ▸ fail over ▸ validate ▸ communicate ▸ fail back.

Read this file as the runbook. Each phase is a short function; the work happens in ``steps/``
(detection, canary, Azure actions, comms, scorecard) and in small Prefect tasks that make each
probe wait, failover action, undo and validation visible in the Prefect UI. The journal, not
memory, says what was changed and what to undo.

    prepare    the steady state: smoke journeys through Front Door (the baseline); which server
               becomes primary (read from Azure before anything breaks); probes and canary writes on
    detect     drill: cause the outage — a ``region_outage`` fault in the sandbox, the primary's
               origin taken out of Front Door in Azure — and record that moment as the outage
               start; then the primary must fail every probe for ``detection.confirmation``
    decide     drill: at once; incident: once the outage has lasted ``detection.threshold``; a
               person may confirm (``proceed``) or veto (``rollback``) from the UI or ``odin decide``
    fail over  SQL failover groups and storage accounts in parallel (bounded), then Front Door to
               the DR region; each action a task, journaled with the undo it computed
    validate   the service answering through Front Door again (the RTO ends), smoke journeys in the
               DR region and through Front Door (worse than before the outage is reported),
               replication as Azure reports it, canary writes read back (data loss measured)
    communicate  T+0/15/60/90 (plan minutes) and the resolution, rendered from the live state
    fail back  once the primary is healthy again (in the sandbox the drill clears its own fault):
               the journaled undos newest first — Front Door, then the planned failovers back —
               and the validation again

The environment lock is held for the whole run. ``execute()`` is the whole drill — runbook,
scorecard, reports — shared by the ``region_failover`` flow here and the ``dr_test`` flows.
Where the drill runs (sandbox, resources, read-only Azure questions) is ``odin_drills.flows.drill_target``;
the Markdown report and the Prefect artifacts are ``odin_drills.reports.drill``.
"""

from __future__ import annotations

import contextlib
import contextvars
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import httpx
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run as runtime_flow_run
from pydantic import BaseModel, Field, TypeAdapter

from odin_drills.flows.drill_target import (
    SandboxLink,
    drill_problems,
    partner_server,
    read_replication,
    replication_evidence,
    sandbox_for,
    sandbox_lag,
    sandbox_resources,
)
from odin_drills.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, PlanInvalid, UsageError
from odin_drills.home import odin_home
from odin_drills.plan.drill import DrillPlan, Resources, ResolvedEndpoints, load_drill, rebase_journey
from odin_drills.plan.models import SandboxTarget
from odin_drills.plan.steps import Step
from odin_drills.steps.actions import StepOutcome, parse_undo, run_action
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.comms import CommsSchedule, IncidentState
from odin_drills.steps.dr import (
    CanaryResult,
    CanaryWriter,
    DetectionResult,
    DrillHistory,
    DrillTimeline,
    OutageDetector,
    ReplicationEvidence,
    Scorecard,
    failover_due_at,
    score,
)
from odin_drills.steps.dr.detection import FRONTDOOR
from odin_drills.steps.journal import Entry, Journal
from odin_drills.steps.lock import environment_lock
from odin_drills.steps.probes.smoke import SmokeReport, run_journeys

EXIT_CRITERIA_FAILED = 3
PHASES = ("prepare", "detect", "decide", "failover", "validate", "failback")
STEPS = TypeAdapter(Step)

Mode = Literal["drill", "incident"]
Outcome = Literal["passed", "criteria_failed", "not_confirmed", "vetoed", "no_failover_needed", "refused", "failed"]
EXIT_CODES: dict[str, int] = {
    "passed": EXIT_OK,
    "criteria_failed": EXIT_CRITERIA_FAILED,
    "not_confirmed": EXIT_CRITERIA_FAILED,
    "vetoed": EXIT_CRITERIA_FAILED,
    "no_failover_needed": EXIT_OK,
    "refused": EXIT_USAGE,
    "failed": EXIT_FAILED,
}
OUTCOME_TEXT: dict[str, str] = {
    "passed": "every criterion met",
    "criteria_failed": "failed over, but not every criterion was met",
    "not_confirmed": "the outage was never confirmed: nothing failed over",
    "vetoed": "a person vetoed the failover: nothing failed over",
    "no_failover_needed": "the primary came back before the threshold: nothing failed over",
    "refused": "refused before changing anything",
    "failed": "odin itself failed during the run",
}


# ================================================================== what a run takes and returns

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
    max_parallel: int = Field(default=4, ge=1, le=16, description="failover actions that run at once")
    wait_for_lock: bool = Field(default=True, description="queue behind another run on the same environment "
                                "(off: refuse at once, as `odin drill` does without --wait)")
    replication_lag_seconds: float | None = Field(
        default=None, ge=0, le=60, description="sandbox started by the drill only: SQL geo-replication lag in wall "
        "seconds (default: 5 s of plan time, kept between 0.5 and 2 wall seconds)")


class DrillSummary(BaseModel):
    """What a drill run returns: the outcome, the scorecard and where the reports are."""

    plan: str
    drill_id: str
    mode: Mode
    outcome: Outcome
    exit_code: int
    passed: bool = False
    scorecard: dict[str, Any] = Field(default_factory=dict, description="Scorecard.to_json(report): the --json output")
    report: str = ""
    report_html: str = ""
    journal: str = ""
    detail: str = ""


class _EndRun(Exception):
    """Ends the runbook early with an outcome (no failover happened)."""

    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


# ================================================================== one run's state

@dataclass
class Action:
    """One world-changing step of the failover and its label in the journal and the UI."""

    label: str
    step: Any


@dataclass
class FailoverRun:
    plan: DrillPlan
    plan_file: str
    drill_id: str
    mode: Mode
    options: DrillOptions
    folder: Path
    clock: ScaledClock
    journal: Journal
    endpoints: ResolvedEndpoints
    target: Any
    sandbox: SandboxLink | None
    resources: Resources
    client: httpx.Client = field(default_factory=lambda: httpx.Client(follow_redirects=False))
    detector: OutageDetector | None = None
    canary: CanaryWriter | None = None
    comms: CommsSchedule | None = None
    waves: list[list[Action]] = field(default_factory=list)
    injected_fault: str | None = None
    inject: bool = False
    # what happened, in plan time
    outage_started_at: datetime | None = None
    detected_at: datetime | None = None
    decided_at: datetime | None = None
    failover_started_at: datetime | None = None
    failover_completed_at: datetime | None = None
    recovered_at: datetime | None = None
    failback_completed_at: datetime | None = None
    baseline_smoke: SmokeReport | None = None
    dr_smoke: SmokeReport | None = None
    failback_smoke: SmokeReport | None = None
    canary_result: CanaryResult | None = None
    replication: ReplicationEvidence | None = None
    outcomes: list[tuple[Action, StepOutcome]] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    worse: str | None = None
    status: str = "investigating"
    progress: str | None = None

    @property
    def primary(self) -> str:
        return self.plan.regions.primary

    @property
    def secondary(self) -> str:
        return self.plan.regions.secondary

    @property
    def title(self) -> str:
        prefix = "[DR drill] " if self.mode == "drill" else ""
        return f"{prefix}{self.plan.name}: {self.primary} region outage"

    def journeys(self, where: Literal["frontdoor", "primary", "secondary"]) -> list[Any]:
        """The plan's smoke journeys sent through Front Door (sandbox: rebased onto it) or to one region's app."""
        if where == "frontdoor":
            if isinstance(self.plan.target, SandboxTarget):
                return [rebase_journey(j, self.endpoints.frontdoor) for j in self.plan.smoke]
            return list(self.plan.smoke)
        base = self.endpoints.regions[self.primary if where == "primary" else self.secondary]
        return [rebase_journey(j, base) for j in self.plan.smoke]

    def incident_state(self) -> IncidentState:
        """What stakeholders are told right now (comms renders every message from this)."""
        started = self.outage_started_at or self.clock.now()
        eta = None
        if self.recovered_at is None and self.status in ("failing over", "validating"):
            eta = f"within the RTO target, by {(started + timedelta(seconds=self.plan.targets.rto)):%H:%M} UTC"
        return IncidentState(
            title=self.title, status=self.status,
            impact=(f"none: served from {self.primary} again" if self.failback_completed_at is not None
                    else f"service restored from {self.secondary}" if self.recovered_at is not None
                    else f"the service in {self.primary} does not answer; writes may fail"),
            next_step=_NEXT_STEP.get(self.status, "monitoring"), eta=eta, started_at=started,
            region_primary=self.primary, region_dr=self.secondary, progress=self.progress,
            summary=(f"{'Drill: ' if self.mode == 'drill' else ''}the primary region {self.primary} stopped "
                     f"answering; failing over to {self.secondary}"),
            details={"rto_target_seconds": self.plan.targets.rto, "rpo_target_seconds": self.plan.targets.rpo},
            follow_ups=list(self.deferred),
        )

    def close(self) -> None:
        for closer in (self.comms.stop if self.comms else None, self.canary.close if self.canary else None,
                       self.detector.close if self.detector else None, self.client.close):
            if closer is not None:
                with contextlib.suppress(Exception):
                    closer()


_NEXT_STEP = {
    "investigating": "confirming the outage and deciding on a failover",
    "failing over": "failing over the database, storage and Front Door to the DR region",
    "validating": "checking the service, the data and replication in the DR region",
    "monitoring": "watching the DR region; failing back once the primary region is healthy",
    "failing back": "moving back to the primary region (planned, no data loss)",
    "resolved": "none",
}


# ================================================================== tasks: the visible units of work

@task(name="smoke-journeys", cache_policy=NO_CACHE, persist_result=False, task_run_name="smoke-{where}")
def smoke(run: FailoverRun, phase: str, where: Literal["frontdoor", "primary", "secondary"]) -> SmokeReport:
    report = run_journeys(run.journeys(where), client=run.client)
    step = {"frontdoor": "through Front Door", "primary": f"in {run.primary}", "secondary": f"in {run.secondary}"}[where]
    run.journal.append("smoke", phase=phase, step=step, report=report, critical_failed=report.critical_failed,
                       noncritical_failed=report.noncritical_failed)
    return report


@task(name="resolve-failover-actions", cache_policy=NO_CACHE, persist_result=False)
def resolve_actions(run: FailoverRun) -> list[list[Action]]:
    """Which server becomes primary is read from Azure now, while the primary still answers."""
    data_tier: list[Action] = []
    for spec in run.resources.failover_groups:
        to_server = partner_server(spec.id, run.target, run.secondary)
        step = STEPS.validate_python({
            "kind": "azure.sql.failover", "name": f"sql {_name(spec.id)} -> {run.secondary}",
            "failover_group": spec.id, "to_server": to_server, "mode": spec.mode,
            "allow_data_loss": spec.allow_data_loss})
        data_tier.append(Action(step.name, step))
    for account in run.resources.storage_accounts:
        step = STEPS.validate_python({
            "kind": "azure.storage.failover", "name": f"storage {_name(account.id)} -> {run.secondary}",
            "account": account.id, "to_region": run.secondary, "mode": account.mode,
            "allow_data_loss": account.allow_data_loss})
        data_tier.append(Action(step.name, step))
    waves = [data_tier] if data_tier else []
    if run.resources.frontdoor is not None:
        waves.append([Action(f"frontdoor {_name(run.resources.frontdoor.origin_group)} -> {run.secondary}",
                             frontdoor_step(run, primary_enabled=False, dr_priority=1))])
    run.journal.append("note", phase="prepare", message="failover actions: " + "; then ".join(
        ", ".join(a.label for a in wave) for wave in waves) if waves else "failover actions: none (no resources)")
    return waves


@task(name="inject-outage", cache_policy=NO_CACHE, persist_result=False)
def inject_outage(run: FailoverRun) -> datetime:
    """Cause the drill's outage; returns its start (plan time): the RTO clock starts here."""
    region = run.plan.outage_region
    if run.sandbox is not None:
        fault = run.sandbox.add_fault({"kind": "region_outage", "region": region})
        run.injected_fault = fault["id"]
        # the sandbox's own timestamp is the ground truth; carried over to plan time
        ago = max(0.0, time.time() - float(fault["injected_at_epoch"]))
        started = run.clock.now() - timedelta(seconds=ago * run.clock.scale)
        run.journal.append("outage_injected", phase="detect", region=region, how="sandbox region_outage fault",
                           fault_id=fault["id"], injected_at=fault["injected_at"], outage_started_at=started)
        return started
    if run.resources.frontdoor is None:
        raise UsageError("outage.inject on an Azure target takes the primary out of Front Door: resources.frontdoor is required")
    action = Action(f"take {region} out of Front Door", frontdoor_step(run, primary_enabled=False, dr_priority=None))
    outcome = execute_action(run, action, "detect")
    if not outcome.succeeded:
        raise UsageError(f"could not take {region} out of Front Door: {outcome.detail}")
    started = run.clock.now()
    run.journal.append("outage_injected", phase="detect", region=region, how="primary origin disabled in Front Door",
                       outage_started_at=started)
    return started


@task(name="detect-outage", cache_policy=NO_CACHE, persist_result=False)
def detect_outage(run: FailoverRun, since: datetime, max_wait: float) -> DetectionResult:
    assert run.detector is not None
    if run.inject and run.sandbox is None:  # Azure drill: the primary is out of Front Door, not down
        return confirm_out_of_frontdoor(run, since, max_wait)
    return run.detector.wait_for_outage(max_wait, since=since)


@task(name="wait-for-threshold", cache_policy=NO_CACHE, persist_result=False)
def wait_for_threshold(run: FailoverRun, result: DetectionResult) -> bool:
    assert run.detector is not None and result.first_failure_at is not None
    threshold = run.plan.detection.threshold
    remaining = (result.first_failure_at + timedelta(seconds=threshold) - run.clock.now()).total_seconds()
    return run.detector.wait_for_threshold(result, threshold, max(0.0, remaining) + run.plan.detection.interval,
                                           consecutive=run.plan.targets.consecutive_successes)


@task(name="failover-action", cache_policy=NO_CACHE, persist_result=False, task_run_name="{action.label}")
def failover_action(run: FailoverRun, action: Action, phase: str) -> StepOutcome:
    return execute_action(run, action, phase)


@task(name="wait-for-service", cache_policy=NO_CACHE, persist_result=False, task_run_name="wait-for-service-{region}")
def wait_for_service(run: FailoverRun, region: str, since: datetime, max_wait: float) -> datetime | None:
    """The first of N successful probes in a row through Front Door, served by ``region``."""
    assert run.detector is not None
    return run.detector.wait_for_recovery(region=region, consecutive=run.plan.targets.consecutive_successes,
                                          max_wait=max_wait, since=since)


@task(name="replication-state", cache_policy=NO_CACHE, persist_result=False, task_run_name="replication-{phase}")
def replication_state(run: FailoverRun, phase: str) -> dict[str, Any]:
    """What Azure reports now: who is primary, replication state, storage last sync (read only)."""
    state = read_replication([(a.label, a.step) for wave in run.waves for a in wave], run.target)
    run.journal.append("replication", phase=phase, **state)
    return state


@task(name="verify-canary", cache_policy=NO_CACHE, persist_result=False, task_run_name="verify-canary-{phase}")
def verify_canary(run: FailoverRun, phase: str, region: str) -> CanaryResult:
    assert run.canary is not None
    run.canary.stop()
    result = run.canary.verify(run.endpoints.regions[region], failover_at=run.failover_started_at)
    acked = [w.write_id for w in run.canary.acknowledged() if w.write_id]
    run.journal.append("data_loss", phase=phase, region=region, acknowledged=result.acknowledged,
                       lost=len(result.lost), lost_ids=result.lost_ids,
                       lost_writes=[{"id": w.write_id, "seq": w.seq, "acked_at": w.acked_at} for w in result.lost],
                       corrupted=len(result.corrupted),
                       unreadable=len(result.unreadable), failed_writes=result.failed_writes,
                       rpo_seconds=result.lost_span_seconds, failover_at=run.failover_started_at,
                       acknowledged_ids=acked[:10000], acknowledged_ids_truncated=len(acked) > 10000)
    return result


@task(name="restore-primary", cache_policy=NO_CACHE, persist_result=False)
def restore_primary(run: FailoverRun) -> datetime | None:
    """End the drill's outage (sandbox) and wait until the primary has been healthy for
    ``failback.wait_healthy``. None when it never was within the wait."""
    assert run.detector is not None
    if run.injected_fault is not None and run.sandbox is not None:
        clear_injected_fault(run)
    elif not run.inject:
        run.journal.append("note", phase="failback", message=f"waiting for {run.primary} to be healthy again on its own")
    wait = run.plan.failback.wait_healthy
    since = run.clock.now()
    return run.detector.wait_for_region_healthy(
        run.primary, consecutive=run.plan.targets.consecutive_successes, healthy_for=wait,
        max_wait=wait + max(1800.0, 20 * run.plan.detection.interval), since=since)


@task(name="failback-undo", cache_policy=NO_CACHE, persist_result=False, task_run_name="undo {label}")
def failback_undo(run: FailoverRun, entry: Entry, label: str) -> bool:
    """Run one journaled undo (spec ▸ parse_undo ▸ run_action); retried, journaled, never raises."""
    spec = entry.data["undo"]
    run.journal.append("undo_started", phase="failback", step=label, undo_of=entry.seq, undo=spec)
    status, detail, attempts = "failed", "", 0
    for attempts in range(1, 4):
        try:
            outcome = run_action(parse_undo(spec), client=run.client, clock=run.clock, target=run.target,
                                 progress=lambda message, **data: run.journal.append(
                                     "note", phase="failback", step=label, message=message, **data))
            status, detail = ("ok" if outcome.succeeded else "failed"), outcome.detail
        except Exception as exc:  # an undo must never stop the other undos
            status, detail = "failed", f"{exc.__class__.__name__}: {exc}"
        if status == "ok":
            break
        if attempts < 3:
            run.clock.sleep(max(run.plan.detection.interval, 30.0))
    run.journal.append("undo_finished", phase="failback", step=label, undo_of=entry.seq, status=status,
                       attempts=attempts, detail=detail)
    return status == "ok"


# ================================================================== how a step runs and what it touches

def execute_action(run: FailoverRun, action: Action, phase: str) -> StepOutcome:
    """One world-changing step, journaled with the undo it computed (the failback runs that)."""
    step = action.step
    run.journal.append("step_started", phase=phase, step=action.label, step_kind=step.kind, changes_world=True)
    try:
        outcome = run_action(step, client=run.client, clock=run.clock, target=run.target,
                             progress=lambda message, **data: run.journal.append(
                                 "note", phase=phase, step=action.label, message=message, **data))
    except Exception as exc:  # a crashing step is a failed step, and it is journaled
        outcome = StepOutcome(status="failed", detail=f"{exc.__class__.__name__}: {exc}")
    run.journal.append("step_finished", phase=phase, step=action.label, status=outcome.status, detail=outcome.detail,
                       undo=outcome.undo, output=outcome.output, step_kind=step.kind,
                       mode=getattr(step, "mode", None))
    return outcome


def frontdoor_step(run: FailoverRun, *, primary_enabled: bool, dr_priority: int | None) -> Any:
    spec = run.resources.frontdoor
    assert spec is not None
    origins: dict[str, Any] = {spec.origins[run.primary]: {"enabled": primary_enabled},
                               spec.origins[run.secondary]: {"enabled": True}}
    if dr_priority is not None:
        origins[spec.origins[run.secondary]]["priority"] = dr_priority
    return STEPS.validate_python({"kind": "azure.frontdoor.origins", "name": f"frontdoor {_name(spec.origin_group)}",
                                  "origin_group": spec.origin_group, "origins": origins})


def confirm_out_of_frontdoor(run: FailoverRun, since: datetime, max_wait: float) -> DetectionResult:
    """Azure drill: the primary counts as out when no probe through Front Door is served by it
    (failed, or answered by another region) for the whole confirmation period."""
    detector = run.detector
    assert detector is not None
    confirmation = run.plan.detection.confirmation
    deadline = run.clock.now() + timedelta(seconds=max_wait)
    start: datetime | None = None
    count = 0
    seen = 0
    while True:
        rounds = [r for r in detector.rounds() if r.at >= since]
        for round_ in rounds[seen:]:
            probe = round_.probes[FRONTDOOR]
            if probe.ok and probe.served_by in (None, run.primary):
                start, count = None, 0
                continue
            start = start or round_.at
            count += 1
            if (round_.at - start).total_seconds() >= confirmation:
                run.journal.append("outage_confirmed", phase="detect", region=run.primary, via="frontdoor",
                                   first_failure_at=start, confirmed_at=round_.at, failed_probes=count,
                                   last_error=probe.error, served_by=probe.served_by)
                return DetectionResult(region=run.primary, confirmed=True, first_failure_at=start,
                                       confirmed_at=round_.at, confirmation_seconds=confirmation, failed_probes=count,
                                       last_error=probe.error, frontdoor_served_by=probe.served_by, rounds=len(rounds))
        seen = len(rounds)
        if run.clock.now() >= deadline:
            run.journal.append("outage_not_confirmed", phase="detect", region=run.primary, via="frontdoor",
                               waited_seconds=max_wait)
            return DetectionResult(region=run.primary, confirmed=False, first_failure_at=start,
                                   confirmation_seconds=confirmation, failed_probes=count, rounds=len(rounds))
        run.clock.sleep(run.plan.detection.interval / 2)


def clear_injected_fault(run: FailoverRun) -> None:
    if run.injected_fault is None or run.sandbox is None:
        return
    fault_id, run.injected_fault = run.injected_fault, None
    run.sandbox.remove_fault(fault_id)
    fault = run.sandbox.fault(fault_id) or {}
    run.journal.append("outage_cleared", phase="failback", region=run.plan.outage_region, fault_id=fault_id,
                       cleared_at=fault.get("cleared_at"))


def run_parallel(run: FailoverRun, actions: list[Action], phase: str) -> list[StepOutcome]:
    """Independent actions at once, at most ``max_parallel``; each a task of this flow run."""
    if len(actions) == 1:
        return [failover_action(run, actions[0], phase)]
    with ThreadPoolExecutor(max_workers=min(run.options.max_parallel, len(actions)),
                            thread_name_prefix="odin-failover") as pool:
        futures = [pool.submit(contextvars.copy_context().run, failover_action, run, a, phase) for a in actions]
        return [f.result() for f in futures]


def _name(arm_id: str) -> str:
    return arm_id.rstrip("/").rsplit("/", 1)[-1]


# ================================================================== the phases

def phase_prepare(run: FailoverRun) -> None:
    run.baseline_smoke = smoke(run, "prepare", "frontdoor")
    if run.inject and run.baseline_smoke.critical_failed:
        raise UsageError(f"{run.baseline_smoke.critical_failed} critical smoke journey(s) fail through Front Door "
                         "before the drill: fix the service (or the plan) before breaking it")
    run.waves = resolve_actions(run)
    run.detector = OutageDetector.from_plan(run.plan, run.endpoints, run.clock, run.journal, phase="probes").start()
    if run.plan.canary.enabled:
        run.canary = CanaryWriter.from_plan(run.plan, run.endpoints, run.clock, run.journal, phase="canary").start()
    else:
        run.journal.append("note", phase="prepare", message="canary disabled: data loss is not measured")
    if run.inject:
        warm_up(run)


def warm_up(run: FailoverRun) -> None:
    """Before breaking anything: the primary answers its probes, and the canary has a few
    acknowledged writes (so the data at risk when the outage starts is measured)."""
    assert run.detector is not None
    deadline = time.monotonic() + 15.0
    while time.monotonic() < deadline:
        healthy = [r for r in run.detector.rounds() if r.probes[run.primary].ok]
        acked = len(run.canary.acknowledged()) if run.canary else 5
        if len(healthy) >= 2 and acked >= 5:
            return
        time.sleep(0.05)
    raise UsageError(f"{run.primary} did not answer its probes (or took no canary write) before the drill: "
                     "nothing was injected")


def phase_detect(run: FailoverRun) -> DetectionResult:
    detection = run.plan.detection
    if run.inject:
        run.outage_started_at = inject_outage(run)
        since = run.outage_started_at
        max_wait = detection.confirmation + max(20 * detection.interval, 300.0)
    else:
        since = run.clock.now()
        max_wait = run.plan.targets.rto
        run.journal.append("note", phase="detect", message=f"waiting up to {max_wait:g} s (plan time) for an outage of "
                           f"{run.primary}")
    result = detect_outage(run, since, max_wait)
    if not result.confirmed:
        raise _EndRun("not_confirmed", f"the outage of {run.primary} was not confirmed within {max_wait:g} s "
                      f"(plan time; {len(result.glitches)} glitch(es))")
    if run.outage_started_at is None:
        run.outage_started_at = result.first_failure_at
        run.journal.append("note", phase="detect", message="outage start taken from the first failed probe "
                           f"({result.first_failure_at})")
    run.detected_at = result.confirmed_at
    start_comms(run)
    return result


def phase_decide(run: FailoverRun, result: DetectionResult) -> None:
    decision = run.plan.decision
    if run.mode == "incident":
        due = failover_due_at(result, "incident", run.plan.detection.threshold)
        if due is not None and due > run.clock.now() and not wait_for_threshold(run, result):
            run.journal.append("decision", phase="decide", action="no_failover", by="odin",
                               reason=f"{run.primary} answered again before the {run.plan.detection.threshold:g} s threshold")
            raise _EndRun("no_failover_needed", f"{run.primary} came back before the threshold")
    reason = (f"outage of {run.primary} confirmed at {result.confirmed_at:%H:%M:%S}"
              + (" (drill: fail over at once)" if run.mode == "drill" else
                 f", lasting the {run.plan.detection.threshold:g} s threshold"))
    if decision.human_confirm or run.options.human_confirm:
        action, by, why = confirm_with_person(run, reason)
        if action != "proceed":
            run.journal.append("decision", phase="decide", action="veto", by=by, reason=why)
            run.decided_at = run.clock.now()
            raise _EndRun("vetoed", f"failover vetoed by {by}: {why}")
        run.journal.append("decision", phase="decide", action="fail_over", by=by, reason=why)
    else:
        run.journal.append("decision", phase="decide", action="fail_over", by="odin", reason=reason)
    run.decided_at = run.clock.now()


def confirm_with_person(run: FailoverRun, reason: str) -> tuple[str, str, str]:
    """Hold for a person: ``proceed`` fails over, ``rollback`` vetoes; the plan's default at the deadline."""
    from odin_drills.flows.human import wait_for_decision

    decision = run.plan.decision
    default: Literal["proceed", "rollback"] = "proceed" if decision.on_confirm_timeout == "fail-over" else "rollback"
    flow_run_id = str(runtime_flow_run.id)
    run.journal.append("hold_started", phase="decide", hold="confirm-failover", reason=reason, default=default,
                       deadline=run.clock.now() + timedelta(seconds=decision.confirm_timeout), flow_run_id=flow_run_id,
                       decide=f"odin decide {flow_run_id} proceed|rollback --reason '...' --by NAME")
    answer, _ = wait_for_decision(deadline_wall_seconds=run.clock.wall_seconds(decision.confirm_timeout), default=default)
    run.journal.append("human_input", phase="decide", action=answer.action, reason=answer.reason, by=answer.by,
                       at=run.clock.now())
    return answer.action, answer.by, answer.reason


def phase_fail_over(run: FailoverRun) -> None:
    run.status, run.progress = "failing over", f"outage confirmed; failover of {run.primary} to {run.secondary} started"
    run.failover_started_at = run.clock.now()
    for wave in run.waves:
        run.outcomes += list(zip(wave, run_parallel(run, wave, "failover")))
    run.failover_completed_at = run.clock.now()
    failed = [a.label for a, o in run.outcomes if not o.succeeded]
    run.progress = (f"failover actions done ({len(run.outcomes) - len(failed)} of {len(run.outcomes)} succeeded)"
                    + (f"; failed: {', '.join(failed)}" if failed else ""))


def phase_validate(run: FailoverRun) -> None:
    run.status = "validating"
    assert run.outage_started_at is not None
    elapsed = (run.clock.now() - run.outage_started_at).total_seconds()
    interval = run.plan.detection.interval
    failed = any(not o.succeeded for _, o in run.outcomes)  # then only a short look: nothing will bring it back
    max_wait = 10 * interval if failed else max(run.plan.targets.rto - elapsed, 10 * interval)
    run.recovered_at = wait_for_service(run, run.secondary, run.outage_started_at, max_wait)
    run.dr_smoke = smoke(run, "validate", "secondary")
    through = smoke(run, "validate", "frontdoor")
    check_not_worse(run, through)
    run.replication = replication_evidence([(a.step, o) for a, o in run.outcomes], replication_state(run, "validate"))
    if run.canary is not None:
        run.canary_result = verify_canary(run, "validate", run.secondary)
    run.status = "monitoring"
    run.progress = (f"service answering from {run.secondary} since {run.recovered_at:%H:%M:%S} UTC"
                    if run.recovered_at else "the service is not answering through Front Door yet")


def check_not_worse(run: FailoverRun, after: SmokeReport) -> None:
    """A failover must not leave the service worse than before the outage: critical journeys that
    passed through Front Door before it and fail now are reported (and shown in the report)."""
    before = {r.name for r in (run.baseline_smoke.results if run.baseline_smoke else []) if r.critical and r.passed}
    broken = sorted(r.name for r in after.results if r.critical and not r.passed and r.name in before)
    if broken:
        run.worse = (f"after the failover {len(broken)} critical journey(s) fail through Front Door that passed "
                     f"before the outage: {', '.join(broken)}")
    run.journal.append("failover_check", phase="validate", verdict="worse" if broken else "restored",
                       reason=run.worse or "every critical journey that passed before the outage passes through Front Door",
                       broken=broken)


def phase_fail_back(run: FailoverRun) -> None:
    if not (run.plan.failback.enabled and run.options.failback):
        run.journal.append("note", phase="failback", message="failback disabled: the service stays in "
                           f"{run.secondary}")
        return
    run.status, run.progress = "failing back", f"waiting for {run.primary} to be healthy again"
    healthy_at = restore_primary(run)
    if healthy_at is None:
        run.journal.append("note", phase="failback", message=f"{run.primary} was not healthy for "
                           f"{run.plan.failback.wait_healthy:g} s in time: no failback")
        return
    started = run.clock.now()
    results = []
    for entry in reversed(run.journal.entries("step_finished")):
        if entry.data.get("status") != "ok" or not entry.data.get("undo"):
            continue
        label = entry.step or "step"
        if entry.data.get("step_kind") == "azure.storage.failover" and entry.data.get("mode") == "unplanned":
            reason = (f"{label}: after an unplanned failover the account is locally redundant in {run.secondary}; "
                      f"re-enable geo-redundancy, wait until it is Live, then fail it back to {run.primary}")
            run.deferred.append(reason)
            run.journal.append("failback_deferred", phase="failback", step=label, reason=reason)
            continue
        results.append(failback_undo(run, entry, label))
    if not all(results):
        run.journal.append("note", phase="failback", message="some undos failed: the failback is incomplete")
        return
    back = wait_for_service(run, run.primary, started, max(10 * run.plan.detection.interval, 600.0))
    run.failback_smoke = smoke(run, "failback", "frontdoor")
    smoke(run, "failback", "primary")
    replication_state(run, "failback")
    if run.canary is not None and run.canary_result is not None:
        again = run.canary.verify(run.endpoints.regions[run.primary], failover_at=run.failover_started_at)
        if len(again.lost) > len(run.canary_result.lost):
            run.journal.append("note", phase="failback", message=f"the failback lost {len(again.lost) - len(run.canary_result.lost)} "
                               "more canary write(s)")
    if back is not None:
        run.failback_completed_at = run.clock.now()
        run.status, run.progress = "monitoring", f"failed back to {run.primary}"


def start_comms(run: FailoverRun) -> None:
    channels = run.plan.comms.channels
    if not channels:
        run.journal.append("note", phase="detect", message="comms: no channels in the plan: no stakeholder messages")
        return
    run.comms = CommsSchedule(channels, run.clock, run.journal, run.incident_state, run.plan.comms.minutes,
                              phase="comms")
    run.comms.start()


def resolve_comms(run: FailoverRun, card: Scorecard | None, outcome: Outcome, detail: str) -> None:
    if run.comms is None:
        return
    if run.failover_started_at is None:
        summary = f"no failover: {detail}"
    else:
        summary = (f"{'Drill: ' if run.mode == 'drill' else ''}failed over from {run.primary} to {run.secondary}"
                   + (f" and back at {run.failback_completed_at:%H:%M} UTC" if run.failback_completed_at else ""))
    state = run.incident_state().model_copy(update={
        "status": "resolved", "resolved_at": run.clock.now(), "next_step": "none", "summary": summary,
        "impact": "none now" if run.recovered_at or outcome == "no_failover_needed"
        else "the service did not recover through Front Door",
        "details": {"rto_seconds": card.rto_seconds if card else None, "rto_target_seconds": run.plan.targets.rto,
                    "rpo_seconds": card.rpo_seconds if card else None, "rpo_target_seconds": run.plan.targets.rpo},
    })
    run.comms.resolve(state)


def run_runbook(run: FailoverRun) -> None:
    """The runbook, phase by phase; ``_EndRun`` ends it early when nothing is to fail over."""
    with phase(run, "prepare"):
        phase_prepare(run)
    with phase(run, "detect"):
        detection = phase_detect(run)
    with phase(run, "decide"):
        phase_decide(run, detection)
    with phase(run, "failover"):
        phase_fail_over(run)
    with phase(run, "validate"):
        phase_validate(run)
    with phase(run, "failback"):
        phase_fail_back(run)


@contextlib.contextmanager
def phase(run: FailoverRun, name: str) -> Iterator[None]:
    run.journal.append("phase_started", phase=name)
    try:
        yield
    except _EndRun as end:
        run.journal.append("phase_finished", phase=name, outcome=end.outcome)
        raise
    except Exception as exc:
        run.journal.append("phase_finished", phase=name, outcome=f"failed: {exc.__class__.__name__}")
        raise
    run.journal.append("phase_finished", phase=name, outcome="ok")


# ================================================================== the whole drill

def new_drill_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def drills_dir(plan_name: str) -> Path:
    path = odin_home() / "drills" / plan_name
    path.mkdir(parents=True, exist_ok=True)
    return path


def execute(plan_file: str, time_scale: float, *, mode: Mode, options: DrillOptions, record_history: bool,
            name: str = "region-failover") -> DrillSummary:
    """Load, check, run the runbook under the environment lock, score, report. Never raises for
    a failing drill: the summary says what happened (and its exit code)."""
    from odin_drills.reports.drill import publish_drill_artifacts, render_drill_markdown
    from odin_drills.reports.html import render_html

    try:
        if time_scale <= 0:
            raise UsageError("--time-scale must be positive")
        plan = load_drill(plan_file)
        problems = drill_problems(plan, plan_file)
        if problems:
            raise PlanInvalid(problems)
    except UsageError as exc:
        return DrillSummary(plan="", drill_id="", mode=mode, outcome="refused", exit_code=EXIT_USAGE,
                            detail="\n".join(exc.lines()))
    drill_id = new_drill_id(datetime.now(timezone.utc))
    folder = drills_dir(plan.name) / drill_id
    folder.mkdir(parents=True)
    clock = ScaledClock(time_scale)
    journal = Journal(folder / "journal.jsonl", clock)
    logger = get_run_logger()
    journal.subscribe(lambda e: logger.info("%s %s %s", e.kind, e.step or e.phase or "", _short(e.data)))
    for listener in LISTENERS:
        journal.subscribe(listener)
    journal.append("run_started", plan=plan.name, drill=drill_id, mode=mode, flow=name, phases=list(PHASES),
                   time_scale=time_scale, environment=plan.environment, target=plan.target.kind,
                   flow_run_id=str(runtime_flow_run.id), options=options)
    outcome: Outcome = "failed"
    detail = ""
    run: FailoverRun | None = None
    card: Scorecard | None = None
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(environment_lock(plan.environment, wait=options.wait_for_lock))
            journal.append("lock", action="acquired", environment=plan.environment)
            stack.callback(lambda: journal.append("lock", action="released", environment=plan.environment))
            lag = sandbox_lag(time_scale, options.replication_lag_seconds)
            sandbox = stack.enter_context(sandbox_for(plan, folder, lag))
            run = open_run(plan, plan_file, drill_id, mode, options, folder, clock, journal, sandbox)
            stack.callback(run.close)
            stack.callback(lambda: clear_injected_fault(run) if run is not None else None)
            try:
                run_runbook(run)
                outcome = "passed"
            except _EndRun as end:
                outcome, detail = end.outcome, end.detail
            card = score_run(run)
            journal.append("scorecard", **card.model_dump(mode="json"))
            if outcome == "passed" and not card.passed:
                outcome = "criteria_failed"
                detail = "criteria missed: " + ", ".join(n for n, c in card.criteria.items() if not c.passed)
            resolve_comms(run, card, outcome, detail)
        except UsageError as exc:
            outcome, detail = "refused", "\n".join(exc.lines())
        except Exception as exc:  # anything unexpected: journal it, report it, exit 4
            outcome, detail = "failed", f"{exc.__class__.__name__}: {exc}"
            logger.exception("region failover failed")
    if run is not None and run.worse:
        detail = f"{detail}; {run.worse}" if detail else run.worse
    exit_code = EXIT_CODES[outcome]
    journal.append("run_finished", outcome=outcome, exit_code=exit_code, detail=detail)
    trend = []
    if card is not None:
        (folder / "scorecard.json").write_text(card.model_dump_json(indent=2) + "\n", encoding="utf-8")
        history = DrillHistory(odin_home() / "drills")
        if record_history:
            history.record(card)
        trend = history.trend(plan.name, exclude=card.drill_id, limit=8)
    entries = journal.entries()
    report = folder / "report.md"
    markdown = render_drill_markdown(entries, card, trend, outcome=outcome, outcome_text=OUTCOME_TEXT[outcome],
                                     detail=detail, deferred=run.deferred if run else [])
    report.write_text(markdown, encoding="utf-8")
    html = folder / "report.html"
    html.write_text(render_html(entries, title=f"DR drill report: {plan.name}",
                                scorecard=card.to_report() if card else None), encoding="utf-8")
    publish_drill_artifacts(plan.name, markdown, card, trend)
    return DrillSummary(plan=plan.name, drill_id=drill_id, mode=mode, outcome=outcome, exit_code=exit_code,
                        passed=bool(card and card.passed), scorecard=card.to_json(report) if card else {},
                        report=str(report), report_html=str(html), journal=str(journal.path), detail=detail)


def open_run(plan: DrillPlan, plan_file: str, drill_id: str, mode: Mode, options: DrillOptions, folder: Path,
             clock: ScaledClock, journal: Journal, sandbox: SandboxLink | None) -> FailoverRun:
    """Endpoints, target and resources resolved (from the sandbox's info when there is one)."""
    target: Any = plan.target
    resources = plan.resources
    info = sandbox.info if sandbox is not None else None
    if sandbox is not None:
        assert info is not None
        target = SandboxTarget(arm_url=info["arm_url"], ca_cert=info["ca_cert"], subscription_id=info["subscription_id"])
        journal.append("sandbox", action="started in-process" if sandbox.owned is not None else "reused",
                       admin_url=info["admin_url"], frontdoor_url=info["frontdoor_url"],
                       state_dir=str(folder / "sandbox") if sandbox.owned is not None else None)
        resources, notes, problems = sandbox_resources(plan, info)
        for note in notes:
            journal.append("note", phase="prepare", message=note)
        if problems:
            raise PlanInvalid(problems)
    endpoints = plan.resolve_endpoints(info)
    inject = mode == "drill" and plan.outage.inject and options.inject_outage
    if inject and sandbox is None and resources.frontdoor is None:
        raise UsageError(f"{plan_file}: outage.inject on an Azure target needs resources.frontdoor")
    return FailoverRun(plan=plan, plan_file=plan_file, drill_id=drill_id, mode=mode, options=options, folder=folder,
                       clock=clock, journal=journal, endpoints=endpoints, target=target, sandbox=sandbox,
                       resources=resources, inject=inject)


def score_run(run: FailoverRun) -> Scorecard:
    timeline = DrillTimeline(
        outage_started_at=run.outage_started_at or run.clock.now(), detected_at=run.detected_at,
        decided_at=run.decided_at, failover_completed_at=run.failover_completed_at, recovered_at=run.recovered_at,
        failback_completed_at=run.failback_completed_at)
    canary = run.canary_result or CanaryResult(attempted=0, acknowledged=0, failed_writes=0, verified=0)
    return score(timeline, canary, run.plan.targets, plan=run.plan.name, drill_id=run.drill_id, smoke=run.dr_smoke,
                 dr_region=run.secondary, failback_smoke=run.failback_smoke, replication=run.replication,
                 scored_at=run.clock.now())


def _short(data: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in data.items()
                     if k not in ("report", "output", "undo", "acknowledged_ids", "lost_writes", "options", "criteria"))
    return text[:300]


LISTENERS: list[Any] = []
"""Extra journal listeners for in-process runs (the CLI's live progress)."""


# ================================================================== the flow

@flow(name="region-failover", log_prints=False, validate_parameters=True)
def region_failover(plan_file: str, time_scale: float = 1.0, drill: bool = True, human_confirm: bool = False,
                    failback: bool = True, inject_outage: bool = True, max_parallel: int = 4) -> DrillSummary:
    """The region-failover runbook. ``drill``: fail over as soon as the outage is confirmed (and,
    when the plan says ``outage.inject``, cause it); otherwise incident mode: wait for a real
    outage and fail over once it has lasted the plan's threshold."""
    options = DrillOptions(human_confirm=human_confirm, failback=failback, inject_outage=inject_outage,
                           max_parallel=max_parallel)
    return execute(plan_file, time_scale, mode="drill" if drill else "incident", options=options,
                   record_history=False, name="region-failover")
