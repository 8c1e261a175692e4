"""The region-failover runbook: detect ▸ decide ▸ fail over ▸ validate ▸ communicate ▸ fail back.

``run_runbook`` below is the order; each phase is the short function of the same name after it.
The work is ``odin_drills.steps.dr``'s (the run, the outage injector, probes, canary, failover
actions, stakeholder messages, scorecard); the Prefect tasks that show each wait and action in
the UI are ``flows.drill_tasks``; lock, target, scoring, history and reports around the runbook
are ``flows.drill_run``. The journal, not memory, says what was changed and what to undo.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from prefect import flow
from prefect.states import State

from odin_drills.errors import UsageError
from odin_drills.flows.drill_run import DrillOptions, execute
from odin_drills.flows.drill_tasks import (act_on_worse, alerts_at_end, cause_outage, confirm_with_person,
                                           detect_outage, dr_baseline, dr_region_watch,
                                           replication_lag, replication_state, resolve_actions, restore_primary,
                                           run_drill_steps, run_wave, smoke, undo_batch, verify_canary,
                                           wait_for_failback_window, wait_for_service, wait_for_threshold,
                                           weigh_service_health)
from odin_drills.flows.final_state import final_state
from odin_drills.flows.plan_choices import plan_file_type
from odin_drills.plan.windows import describe as describe_window
from odin_drills.steps.dr import DetectionResult, failover_due_at
from odin_drills.steps.dr.azure_reads import replication_evidence
from odin_drills.steps.dr.budgets import check_phase
from odin_drills.steps.dr.drill_steps import skip
from odin_drills.steps.dr.failover import failback_batches
from odin_drills.steps.dr.order import run_waves
from odin_drills.steps.dr.run import DrillRun, EndRun, Mode
from odin_drills.steps import stop

PHASES = ("prepare", "detect", "decide", "failover", "validate", "communicate", "failback")

DrillPlanFile = plan_file_type("drill")
"""``str``; in the deployment's run form (``region-failover-incident``), a choice of the project's drill files."""


def run_runbook(run: DrillRun) -> None:
    """The runbook, phase by phase; ``EndRun`` ends it early when nothing is to fail over."""
    stop.check("drill phase prepare")  # a signal: no new phase starts; the drill cleans up
    with phase(run, "prepare"):
        prepare(run)
    stop.check("drill phase detect")  # a signal: no new phase starts; the drill cleans up
    with phase(run, "detect"):
        detection = detect(run)
    stop.check("drill phase decide")  # a signal: no new phase starts; the drill cleans up
    with phase(run, "decide"):
        decide(run, detection)
    stop.check("drill phase failover")  # after this, a stop waits for the failback: it puts the world back
    with phase(run, "failover"):
        fail_over(run)
    with phase(run, "validate"):
        validate(run)
    with phase(run, "communicate"):
        communicate(run)
    with phase(run, "failback"):
        fail_back(run)


@flow(name="region-failover", log_prints=False, validate_parameters=True)
def region_failover(plan_file: DrillPlanFile, time_scale: float = 1.0, drill: bool = True, human_confirm: bool = False,
                    failback: bool = True, inject_outage: bool = True, max_parallel: int = 0,
                    allow_production: bool = False, wait_for_lock: bool = True) -> State:
    """The region-failover runbook. ``drill``: fail over as soon as the outage is confirmed (and,
    when the plan says ``outage.inject``, cause it); otherwise incident mode: wait for a real
    outage and fail over on Azure's word (Service Health's ETA, ``decision.service_health``) or once
    it has lasted the plan's threshold; never fails back by itself. Ends in the outcome's state.

    Args:
        plan_file: the drill file; for a deployment or UI run, under the project's drills/ folder (or $ODIN_PLAN_ROOT on the worker)
        time_scale: run the plan clock this many times faster (rehearsals)
        drill: cause and handle the outage as a drill; off (or the plan's decision.mode incident): incident mode
        human_confirm: hold for a person to confirm the failover
        failback: fail back once the primary is healthy again
        inject_outage: cause the plan's outage (drill mode)
        max_parallel: failover actions run at once, at most; 0: the drill file's resources.max_parallel
        allow_production: required (true) to run a drill whose target is production; the run is refused otherwise
        wait_for_lock: queue behind another run on the same environment instead of refusing
    """
    options = DrillOptions(human_confirm=human_confirm, failback=failback, inject_outage=inject_outage,
                           max_parallel=max_parallel, wait_for_lock=wait_for_lock)
    return runbook_state(plan_file, time_scale, mode="drill" if drill else "incident", options=options,
                         record_history=False, name="region-failover", allow_production=allow_production)


def runbook_state(plan_file: str, time_scale: float, *, mode: Mode, options: DrillOptions, record_history: bool,
                  name: str, allow_production: bool = False) -> State:
    """The whole run around this runbook; the Prefect state named by its outcome, the summary its data."""
    summary = execute(plan_file, time_scale, mode=mode, options=options, record_history=record_history, name=name,
                      runbook=run_runbook, phases=PHASES, allow_production=allow_production)
    return final_state(summary.outcome, summary, message=summary.detail.splitlines()[0] if summary.detail else "")


# ================================================================== the phases, in order

def prepare(run: DrillRun) -> None:
    """The steady state: smoke journeys through Front Door (the baseline); which server becomes
    primary (read from Azure before anything breaks); probes and canary writes on. First, when the
    plan asks for it, the test-window notice and its notice period (``steps.dr.notice``):
    stakeholders hear before anything is touched."""
    from odin_drills.steps.dr.notice import announce_test_window

    announce_test_window(run)
    run.found.baseline_smoke = smoke(run, "prepare", "frontdoor")
    if run.outage is not None and run.found.baseline_smoke.critical_failed:
        raise UsageError(f"{run.found.baseline_smoke.critical_failed} critical smoke journey(s) fail through Front "
                         "Door before the drill: fix the service (or the plan) before breaking it")
    run.waves = resolve_actions(run, "prepare")
    refusal = dr_baseline(run) if run.plan.metrics is not None else None  # the DR region before anything breaks
    if refusal:
        raise UsageError(refusal)
    run.watch("prepare")
    if run.outage is not None:
        run.warm_up()


def detect(run: DrillRun) -> DetectionResult:
    """Drill: cause the outage (sandbox fault / primary out of Front Door), its start the RTO's;
    then the primary must fail every probe for ``detection.confirmation``. Stakeholders hear at T+0."""
    detection = run.plan.detection
    if run.outage is not None:
        run.moments.outage_started_at = since = cause_outage(run)
        max_wait = detection.confirmation + max(20 * detection.interval, 300.0)
    else:
        since, max_wait = run.clock.now(), run.plan.targets.rto
        run.note("detect", f"waiting up to {max_wait:g} s (plan time) for an outage of {run.primary}")
    result = detect_outage(run, since, max_wait)
    if not result.confirmed:
        raise EndRun("not_confirmed", f"the outage of {run.primary} was not confirmed within {max_wait:g} s "
                     f"(plan time; {len(result.glitches)} glitch(es))")
    if run.moments.outage_started_at is None:
        run.moments.outage_started_at = result.first_failure_at
        run.note("detect", f"outage start taken from the first failed probe ({result.first_failure_at})")
    run.moments.detected_at = result.confirmed_at
    run.stakeholders.start()
    return result


def decide(run: DrillRun, result: DetectionResult) -> None:
    """Drill: at once; incident: on Azure's word (``decision.service_health``: full or partial, the
    ETA for resolution against ``fail_over_if_eta_beyond``; ``steps.dr.incident``), or once the
    outage has lasted ``detection.threshold``. A person may confirm (``proceed``) or veto
    (``rollback``) from the UI or ``odin decide``."""
    threshold = run.plan.detection.threshold
    reason = (f"outage of {run.primary} confirmed at {result.confirmed_at:%H:%M:%S}"
              + (" (drill: fail over at once)" if run.mode == "drill" else f", lasting the {threshold:g} s threshold"))
    evidence = None
    if run.mode == "incident" and run.plan.decision.service_health:
        verdict = weigh_service_health(run, result)
        evidence = verdict.evidence
        if verdict.action == "recovered":
            run.journal.append("decision", phase="decide", action="no_failover", by="odin", reason=verdict.reason,
                               evidence=evidence)
            raise EndRun("no_failover_needed", verdict.reason)
        reason = f"outage of {run.primary} confirmed at {result.confirmed_at:%H:%M:%S}; {verdict.reason}"
    elif run.mode == "incident":
        due = failover_due_at(result, "incident", threshold)
        if due is not None and due > run.clock.now() and not wait_for_threshold(run, result):
            run.journal.append("decision", phase="decide", action="no_failover", by="odin",
                               reason=f"{run.primary} answered again before the {threshold:g} s threshold")
            raise EndRun("no_failover_needed", f"{run.primary} came back before the threshold")
    action, by, why = "proceed", "odin", reason
    if run.plan.decision.human_confirm or run.options.human_confirm:
        action, by, why = confirm_with_person(run, "decide", reason)
    run.moments.decided_at = run.clock.now()
    run.journal.append("decision", phase="decide", action="fail_over" if action == "proceed" else "veto", by=by,
                       reason=why, evidence=evidence)
    if action != "proceed":
        raise EndRun("vetoed", f"failover vetoed by {by}: {why}")


def fail_over(run: DrillRun) -> None:
    """SQL failover groups and storage accounts in parallel (bounded), then Front Door to the DR
    region; each action a task, journaled with the undo it computed. Traffic moves only after the
    data tier succeeded: otherwise it is skipped and the drill rolls back (``steps.dr.order``).
    Then the drill file's ``steps.failover`` in order (DNS, app settings…), only after every built-in
    action succeeded; one that fails rolls the drill back as a failed SQL wave does."""
    run.stakeholders.update("failing over", f"outage confirmed; failover of {run.primary} to {run.secondary} started")
    run.moments.failover_started_at = run.clock.now()
    run_waves(run, lambda wave: run_wave(run, wave, "failover"), "failover")
    own = run.plan.steps.failover
    if own and run.found.failed_actions():
        skip(run, "failover", own, f"the built-in failover did not succeed ({', '.join(run.found.failed_actions())}): "
             "the drill's own failover steps run only after it did")
    elif own:
        failed = run_drill_steps(run, "failover", own)
        if failed is not None:
            raise EndRun("rolled_back_healthy", f"failover step {failed.label} failed ({failed.detail}); the drill "
                         "rolled back what it changed")
    run.moments.failover_completed_at = run.clock.now()
    failed, done = run.found.failed_actions(), len(run.found.outcomes)
    run.stakeholders.update(progress=f"failover actions done ({done - len(failed)} of {done} succeeded)"
                            + (f"; failed: {', '.join(failed)}" if failed else ""))


def validate(run: DrillRun) -> None:
    """The service answering through Front Door again (the RTO ends), smoke journeys in the DR
    region and through Front Door (worse than before the outage is reported), replication as
    Azure reports it, canary writes read back (data loss measured); with ``metrics:`` the rollback
    ladder watches the DR region against the baseline prepare captured, with ``validation:`` the
    replication lag is judged, with ``alerts:`` no Sev 0/1 may fire (``steps.dr.validation``). Worse
    than before the outage (a rollback verdict included): acted on as the plan's
    ``decision.on_worse_after_failover`` says."""
    run.stakeholders.update("validating")
    started = run.moments.outage_started_at
    assert started is not None
    interval = run.plan.detection.interval
    elapsed = (run.clock.now() - started).total_seconds()
    # a failed action: only a short look, nothing will bring the service back
    max_wait = 10 * interval if run.found.failed_actions() else max(run.plan.targets.rto - elapsed, 10 * interval)
    run.moments.recovered_at = wait_for_service(run, run.secondary, started, max_wait)
    run.found.dr_smoke = smoke(run, "validate", "secondary")
    run.check_not_worse(smoke(run, "validate", "frontdoor"), "validate")
    run.found.replication = replication_evidence([(a.step, o) for a, o in run.found.outcomes],
                                                 replication_state(run, "validate"))
    if run.canary is not None:
        run.found.canary = verify_canary(run, "validate", run.secondary)
    failed = run_drill_steps(run, "validation", run.plan.steps.validation) if run.plan.steps.validation else None
    if failed is not None:
        why = f"validation step {failed.label} failed: {failed.detail}"
        run.found.worse = f"{run.found.worse}; {why}" if run.found.worse else why
    # each its own task run in the Prefect UI, and only when the drill file asks for it
    if run.plan.metrics is not None:
        dr_region_watch(run)  # the ladder against the baseline; a rollback verdict is run.found.worse
    if "max_replication_lag" in run.plan.validation.model_fields_set:
        replication_lag(run)  # how far the geo-secondaries trail, as Azure reports it
    if run.plan.alerts is not None:
        alerts_at_end(run)  # no Sev 0/1 of the service firing as validation ends
    run.moments.validated_at = run.clock.now()
    act_on_worse(run, "validate")  # after the budget's end: a person's time to answer is not validation's


def communicate(run: DrillRun) -> None:
    """Stakeholders heard at T+0 when the outage was confirmed; from here the updates (T+15/60/90,
    plan time) say what validation found and that the DR region is watched; the resolution follows
    the failback and the scorecard."""
    recovered = run.moments.recovered_at
    run.stakeholders.update("monitoring", f"service answering from {run.secondary} since {recovered:%H:%M:%S} UTC"
                            if recovered else "the service is not answering through Front Door yet")
    run.stakeholders.checkpoint()


def fail_back(run: DrillRun) -> None:
    """Once the primary is healthy again (a drill ends its own outage): the journaled undos, the data
    tier's before traffic (each newest first) — the failovers back, then the drill file's own failover
    and validation changes and Front Door — then the drill file's ``steps.failback``, and the validation
    again. With ``failback.window``, the failback starts in that low-traffic window, waiting for it
    up to ``failback.window_wait`` (``steps.dr.failback_window``; otherwise no failback). A DR region
    worse than the plan allows is failed back at once, even when failback is off; an incident never
    fails back by itself."""
    if run.mode == "incident":  # never automatic: a person fails back in a separate, confirmed run
        window = run.plan.failback.window
        run.note("failback", f"incident mode: the service stays in {run.secondary}; fail back with `odin rollback "
                 f"PLAN --drill {run.drill_id} --reason ... --by NAME` once {run.primary} is healthy"
                 + (f", inside failback.window ({describe_window(window)}) or with --force" if window else ""))
        return
    if not (run.plan.failback.enabled and run.options.failback) and run.found.fail_back_now is None:
        run.note("failback", f"failback disabled: the service stays in {run.secondary}")
        return
    run.stakeholders.update("failing back", f"waiting for {run.primary} to be healthy again")
    if restore_primary(run, "failback") is None:
        run.note("failback", f"{run.primary} was not healthy for {run.plan.failback.wait_healthy:g} s in time: "
                 "no failback")
        return
    if run.found.fail_back_now is not None:  # the DR region is worse than allowed: no low-traffic window to wait for
        if run.plan.failback.window is not None:
            run.note("failback", f"failing back at once, whatever failback.window says: {run.found.fail_back_now}")
    else:
        waited = wait_for_failback_window(run, "failback")  # the plan's low-traffic window, bounded by window_wait
        if waited is None:
            return
        if waited and restore_primary(run, "failback") is None:  # healthy then, and still after the wait?
            run.found.no_failback = f"{run.primary} was not healthy again when failback.window opened"
            run.note("failback", f"{run.found.no_failback}: no failback")
            return
    started = run.clock.now()
    # the failovers back in batches, data before traffic, as they failed over (steps.dr.order.undo_batches)
    undone = [ok for batch in failback_batches(run, "failback") for ok in undo_batch(run, batch, "failback")]
    if not all(undone):
        run.note("failback", "some undos failed: the failback is incomplete")
        return
    failed = run_drill_steps(run, "failback", run.plan.steps.failback) if run.plan.steps.failback else None
    if failed is not None:
        run.note("failback", f"failback step {failed.label} failed ({failed.detail}): the failback is incomplete")
        return
    back = wait_for_service(run, run.primary, started, max(10 * run.plan.detection.interval, 600.0))
    run.found.failback_smoke = smoke(run, "failback", "frontdoor")
    smoke(run, "failback", "primary")
    replication_state(run, "failback")
    if run.canary is not None and run.found.canary is not None:
        again = run.canary.verify(run.endpoints.regions[run.primary], failover_at=run.moments.failover_started_at)
        if len(again.lost) > len(run.found.canary.lost):
            run.note("failback", f"the failback lost {len(again.lost) - len(run.found.canary.lost)} more canary "
                     "write(s)")
    if back is not None:
        run.moments.failback_completed_at = run.clock.now()
        run.stakeholders.update("monitoring", f"failed back to {run.primary}")


@contextlib.contextmanager
def phase(run: DrillRun, name: str) -> Iterator[None]:
    """``phase_started`` / ``phase_finished`` (ok, the early end's outcome, or the failure) around a
    phase; a budgeted phase that ended ok is judged against its budget (``phase_budget``)."""
    run.journal.append("phase_started", phase=name)
    try:
        yield
    except EndRun as end:
        run.journal.append("phase_finished", phase=name, outcome=end.outcome)
        raise
    except Exception as exc:
        run.journal.append("phase_finished", phase=name, outcome=f"failed: {exc.__class__.__name__}")
        raise
    run.journal.append("phase_finished", phase=name, outcome="ok")
    check_phase(run, name)
