"""The migration runbook: T-1w ▸ T-0 ▸ T+1h ▸ T+24h, judged against a baseline, undone when it must be.

Read this file as the runbook. Each phase is a short function; the work happens in ``steps/``
(actions, judge, rollback, journal) and in small Prefect tasks that make every step, smoke run and
gate visible in the Prefect UI. The journal, not memory, decides what to undo.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

import httpx
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run as runtime_flow_run
from pydantic import BaseModel

from odin_drills.reports.artifacts import publish_baseline, publish_report
from odin_drills.flows.human import wait_for_decision
from odin_drills.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_ROLLED_BACK_HEALTHY,
    EXIT_USAGE,
    OutsideChangeWindow,
    StateMissing,
    UsageError,
)
from odin_drills.home import migrations_dir
from odin_drills.plan import Plan, load_plan
from odin_drills.plan.models import PHASE_OFFSETS, PHASES
from odin_drills.plan.steps import ApprovalStep, GateStep, SmokeStep
from odin_drills.steps.actions import StepOutcome, run_action
from odin_drills.steps.baseline import BaselineRecord, load_baseline, save_baseline
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.judge import Judge, Verdict
from odin_drills.steps.journal import Journal
from odin_drills.steps.lock import environment_lock
from odin_drills.steps.probes import SyntheticProbeSource, run_journeys
from odin_drills.reports.markdown import render_markdown
from odin_drills.reports.html import render_html
from odin_drills.steps.rollback import undo_completed

Outcome = Literal["completed", "rolled_back_healthy", "rolled_back_degraded", "failed", "refused"]
EXIT_CODES: dict[str, int] = {
    "refused": EXIT_USAGE,
    "completed": EXIT_OK,
    "rolled_back_healthy": EXIT_ROLLED_BACK_HEALTHY,
    "rolled_back_degraded": EXIT_FAILED,
    "failed": EXIT_FAILED,
}


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


@dataclass
class MigrationRun:
    plan: Plan
    plan_file: str
    migration: str
    folder: Path
    clock: ScaledClock
    journal: Journal
    client: httpx.Client
    force: bool = False
    wait: bool = False
    chain: bool = False
    baseline: BaselineRecord | None = None
    _source: Any = field(default=None, repr=False)

    @property
    def source(self) -> Any:
        if self._source is None:
            self._source = SyntheticProbeSource(self.plan.metrics, self.clock)
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
            journal=self.journal, smoke=lambda: run_journeys(self.plan.smoke, client=self.client),
        )


# ---------------------------------------------------------------- tasks: the visible units of work

@task(name="capture-baseline", cache_policy=NO_CACHE, persist_result=False)
def capture_baseline(run: MigrationRun) -> BaselineRecord:
    window = run.plan.policy.windows.baseline
    snapshot = run.source.measure(window)
    record = BaselineRecord(
        plan=run.plan.name, migration=run.migration, captured_at=run.clock.now(), window_seconds=window, snapshot=snapshot
    )
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
        problem = undo_target_problem(step.undo, run.client, step=step, target=run.plan.target)
        run.journal.append("undo_check", phase="t-1w", step=name, status="ok" if problem is None else "unreachable",
                           detail=problem or "undo target reachable")
        if problem:
            problems.append(f"phases.t0[{index}] ({name}): undo target unreachable: {problem}")
    return problems


@task(name="step", cache_policy=NO_CACHE, persist_result=False, task_run_name="{label}")
def execute(run: MigrationRun, step: Any, phase: str, label: str) -> StepOutcome:
    run.journal.append("step_started", phase=phase, step=label, step_kind=step.kind, changes_world=step.changes_world)
    try:
        outcome = run_action(step, client=run.client, clock=run.clock, target=run.plan.target,
                             progress=lambda message, **data: run.journal.append(
                                 "note", phase=phase, step=label, message=message, **data))
    except Exception as exc:  # a crashing step is a failed step, and it is journaled
        outcome = StepOutcome(status="failed", detail=f"{exc.__class__.__name__}: {exc}")
    run.journal.append("step_finished", phase=phase, step=label, status=outcome.status, detail=outcome.detail,
                       undo=outcome.undo, undo_reason=getattr(step, "undo_reason", None), output=outcome.output)
    return outcome


@task(name="gate", cache_policy=NO_CACHE, persist_result=False, task_run_name="gate-{phase}")
def gate(run: MigrationRun, phase: str, duration: float, step: str | None = None, interval: float | None = None) -> Verdict:
    return run.judge().watch(duration, phase=phase, step=step, interval=interval)


@task(name="undo", cache_policy=NO_CACHE, persist_result=False)
def undo(run: MigrationRun, phase: str) -> Any:
    return undo_completed(run.journal, client=run.client, clock=run.clock, phase=phase, target=run.plan.target)


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
    run.journal.append("human_input", phase=phase, step=step, action=decision.action, reason=decision.reason,
                       by=decision.by, at=run.clock.now())
    return decision.action


def act_on(run: MigrationRun, verdict: Verdict, *, phase: str, step: str | None) -> None:
    """Turn a gate verdict into what happens next; raise RolledBack when the migration is undone."""
    policy = run.plan.policy
    run.journal.append("decision", phase=phase, step=step, action=verdict.action, reason=verdict.reason, by="odin")
    if verdict.action == "proceed":
        return
    if verdict.action == "rollback" and policy.rollback_grace > 0:
        choice = _human(run, phase=phase, step=step, kind="rollback-grace", deadline=policy.rollback_grace,
                        default="rollback", reason=verdict.reason, watch=False)
        if choice == "proceed":
            return
    elif verdict.action == "hold":
        choice = _human(run, phase=phase, step=step, kind="hold", deadline=policy.deadlines.hold,
                        default=policy.on_hold_timeout, reason=verdict.reason)
        if choice == "proceed":
            return
    roll_back(run, phase=phase, reason=verdict.reason)


def roll_back(run: MigrationRun, *, phase: str, reason: str) -> None:
    """Undo what completed, newest first; re-check; say whether the service is healthy again."""
    from odin_drills.steps.gates import evaluate

    run.journal.append("rollback_started", phase=phase, reason=reason)
    result = undo(run, phase)
    report = smoke(run, phase, "after rollback")
    judge = run.judge()
    measured = judge.source.measure(run.plan.policy.windows.step)
    measured = measured.model_copy(update={"signals": measured.signals.model_copy(update={
        "critical_failed": report.critical_failed, "noncritical_failed": report.noncritical_failed})})
    decision = evaluate(run.baseline.snapshot if run.baseline else measured, measured, run.plan.policy)
    run.journal.append("gate", phase=phase, step="after rollback", window="recheck", decision=decision,
                       snapshot=measured.model_dump(mode="json", exclude={"latency_samples_ms"}))
    healthy = result.all_undone and report.critical_failed == 0 and decision.decision not in ("rollback_now", "rollback", "hold")
    detail = ("every undo succeeded" if result.all_undone else "some undos failed") + f"; re-check: {decision.decision}"
    run.journal.append("rollback_finished", phase=phase, healthy=healthy, detail=detail)
    raise RolledBack("rolled_back_healthy" if healthy else "rolled_back_degraded")


# ---------------------------------------------------------------- phases

def phase_t_minus_1w(run: MigrationRun) -> None:
    problems = check_undo_plan(run)
    report = smoke(run, "t-1w")
    run.baseline = capture_baseline(run)
    publish_baseline(run.plan.name, run.baseline)
    for step in run.plan.phases.t_minus_1w:
        run_step(run, step, "t-1w")
    if problems:
        raise StateMissing("; ".join(problems))
    if report.critical_failed:
        raise UsageError(f"{report.critical_failed} critical smoke journey(s) fail before any change: fix the service or the plan")


def run_step(run: MigrationRun, step: Any, phase: str) -> None:
    label = step.label
    if isinstance(step, SmokeStep):
        report = smoke(run, phase, label, step.journeys)
        if report.critical_failed:
            roll_back(run, phase=phase, reason=f"smoke step {label}: {report.critical_failed} critical journey(s) failed")
        return
    if isinstance(step, GateStep):
        act_on(run, gate(run, phase, step.window or run.plan.policy.windows.step, label), phase=phase, step=label)
        return
    if isinstance(step, ApprovalStep):
        choice = _human(run, phase=phase, step=label, kind="approval", deadline=step.timeout,
                        default="proceed" if step.on_timeout == "approve" else "rollback", reason=step.prompt, watch=False)
        if choice != "proceed":
            roll_back(run, phase=phase, reason=f"approval {label} refused")
        return
    outcome = execute(run, step, phase, label)
    if not outcome.succeeded:
        roll_back(run, phase=phase, reason=f"step {label} failed: {outcome.detail}")
    if step.changes_world:  # the judge runs the smoke journeys with every window
        act_on(run, gate(run, phase, run.plan.policy.windows.step, label), phase=phase, step=label)


def phase_t0(run: MigrationRun) -> None:
    window = run.plan.change_window
    now = run.clock.now()
    if window is None:
        run.journal.append("note", phase="t0", message="the plan sets no change window: T-0 may run at any time")
    elif not window.contains(now):
        if not run.force:
            raise OutsideChangeWindow(
                f"{run.plan_file}: change_window: T-0 at {now:%Y-%m-%d %H:%M %Z} is outside the change window; "
                "wait for it or pass --force"
            )
        run.journal.append("note", phase="t0", message="outside the change window: forced with --force")
    for step in run.plan.phases.t0:
        run_step(run, step, "t0")


def phase_t_plus_1h(run: MigrationRun) -> None:
    smoke(run, "t+1h")
    policy = run.plan.policy
    act_on(run, gate(run, "t+1h", policy.windows.validation, "validation", policy.windows.interval), phase="t+1h", step="validation")
    for step in run.plan.phases.t_plus_1h:
        run_step(run, step, "t+1h")


def phase_t_plus_24h(run: MigrationRun) -> None:
    policy = run.plan.policy
    act_on(run, gate(run, "t+24h", policy.windows.final, "24h-vs-baseline", policy.windows.interval), phase="t+24h", step="24h-vs-baseline")
    for step in run.plan.phases.t_plus_24h:
        run_step(run, step, "t+24h")


PHASE_FUNCTIONS = {"t-1w": phase_t_minus_1w, "t0": phase_t0, "t+1h": phase_t_plus_1h, "t+24h": phase_t_plus_24h}


# ---------------------------------------------------------------- state between processes

def new_migration_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def open_migration(plan: Plan, phase: str | None) -> tuple[str, Path]:
    """A full run or T-1w starts a new migration; a later phase continues the plan's latest one."""
    root = migrations_dir(plan.name)
    current = root / "current"
    if phase in (None, "t-1w"):
        migration = new_migration_id(datetime.now(timezone.utc))
        (root / migration).mkdir(parents=True)
        current.write_text(migration)
        return migration, root / migration
    if not current.exists():
        raise StateMissing(
            f"no earlier migration of plan {plan.name!r} under {root}: run `odin migrate PLAN --phase t-1w` first"
        )
    migration = current.read_text().strip()
    return migration, root / migration


# ---------------------------------------------------------------- the flow

@flow(name="migration", log_prints=False, validate_parameters=True)
def migration(plan_file: str, phase: Literal["t-1w", "t0", "t+1h", "t+24h"] | None = None, time_scale: float = 1.0,
              force: bool = False, wait: bool = False, chain: bool | None = None) -> RunSummary:
    """Run a migration plan: all four phases waiting on the clock between them, or one phase.

    ``chain`` (default: on when run by a deployment) runs one phase and schedules the next as a
    future run of the same deployment, so no worker is held for the week and the day in between.
    """
    if chain is None:
        from prefect.runtime import deployment

        chain = deployment.id is not None
    try:
        plan = load_plan(plan_file)
        if phase is not None and phase not in PHASES:
            raise UsageError(f"--phase must be one of {', '.join(PHASES)}")
        migration_id, folder = open_migration(plan, phase)
    except UsageError as exc:
        return RunSummary(migration="", outcome="refused", exit_code=EXIT_USAGE, report="", journal="",
                          detail="\n".join(exc.lines()))
    clock = ScaledClock(time_scale)
    journal = Journal(folder / "journal.jsonl", clock)
    logger = get_run_logger()
    journal.subscribe(lambda e: logger.info("%s %s %s", e.kind, e.step or e.phase or "", _short(e.data)))
    for listener in LISTENERS:
        journal.subscribe(listener)
    run = MigrationRun(plan=plan, plan_file=plan_file, migration=migration_id, folder=folder, clock=clock,
                       journal=journal, client=httpx.Client(), force=force, wait=wait, chain=bool(chain))
    phases = [phase] if phase else list(PHASES)
    if chain:
        phases = phases[:1]
    journal.append("run_started", plan=plan.name, migration=migration_id, phases=phases, time_scale=time_scale,
                   flow_run_id=str(runtime_flow_run.id), environment=plan.environment)
    outcome: Outcome = "completed"
    detail = ""
    t0_at = clock.now() - timedelta(seconds=PHASE_OFFSETS[phases[0]])
    try:
        _run_phases(run, phases, t0_at)
    except RolledBack as exc:
        outcome = exc.outcome
    except UsageError as exc:  # refused before changing anything (window, lock, missing state)
        outcome, detail = "refused", "\n".join(exc.lines())
    except Exception as exc:  # anything unexpected: journal it, report it, exit 4
        outcome, detail = "failed", f"{exc.__class__.__name__}: {exc}"
        logger.exception("migration failed")
    finally:
        run.close()
    journal.append("run_finished", outcome=outcome, exit_code=EXIT_CODES[outcome], detail=detail)
    entries = journal.entries()
    report = folder / "report.md"
    report.write_text(render_markdown(entries), encoding="utf-8")
    (folder / "report.html").write_text(render_html(entries), encoding="utf-8")
    publish_report(plan.name, entries)
    return RunSummary(migration=migration_id, outcome=outcome, exit_code=EXIT_CODES[outcome], report=str(report),
                      journal=str(journal.path), detail=detail)


def _run_phases(run: MigrationRun, phases: list[str], t0_at: datetime) -> None:
    """Phases in order, each at its time; the environment lock is held from T-0 to the end."""
    with contextlib.ExitStack() as stack:
        locked = False
        for name in phases:
            due = t0_at + timedelta(seconds=PHASE_OFFSETS[name])
            if len(phases) > 1 and due > run.clock.now():
                run.journal.append("note", phase=name, message=f"waiting until {due:%Y-%m-%d %H:%M:%S} (plan time) for {name}")
                run.clock.sleep_until(due)
            if name != "t-1w" and not locked:
                stack.enter_context(environment_lock(run.plan.environment, wait=run.wait))
                run.journal.append("lock", action="acquired", environment=run.plan.environment)
                stack.callback(lambda: run.journal.append("lock", action="released", environment=run.plan.environment))
                locked = True
            run.journal.append("phase_started", phase=name)
            try:
                PHASE_FUNCTIONS[name](run)
            except RolledBack:
                run.journal.append("phase_finished", phase=name, outcome="rolled back")
                raise
            run.journal.append("phase_finished", phase=name, outcome="ok")
            if run.chain and name != PHASES[-1]:
                _schedule_next_phase(run, PHASES[PHASES.index(name) + 1], t0_at)
                return


def _schedule_next_phase(run: MigrationRun, phase: str, t0_at: datetime) -> None:
    """Under a deployment, the next phase becomes a future flow run instead of a worker sleeping for days."""
    from prefect.deployments import run_deployment
    from prefect.runtime import deployment

    due = t0_at + timedelta(seconds=PHASE_OFFSETS[phase])
    wall_at = datetime.now(timezone.utc) + timedelta(seconds=run.clock.wall_seconds((due - run.clock.now()).total_seconds()))
    name = f"{runtime_flow_run.flow_name}/{deployment.name}"
    parameters = {**(deployment.parameters or {}), "plan_file": run.plan_file, "phase": phase, "chain": True}
    scheduled = run_deployment(name, parameters=parameters, scheduled_time=wall_at, timeout=0, as_subflow=False,
                               flow_run_name=f"{run.plan.name}-{phase}")
    run.journal.append("note", phase=phase, message=f"scheduled {phase} as flow run {scheduled.id} at {wall_at:%Y-%m-%d %H:%M:%S} UTC "
                       f"(plan time {due:%Y-%m-%d %H:%M:%S})", flow_run_id=str(scheduled.id))


def _short(data: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in data.items() if k not in ("snapshot", "report", "decision", "output"))
    return text[:300]


LISTENERS: list[Any] = []
"""Extra journal listeners for in-process runs (the CLI's live progress)."""
