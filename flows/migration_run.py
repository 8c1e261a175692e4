"""What every migration phase works on: the run, its Prefect tasks, and the decisions on a verdict.

Split from ``flows/migration.py`` so that file reads as the runbook (the phases and the flow) and
this one as the machinery each phase calls: the ``MigrationRun`` every task receives, the tasks that
make steps, smoke runs and gates visible in the Prefect UI, and how a verdict becomes a hold, a
person's decision or a rollback.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import httpx
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run as runtime_flow_run

from odin_drills.flows import migration_state as state
from odin_drills.flows.human import DEADLINE_BY, HoldInterrupted, wait_for_decision
from odin_drills.plan import Plan
from odin_drills.plan.slo import EmergencyOverride
from odin_drills.steps.actions import StepOutcome
from odin_drills.steps.baseline import BaselineRecord, load_baseline, save_baseline, unusable_baseline
from odin_drills.steps.shifted_baseline import Rebaseline, shifted_baseline
from odin_drills.steps.data_canary import DataCanary
from odin_drills.steps.burn import BurnRateMonitor
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.identity import ODIN_ITSELF
from odin_drills.steps.judge import Judge, Verdict
from odin_drills.steps.sequential import AlphaBudget
from odin_drills.steps.journal import Journal
from odin_drills.steps.lock import free as free_environment
from odin_drills.steps import intent as wal
from odin_drills.steps import stop
from odin_drills.steps.probes import run_journeys
from odin_drills.steps.probes.open import open_metric_source
from odin_drills.steps.rollback import undo_completed

Outcome = Literal["completed", "rolled_back_healthy", "rolled_back_degraded", "failed", "refused", "interrupted"]


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

    emergency: EmergencyOverride | None = None
    """The run's emergency override of an exhausted error budget (``flows.entry.emergency_override``)."""

    def __init__(self, *, plan: Plan, plan_file: str, migration: str, folder: Path, clock: ScaledClock,
                 journal: Journal, client: httpx.Client, force: bool = False, wait: bool = False,
                 chain: bool = False, resume: bool = False, baseline: BaselineRecord | None = None) -> None:
        self.plan, self.plan_file, self.migration, self.folder = plan, plan_file, migration, folder
        self.clock, self.journal, self.client = clock, journal, client
        self.force, self.wait, self.chain, self.resume = force, wait, chain, resume
        self.baseline = baseline
        self._source: Any = None
        self._canary: DataCanary | None = None

    @property
    def source(self) -> Any:
        if self._source is None:
            self._source = open_metric_source(self.plan, self.clock)  # probe or Prometheus, with alerts if set
        return self._source

    @property
    def canary(self) -> DataCanary | None:
        """The plan's canary writes (``canary:``); None when the plan has none."""
        if self._canary is None and self.plan.canary is not None:
            self._canary = DataCanary(self.plan.canary, self.journal, self.clock, client=self.client)
        return self._canary

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
            burn=BurnRateMonitor.for_slo(self.plan.slo),  # slo_at_risk from this watch's burn rates
            rebaseline=self._rebaseline(),
        )

    def _rebaseline(self) -> Rebaseline | None:
        """``policy.baseline_from: shifted``: each watch meets the same hours ``baseline_shift`` earlier."""
        policy = self.plan.policy
        if policy.baseline_from != "shifted" or self.baseline is None:
            return None
        return shifted_baseline(self.source, self.clock, policy.baseline_shift, self.baseline.snapshot)


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
    """Watch the service after ``step`` and say what to do. A hold of this gate that a signal
    interrupted is the gate's verdict still (``ask_person`` re-opens it with its own deadline):
    the gate is not watched again."""
    pending = state.pending_hold(run.journal.entries(), phase, step, "hold")
    if pending is not None:
        run.journal.append("note", phase=phase, step=step, message=(
            f"the hold of this gate was interrupted by {pending.data.get('signal')}: re-opening it (not watching again)"))
        return Verdict(action="hold", reason=str(pending.data.get("reason") or "hold"))
    judge = run.judge()
    judge.stop = stop.event()  # a signal ends the watch at its next window; its windows so far are journaled
    verdict = judge.watch(duration, phase=phase, step=step, interval=interval)
    if verdict.action not in ("rollback_now", "rollback"):  # a rollback is acted on, stop or not
        stop.check(f"acting on the gate of {step or phase}")  # a watch cut short: --resume runs the gate again
    return verdict


@task(name="canary-writes", cache_policy=NO_CACHE, persist_result=False, task_run_name="canary-writes-{label}")
def write_canaries(run: MigrationRun, phase: str, label: str) -> int:
    """``canary.writes_per_step`` writes through the service before ``label`` acts, each journaled."""
    assert run.canary is not None
    return run.canary.write(phase, label)


@task(name="canary-read-back", cache_policy=NO_CACHE, persist_result=False, task_run_name="canary-read-back-{label}")
def read_back_canaries(run: MigrationRun, phase: str, label: str) -> str | None:
    """Every acknowledged canary write read back; the data-loss/corruption reason, or None."""
    assert run.canary is not None
    return run.canary.check(phase, label)


@task(name="undo", cache_policy=NO_CACHE, persist_result=False)
def undo(run: MigrationRun, phase: str) -> Any:
    return undo_completed(run.journal, client=run.client, clock=run.clock, phase=phase, target=run.plan.target,
                          secrets=run.plan.secrets)


# ---------------------------------------------------------------- decisions

def ask_person(run: MigrationRun, *, phase: str, step: str | None, kind: str, deadline: float,
               default: Literal["proceed", "rollback"], reason: str, watch: bool = True) -> str:
    """Hold for a person; keep watching so an escalation can override; apply ``default`` at the deadline.

    A signal while waiting (``flows.human``: the wait ends within seconds, not at the deadline):

    - a ``hold`` or an ``approval`` stays undecided: ``hold_interrupted`` is journaled (the hold, its
      reason, default and deadline) and :class:`~odin_drills.steps.stop.StopRequested` ends the run
      ``interrupted``, as a signal during a step does — no step starts, the lock is released and the
      migration keeps its reservation;
    - a ``rollback-grace`` is the grace of a rollback the numbers already confirmed: the signal
      applies its default at once and the rollback goes ahead. A person who wants the migration to
      go on says ``proceed`` with ``odin decide``; a signal is not that person, and leaving a
      confirmed regression in place because someone pressed Ctrl-C is the one outcome an SRE would
      not expect. A second signal aborts at once, as always (``--resume`` finishes the rollback).

    ``--resume`` re-opens an interrupted hold (``migration_state.pending_hold``) with its ORIGINAL
    deadline on the plan clock, not a fresh one. Why: the deadline is a promise already made — to
    the person asked ("decide by 03:00, else rollback") and to the policy (``deadlines.hold``, a
    rollback within its deadline) — and a restart must not stretch a 4-hour hold to 8. Why re-open
    rather than judge again: the hold was a verdict on what the service did then; a fresh watch
    would spend the alpha budget again and could pass a hold a person was still weighing. If the
    deadline passed while the run was stopped, the default applies at once, journaled as decided by
    the deadline (what would have happened had the run not been stopped).
    """
    flow_run_id = str(runtime_flow_run.id)
    pending = state.pending_hold(run.journal.entries(), phase, step, kind)
    reopened = pending is not None
    deadline_at = run.clock.now() + timedelta(seconds=deadline)
    if pending is not None:
        held = pending.record
        deadline_at, reason = held.deadline, held.reason  # type: ignore[union-attr]
        default = held.default  # type: ignore[union-attr, assignment]
        if deadline_at <= run.clock.now():
            run.journal.append("human_input", phase=phase, step=step, action=default, by=DEADLINE_BY,
                               reason=(f"the {kind}'s deadline ({deadline_at:%Y-%m-%d %H:%M:%S} plan time) passed while "
                                       f"the run was interrupted: applying its default ({default})"),
                               verified_as=ODIN_ITSELF, at=run.clock.now())
            return default
    run.journal.append("hold_started", phase=phase, step=step, hold=kind, reason=reason, default=default,
                       deadline=deadline_at, flow_run_id=flow_run_id, reopened=reopened or None,
                       decide=f"odin decide {flow_run_id} proceed|rollback --reason '...' --by NAME")

    def monitor(over: Any) -> str | None:
        judge = run.judge()
        judge.stop = over
        judge.journal = _UntilInterrupted(run.journal, over)
        while not over.is_set():
            verdict = judge.watch(run.plan.policy.windows.interval, phase=phase, step=f"{step or phase} (hold)")
            if verdict.action in ("rollback_now", "rollback"):
                return verdict.reason
        return None

    try:
        decision, _ = wait_for_decision(
            deadline_wall_seconds=run.clock.wall_seconds((deadline_at - run.clock.now()).total_seconds()),
            default=default, monitor=monitor if watch else None,
            on_stop="default" if kind == "rollback-grace" else "interrupt",
        )
    except HoldInterrupted as exc:
        run.journal.append("hold_interrupted", phase=phase, step=step, hold=kind, reason=reason, default=default,
                           deadline=deadline_at, signal=exc.reason, flow_run_id=flow_run_id,
                           resume=f"odin migrate {run.plan_file} --resume --migration {run.migration}")
        raise stop.StopRequested(exc.reason, (
            f"the {kind} at {step or phase} was decided (it stays open: --resume re-opens it with its deadline "
            f"{deadline_at:%Y-%m-%d %H:%M:%S} plan time, default {default})")) from None
    if decision.by == DEADLINE_BY:
        # The deadline is timed in wall seconds (deadline / N); a monitor window open meanwhile slows
        # the plan clock, so bring plan time to the deadline it reached (a no-op at scale 1).
        run.clock.advance_to(deadline_at)
    run.journal.append("human_input", phase=phase, step=step, action=decision.action, reason=decision.reason,
                       by=decision.by, verified_as=decision.verified, at=run.clock.now())
    return decision.action


class _UntilInterrupted:
    """The journal as a hold's monitor sees it: writes stop once a signal ended the hold.

    An interrupted hold does not wait for the monitor's window in flight (``flows.human``), so that
    window would otherwise land in the journal after ``hold_interrupted`` — or after the run's end.
    It decided nothing, so it is dropped; every earlier window is journaled as usual."""

    def __init__(self, journal: Journal, over: Any) -> None:
        self._journal, self._over = journal, over

    def append(self, kind: str, **fields: Any) -> Any:
        if self._over.is_set() and stop.requested() is not None:
            return None
        return self._journal.append(kind, **fields)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._journal, name)


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
        choice = ask_person(run, phase=phase, step=step, kind="rollback-grace", deadline=grace,
                        default="rollback", reason=verdict.reason, watch=False)
        if choice == "proceed":
            return
    elif verdict.action == "hold":
        choice = ask_person(run, phase=phase, step=step, kind="hold", deadline=policy.deadlines.hold,
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
    release_environment(run)
    raise RolledBack("rolled_back_healthy" if healthy else "rolled_back_degraded")


def release_environment(run: MigrationRun) -> None:
    """The migration is over (rolled back or complete): its environment is free for the next one."""
    if free_environment(run.plan.environment, run.migration):
        run.journal.append("lock", action="freed", environment=run.plan.environment, migration=run.migration,
                           plan=run.plan.name)
