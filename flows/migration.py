"""The migration runbook: T-1w ▸ T-0 ▸ T+1h ▸ T+24h, judged against a baseline, undone when it must be.

Read this file as the runbook. Each phase is a short function; the work happens in ``steps/``
(actions, judge, rollback, journal) and in the small Prefect tasks of ``flows/migration_run.py``
that make every step, smoke run and gate visible in the Prefect UI. The journal, not memory,
decides what to undo.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from prefect import flow, get_run_logger
from prefect.runtime import flow_run as runtime_flow_run
from pydantic import BaseModel

from odin_drills.reports.artifacts import publish_baseline, publish_report
from odin_drills.errors import EXIT_USAGE, OdinError, OutsideChangeWindow, StateMissing, UsageError
from odin_drills.flows.final_state import final_state
from odin_drills.outcomes import exit_code
from odin_drills.flows.entry import emergency_override, entry_plan_file, require_opt_in, started_by_deployment
from odin_drills.flows.plan_choices import plan_file_type, shown_as
from odin_drills.home import write_private
from odin_drills.plan import Plan, load_plan
from odin_drills.plan.models import PHASE_OFFSETS, PHASES
from odin_drills.plan.steps import ApprovalStep, GateStep, SmokeStep
from odin_drills.steps.baseline import unusable_baseline
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.adequacy import check_baseline
from odin_drills.steps.limits import baseline_above_limits
from odin_drills.steps.journal import Journal, read_journal
from odin_drills.steps.judge import Verdict
from odin_drills.steps.lock import environment_lock
from odin_drills.steps.lock import free as free_environment
from odin_drills.steps.lock import reserve as reserve_environment
from odin_drills.steps import intent as wal
from odin_drills.steps import people, stop
from odin_drills.flows import migration_state as state
from odin_drills.reports.markdown import render_markdown
from odin_drills.reports.html import render_html

from odin_drills.flows.migration_run import (  # noqa: F401 (MigrationRun, RolledBack: used by bench and tests)
    MigrationRun, Outcome, RolledBack, act_on, ask_person, capture_baseline, check_undo_plan, execute, gate, release_environment, roll_back,
    read_back_canaries, smoke, write_canaries,
)


class RunSummary(BaseModel):
    migration: str
    outcome: Outcome
    exit_code: int
    report: str
    journal: str
    detail: str = ""


# ---------------------------------------------------------------- phases

def phase_t_minus_1w(run: MigrationRun) -> None:
    """Checks first, baseline after: a T-1w whose undo check or critical smoke fails writes no
    baseline, and its ``phase_finished`` (outcome unusable, with the reason) makes T-0 refuse."""
    problems = check_undo_plan(run)
    report = smoke(run, "t-1w")
    if problems:
        raise StateMissing("; ".join(problems))
    if report.critical_failed:
        raise UsageError(f"{report.critical_failed} critical smoke journey(s) fail before any change: fix the service or the plan")
    run.baseline = capture_baseline(run)
    problem = unusable_baseline(run.baseline.snapshot, f"{run.plan_file}: metrics")
    if problem:  # no baseline.json: T-0 refuses with this reason
        run.baseline = None
        raise StateMissing(problem)
    from odin_drills.flows.best_effort import best_effort

    best_effort("publishing the baseline", publish_baseline, run.plan.name, run.baseline)  # baseline.json is the record
    check_baseline(run.plan, run.baseline, run.journal)  # can the windows see a breach? warn or refuse per policy
    for line in baseline_above_limits(run.baseline.snapshot, run.plan.policy.absolute):
        run.journal.append("note", phase="t-1w", message=f"warning: absolute limits: {line}")
    if run.plan.slo is not None:
        error_budget_gate(run, "t-1w")  # readiness: what the T-0 gate would say today
    from odin_drills.flows.readiness_gate import review_readiness

    review_readiness(run, "t-1w", smoke=report)  # the readiness review: journaled and reported; blocking items gate T-0
    for step in run.plan.phases.t_minus_1w:
        run_step(run, step, "t-1w")


def _skip(run: MigrationRun, phase: str, label: str, why: str) -> None:
    run.journal.append("note", phase=phase, step=label, message=f"{label}: {why} (journal): not run again")


def run_step(run: MigrationRun, step: Any, phase: str) -> None:
    """One plan step. A step the journal shows done (an earlier run of this phase, before a crash)
    is skipped; see ``steps.intent`` for how an interrupted one is decided."""
    label = step.label
    stop.check(f"step {label} of {phase}")  # a signal asked to stop: the step before it is journaled
    entries = run.journal.entries()
    if isinstance(step, SmokeStep):
        if state.smoke_passed(entries, phase, label):
            return _skip(run, phase, label, "passed already")
        report = smoke(run, phase, label, step.journeys)
        if report.critical_failed:
            roll_back(run, phase=phase, reason=f"smoke step {label}: {report.critical_failed} critical journey(s) failed")
        return
    if isinstance(step, GateStep):
        if state.gate_passed(entries, phase, label):
            return _skip(run, phase, label, "passed already")
        act_on(run, gate(run, phase, step.window or run.plan.policy.windows.step, label), phase=phase, step=label)
        return
    if isinstance(step, ApprovalStep):
        if state.gate_passed(entries, phase, label):
            return _skip(run, phase, label, "approved already")
        choice = ask_person(run, phase=phase, step=label, kind="approval", deadline=step.timeout,
                        default="proceed" if step.on_timeout == "approve" else "rollback", reason=step.prompt, watch=False)
        if choice != "proceed":
            roll_back(run, phase=phase, reason=f"approval {label} refused")
        return
    done = state.step_state(entries, phase, label)
    if done == "done":
        _skip(run, phase, label, "done already")
    elif done == "maybe" and not wal.resendable(step):
        roll_back(run, phase=phase, reason=(
            f"step {label} may have run before the crash: odin cannot read its effect back and sending it again "
            "is not safe, so the migration is put back"))
    elif done == "failed":
        roll_back(run, phase=phase, reason=f"step {label} failed in an earlier run of this phase")
    else:  # never run, not run (reconciled), or may have run and safe to send again (PUT, DELETE, wait)
        if done == "maybe":
            why = (f"{step.method} is idempotent" if getattr(step, "method", None) else
                   "it reads the world first and changes only what is not yet as wanted")
            run.journal.append("note", phase=phase, step=label, message=(
                f"{label} may have run, or run in part, before the crash; running it again is safe ({why})"))
        if step.changes_world and run.canary is not None:
            write_canaries(run, phase, label)  # journaled before the step acts: read back after it
        outcome = execute(run, step, phase, label)
        if not outcome.succeeded:
            roll_back(run, phase=phase, reason=f"step {label} failed: {outcome.detail}")
    if step.changes_world and not state.gate_passed(run.journal.entries(), phase, label):
        missed = missed_budget(run, step, phase, label)
        if missed:  # the handbook's "roll back immediately: RTO exceeded", no window to confirm it
            act_on(run, Verdict(action="rollback_now", reason=missed), phase=phase, step=label)
        check_data(run, phase, label)
        stop.check(f"the gate after step {label} of {phase}")  # --resume runs it (the step is done)
        # the judge runs the smoke journeys with every window
        act_on(run, gate(run, phase, run.plan.policy.windows.step, label), phase=phase, step=label)


def missed_budget(run: MigrationRun, step: Any, phase: str, label: str) -> str | None:
    """The sentence of a step that took longer than its ``budget:`` (its RTO); None: within it or none."""
    if step.budget is None:
        return None
    took = state.step_elapsed(run.journal.entries(), phase, label)
    if took is None or took <= step.budget:
        return None
    return (f"RTO exceeded: step {label} took {took:,.0f} s of plan time, over its budget of {step.budget:,.0f} s "
            f"(budget:) by {took - step.budget:,.0f} s")


def check_data(run: MigrationRun, phase: str, label: str) -> None:
    """The canary writes read back (``steps.data_canary``): one missing or changed is the handbook's
    "data loss or corruption: roll back immediately", with no window to confirm it."""
    if run.canary is None:
        return
    lost = read_back_canaries(run, phase, label)
    if lost:
        act_on(run, Verdict(action="rollback_now", reason=lost), phase=phase, step=label)


def phase_t0(run: MigrationRun) -> None:
    window = run.plan.change_window
    now = run.clock.now()
    began = any(e.kind == "step_intent" and e.phase == "t0" for e in run.journal.entries())
    if began:
        run.journal.append("note", phase="t0", message="T-0 began in an earlier run: continuing it (no change-window check)")
    elif window is None:
        run.journal.append("note", phase="t0", message="the plan sets no change window: T-0 may run at any time")
    elif not window.contains(now):
        if not run.force:
            raise OutsideChangeWindow(
                f"{run.plan_file}: change_window: T-0 at {now:%Y-%m-%d %H:%M %Z} is outside the change window; "
                "wait for it or pass --force"
            )
        run.journal.append("note", phase="t0", message="outside the change window: forced with --force")
    if run.plan.slo is not None and not began:
        error_budget_gate(run, "t0")
    people.confirm_on_call(run, ask_person)  # people.on_call_confirmation: on standby, or T-0 is refused at its deadline
    people.send_notice(run)  # people.stakeholder_notice: the change window starts (once, before the first step)
    if run.plan.observe_only:  # validated: no step changes anything; T-0 runs its own gates and smoke steps
        run.journal.append("note", phase="t0", message="observe only: nothing to change, only the plan's gates watch")
    for step in run.plan.phases.t0:
        run_step(run, step, "t0")


def error_budget_gate(run: MigrationRun, phase: str) -> None:
    """The handbook's error-budget policy (``steps.slo``): journaled at T-1w as readiness, and at T-0
    before any change, where a tier that forbids the change refuses it (exit 2)."""
    from odin_drills.steps.slo import budget_gate, read_budget

    slo = run.plan.slo
    if run.emergency is not None:  # the run's own override (--emergency, the run form) stands for the plan's
        slo = slo.model_copy(update={"emergency": run.emergency})
    source = "plan" if run.emergency is None else "run parameter" if started_by_deployment() else "command line"
    budget, unavailable = read_budget(slo, run.source)
    allowed, said = budget_gate(budget, slo, unavailable)
    used = slo.emergency is not None and budget.tier == "exhausted"
    if used and allowed:
        said += f" ({'--emergency on the command line' if source == 'command line' else f'emergency from the {source}'})"
    verdict = "allowed" if allowed else ("refused" if phase == "t0" else "would be refused at T-0")
    run.journal.append("note", phase=phase, step="error-budget", message=f"slo: {said}: {verdict}", error_budget={
        "tier": budget.tier, "remaining": budget.remaining, "requests": budget.requests, "errors": budget.errors,
        "availability": slo.availability, "window_seconds": slo.window, "allowed": allowed,
        "emergency": slo.emergency.model_dump() if used else None, **({"emergency_source": source} if used else {})})
    if not allowed and phase == "t0":
        raise UsageError(f"{run.plan_file}: slo: {said}")


def phase_t_plus_1h(run: MigrationRun) -> None:
    smoke(run, "t+1h")
    policy = run.plan.policy
    if not state.gate_passed(run.journal.entries(), "t+1h", "validation"):
        check_data(run, "t+1h", "validation")  # an hour on: what replication or a lazy copy lost shows now
        act_on(run, gate(run, "t+1h", policy.windows.validation, "validation", policy.windows.interval), phase="t+1h",
               step="validation")
    for step in run.plan.phases.t_plus_1h:
        run_step(run, step, "t+1h")
    people.review_t_plus_1h(run)  # the SLO over the migration so far; errors and warnings in the journal and Prefect logs


def phase_t_plus_24h(run: MigrationRun) -> None:
    policy = run.plan.policy
    if not state.gate_passed(run.journal.entries(), "t+24h", "24h-vs-baseline"):
        act_on(run, gate(run, "t+24h", policy.windows.final, "24h-vs-baseline", policy.windows.interval),
               phase="t+24h", step="24h-vs-baseline")
    for step in run.plan.phases.t_plus_24h:
        run_step(run, step, "t+24h")
    people.review_t_plus_24h(run)  # the alerts fired since T-0; the report's lessons-learned section has the numbers


PHASE_FUNCTIONS = {"t-1w": phase_t_minus_1w, "t0": phase_t0, "t+1h": phase_t_plus_1h, "t+24h": phase_t_plus_24h}


# ---------------------------------------------------------------- state between processes

new_migration_id = state.new_migration_id


def open_migration(plan: Plan, phase: str | None, migration: str | None = None,
                   resume: bool = False, wait: bool = False) -> tuple[str, Path]:
    """A full run or T-1w starts a new migration (refused while another migration holds the
    environment, or queued with ``wait``); a later phase, a resume or a rollback continues the one
    named by ``migration``, else the plan's latest (``flows.migration_state``)."""
    return state.open_migration(plan, phase, migration=migration, resume=resume, wait=wait)


# ---------------------------------------------------------------- the flow

MigrationPlanFile = plan_file_type("migration")
"""``str``; in the deployment's run form, a choice of the project's migration plans (``flows.plan_choices``)."""
PhaseChoice = Annotated[Literal["all", "t-1w", "t0", "t+1h", "t+24h"] | None,
                        shown_as({"type": "string", "enum": ["all", *PHASES]})]
"""One phase, or ``all`` (None from the command line): drawn as a choice, not behind a None toggle."""
ChainChoice = Annotated[bool | None, shown_as({"type": "boolean"})]
MigrationId = Annotated[str | None, shown_as({"type": "string"})]
EmergencyText = Annotated[str | None, shown_as({"type": "string"})]


@flow(name="migration", log_prints=False, validate_parameters=True)
def migration(plan_file: MigrationPlanFile, phase: PhaseChoice = "all", time_scale: float = 1.0,
              force: bool = False, wait: bool = False, chain: ChainChoice = None, allow_production: bool = False,
              migration: MigrationId = None, resume: bool = False, emergency: bool = False,
              emergency_reason: EmergencyText = None, emergency_by: EmergencyText = None) -> Any:
    """Run a migration plan: all four phases waiting on the clock between them, or one phase.

    ``chain`` (default: on when run by a deployment) runs one phase and schedules the next as a
    future run of the same deployment, so no worker is held for the week and the day in between;
    the next run is handed this run's ``migration`` id, so it never follows the mutable ``current``.
    Under a deployment the plan file must lie under the plan root (``odin_drills.plan.safety``).

    Every start of an existing migration reconciles its journal with the world first
    (``steps.intent``) and skips the steps the journal shows done; ``resume`` continues what a crash
    interrupted: the rollback it was in, or its run's remaining phases.

    Args:
        plan_file: the plan file; for a deployment or UI run, under the project's drills/ folder (or $ODIN_PLAN_ROOT on the worker)
        phase: one phase only (t-1w, t0, t+1h, t+24h), or all of them in order
        time_scale: run the plan clock this many times faster (rehearsals)
        force: run T-0 outside the plan's change window
        wait: queue behind another run holding the environment lock instead of refusing
        chain: run one phase and schedule the next as a future run (default: on under a deployment)
        allow_production: required (true) to run a plan whose target is production; the run is refused otherwise
        migration: the migration id to continue (empty: the plan's latest); chained runs pass it on
        resume: continue the migration after a crash: reconcile, then its interrupted rollback or remaining phases
        emergency: an emergency fix: T-0 may start with the error budget exhausted (needs emergency_reason and emergency_by; journaled and reported)
        emergency_reason: why this change may spend an exhausted error budget (with emergency)
        emergency_by: who decided the emergency (with emergency)
    """
    phase = None if phase == "all" else phase
    migration_id_given = migration or None
    if chain is None:
        from prefect.runtime import deployment

        chain = deployment.id is not None
    try:
        plan_file = entry_plan_file(plan_file)  # under a deployment: only from under the plan root
        plan = load_plan(plan_file)
        require_opt_in(plan, allow_production, plan_file)
        override = emergency_override(plan, emergency, emergency_reason, emergency_by)
        if phase is not None and phase not in PHASES:
            raise UsageError(f"--phase must be one of {', '.join(PHASES)}")
        if migration_id_given and phase in (None, "t-1w") and not resume:
            raise UsageError("--migration continues a migration: use it with --phase (t0, t+1h, t+24h) or --resume")
        migration_id, folder = open_migration(plan, phase, migration_id_given, resume, wait)
        earlier = read_journal(folder / "journal.jsonl")
        if earlier and (resume or phase not in (None, "t-1w")):
            if state.over(earlier) and free_environment(plan.environment, migration_id):
                # over, yet still holding the environment (killed between its end and the release)
                Journal(folder / "journal.jsonl", ScaledClock(1.0)).append(
                    "lock", action="freed", environment=plan.environment, migration=migration_id, plan=plan.name)
            state.require_not_over(earlier, migration_id)
            if not resume and state.rollback_in_progress(earlier) is not None:
                raise UsageError(f"migration {migration_id}: a rollback of it was interrupted; finish it with "
                                 "`odin migrate PLAN --resume` or `odin rollback PLAN`")
        plan_for_resume = state.resume_plan(earlier, phase) if resume else None
        if plan_for_resume is not None and not plan_for_resume.phases and plan_for_resume.rollback is None:
            raise UsageError(f"migration {migration_id}: nothing to resume (its last run finished every phase it ran)")
    except UsageError as exc:
        return final_state("refused", RunSummary(migration="", outcome="refused", exit_code=EXIT_USAGE, report="",
                                                 journal="", detail="\n".join(exc.lines())), message=exc.lines()[0])
    # a resumed run continues plan time where the journal left it, never earlier
    start = max([datetime.now(timezone.utc), *(e.time for e in earlier[-1:])])
    clock = ScaledClock(time_scale, start=start, idle_rate=1.0)  # engine work counts its real time (steps.clock)
    journal = Journal(folder / "journal.jsonl", clock)
    logger = get_run_logger()
    journal.subscribe(lambda e: logger.info("%s %s %s", e.kind, e.step or e.phase or "", _short(e.data)))
    for listener in LISTENERS:
        journal.subscribe(listener)
    run = MigrationRun(plan=plan, plan_file=plan_file, migration=migration_id, folder=folder, clock=clock,
                       journal=journal, client=httpx.Client(), force=force, wait=wait, chain=bool(chain))
    run.resume = resume
    run.emergency = override
    phases = [phase] if phase else list(PHASES)
    if plan_for_resume is not None:
        phases = plan_for_resume.phases
    if chain:
        phases = phases[:1]
    journal.append("run_started", plan=plan.name, migration=migration_id, phases=phases, time_scale=time_scale,
                   flow_run_id=str(runtime_flow_run.id), environment=plan.environment, resume=resume or None)
    # the effective policy, so reports draw this plan's thresholds (durations as plan text: JSON-ready)
    journal.append("policy", **run.plan.policy.model_dump(mode="json"))
    if override is not None:  # before any gate: the record stands whether or not the budget needs it
        journal.append("emergency", reason=override.reason, by=override.by,
                       source="run parameter" if started_by_deployment() else "command line")
    outcome: Outcome = "completed"
    detail = ""
    t0_at = (plan_for_resume.t0_at if plan_for_resume is not None else None) or (
        clock.now() - timedelta(seconds=PHASE_OFFSETS[phases[0] if phases else "t0"]))
    try:
        if plan_for_resume is not None and plan_for_resume.rollback is not None:
            _resume_rollback(run, plan_for_resume.rollback)
        else:
            _run_phases(run, phases, t0_at)
    except RolledBack as exc:
        outcome = exc.outcome
    except stop.StopRequested as exc:  # a signal: the step in flight finished and is journaled
        outcome, detail = "interrupted", _interrupted(run, exc)
    except UsageError as exc:  # refused before changing anything (window, lock, missing state)
        outcome, detail = "refused", "\n".join(exc.lines())
    except Exception as exc:  # anything unexpected: journal it, report it, exit 4
        outcome, detail = "failed", f"{exc.__class__.__name__}: {exc}"
        logger.exception("migration failed")
    finally:
        run.close()
    _settle_reservation(run, outcome)
    journal.append("run_finished", outcome=outcome, exit_code=exit_code(outcome), detail=detail)
    report = write_reports(plan.name, folder, journal, logger)
    return final_state(outcome, RunSummary(migration=migration_id, outcome=outcome, exit_code=exit_code(outcome),
                                           report=str(report), journal=str(journal.path), detail=detail))


def write_reports(plan_name: str, folder: Path, journal: Journal, logger: Any) -> Path:
    """The Markdown and HTML reports and the Prefect artifacts, after ``run_finished``.

    The journal already holds the outcome; a report that fails to render (or a Prefect API that
    does not answer) is logged and noted, never turned into a failed migration.
    """
    report = folder / "report.md"
    entries = journal.entries()
    for path, render in ((report, render_markdown), (folder / "report.html", render_html)):
        try:
            write_private(path, render(entries))
        except Exception as exc:  # noqa: BLE001 - the outcome stands whatever the renderer does
            logger.exception("could not write %s", path.name)
            write_private(path, f"odin could not render this report ({exc.__class__.__name__}: {exc}); "
                                f"the journal {journal.path} holds the whole run\n")
    from odin_drills.flows.best_effort import best_effort

    if not best_effort("publishing the report", publish_report, plan_name, entries):  # bounded: the API may be gone
        logger.info("the report is not in Prefect; it is in %s", report)
    return report


def _take_environment(run: MigrationRun, stack: contextlib.ExitStack) -> None:
    """The environment's slot for this process, its reservation for this migration (from T-0 until
    T+24h ends or it is rolled back: ``steps.lock``), then the journal reconciled with the world."""
    env = run.plan.environment
    stack.enter_context(environment_lock(env, wait=run.wait, migration=run.migration, plan=run.plan.name))
    run.journal.append("lock", action="acquired", environment=env, migration=run.migration, plan=run.plan.name)
    stack.callback(lambda: run.journal.append("lock", action="released", environment=env))
    if reserve_environment(env, plan=run.plan.name, migration=run.migration, journal=run.journal.path) == "reserved":
        run.journal.append("lock", action="reserved", environment=env, migration=run.migration, plan=run.plan.name)
    wal.reconcile(run.journal, target=run.plan.target, migration=run.migration)


def _run_phases(run: MigrationRun, phases: list[str], t0_at: datetime) -> None:
    """Phases in order, each at its time; the environment is held from T-0 to the end."""
    with contextlib.ExitStack() as stack:
        locked = False
        for name in phases:
            due = t0_at + timedelta(seconds=PHASE_OFFSETS[name])
            if len(phases) > 1 and due > run.clock.now():
                run.journal.append("note", phase=name, message=f"waiting until {due:%Y-%m-%d %H:%M:%S} (plan time) for {name}")
                _sleep_until(run, due, name)
            stop.check(f"phase {name}")
            if name != "t-1w" and not locked:
                if name == "t0":  # T-1w gates T-0: refused before anything is touched
                    problem = state.baseline_problem(run.folder, run.journal.entries())
                    if problem:
                        raise StateMissing(problem)
                    from odin_drills.flows.readiness_gate import require_ready

                    require_ready(run)  # blocking readiness items unmet: refused, naming each and how to attest it
                _take_environment(run, stack)
                locked = True
            run.journal.append("phase_started", phase=name)
            try:
                PHASE_FUNCTIONS[name](run)
            except RolledBack:
                run.journal.append("phase_finished", phase=name, outcome="rolled back")
                raise
            except stop.StopRequested as exc:  # --resume runs the rest of the phase, skipping what is done
                run.journal.append("phase_finished", phase=name, outcome="interrupted", detail=str(exc))
                raise
            except Exception as exc:
                why = exc.lines()[0] if isinstance(exc, OdinError) else f"{exc.__class__.__name__}: {exc}"
                outcome = "unusable" if name == "t-1w" else ("refused" if isinstance(exc, UsageError) else "failed")
                run.journal.append("phase_finished", phase=name, outcome=outcome, detail=why)
                raise
            run.journal.append("phase_finished", phase=name, outcome="ok")
            if run.chain and name != PHASES[-1]:
                _schedule_next_phase(run, PHASES[PHASES.index(name) + 1], t0_at)
                return


def _sleep_until(run: MigrationRun, due: datetime, phase: str) -> None:
    """Wait on the plan clock for ``due`` (days at scale 1), in slices of at most a second of real
    time, so a signal stops the run now, not when the next phase is due."""
    while due > run.clock.now():
        stop.check(f"phase {phase}")
        left = (due - run.clock.now()).total_seconds()
        run.clock.sleep(min(left, run.clock.scale))  # plan seconds in one real second


def _interrupted(run: MigrationRun, exc: stop.StopRequested) -> str:
    """What the journal and the user read after a stop: where it stopped and how to go on."""
    plan, mid = run.plan_file, run.migration
    return (f"{exc}; the environment stays reserved for migration {mid}: go on with `odin migrate {plan} --resume "
            f"--migration {mid}`, or undo it with `odin rollback {plan} --migration {mid} --reason ... --by NAME`")


def _resume_rollback(run: MigrationRun, started: Any) -> None:
    """A crash interrupted a rollback: take the environment, reconcile, and finish it."""
    with contextlib.ExitStack() as stack:
        _take_environment(run, stack)
        asked = [e for e in run.journal.entries() if e.kind == "human_input" and e.data.get("action") == "rollback"
                 and e.seq > started.seq]
        why = started.data.get("reason") or (asked[-1].data.get("reason") if asked else "odin rollback")
        roll_back(run, phase=started.phase or "rollback", reason=f"resuming the interrupted rollback: {why}")


def _settle_reservation(run: MigrationRun, outcome: str) -> None:
    """Free the environment when the migration is over: T+24h finished, or T-0 refused before any
    step acted. (A rollback frees it itself; a failed run keeps it: resume or roll back.)"""
    entries = run.journal.entries()
    complete = any(e.kind == "phase_finished" and e.phase == "t+24h" and e.data.get("outcome") == "ok" for e in entries)
    untouched = outcome == "refused" and not any(e.kind == "step_intent" for e in entries)
    if complete or untouched:
        release_environment(run)


def _schedule_next_phase(run: MigrationRun, phase: str, t0_at: datetime) -> None:
    """Under a deployment, the next phase becomes a future flow run instead of a worker sleeping for days."""
    from prefect.deployments import run_deployment
    from prefect.runtime import deployment

    due = t0_at + timedelta(seconds=PHASE_OFFSETS[phase])
    wall_at = datetime.now(timezone.utc) + timedelta(seconds=run.clock.wall_seconds((due - run.clock.now()).total_seconds()))
    name = f"{runtime_flow_run.flow_name}/{deployment.name}"
    parameters = {**(deployment.parameters or {}), "plan_file": run.plan_file, "phase": phase, "chain": True,
                  "migration": run.migration, "resume": False, **_emergency_parameters(run)}
    scheduled = run_deployment(name, parameters=parameters, scheduled_time=wall_at, timeout=0, as_subflow=False,
                               flow_run_name=f"{run.plan.name}-{phase}")
    run.journal.append("note", phase=phase, message=f"scheduled {phase} as flow run {scheduled.id} at {wall_at:%Y-%m-%d %H:%M:%S} UTC "
                       f"(plan time {due:%Y-%m-%d %H:%M:%S})", flow_run_id=str(scheduled.id))


def _emergency_parameters(run: MigrationRun) -> dict[str, Any]:
    """This run's emergency, handed to the next phase's run (T-1w started as an emergency: T-0 is one)."""
    if run.emergency is None:
        return {}
    return {"emergency": True, "emergency_reason": run.emergency.reason, "emergency_by": run.emergency.by}


def _short(data: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in data.items() if k not in ("snapshot", "report", "decision", "output"))
    return text[:300]


LISTENERS: list[Any] = []
"""Extra journal listeners for in-process runs (the CLI's live progress)."""


def run_migration(**parameters: Any) -> RunSummary:
    """Run the ``migration`` flow in this process and return its summary, whatever state it ended in
    (and whether or not the Prefect API could record it: ``flows.in_process``)."""
    from odin_drills.flows.in_process import run_in_process

    return run_in_process(migration, RunSummary, **parameters)
