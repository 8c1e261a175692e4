"""The failover's world-changing actions and their undos.

    failover_waves(run)        SQL failover groups and storage accounts (one wave, run in parallel),
                               then Front Door to the DR region (``frontdoor`` and any
                               ``frontdoor_groups``, one wave); which server becomes primary is
                               read from Azure now, while the primary still answers
    frontdoor_step(run, ...)   the azure.frontdoor.origins step for the primary/DR origins
    execute_action(run, a, p)  one step, write-ahead (``steps.intent``): its identity, observed state
                               and undo journaled (fsynced) before it acts, its outcome after — so a
                               drill killed mid-action is reconciled and undone like a migration
    failback_batches(run)      the pending undos (``steps.intent.pending_undos``: each change once,
                               newest first, the data tier's before traffic: ``steps.dr.order``), in
                               batches that may run at once; an unplanned storage failover is left to
                               a person (journaled as failback_deferred); the plan's ``steps.failback``
                               changes are not undone (``drill_undos``: they are where the drill means
                               to end). ``failback_undos``: the same, one list
    run_undo(run, entry, l)    one journaled undo: retried, journaled with the step's identity, never raises
    undo_entry(journal, ...)   the same without a DrillRun (``odin rollback`` of a drill after a crash)
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from odin_drills.plan.azure_steps import is_azure_step
from odin_drills.plan.steps import Step
from odin_drills.steps import intent as wal
from odin_drills.steps.actions import StepOutcome, parse_undo, run_action
from odin_drills.steps.azure.clients import AzureSession
from odin_drills.steps.dr.azure_reads import partner_server, short
from odin_drills.steps.dr.order import data_first, undo_batches
from odin_drills.steps.dr.run import Action, DrillRun
from odin_drills.steps.journal import Entry, Journal

STEPS = TypeAdapter(Step)
KEPT_PHASE = "failback"
"""The journal phase of the plan's ``steps.failback``: their changes bring the service home, so
their undos are journaled (the step's rules) but never run by a failback, clean-up or rollback."""


def failover_waves(run: DrillRun) -> list[list[Action]]:
    data_tier: list[Action] = []
    if run.resources.failover_groups:
        with AzureSession(run.target) as session:  # one session for every group's read
            for spec in run.resources.failover_groups:
                step = STEPS.validate_python({
                    "kind": "azure.sql.failover", "name": f"sql {short(spec.id)} -> {run.secondary}",
                    "failover_group": spec.id, "to_server": partner_server(spec.id, session, run.secondary),
                    "mode": spec.mode, "allow_data_loss": spec.allow_data_loss})
                data_tier.append(Action(step.name, step))
    for account in run.resources.storage_accounts:
        step = STEPS.validate_python({
            "kind": "azure.storage.failover", "name": f"storage {short(account.id)} -> {run.secondary}",
            "account": account.id, "to_region": run.secondary, "mode": account.mode,
            "allow_data_loss": account.allow_data_loss})
        data_tier.append(Action(step.name, step))
    waves = [data_tier] if data_tier else []
    groups = ([run.resources.frontdoor] if run.resources.frontdoor is not None else []) + run.resources.frontdoor_groups
    if groups:
        waves.append([Action(f"frontdoor {short(spec.origin_group)} -> {run.secondary}",
                             frontdoor_step(run, primary_enabled=False, dr_priority=1, spec=spec)) for spec in groups])
    return waves


def frontdoor_step(run: DrillRun, *, primary_enabled: bool, dr_priority: int | None, spec: Any = None) -> Any:
    """The origins step of ``spec`` (default: the drill's ``resources.frontdoor``)."""
    spec = spec if spec is not None else run.resources.frontdoor
    assert spec is not None
    origins: dict[str, Any] = {spec.origins[run.primary]: {"enabled": primary_enabled},
                               spec.origins[run.secondary]: {"enabled": True}}
    if dr_priority is not None:
        origins[spec.origins[run.secondary]]["priority"] = dr_priority
    return STEPS.validate_python({"kind": "azure.frontdoor.origins", "name": f"frontdoor {short(spec.origin_group)}",
                                  "origin_group": spec.origin_group, "origins": origins})


def execute_action(run: DrillRun, action: Action, phase: str) -> StepOutcome:
    """One world-changing step, write-ahead: ``step_started``, ``step_intent`` (observed state and
    undo, fsynced before the first change), ``step_finished`` with the undo the failback runs. The
    drill's id is the step identity's ``migration``."""
    return wal.execute(run.journal, action.step, phase=phase, label=action.label, migration=run.drill_id,
                       client=run.client, clock=run.clock, target=run.target,
                       progress=lambda message, **data: run.note(phase, message, step=action.label, **data))


def changed_spec(entries: list[Entry], entry: Entry) -> dict[str, Any]:
    """The step (as journaled by its intent) whose change ``entry`` holds the undo of."""
    item = wal.history(entries).get(wal.key_of(entry.phase, entry.step))
    for attempt in (item.attempts if item else []):
        if attempt.intent is not None:
            return dict(attempt.intent.data.get("spec") or {})
    return {"kind": entry.data.get("step_kind"), "mode": entry.data.get("mode")}  # drills before write-ahead


def deferred_reason(spec: dict[str, Any], label: str, primary: str, secondary: str) -> str | None:
    """Why this change is not undone by odin (None: it is): after an unplanned storage failover the
    account is locally redundant in the DR region; failing it back is a person's job."""
    if spec.get("kind") == "azure.storage.failover" and spec.get("mode") == "unplanned":
        return (f"{label}: after an unplanned failover the account is locally redundant in {secondary}; "
                f"re-enable geo-redundancy, wait until it is Live, then fail it back to {primary}")
    return None


def drill_undos(entries: list[Entry]) -> list[Entry]:
    """``steps.intent.pending_undos`` less the failback steps' changes (``KEPT_PHASE``)."""
    return [e for e in wal.pending_undos(entries) if e.phase != KEPT_PHASE]


def pending_drill_undos(journal: Journal, phase: str, primary: str, secondary: str) -> tuple[list[tuple[Entry, str]],
                                                                                            list[str]]:
    """Every change that happened (or may have) and is not undone yet, once per step identity: the
    data tier's first, then traffic, each newest first (``steps.dr.order.data_first``); the deferred
    ones journaled (``failback_deferred``, once) and returned apart."""
    undos, deferred = _pending_with_kinds(journal, phase, primary, secondary)
    return data_first(undos), deferred


def _pending_with_kinds(journal: Journal, phase: str, primary: str,
                        secondary: str) -> tuple[list[tuple[tuple[Entry, str], str | None]], list[str]]:
    """``pending_drill_undos``' undos newest first, each with the kind of the change it undoes."""
    entries = journal.entries()
    already = {(e.step, e.data.get("reason")) for e in entries if e.kind == "failback_deferred"}
    undos: list[tuple[tuple[Entry, str], str | None]] = []
    deferred = []
    for entry in drill_undos(entries):
        label = entry.step or "step"
        spec = changed_spec(entries, entry)
        reason = deferred_reason(spec, label, primary, secondary)
        if reason is None:
            undos.append(((entry, label), spec.get("kind")))
            continue
        deferred.append(reason)
        if (label, reason) not in already:
            journal.append("failback_deferred", phase=phase, step=label, reason=reason)
    return undos, deferred


def failback_undos(run: DrillRun, phase: str) -> list[tuple[Entry, str]]:
    """Every pending undo, in the failback's order: ``failback_batches`` one after another."""
    return [undo for batch in failback_batches(run, phase) for undo in batch]


def failback_batches(run: DrillRun, phase: str) -> list[list[tuple[Entry, str]]]:
    """Every pending undo: the failovers back first, then Front Door and an Azure drill's own outage
    (each group newest first); an unplanned storage failover is deferred to a person. An action whose
    Azure operation outlived its timeout (its intent still open) is followed to its end first. In
    batches (``steps.dr.order.undo_batches``): the runbook's own failovers back, a batch per tier, may
    run at once; the rest one at a time, in order."""
    wal.reconcile(run.journal, target=run.target, migration=run.drill_id)
    undos, deferred = _pending_with_kinds(run.journal, phase, run.primary, run.secondary)
    run.found.deferred.extend(r for r in deferred if r not in run.found.deferred)
    return undo_batches([(undo, kind, _resource(undo[0].data.get("undo") or {})) for undo, kind in undos])


def _resource(spec: dict[str, Any]) -> str | None:
    """The one resource a failover action's undo changes (its batch may hold no other undo of it)."""
    named = spec.get("failover_group") or spec.get("account") or spec.get("origin_group")
    return f"{spec.get('kind')}:{spec.get('server') or ''}/{named}" if named else None


def undo_entry(journal: Journal, entry: Entry, label: str, phase: str, *, client: Any, clock: Any, target: Any,
               retry_wait: float, attempts: int = 3, progress: Any = None, secrets: Any = None) -> bool:
    """Run one journaled undo (spec ▸ parse_undo ▸ run_action), journaled under the undone step's
    identity (``key``: an undo that finished ok is never run again) with its Azure operations (so an
    undo killed mid-flight is followed, not repeated); retried, never raises."""
    spec = entry.data["undo"]
    key = wal.key_of(entry.phase, entry.step)
    journal.append("undo_started", phase=phase, step=label, undo_of=entry.seq, undo=spec, key=key)

    def on_operation(operation: str, resource: str, continuation_token: str | None) -> None:
        journal.append("operation_started", phase=phase, step=label, operation=operation, resource=resource,
                       continuation_token=continuation_token, undo_of=key)

    status, detail, attempt = "failed", "", 0
    for attempt in range(1, attempts + 1):
        try:
            step = parse_undo(spec)
            outcome = run_action(step, client=client, clock=clock, target=target, progress=progress, secrets=secrets,
                                 on_operation=on_operation if is_azure_step(step) else None)
            status, detail = ("ok" if outcome.succeeded else "failed"), outcome.detail
        except Exception as exc:  # an undo must never stop the other undos
            status, detail = "failed", f"{exc.__class__.__name__}: {exc}"
        if status == "ok":
            break
        if attempt < attempts:
            clock.sleep(retry_wait)
    journal.append("undo_finished", phase=phase, step=label, undo_of=entry.seq, key=key, status=status,
                   attempts=attempt, detail=detail)
    return status == "ok"


def run_undo(run: DrillRun, entry: Entry, label: str, phase: str, attempts: int = 3) -> bool:
    """One journaled undo of this run (``undo_entry``)."""
    return undo_entry(run.journal, entry, label, phase, client=run.client, clock=run.clock, target=run.target,
                      retry_wait=max(run.plan.detection.interval, 30.0), attempts=attempts, secrets=run.plan.secrets,
                      progress=lambda message, **data: run.note(phase, message, step=label, **data))


