"""The restore drill (``kind: restore``) as Prefect flows: run it, and undo it after a crash.

With ``blob_restore:`` the storage account's blob range is restored too; its restore-back is one
more journaled undo, which ``restore_drill_rollback`` runs like the copy's delete.

    restore_drill(plan_file, ...)          check the plan (refused before anything runs), open the
                                           journal, take the environment lock, reach the target (the
                                           sandbox, reused or started for the drill, or Azure), run
                                           ``steps.dr.restore.run_restore``, write report.md,
                                           report.html and scorecard.json, end in the outcome's state
    restore_drill_rollback(plan_file, ...) ``odin rollback`` of a restore drill killed mid-run: under
                                           the lock, reconcile the journal's open intent with Azure
                                           (the restore may have completed after the kill) and run
                                           the pending undo — the copy is deleted, never orphaned

Outcomes (``odin_drills.outcomes``): ``passed`` / ``criteria_failed`` / ``refused`` / ``failed``;
the rollback ``rolled_back_healthy`` (the copy deleted), ``rolled_back_degraded`` (it could not
be) or ``completed`` (nothing was left to undo).
"""

from __future__ import annotations

import contextlib
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import httpx
from prefect import flow, get_run_logger
from prefect.runtime import flow_run as runtime_flow_run
from prefect.states import State
from pydantic import BaseModel, Field

from odin_drills.errors import PlanInvalid, StateMissing, UsageError
from odin_drills.flows.drill_target import sandbox_for, sandbox_lag
from odin_drills.flows.entry import entry_plan_file, require_opt_in
from odin_drills.flows.final_state import final_state
from odin_drills.home import drills_dir, private_dir, write_private
from odin_drills.outcomes import describe, exit_code
from odin_drills.plan.models import SandboxTarget
from odin_drills.plan.restore_drill import RestoreDrillPlan, load_restore_drill
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.dr.history import DrillHistory, TrendPoint
from odin_drills.steps.dr.restore import PHASES, RestoreContext, delete_copies, run_restore
from odin_drills.steps.journal import Journal
from odin_drills.steps.lock import environment_lock

__all__ = ["LISTENERS", "RestoreSummary", "restore_drill", "restore_drill_rollback"]

LISTENERS: list[Any] = []
"""Extra journal listeners for in-process runs (the CLI's live progress)."""


class RestoreSummary(BaseModel):
    """What a restore drill (or its rollback) returns: outcome, scorecard, where the reports are."""

    plan: str
    drill_id: str
    outcome: str
    exit_code: int
    passed: bool = False
    scorecard: dict[str, Any] = Field(default_factory=dict, description="RestoreScorecard.to_json(report)")
    report: str = ""
    report_html: str = ""
    journal: str = ""
    detail: str = ""


def checked_restore_plan(plan_file: str, time_scale: float, allow_production: bool) -> RestoreDrillPlan:
    """Refused (``UsageError``) before anything runs: outside the plan root under a deployment,
    an invalid plan, production without ``allow_production``, a bad time scale."""
    if time_scale <= 0:
        raise UsageError("--time-scale must be positive")
    plan_file = entry_plan_file(plan_file)
    plan = load_restore_drill(plan_file)
    require_opt_in(plan, allow_production, plan_file)
    return plan


def _journal(plan: RestoreDrillPlan, folder: Path, clock: ScaledClock) -> Journal:
    journal = Journal(folder / "journal.jsonl", clock)
    logger = get_run_logger()
    journal.subscribe(lambda e: logger.info("%s %s %s", e.kind, e.step or e.phase or "",
                                            ", ".join(f"{k}={v}" for k, v in e.data.items()
                                                      if k not in ("spec", "prior", "output", "undo"))[:300]))
    for listener in LISTENERS:
        journal.subscribe(listener)
    return journal


@contextlib.contextmanager
def _locked(environment: str, journal: Journal, wait: bool) -> Iterator[None]:
    with environment_lock(environment, wait=wait):
        journal.append("lock", action="acquired", environment=environment)
        try:
            yield
        finally:
            journal.append("lock", action="released", environment=environment)


def _storage_account(plan: RestoreDrillPlan, info: dict[str, Any] | None) -> str:
    """The storage account a ``blob_restore`` drills: the plan's, or the running sandbox's ("" without one)."""
    if plan.blob_restore is None:
        return ""
    if plan.blob_restore.account:
        if info is not None and f"/subscriptions/{str(info['subscription_id']).lower()}/" not in plan.blob_restore.account.lower():
            raise PlanInvalid([f"{plan.name}: blob_restore.account: {plan.blob_restore.account} is not in the running "
                               f"sandbox (subscription {info['subscription_id']}): leave it out to use the sandbox's"])
        return plan.blob_restore.account
    account = ((info or {}).get("resources") or {}).get("storage_accounts", [None])[0]
    if not account:
        raise PlanInvalid([f"{plan.name}: blob_restore.account: not set and the sandbox names no storage account"])
    return str(account)


def _resolve(plan: RestoreDrillPlan, info: dict[str, Any] | None, journal: Journal, folder: Path,
             owned: bool) -> tuple[Any, str, str]:
    """The target, the service URL and the source database: the plan's, or the sandbox's."""
    if info is None:
        assert plan.endpoints.service is not None and plan.restore.source_database is not None
        return plan.target, str(plan.endpoints.service).rstrip("/"), plan.restore.source_database
    target = SandboxTarget(arm_url=info["arm_url"], ca_cert=info["ca_cert"], subscription_id=info["subscription_id"])
    journal.append("sandbox", action="started in-process" if owned else "reused", admin_url=info["admin_url"],
                   frontdoor_url=info["frontdoor_url"], state_dir=str(folder / "sandbox") if owned else None,
                   arm_url=info["arm_url"], ca_cert=str(info["ca_cert"]), subscription_id=info["subscription_id"])
    service = str(plan.endpoints.service or info["frontdoor_url"]).rstrip("/")
    source = plan.restore.source_database or (info.get("resources") or {}).get("databases", [None])[0]
    if not source:
        raise PlanInvalid([f"{plan.name}: restore.source_database: not set and the sandbox names no database"])
    if f"/subscriptions/{str(info['subscription_id']).lower()}/" not in source.lower():
        raise PlanInvalid([f"{plan.name}: restore.source_database: {source} is not in the running sandbox "
                           f"(subscription {info['subscription_id']}): leave it out to use the sandbox's"])
    return target, service, source


def execute(plan_file: str, time_scale: float, *, wait_for_lock: bool, allow_production: bool,
            flow_name: str = "restore-drill") -> RestoreSummary:
    """The whole drill; never raises for a failing drill (the summary says what happened)."""
    try:
        plan = checked_restore_plan(plan_file, time_scale, allow_production)
    except UsageError as exc:
        return RestoreSummary(plan="", drill_id="", outcome="refused", exit_code=exit_code("refused"),
                              detail="\n".join(exc.lines()))
    clock = ScaledClock(time_scale)
    drill_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"
    folder = drills_dir(plan.name) / drill_id
    folder.mkdir(mode=0o700)
    private_dir(folder)
    journal = _journal(plan, folder, clock)
    journal.append("run_started", plan=plan.name, drill=drill_id, mode="drill", flow=flow_name, phases=list(PHASES),
                   time_scale=clock.scale, environment=plan.environment, target=plan.target.kind,
                   flow_run_id=str(runtime_flow_run.id))
    outcome, detail, card = "failed", "", None
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(_locked(plan.environment, journal, wait_for_lock))
            sandbox = stack.enter_context(sandbox_for(plan, folder, sandbox_lag(time_scale)))  # type: ignore[arg-type]
            info = sandbox.info if sandbox is not None else None
            target, service, source = _resolve(plan, info, journal, folder, bool(sandbox and sandbox.owned))
            client = stack.enter_context(httpx.Client(timeout=plan.canary.timeout, follow_redirects=False))
            ctx = RestoreContext(plan=plan, drill_id=drill_id, journal=journal, clock=clock, target=target,
                                 service_url=service, source_database=source, client=client,
                                 storage_account=_storage_account(plan, info))
            result = run_restore(ctx)
            card = result.card
            outcome = "passed" if card.passed else "criteria_failed"
            missed = [n for n, c in card.criteria.items() if not c.passed]
            detail = "; ".join(filter(None, [result.detail, f"criteria missed: {', '.join(missed)}" if missed else ""]))
    except UsageError as exc:
        outcome, detail = "refused", "\n".join(exc.lines())
    except Exception as exc:  # anything unexpected: journaled and reported, exit 4
        outcome, detail = "failed", f"{exc.__class__.__name__}: {exc}"
        get_run_logger().exception("restore drill failed")
    journal.append("run_finished", outcome=outcome, exit_code=exit_code(outcome), detail=detail)
    trend = keep_history(card)
    report, html = write_reports(plan.name, folder, journal, card, outcome=outcome, detail=detail, trend=trend)
    return RestoreSummary(plan=plan.name, drill_id=drill_id, outcome=outcome, exit_code=exit_code(outcome),
                          passed=bool(card and card.passed), scorecard=card.to_json(str(report)) if card else {},
                          report=str(report), report_html=str(html), journal=str(journal.path), detail=detail)


def keep_history(card: Any) -> list[TrendPoint]:
    """The drill in its plan's history (beside the region drills', ``steps.dr.history``); the earlier ones' trend."""
    if card is None:
        return []
    history = DrillHistory(drills_dir())
    history.record(card)
    return history.trend(card.plan, exclude=card.drill_id, limit=8)


def write_reports(plan_name: str, folder: Path, journal: Journal, card: Any, *, outcome: str,
                  detail: str, trend: list[TrendPoint] | None = None) -> tuple[Path, Path]:
    """report.md, report.html (both with the trend and the retrospective) and scorecard.json beside
    the journal; the Prefect artifacts."""
    from odin_drills.reports.html import render_html
    from odin_drills.reports.restore import publish_restore_artifacts, render_restore_markdown
    from odin_drills.reports.retrospective import retrospective

    entries = journal.entries()
    report, html = folder / "report.md", folder / "report.html"
    retro = retrospective(entries, card, trend or [])
    markdown = render_restore_markdown(entries, card, outcome=outcome, outcome_text=describe(outcome), detail=detail,
                                       trend=trend, retro=retro)
    write_private(report, markdown)
    write_private(html, render_html(entries, title=f"Restore drill report: {plan_name}",
                                    scorecard=card.to_report() if card else None, retro=retro))
    if card is not None:
        write_private(folder / "scorecard.json", card.model_dump_json(indent=2) + "\n")
    publish_restore_artifacts(plan_name, markdown, card)
    return report, html


@flow(name="restore-drill", log_prints=False, validate_parameters=True)
def restore_drill(plan_file: str, time_scale: float = 1.0, wait_for_lock: bool = True,
                  allow_production: bool = False) -> State:
    """A restore drill: canary rows, a point-in-time restore to a new database, the copy verified
    against the canary, restore RTO/RPO scored, the copy deleted.

    Args:
        plan_file: the drill file (kind: restore); for a deployment run, under the project's drills/ folder
        time_scale: run the plan clock this many times faster (rehearsals)
        wait_for_lock: queue behind another run on the same environment instead of refusing
        allow_production: required (true) to run a drill whose target is production
    """
    summary = execute(plan_file, time_scale, wait_for_lock=wait_for_lock, allow_production=allow_production)
    return final_state(summary.outcome, summary, message=summary.detail.splitlines()[0] if summary.detail else "")


# ================================================================== after a crash

def latest_drill(plan: RestoreDrillPlan, drill: str | None) -> Path:
    base = drills_dir(plan.name)
    if drill:
        folder = base / drill
        if not (folder / "journal.jsonl").is_file():
            raise StateMissing(f"{plan.name}: no restore drill {drill!r} under {base}")
        return folder
    found = sorted(p for p in base.iterdir() if (p / "journal.jsonl").is_file()) if base.is_dir() else []
    if not found:
        raise StateMissing(f"{plan.name}: no restore drill has run (nothing under {base})")
    return found[-1]


def _journaled_target(plan: RestoreDrillPlan, journal: Journal) -> Any:
    """The target the drill used: its journaled sandbox (which must still answer), or the plan's Azure."""
    if not isinstance(plan.target, SandboxTarget):
        return plan.target
    sandbox = next((e for e in reversed(journal.entries()) if e.kind == "sandbox"), None)
    if sandbox is None:
        return plan.target
    data = sandbox.data
    return SandboxTarget(arm_url=data.get("arm_url"), ca_cert=data.get("ca_cert"), subscription_id=data.get("subscription_id"))


def rollback(plan_file: str, *, drill: str | None, wait: bool, allow_production: bool,
             time_scale: float = 1.0) -> RestoreSummary:
    """Undo a restore drill from its journal: reconcile, then delete the copy (see the module doc)."""
    from odin_drills.steps import intent as wal

    try:
        plan = checked_restore_plan(plan_file, time_scale, allow_production)
        folder = latest_drill(plan, drill)
    except UsageError as exc:
        return RestoreSummary(plan="", drill_id=drill or "", outcome="refused", exit_code=exit_code("refused"),
                              detail="\n".join(exc.lines()))
    clock = ScaledClock(time_scale)
    journal = _journal(plan, folder, clock)
    entries = journal.entries()
    if not wal.pending_undos(entries) and not wal.open_intents(entries):
        return RestoreSummary(plan=plan.name, drill_id=folder.name, outcome="completed", exit_code=exit_code("completed"),
                              journal=str(journal.path), detail="nothing to undo: no restored copy is left")
    outcome, detail = "rolled_back_degraded", ""
    try:
        with _locked(plan.environment, journal, wait):
            target = _journaled_target(plan, journal)
            wal.reconcile(journal, target=target, migration=folder.name)
            with httpx.Client(timeout=10.0) as client:
                ctx = RestoreContext(plan=plan, drill_id=folder.name, journal=journal, clock=clock, target=target,
                                     service_url="", source_database="", client=client)
                done = delete_copies(ctx, phase="rollback")
            left = wal.pending_undos(journal.entries())
            if not left:
                outcome = "rolled_back_healthy" if done else "completed"
                detail = (f"undone: {', '.join(label for label, _ in done)}" if done
                          else "the restore never happened: nothing to delete")
            else:
                detail = f"still to undo: {', '.join(e.step or '?' for e in left)} (Azure did not answer?)"
    except UsageError as exc:
        outcome, detail = "refused", "\n".join(exc.lines())
    except Exception as exc:  # noqa: BLE001 - reported, exit 4
        detail = f"{exc.__class__.__name__}: {exc}"
    return RestoreSummary(plan=plan.name, drill_id=folder.name, outcome=outcome, exit_code=exit_code(outcome),
                          journal=str(journal.path), detail=detail)


@flow(name="restore-drill-rollback", log_prints=False, validate_parameters=True)
def restore_drill_rollback(plan_file: str, drill: str | None = None, wait: bool = False,
                           allow_production: bool = False, time_scale: float = 1.0) -> State:
    """Undo a restore drill killed mid-run: the restored copy is deleted (after reconciling with Azure).

    Args:
        plan_file: the restore drill file
        drill: the drill id (default: the plan's latest)
        wait: queue behind a run holding the environment lock instead of refusing
        allow_production: required (true) for a production target
        time_scale: the plan clock's speed (retry waits)
    """
    summary = rollback(plan_file, drill=drill, wait=wait, allow_production=allow_production, time_scale=time_scale)
    return final_state(summary.outcome, summary, message=summary.detail.splitlines()[0] if summary.detail else "")
