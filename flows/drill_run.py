"""A drill from its plan file to its summary, around the runbook; each function one job.

    execute(...)                the whole drill, in this order:
      checked_plan              load and check the plan: refused before anything runs
      open_journal              the drill's id, folder and journal (``run_started``)
      run_drill                 under the environment lock (``environment_held``), on its target
                                (``open_run``: the sandbox, reused or started, or Azure), the
                                runbook, then the scorecard and the outcome; the resolution message.
                                A runbook that ends early or raises is cleaned up first
                                (``steps.dr.cleanup``: injected outage ended, changes undone)
      keep_scorecard            scorecard.json, the drill history, the trend of earlier drills
      write_reports             report.md and report.html (``odin_drills.reports``), Prefect artifacts

The outcome's exit code, and the Prefect state the flows end in, are ``odin_drills.outcomes``'.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from prefect import get_run_logger
from prefect.runtime import flow_run as runtime_flow_run
from pydantic import BaseModel, Field

from odin_drills.errors import PlanInvalid, UsageError
from odin_drills.flows.entry import entry_plan_file, require_opt_in
from odin_drills.flows.drill_target import SandboxLink, drill_problems, sandbox_for, sandbox_lag, sandbox_resources
from odin_drills.home import drills_dir, private_dir, write_private
from odin_drills.outcomes import describe, exit_code
from odin_drills.plan.drill import DrillPlan, load_drill
from odin_drills.plan.models import SandboxTarget
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.dr import DrillHistory, Scorecard, TrendPoint
from odin_drills.steps.dr.cleanup import clean_up
from odin_drills.steps.dr.order import rollback_verdict
from odin_drills.steps.dr.outage import injector_for
from odin_drills.steps.dr.run import DrillOptions, DrillRun, EndRun, Mode, judge, score_run
from odin_drills.steps.journal import Journal
from odin_drills.steps.lock import environment_lock
from odin_drills.steps.stop import StopRequested

__all__ = ["LISTENERS", "DrillOptions", "DrillSummary", "execute"]

Outcome = Literal["passed", "criteria_failed", "not_confirmed", "vetoed", "no_failover_needed", "refused", "failed",
                  "interrupted", "rolled_back_healthy", "rolled_back_degraded"]
Runbook = Callable[[DrillRun], None]

LISTENERS: list[Any] = []
"""Extra journal listeners for in-process runs (the CLI's live progress)."""


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


def execute(plan_file: str, time_scale: float, *, mode: Mode, options: DrillOptions, record_history: bool,
            name: str, runbook: Runbook, phases: Sequence[str], allow_production: bool = False) -> DrillSummary:
    """Never raises for a failing drill: the summary says what happened (and its exit code)."""
    try:
        plan = checked_plan(plan_file, time_scale, allow_production)
        mode = run_mode(plan, mode)
        confirmation_fits_decision_budget(plan, plan_file, mode, options)
    except UsageError as exc:
        return DrillSummary(plan="", drill_id="", mode=mode, outcome="refused", exit_code=exit_code("refused"),
                            detail="\n".join(exc.lines()))
    clock = ScaledClock(time_scale)
    drill_id, folder, journal = open_journal(plan, clock, mode=mode, options=options, name=name, phases=phases)
    outcome, detail, run, card = run_drill(plan, drill_id, folder, clock, journal, mode, options, runbook)
    journal.append("run_finished", outcome=outcome, exit_code=exit_code(outcome), detail=detail)
    trend = keep_scorecard(plan.name, folder, card, record=record_history)
    report, html = write_reports(plan.name, folder, journal, card, trend, outcome=outcome, detail=detail,
                                 deferred=run.found.deferred if run else [])
    return DrillSummary(plan=plan.name, drill_id=drill_id, mode=mode, outcome=outcome, exit_code=exit_code(outcome),
                        passed=bool(card and card.passed), scorecard=card.to_json(report) if card else {},
                        report=str(report), report_html=str(html), journal=str(journal.path), detail=detail)


def checked_plan(plan_file: str, time_scale: float, allow_production: bool = False) -> DrillPlan:
    """The drill, refused (``UsageError``) before anything runs: a plan file outside the plan root
    under a deployment, an invalid plan, production without ``allow_production``."""
    if time_scale <= 0:
        raise UsageError("--time-scale must be positive")
    plan_file = entry_plan_file(plan_file)
    plan = load_drill(plan_file)
    require_opt_in(plan, allow_production, plan_file)
    problems = drill_problems(plan, plan_file)
    if problems:
        raise PlanInvalid(problems)
    return plan


def confirmation_fits_decision_budget(plan: DrillPlan, plan_file: str, mode: Mode, options: DrillOptions) -> None:
    """The plan refuses ``decision.human_confirm`` with a ``confirm_timeout`` that fills the decision
    budget when it loads; the run option ``human_confirm`` (the deployment form) asks the same of a
    plan that did not, so it gets the same refusal before anything runs."""
    decision, budget = plan.decision, plan.targets.budgets.decision
    if options.human_confirm and not decision.human_confirm and mode == "drill" and decision.confirm_timeout >= budget:
        raise UsageError(
            f"{plan_file}: decision.confirm_timeout ({decision.confirm_timeout / 60:g} min) fills targets.budgets.decision "
            f"({budget / 60:g} min), and this run asks for a human confirmation: an unanswered one misses the decision "
            "budget by construction; make the timeout shorter or the budget longer, or run without human_confirm")


def run_mode(plan: DrillPlan, asked: Mode) -> Mode:
    """The plan's ``decision.mode: incident`` makes any run of it an incident (no outage caused, no
    automatic failback), whatever the entry point asked: a file written for a real incident must
    never start a drill that breaks the region itself. A drill plan may still be run as an incident
    (``region_failover(drill=False)``)."""
    return "incident" if plan.decision.mode == "incident" else asked


def open_journal(plan: DrillPlan, clock: ScaledClock, *, mode: Mode, options: DrillOptions, name: str,
                 phases: Sequence[str]) -> tuple[str, Path, Journal]:
    """``$ODIN_HOME/drills/<plan>/<drill id>/journal.jsonl``, logged to Prefect and the LISTENERS."""
    drill_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"
    folder = drills_dir(plan.name) / drill_id
    folder.mkdir(mode=0o700)
    private_dir(folder)
    journal = Journal(folder / "journal.jsonl", clock)
    logger = get_run_logger()
    journal.subscribe(lambda e: logger.info("%s %s %s", e.kind, e.step or e.phase or "", _short(e.data)))
    for listener in LISTENERS:
        journal.subscribe(listener)
    journal.append("run_started", plan=plan.name, drill=drill_id, mode=mode, flow=name, phases=list(phases),
                   time_scale=clock.scale, environment=plan.environment, target=plan.target.kind,
                   flow_run_id=str(runtime_flow_run.id), options=options)
    return drill_id, folder, journal


def run_drill(plan: DrillPlan, drill_id: str, folder: Path, clock: ScaledClock, journal: Journal, mode: Mode,
              options: DrillOptions, runbook: Runbook) -> tuple[Outcome, str, DrillRun | None, Scorecard | None]:
    """Lock, target, runbook, scorecard: the outcome and its detail; everything opened is closed."""
    outcome: Outcome = "failed"
    detail = ""
    run: DrillRun | None = None
    card: Scorecard | None = None
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(environment_held(plan.environment, journal, wait=options.wait_for_lock))
            lag = sandbox_lag(clock.scale, options.replication_lag_seconds)
            sandbox = stack.enter_context(sandbox_for(plan, folder, lag))
            run = stack.enter_context(open_run(plan, drill_id, mode, options, folder, clock, journal, sandbox))
            try:
                runbook(run)
                outcome = "passed"
            except EndRun as end:
                outcome, detail = end.outcome, end.detail  # type: ignore[assignment]
                done = clean_up(run, f"{describe(end.outcome)}: {end.detail}")
                if outcome == "rolled_back_healthy":  # a failover that failed, undone: is the service back?
                    outcome, why = rollback_verdict(run, done.all_undone)  # type: ignore[assignment]
                    detail = f"{detail}: {why}"
            except BaseException as exc:  # an error, a cancellation: the drill's changes are undone first
                clean_up(run, f"{exc.__class__.__name__}: {exc}")
                raise
            card = score_run(run)
            journal.append("scorecard", **card.model_dump(mode="json"))
            outcome, detail = judge(outcome, detail, card)  # type: ignore[assignment]
            run.stakeholders.resolve(outcome, detail, card.rto_seconds, card.rpo_seconds)
        except UsageError as exc:
            outcome, detail = "refused", "\n".join(exc.lines())
        except StopRequested as exc:  # a signal: the phase in flight finished; the drill's cleanup runs on exit
            outcome, detail = "interrupted", f"{exc}; the drill was cleaned up: run it again when ready"
        except Exception as exc:  # anything unexpected: journal it, report it, exit 4
            outcome, detail = "failed", f"{exc.__class__.__name__}: {exc}"
            get_run_logger().exception("region failover failed")
    if run is not None and run.found.worse:
        detail = f"{detail}; {run.found.worse}" if detail else run.found.worse
    return outcome, detail, run, card


@contextlib.contextmanager
def environment_held(environment: str, journal: Journal, *, wait: bool) -> Iterator[None]:
    """Two runs on one environment never overlap (``LockHeld``, a refusal, unless ``wait``)."""
    with environment_lock(environment, wait=wait):
        journal.append("lock", action="acquired", environment=environment)
        try:
            yield
        finally:
            journal.append("lock", action="released", environment=environment)


@contextlib.contextmanager
def open_run(plan: DrillPlan, drill_id: str, mode: Mode, options: DrillOptions, folder: Path, clock: ScaledClock,
             journal: Journal, sandbox: SandboxLink | None) -> Iterator[DrillRun]:
    """The run on its target: endpoints, target and resources (the sandbox's, when there is one),
    and how the drill will cause its outage. Closed (outage ended, helpers stopped) at the end."""
    target: Any = plan.target
    resources = plan.resources
    info = sandbox.info if sandbox is not None else None
    if sandbox is not None and info is not None:
        target = SandboxTarget(arm_url=info["arm_url"], ca_cert=info["ca_cert"], subscription_id=info["subscription_id"])
        journal.append("sandbox", action="started in-process" if sandbox.owned is not None else "reused",
                       admin_url=info["admin_url"], frontdoor_url=info["frontdoor_url"],
                       state_dir=str(folder / "sandbox") if sandbox.owned is not None else None,
                       arm_url=info["arm_url"], ca_cert=str(info["ca_cert"]), subscription_id=info["subscription_id"])
        resources, notes, problems = sandbox_resources(plan, info)
        for note in notes:
            journal.append("note", phase="prepare", message=note)
        if problems:
            raise PlanInvalid(problems)
    run = DrillRun(plan=plan, drill_id=drill_id, mode=mode, options=options, clock=clock, journal=journal,
                   endpoints=plan.resolve_endpoints(info), target=target, resources=resources)
    try:
        run.outage = injector_for(run, sandbox)
        yield run
    finally:
        run.close()


def keep_scorecard(plan_name: str, folder: Path, card: Scorecard | None, *, record: bool) -> list[TrendPoint]:
    """scorecard.json beside the journal; the drill in its plan's history (``record``); the trend."""
    if card is None:
        return []
    write_private(folder / "scorecard.json", card.model_dump_json(indent=2) + "\n")
    history = DrillHistory(drills_dir())
    if record:
        history.record(card)
    return history.trend(plan_name, exclude=card.drill_id, limit=8)


def write_reports(plan_name: str, folder: Path, journal: Journal, card: Scorecard | None, trend: list[TrendPoint],
                  *, outcome: str, detail: str, deferred: list[str]) -> tuple[Path, Path]:
    """report.md and report.html beside the journal, and the Prefect artifacts."""
    from odin_drills.reports.drill import publish_drill_artifacts, render_drill_markdown
    from odin_drills.reports.html import render_html
    from odin_drills.reports.retrospective import retrospective

    entries = journal.entries()
    report, html = folder / "report.md", folder / "report.html"
    markdown = render_drill_markdown(entries, card, trend, outcome=outcome, outcome_text=describe(outcome),
                                     detail=detail, deferred=deferred)
    write_private(report, markdown)
    write_private(html, render_html(entries, title=f"DR drill report: {plan_name}",
                                    scorecard=card.to_report() if card else None,
                                    retro=retrospective(entries, card, trend, deferred)))
    from odin_drills.flows.best_effort import best_effort

    best_effort("publishing the drill artifacts", publish_drill_artifacts, plan_name, markdown, card, trend)
    return report, html


def _short(data: dict[str, Any]) -> str:
    text = ", ".join(f"{k}={v}" for k, v in data.items()
                     if k not in ("report", "output", "undo", "acknowledged_ids", "lost_writes", "options", "criteria"))
    return text[:300]
