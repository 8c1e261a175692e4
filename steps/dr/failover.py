"""The failover's world-changing actions and their undos.

    failover_waves(run)        SQL failover groups and storage accounts (one wave, run in parallel),
                               then Front Door to the DR region; which server becomes primary is
                               read from Azure now, while the primary still answers
    frontdoor_step(run, ...)   the azure.frontdoor.origins step for the primary/DR origins
    execute_action(run, a, p)  one step, journaled with the undo it computed (the failback runs that)
    failback_undos(run)        the journaled undos to run, newest first; an unplanned storage
                               failover is left to a person (journaled as failback_deferred)
    run_undo(run, entry, l)    one journaled undo: retried, journaled, never raises
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from odin_drills.plan.steps import Step
from odin_drills.steps.actions import StepOutcome, parse_undo, run_action
from odin_drills.steps.dr.azure_reads import partner_server
from odin_drills.steps.dr.run import Action, DrillRun
from odin_drills.steps.journal import Entry

STEPS = TypeAdapter(Step)


def failover_waves(run: DrillRun) -> list[list[Action]]:
    data_tier: list[Action] = []
    for spec in run.resources.failover_groups:
        step = STEPS.validate_python({
            "kind": "azure.sql.failover", "name": f"sql {short(spec.id)} -> {run.secondary}",
            "failover_group": spec.id, "to_server": partner_server(spec.id, run.target, run.secondary),
            "mode": spec.mode, "allow_data_loss": spec.allow_data_loss})
        data_tier.append(Action(step.name, step))
    for account in run.resources.storage_accounts:
        step = STEPS.validate_python({
            "kind": "azure.storage.failover", "name": f"storage {short(account.id)} -> {run.secondary}",
            "account": account.id, "to_region": run.secondary, "mode": account.mode,
            "allow_data_loss": account.allow_data_loss})
        data_tier.append(Action(step.name, step))
    waves = [data_tier] if data_tier else []
    if run.resources.frontdoor is not None:
        waves.append([Action(f"frontdoor {short(run.resources.frontdoor.origin_group)} -> {run.secondary}",
                             frontdoor_step(run, primary_enabled=False, dr_priority=1))])
    return waves


def frontdoor_step(run: DrillRun, *, primary_enabled: bool, dr_priority: int | None) -> Any:
    spec = run.resources.frontdoor
    assert spec is not None
    origins: dict[str, Any] = {spec.origins[run.primary]: {"enabled": primary_enabled},
                               spec.origins[run.secondary]: {"enabled": True}}
    if dr_priority is not None:
        origins[spec.origins[run.secondary]]["priority"] = dr_priority
    return STEPS.validate_python({"kind": "azure.frontdoor.origins", "name": f"frontdoor {short(spec.origin_group)}",
                                  "origin_group": spec.origin_group, "origins": origins})


def execute_action(run: DrillRun, action: Action, phase: str) -> StepOutcome:
    """One world-changing step, journaled with the undo it computed (the failback runs that)."""
    step = action.step
    run.journal.append("step_started", phase=phase, step=action.label, step_kind=step.kind, changes_world=True)
    try:
        outcome = run_action(step, client=run.client, clock=run.clock, target=run.target,
                             progress=lambda message, **data: run.note(phase, message, step=action.label, **data))
    except Exception as exc:  # a crashing step is a failed step, and it is journaled
        outcome = StepOutcome(status="failed", detail=f"{exc.__class__.__name__}: {exc}")
    run.journal.append("step_finished", phase=phase, step=action.label, status=outcome.status, detail=outcome.detail,
                       undo=outcome.undo, output=outcome.output, step_kind=step.kind,
                       mode=getattr(step, "mode", None))
    return outcome


def failback_undos(run: DrillRun, phase: str) -> list[tuple[Entry, str]]:
    """Every succeeded step with an undo, newest first (Front Door, then the failovers back, then
    an Azure drill's own outage); an unplanned storage failover is deferred to a person."""
    undos = []
    for entry in reversed(run.journal.entries("step_finished")):
        if entry.data.get("status") != "ok" or not entry.data.get("undo"):
            continue
        label = entry.step or "step"
        if entry.data.get("step_kind") == "azure.storage.failover" and entry.data.get("mode") == "unplanned":
            reason = (f"{label}: after an unplanned failover the account is locally redundant in {run.secondary}; "
                      f"re-enable geo-redundancy, wait until it is Live, then fail it back to {run.primary}")
            run.found.deferred.append(reason)
            run.journal.append("failback_deferred", phase=phase, step=label, reason=reason)
            continue
        undos.append((entry, label))
    return undos


def run_undo(run: DrillRun, entry: Entry, label: str, phase: str, attempts: int = 3) -> bool:
    """Run one journaled undo (spec ▸ parse_undo ▸ run_action); retried, journaled, never raises."""
    spec = entry.data["undo"]
    run.journal.append("undo_started", phase=phase, step=label, undo_of=entry.seq, undo=spec)
    status, detail, attempt = "failed", "", 0
    for attempt in range(1, attempts + 1):
        try:
            outcome = run_action(parse_undo(spec), client=run.client, clock=run.clock, target=run.target,
                                 progress=lambda message, **data: run.note(phase, message, step=label, **data))
            status, detail = ("ok" if outcome.succeeded else "failed"), outcome.detail
        except Exception as exc:  # an undo must never stop the other undos
            status, detail = "failed", f"{exc.__class__.__name__}: {exc}"
        if status == "ok":
            break
        if attempt < attempts:
            run.clock.sleep(max(run.plan.detection.interval, 30.0))
    run.journal.append("undo_finished", phase=phase, step=label, undo_of=entry.seq, status=status,
                       attempts=attempt, detail=detail)
    return status == "ok"


def short(arm_id: str) -> str:
    """The last segment of an ARM id (its resource's name)."""
    return arm_id.rstrip("/").rsplit("/", 1)[-1]
