"""The migration runbook: T-1w ▸ T-0 ▸ T+1h ▸ T+24h, judged against a baseline, undone when it must be.

Read this file as the runbook. Each phase is a short function; the work happens in ``steps/``
(actions, judge, rollback, journal) and in small Prefect tasks that make every step, smoke run and
gate visible in the Prefect UI. The journal, not memory, decides what to undo.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run as runtime_flow_run
from pydantic import BaseModel

from odin_drills.reports.artifacts import publish_baseline, publish_report
from odin_drills.flows.human import wait_for_decision
from odin_drills.errors import EXIT_USAGE, OdinError, OutsideChangeWindow, StateMissing, UsageError
from odin_drills.flows.final_state import final_state
from odin_drills.outcomes import exit_code
from odin_drills.flows.entry import entry_plan_file, require_opt_in
from odin_drills.flows.plan_choices import plan_file_type, shown_as
from odin_drills.home import write_private
from odin_drills.plan import Plan, load_plan
from odin_drills.plan.models import PHASE_OFFSETS, PHASES
from odin_drills.plan.steps import ApprovalStep, GateStep, SmokeStep
from odin_drills.steps.actions import StepOutcome
from odin_drills.steps.baseline import BaselineRecord, load_baseline, save_baseline, unusable_baseline
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.judge import Judge, Verdict
from odin_drills.steps.adequacy import check_baseline
from odin_drills.steps.sequential import AlphaBudget
from odin_drills.steps.journal import Journal, read_journal
from odin_drills.steps.lock import environment_lock
from odin_drills.steps.lock import free as free_environment
from odin_drills.steps.lock import reserve as reserve_environment
from odin_drills.steps import intent as wal
from odin_drills.steps import stop
from odin_drills.flows import migration_state as state
from odin_drills.steps.probes import run_journeys
from odin_drills.steps.probes.open import open_metric_source
from odin_drills.reports.markdown import render_markdown
from odin_drills.reports.html import render_html
from odin_drills.steps.rollback import undo_completed

Outcome = Literal["completed", "rolled_back_healthy", "rolled_back_degraded", "failed", "refused", "interrupted"]


class RunSummary(BaseModel):
    migration: str
    outcome: Outcome
    exit_code: int
    report: str
    journal: str
    detail: str = ""


class RolledBack(Exception):
    """Ends the remaining phases: the world was put back (or tried to be)."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome)
        self.outcome = outcome


class MigrationRun:
    """One run of the runbook: what every task works on.

    A plain class, not a dataclass, on purpose (like ``steps.dr.run.DrillRun``): Prefect walks the
    dataclasses and pydantic models a task receives, looking for futures to resolve, and this run
    holds the whole plan, the journal and an HTTP client — thousands of visits per task call, the
    bulk of the per-step cost before issue 14. A plain object is one leaf to Prefect, so every task
    takes the run as is, and a task added later cannot bring the walk back."""

    def __init__(self, *, plan: Plan, plan_file: str, migration: str, folder: Path, clock: ScaledClock,
                 journal: Journal, client: httpx.Client, force: bool = False, wait: bool = False,
                 chain: bool = False, resume: bool = False, baseline: BaselineRecord | None = None) -> None:
        self.plan, self.plan_file, self.migration, self.folder = plan, plan_file, migration, folder
        self.clock, self.journal, self.client = clock, journal, client
        self.force, self.wait, self.chain, self.resume = force, wait, chain, resume
        self.baseline = baseline
        self._source: Any = None

    @property
    def source(self) -> Any:
        if self._source is None:
            self._source = open_metric_source(self.plan, self.clock)  # probe or Prometheus, with alerts if set
        return self._source

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
        self.client.close()

    def judge(self) -> Judge:
        if self.baseline is None:
            self.baseline = load_baseline(self.folder / "baseline.json")
        return Judge(
            source=self.source, baseline=self.baseline.snapshot, policy=self.plan.policy,
            journal=self.journal, smoke=lambda: run_journeys(self.plan.smoke, client=self.client), clock=self.clock,
            budget=AlphaBudget.for_plan(self.plan),  # one alpha per migration, spent across the phases' gates
        )


# ---------------------------------------------------------------- tasks: the visible units of work

@task(name="capture-baseline", cache_policy=NO_CACHE, persist_result=False)
def capture_baseline(run: MigrationRun) -> BaselineRecord:
    """The baseline window, saved only when it can be a baseline (``unusable_baseline``: the phase
    then ends unusable with the reason, and T-0 refuses)."""
    window = run.plan.policy.windows.baseline
    snapshot = run.source.measure(window)
    record = BaselineRecord(
        plan=run.plan.name, migration=run.migration, captured_at=run.clock.now(), window_seconds=window, snapshot=snapshot
    )
    if unusable_baseline(snapshot, "metrics"):
        return record  # nothing written: the phase raises with the reason
    save_baseline(run.folder / "baseline.json", record)
    run.journal.append("baseline", phase="t-1w", snapshot=snapshot.model_dump(mode="json", exclude={"latency_samples_ms"}),
                       window_seconds=window, path=str(run.folder / "baseline.json"))
    return record


@task(name="smoke-journeys", cache_policy=NO_CACHE, persist_result=False)
def smoke(run: MigrationRun, phase: str, step: str | None = None, names: list[str] | None = None) -> Any:
    journeys = [j for j in run.plan.smoke if names is None or j.name in names]
    report = run_journeys(journeys, client=run.client)
    run.journal.append("smoke", phase=phase, step=step, report=report,
                       critical_failed=report.critical_failed, noncritical_failed=report.noncritical_failed)
    return report


@task(name="check-undo-plan", cache_policy=NO_CACHE, persist_result=False)
def check_undo_plan(run: MigrationRun) -> list[str]:
    """Every world-changing T-0 step has its undo, and each undo's target answers."""
    from odin_drills.steps.reachability import undo_target_problem

    problems: list[str] = []
    for index, step in enumerate(run.plan.phases.t0):
        if not step.changes_world:
            continue
        name = step.label
        if step.undo == "none":
            run.journal.append("undo_check", phase="t-1w", step=name, status="none", reason=step.undo_reason)
            continue
        problem = undo_target_problem(step.undo, run.client, step=step, target=run.plan.target,
                                      secrets=run.plan.secrets)
        run.journal.append("undo_check", phase="t-1w", step=name, status="ok" if problem is None else "unreachable",
                           detail=problem or "undo target reachable")
        if problem:
            problems.append(f"phases.t0[{index}] ({name}): undo target unreachable: {problem}")
    return problems


@task(name="step", cache_policy=NO_CACHE, persist_result=False, task_run_name="{label}")
def execute(run: MigrationRun, step: Any, phase: str, label: str) -> StepOutcome:
    """The step with its identity (migration, phase, name, attempt), its intent — observed state and
    undo — journaled and fsynced before it acts, and its outcome after (``steps.intent``)."""
    return wal.execute(run.journal, step, phase=phase, label=label, migration=run.migration, client=run.client,
                       clock=run.clock, target=run.plan.target, secrets=run.plan.secrets,
                       progress=lambda message, **data: run.journal.append(
                           "note", phase=phase, step=label, message=message, **data))


@task(name="gate", cache_policy=NO_CACHE, persist_result=False, task_run_name="gate-{phase}")
def gate(run: MigrationRun, phase: str, duration: float, step: str | None = None, interval: float | None = None) -> Verdict:
    judge = run.judge()
    judge.stop = stop.event()  # a signal ends the watch at its next window; its windows so far are journaled
    verdict = judge.watch(duration, phase=phase, step=step, interval=interval)
    if verdict.action not in ("rollback_now", "rollback"):  # a rollback is acted on, stop or not
        stop.check(f"acting on the gate of {step or phase}")  # a watch cut short: --resume runs the gate again
    return verdict


@task(name="undo", cache_policy=NO_CACHE, persist_result=False)
def undo(run: MigrationRun, phase: str) -> Any:
    return undo_completed(run.journal, client=run.client, clock=run.clock, phase=phase, target=run.plan.target,
                          secrets=run.plan.secrets)


# ---------------------------------------------------------------- decisions

def _human(run: MigrationRun, *, phase: str, step: str | None, kind: str, deadline: float,
           default: Literal["proceed", "rollback"], reason: str, watch: bool = True) -> str:
    """Hold for a person; keep watching so an escalation can override; apply ``default`` at the deadline."""
    flow_run_id = str(runtime_flow_run.id)
    deadline_at = run.clock.now() + timedelta(seconds=deadline)
    run.journal.append("hold_started", phase=phase, step=step, hold=kind, reason=reason, default=default,
                       deadline=deadline_at, flow_run_id=flow_run_id,
                       decide=f"odin decide {flow_run_id} proceed|rollback --reason '...' --by NAME")

    def monitor(stop: Any) -> str | None:
        judge = run.judge()
        judge.stop = stop
        while not stop.is_set():
            verdict = judge.watch(run.plan.policy.windows.interval, phase=phase, step=f"{step or phase} (hold)")
            if verdict.action in ("rollback_now", "rollback"):
                return verdict.reason
        return None

    decision, _ = wait_for_decision(
        deadline_wall_seconds=run.clock.wall_seconds(deadline), default=default, monitor=monitor if watch else None,
    )
    if decision.by == "odin (deadline)":
        # The deadline is timed in wall seconds (deadline / N); a monitor window open meanwhile slows
        # the plan clock, so bring plan time to the deadline it reached (a no-op at scale 1).
        run.clock.advance_to(deadline_at)
    run.journal.append("human_input", phase=phase, step=step, action=decision.action, reason=decision.reason,
                       by=decision.by, verified_as=decision.verified, at=run.clock.now())
    return decision.action


def act_on(run: MigrationRun, verdict: Verdict, *, phase: str, step: str | None) -> None:
    """Turn a gate verdict into what happens next; raise RolledBack when the migration is undone."""
    policy = run.plan.policy
    run.journal.append("decision", phase=phase, step=step, action=verdict.action, reason=verdict.reason, by="odin")
    if verdict.action == "proceed":
        return
    confirmed_at = run.clock.now()
    if verdict.action == "rollback" and policy.rollback_grace > 0:
        # deadlines.rollback: a confirmed rollback starts within it, so the grace a person has to
        # override it ends before it, leaving the hold time to resolve and the undo time to start
        margin = min(60.0, policy.deadlines.rollback * 0.05)
        grace = min(policy.rollback_grace, policy.deadlines.rollback - margin)
        if grace < policy.rollback_grace:
            run.journal.append("note", phase=phase, step=step, message=(
                f"rollback grace cut to deadlines.rollback ({grace:g} s of plan time): a confirmed rollback "
                "starts within it"))
        choice = _human(run, phase=phase, step=step, kind="rollback-grace", deadline=grace,
                        default="rollback", reason=verdict.reason, watch=False)
        if choice == "proceed":
            return
    elif verdict.action == "hold":
        choice = _human(run, phase=phase, step=step, kind="hold", deadline=policy.deadlines.hold,
                        default=policy.on_hold_timeout, reason=verdict.reason)
        if choice == "proceed":
            return
        confirmed_at = run.clock.now()  # the hold ended in a rollback: confirmed now
    roll_back(run, phase=phase, reason=verdict.reason, confirmed_at=confirmed_at)


def recheck(run: MigrationRun, phase: str) -> tuple[bool, str]:
    """After undoing: the smoke journeys and one gate window against the baseline (when there is one);
    whether the service is healthy again, and why."""
    from odin_drills.steps.gates import evaluate

    report = smoke(run, phase, "after rollback")
    if run.baseline is None and (run.folder / "baseline.json").exists():
        run.baseline = load_baseline(run.folder / "baseline.json")
    measured = run.source.measure(run.plan.policy.windows.step)
    measured = measured.model_copy(update={"signals": measured.signals.model_copy(update={
        "critical_failed": report.critical_failed, "noncritical_failed": report.noncritical_failed})})
    decision = evaluate(run.baseline.snapshot if run.baseline else measured, measured, run.plan.policy)
    run.journal.append("gate", phase=phase, step="after rollback", window="recheck", decision=decision,
                       snapshot=measured.model_dump(mode="json", exclude={"latency_samples_ms"}))
    healthy = report.critical_failed == 0 and decision.decision not in ("rollback_now", "rollback", "hold")
    against = "the baseline" if run.baseline else "no baseline (smoke journeys and the window's own signals only)"
    return healthy, f"re-check against {against}: {decision.decision}, {report.critical_failed} critical journey(s) failing"


def roll_back(run: MigrationRun, *, phase: str, reason: str, confirmed_at: datetime | None = None) -> None:
    """Undo what completed, newest first; re-check; say whether the service is healthy again.

    The journal is reconciled with the world first (``steps.rollback``): only changes that happened
    (or may have) are undone, each once. The environment's reservation is freed afterwards."""
    started = run.clock.now()
    confirmed_at = confirmed_at or started
    deadline = confirmed_at + timedelta(seconds=run.plan.policy.deadlines.rollback)
    run.journal.append("rollback_started", phase=phase, reason=reason, confirmed_at=confirmed_at, deadline=deadline,
                       late=started > deadline)
    result = undo(run, phase)
    service_healthy, checked = recheck(run, phase)
    healthy = result.all_undone and service_healthy
    detail = ("every undo succeeded" if result.all_undone else "some undos failed") + f"; {checked}"
    run.journal.append("rollback_finished", phase=phase, healthy=healthy, detail=detail)
    _free(run)
    raise RolledBack("rolled_back_healthy" if healthy else "rolled_back_degraded")


def _free(run: MigrationRun) -> None:
    """The migration is over (rolled back or complete): its environment is free for the next one."""
    if free_environment(run.plan.environment, run.migration):
        run.journal.append("lock", action="freed", environment=run.plan.environment, migration=run.migration,
                           plan=run.plan.name)


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
        choice = _human(run, phase=phase, step=label, kind="approval", deadline=step.timeout,
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
        outcome = execute(run, step, phase, label)
        if not outcome.succeeded:
            roll_back(run, phase=phase, reason=f"step {label} failed: {outcome.detail}")
    if step.changes_world and not state.gate_passed(run.journal.entries(), phase, label):
        stop.check(f"the gate after step {label} of {phase}")  # --resume runs it (the step is done)
        # the judge runs the smoke journeys with every window
        act_on(run, gate(run, phase, run.plan.policy.windows.step, label), phase=phase, step=label)


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
    if run.plan.observe_only:  # validated: no step changes anything; T-0 runs its own gates and smoke steps
        run.journal.append("note", phase="t0", message="observe only: nothing to change, only the plan's gates watch")
    for step in run.plan.phases.t0:
        run_step(run, step, "t0")


def error_budget_gate(run: MigrationRun, phase: str) -> None:
    """The handbook's error-budget policy (``steps.slo``): journaled at T-1w as readiness, and at T-0
    before any change, where a tier that forbids the change refuses it (exit 2)."""
    from odin_drills.steps.slo import budget_gate, read_budget

    slo = run.plan.slo
    budget, unavailable = read_budget(slo, run.source)
    allowed, said = budget_gate(budget, slo, unavailable)
    verdict = "allowed" if allowed else ("refused" if phase == "t0" else "would be refused at T-0")
    run.journal.append("note", phase=phase, step="error-budget", message=f"slo: {said}: {verdict}", error_budget={
        "tier": budget.tier, "remaining": budget.remaining, "requests": budget.requests, "errors": budget.errors,
        "availability": slo.availability, "window_seconds": slo.window, "allowed": allowed,
        "emergency": slo.emergency.model_dump() if slo.emergency and budget.tier == "exhausted" else None})
    if not allowed and phase == "t0":
        raise UsageError(f"{run.plan_file}: slo: {said}")


def phase_t_plus_1h(run: MigrationRun) -> None:
    smoke(run, "t+1h")
    policy = run.plan.policy
    if not state.gate_passed(run.journal.entries(), "t+1h", "validation"):
        act_on(run, gate(run, "t+1h", policy.windows.validation, "validation", policy.windows.interval), phase="t+1h",
               step="validation")
    for step in run.plan.phases.t_plus_1h:
        run_step(run, step, "t+1h")


def phase_t_plus_24h(run: MigrationRun) -> None:
    policy = run.plan.policy
    if not state.gate_passed(run.journal.entries(), "t+24h", "24h-vs-baseline"):
        act_on(run, gate(run, "t+24h", policy.windows.final, "24h-vs-baseline", policy.windows.interval),
               phase="t+24h", step="24h-vs-baseline")
    for step in run.plan.phases.t_plus_24h:
        run_step(run, step, "t+24h")


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


@flow(name="migration", log_prints=False, validate_parameters=True)
def migration(plan_file: MigrationPlanFile, phase: PhaseChoice = "all", time_scale: float = 1.0,
              force: bool = False, wait: bool = False, chain: ChainChoice = None, allow_production: bool = False,
              migration: MigrationId = None, resume: bool = False) -> Any:
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
    phases = [phase] if phase else list(PHASES)
    if plan_for_resume is not None:
        phases = plan_for_resume.phases
    if chain:
        phases = phases[:1]
    journal.append("run_started", plan=plan.name, migration=migration_id, phases=phases, time_scale=time_scale,
                   flow_run_id=str(runtime_flow_run.id), environment=plan.environment, resume=resume or None)
    # the effective policy, so reports draw this plan's thresholds (durations as plan text: JSON-ready)
    journal.append("policy", **run.plan.policy.model_dump(mode="json"))
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
        _free(run)


def _schedule_next_phase(run: MigrationRun, phase: str, t0_at: datetime) -> None:
    """Under a deployment, the next phase becomes a future flow run instead of a worker sleeping for days."""
    from prefect.deployments import run_deployment
    from prefect.runtime import deployment

    due = t0_at + timedelta(seconds=PHASE_OFFSETS[phase])
    wall_at = datetime.now(timezone.utc) + timedelta(seconds=run.clock.wall_seconds((due - run.clock.now()).total_seconds()))
    name = f"{runtime_flow_run.flow_name}/{deployment.name}"
    parameters = {**(deployment.parameters or {}), "plan_file": run.plan_file, "phase": phase, "chain": True,
                  "migration": run.migration, "resume": False}
    scheduled = run_deployment(name, parameters=parameters, scheduled_time=wall_at, timeout=0, as_subflow=False,
                               flow_run_name=f"{run.plan.name}-{phase}")
    run.journal.append("note", phase=phase, message=f"scheduled {phase} as flow run {scheduled.id} at {wall_at:%Y-%m-%d %H:%M:%S} UTC "
                       f"(plan time {due:%Y-%m-%d %H:%M:%S})", flow_run_id=str(scheduled.id))


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
