"""The region-failover runbook's Prefect tasks: each probe wait, failover action, undo and check
is one task run in the Prefect UI. The work is ``odin_drills.steps.dr``'s; a task only names it.

Tasks take the ``DrillRun`` itself: a plain object Prefect does not walk (see ``steps.dr.run``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run as runtime_flow_run

from odin_drills.errors import UsageError
from odin_drills.steps.actions import StepOutcome
from odin_drills.steps.dr import CanaryResult, DetectionResult
from odin_drills.steps.dr.azure_reads import read_replication
from odin_drills.steps.dr.drill_steps import FailedStep, run_in_order, run_step
from odin_drills.steps.dr.failback_window import await_window
from odin_drills.steps.dr.failover import execute_action, failover_waves, run_undo
from odin_drills.steps.dr.incident import Verdict, weigh_outage
from odin_drills.steps.dr.replication_lag import judge_replication_lag
from odin_drills.steps.dr.run import Action, DrillRun, Where
from odin_drills.steps.dr.scorecard import Criterion
from odin_drills.steps.dr.validation import alerts_green, capture_dr_baseline, watch_dr_region
from odin_drills.steps.journal import Entry
from odin_drills.steps.probes.smoke import SmokeReport, run_journeys

QUIET = {"cache_policy": NO_CACHE, "persist_result": False}
T = TypeVar("T")


@task(name="smoke-journeys", task_run_name="smoke-{where}", **QUIET)
def smoke(run: DrillRun, phase: str, where: Where) -> SmokeReport:
    report = run_journeys(run.journeys(where), client=run.client)
    step = {"frontdoor": "through Front Door", "primary": f"in {run.primary}", "secondary": f"in {run.secondary}"}[where]
    run.journal.append("smoke", phase=phase, step=step, report=report, critical_failed=report.critical_failed,
                       noncritical_failed=report.noncritical_failed)
    return report


@task(name="resolve-failover-actions", **QUIET)
def resolve_actions(run: DrillRun, phase: str) -> list[list[Action]]:
    """Which server becomes primary is read from Azure now, while the primary still answers."""
    waves = failover_waves(run)
    run.note(phase, "failover actions: " + "; then ".join(", ".join(a.label for a in wave) for wave in waves)
             if waves else "failover actions: none (no resources)")
    return waves


@task(name="inject-outage", **QUIET)
def cause_outage(run: DrillRun) -> datetime:
    """Cause the drill's outage; returns its start (plan time): the RTO clock starts here."""
    assert run.outage is not None
    return run.outage.inject()


@task(name="detect-outage", **QUIET)
def detect_outage(run: DrillRun, since: datetime, max_wait: float) -> DetectionResult:
    assert run.detector is not None
    if run.outage is not None:
        return run.outage.wait_confirmed(since, max_wait)
    return run.detector.wait_for_outage(max_wait, since=since)


@task(name="wait-for-threshold", **QUIET)
def wait_for_threshold(run: DrillRun, result: DetectionResult) -> bool:
    """Incident mode: does the outage last the plan's threshold (False: the primary came back)?"""
    assert run.detector is not None and result.first_failure_at is not None
    threshold = run.plan.detection.threshold
    remaining = (result.first_failure_at + timedelta(seconds=threshold) - run.clock.now()).total_seconds()
    return run.detector.wait_for_threshold(result, threshold, max(0.0, remaining) + run.plan.detection.interval,
                                           consecutive=run.plan.targets.consecutive_successes)


@task(name="weigh-service-health", **QUIET)
def weigh_service_health(run: DrillRun, result: DetectionResult) -> Verdict:
    """Incident mode: Azure Service Health and Resource Health decide fail over or wait (``steps.dr.incident``)."""
    return weigh_outage(run, result)


def confirm_with_person(run: DrillRun, phase: str, reason: str, hold: str = "confirm-failover",
                        default: Literal["proceed", "rollback"] | None = None,
                        timeout: float | None = None) -> tuple[str, str, str]:
    """Hold for a person: ``proceed`` fails over, ``rollback`` vetoes; the plan's default at the deadline
    (``decision.confirm_timeout``, or ``timeout``; ``default`` when given).

    A signal (SIGTERM/SIGINT) ends the wait within seconds as ``rollback``, whatever the default: before
    the failover that is a veto (no world-changing action starts on a stop request), after it a
    failback (a stopping drill puts the world back, as its cleanup does). The next phase boundary
    then ends the drill as interrupted."""
    from odin_drills.flows.human import HoldInterrupted, wait_for_decision
    from odin_drills.steps import stop as stop_request

    decision = run.plan.decision
    if default is None:
        default = "proceed" if decision.on_confirm_timeout == "fail-over" else "rollback"
    wait = decision.confirm_timeout if timeout is None else timeout
    flow_run_id = str(runtime_flow_run.id)
    run.journal.append("hold_started", phase=phase, hold=hold, reason=reason, default=default,
                       deadline=run.clock.now() + timedelta(seconds=wait), flow_run_id=flow_run_id,
                       decide=f"odin decide {flow_run_id} proceed|rollback --reason '...' --by NAME")
    try:
        answer, _ = wait_for_decision(deadline_wall_seconds=run.clock.wall_seconds(wait),
                                      default=default, on_stop="interrupt")
    except HoldInterrupted:
        why = stop_request.requested() or "a stop request"
        reason = f"{why} during the hold: {'no failover starts' if hold == 'confirm-failover' else 'failing back'}"
        run.journal.append("human_input", phase=phase, action="rollback", reason=reason, by=f"odin ({why})",
                           verified_as="odin", at=run.clock.now())
        return "rollback", f"odin ({why})", reason
    run.journal.append("human_input", phase=phase, action=answer.action, reason=answer.reason, by=answer.by,
                       verified_as=answer.verified, at=run.clock.now())
    return answer.action, answer.by, answer.reason


def act_on_worse(run: DrillRun, phase: str) -> None:
    """The DR region serves worse than the primary did before the outage: the plan's
    ``decision.on_worse_after_failover``. ``escalate`` (the default) holds for a person with the
    drill's existing hold (the Prefect UI form or ``odin decide``, as for confirming the failover):
    ``proceed`` stays in the DR region, ``rollback`` fails back, and nobody answering within
    ``decision.confirm_timeout`` fails back — nobody accepted the worse service. Why a hold and not
    always failing back: in a real outage the primary may be worse still, which only a person can
    weigh; a drill without anyone watching still ends safely. ``fail_back``: at once, journaled. In
    incident mode the decision is journaled, and the failback itself is the separate, confirmed run."""
    worse = run.found.worse
    if worse is None:
        return
    action, by, why = "rollback", "odin", f"decision.on_worse_after_failover is fail_back: {worse}"
    if run.plan.decision.on_worse_after_failover == "escalate":
        action, by, why = confirm_with_person(run, phase, f"{worse}: proceed stays in {run.secondary}, rollback "
                                              f"fails back to {run.primary}", hold="worse-after-failover",
                                              default="rollback")
    run.journal.append("decision", phase=phase, action="stay" if action == "proceed" else "fail_back", by=by,
                       reason=why)
    if action != "proceed":
        run.found.fail_back_now = why


@task(name="failover-action", task_run_name="{action.label}", **QUIET)
def failover_action(run: DrillRun, action: Action, phase: str) -> StepOutcome:
    return execute_action(run, action, phase)


def run_wave(run: DrillRun, actions: list[Action], phase: str) -> list[tuple[Action, StepOutcome]]:
    """Independent actions at once, at most ``max_parallel`` (the run's option, else the drill file's
    ``resources.max_parallel``); each a task of this flow run."""
    outcomes = at_once(run, [(failover_action, (run, action, phase)) for action in actions], "odin-failover")
    return list(zip(actions, outcomes))


def at_once(run: DrillRun, calls: list[tuple[Callable[..., T], tuple[Any, ...]]], name: str) -> list[T]:
    """Each ``(task, arguments)`` at most ``run.max_parallel`` at once, their results in order; each
    thread gets a copy of this context, so the task runs under this flow run. One call runs here."""
    if len(calls) <= 1:
        return [task_fn(*arguments) for task_fn, arguments in calls]
    with ThreadPoolExecutor(max_workers=min(run.max_parallel, len(calls)), thread_name_prefix=name) as pool:
        futures = [pool.submit(contextvars.copy_context().run, task_fn, *arguments) for task_fn, arguments in calls]
        return [f.result() for f in futures]


@task(name="drill-step", task_run_name="{phase}: {label}", **QUIET)
def drill_step(run: DrillRun, step: Any, phase: str, label: str) -> StepOutcome:
    """One of the drill file's own steps (``steps.dr.drill_steps``), journaled write-ahead."""
    return run_step(run, step, phase)


def run_drill_steps(run: DrillRun, phase: str, steps: list[Any]) -> FailedStep | None:
    """The drill file's ``steps.<phase>`` in order, each a task (an approval a hold of the flow
    itself: a pause belongs to the flow run); the first that fails is returned, the rest skipped."""
    from odin_drills.plan.steps import ApprovalStep

    def one(step: Any) -> StepOutcome:
        if not isinstance(step, ApprovalStep):
            return drill_step(run, step, phase, step.label)
        action, by, why = confirm_with_person(run, phase, step.prompt, hold=f"approval {step.label}",
                                              default="proceed" if step.on_timeout == "approve" else "rollback",
                                              timeout=step.timeout)
        if action == "proceed":
            return StepOutcome(status="ok", detail=f"approval {step.label}: approved by {by}")
        return StepOutcome(status="failed", detail=f"approval {step.label} refused by {by}: {why}")

    return run_in_order(run, phase, steps, one)


@task(name="wait-for-service", task_run_name="wait-for-service-{region}", **QUIET)
def wait_for_service(run: DrillRun, region: str, since: datetime, max_wait: float) -> datetime | None:
    """The first of N successful probes in a row through Front Door, served by ``region``."""
    assert run.detector is not None
    return run.detector.wait_for_recovery(region=region, consecutive=run.plan.targets.consecutive_successes,
                                          max_wait=max_wait, since=since)


@task(name="replication-state", task_run_name="replication-{phase}", **QUIET)
def replication_state(run: DrillRun, phase: str) -> dict[str, Any]:
    """What Azure reports now: who is primary, replication state, storage last sync (read only).
    The stamped read stays on ``run.found.replication_read``: validation judges the lag from it."""
    read = read_replication([(a.label, a.step) for wave in run.waves for a in wave], run.target)
    run.found.replication_read = read
    run.journal.append("replication", phase=phase, **read.state)
    return read.state


@task(name="capture-dr-baseline", task_run_name="capture-dr-baseline", **QUIET)
def dr_baseline(run: DrillRun) -> str | None:
    """``metrics:``: one window of the DR region's error rate and latency before anything breaks.
    Returns the refusal, if the window cannot be a baseline: a user's mistake (a wrong URL) that the
    flow raises outside the task, since Prefect logs a traceback for anything a task raises."""
    try:
        capture_dr_baseline(run)
    except UsageError as exc:
        return str(exc)
    return None


@task(name="watch-dr-region", task_run_name="watch-dr-region", **QUIET)
def dr_region_watch(run: DrillRun) -> Criterion | None:
    """``metrics:``: the rollback ladder over the DR region against that baseline (its windows are
    this task's gate entries); criterion ``dr_region_within_baseline``."""
    return watch_dr_region(run)


@task(name="judge-replication-lag", task_run_name="judge-replication-lag", **QUIET)
def replication_lag(run: DrillRun) -> Criterion | None:
    """``validation.max_replication_lag``: criterion ``replication_lag_within_limit``."""
    return judge_replication_lag(run)


@task(name="alerts-green", task_run_name="alerts-green", **QUIET)
def alerts_at_end(run: DrillRun) -> Criterion | None:
    """``alerts:``: no Sev 0/1 firing as validation ends; criterion ``alerts_green``."""
    return alerts_green(run)


@task(name="verify-canary", task_run_name="verify-canary-{phase}", **QUIET)
def verify_canary(run: DrillRun, phase: str, region: str) -> CanaryResult:
    assert run.canary is not None
    failover_at = run.moments.failover_started_at
    run.canary.stop()
    result = run.canary.verify(run.endpoints.regions[region], failover_at=failover_at)
    acked = [w.write_id for w in run.canary.acknowledged() if w.write_id]
    run.journal.append("data_loss", phase=phase, region=region, acknowledged=result.acknowledged,
                       lost=len(result.lost), lost_ids=result.lost_ids,
                       lost_writes=[{"id": w.write_id, "seq": w.seq, "acked_at": w.acked_at} for w in result.lost],
                       corrupted=len(result.corrupted),
                       unreadable=len(result.unreadable), failed_writes=result.failed_writes,
                       rpo_seconds=result.lost_span_seconds, failover_at=failover_at,
                       acknowledged_ids=acked[:10000], acknowledged_ids_truncated=len(acked) > 10000)
    return result


@task(name="restore-primary", **QUIET)
def restore_primary(run: DrillRun, phase: str) -> datetime | None:
    """End the drill's outage (the injector's to end) and wait until the primary has been healthy
    for ``failback.wait_healthy``. None when it never was within the wait."""
    assert run.detector is not None
    if run.outage is not None:
        run.outage.clear()
    else:
        run.note(phase, f"waiting for {run.primary} to be healthy again on its own")
    wait = run.plan.failback.wait_healthy
    return run.detector.wait_for_region_healthy(
        run.primary, consecutive=run.plan.targets.consecutive_successes, healthy_for=wait,
        max_wait=wait + max(1800.0, 20 * run.plan.detection.interval), since=run.clock.now())


@task(name="wait-for-failback-window", **QUIET)
def wait_for_failback_window(run: DrillRun, phase: str) -> float | None:
    """The plan's ``failback.window``: plan seconds waited for it; None when it does not open within
    ``failback.window_wait`` (no failback; ``steps.dr.failback_window``)."""
    return await_window(run, phase)


@task(name="failback-undo", task_run_name="undo {label}", **QUIET)
def failback_undo(run: DrillRun, entry: Entry, label: str, phase: str) -> bool:
    return run_undo(run, entry, label, phase)


def undo_batch(run: DrillRun, batch: list[tuple[Entry, str]], phase: str) -> list[bool]:
    """One batch of the failback (``steps.dr.failover.failback_batches``) at once, at most
    ``max_parallel``, as its failover wave ran; each undo a task of this flow run. Every undo of the
    batch runs even when one fails (an undo never stops the others)."""
    return at_once(run, [(failback_undo, (run, entry, label, phase)) for entry, label in batch], "odin-failback")
