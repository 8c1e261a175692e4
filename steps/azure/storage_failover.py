"""``azure.storage.failover``: make a region the primary of a geo-redundant storage account.

Observe (GET with ``$expand=geoReplicationStats``: regions, SKU, ``lastSyncTime``,
``canFailover``/``canPlannedFailover``), decide (already primary there: nothing to do; Azure says
it cannot: refuse with its reason), act (POST failover, ``failoverType=Planned`` or none for
unplanned, and wait), verify (GET: the primary moved). The undo is a planned failover back.

An unplanned failover loses every write after ``lastSyncTime`` and leaves the account locally
redundant (LRS) in the new region: its undo can run only after geo-redundancy is re-enabled and
has caught up, and says so when it is tried too early.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from odin_drills.errors import AzureOperationFailed, OdinError
from odin_drills.plan.azure_steps import StorageFailoverStep
from odin_drills.steps.actions.outcome import StepOutcome
from odin_drills.steps.azure.clients import AzureSession
from odin_drills.steps.azure.errors import azure_failure, code_of, one_line, plain
from odin_drills.plan.arm_ids import region_name
from odin_drills.steps.azure.operation import Deadline, Intent, OnOperation, Progress, finish, no_progress, token_of

KIND = "azure.storage.failover"


@dataclass
class AccountView:
    id: str
    name: str
    sku: str
    primary_region: str
    secondary_region: str | None
    status_of_primary: str | None
    status_of_secondary: str | None
    failover_in_progress: bool
    geo_status: str | None
    last_sync_time: str | None
    sync_age_seconds: float | None
    can_failover: bool
    can_planned_failover: bool
    post_failover_redundancy: str | None


def observe(step: StorageFailoverStep, session: AzureSession, deadline: Deadline) -> AccountView:
    ref = step.ref()
    where = f"{KIND} {ref.account}"
    try:
        account = session.storage(ref.subscription_id).storage_accounts.get_properties(
            ref.resource_group, ref.account, expand="geoReplicationStats", **deadline.call(where))
    except Exception as exc:
        raise azure_failure(KIND, ref.account, exc) from None
    p = account.properties
    stats = p.geo_replication_stats
    last_sync = stats.last_sync_time if stats else None
    age = (datetime.now(timezone.utc) - last_sync).total_seconds() if last_sync else None
    return AccountView(
        id=account.id, name=account.name or ref.account, sku=str(plain(account.sku.name) if account.sku else "unknown"),
        primary_region=region_name(p.primary_location), secondary_region=region_name(p.secondary_location) or None,
        status_of_primary=plain(p.status_of_primary), status_of_secondary=plain(p.status_of_secondary),
        failover_in_progress=bool(p.failover_in_progress),
        geo_status=plain(stats.status) if stats else None,
        last_sync_time=last_sync.isoformat().replace("+00:00", "Z") if last_sync else None,
        sync_age_seconds=round(age, 1) if age is not None else None,
        can_failover=bool(stats and stats.can_failover),
        can_planned_failover=bool(stats and stats.can_planned_failover),
        post_failover_redundancy=plain(stats.post_failover_redundancy) if stats else None,
    )


def blocker(step: StorageFailoverStep, view: AccountView) -> str | None:
    """Why Azure would refuse this failover now (None: it can run)."""
    if view.secondary_region is None:
        return (f"{view.name} has no secondary region ({view.sku}): re-enable geo-redundancy (e.g. Standard_GRS) "
                "and wait until geo-replication is Live before failing over")
    if view.secondary_region != step.to_region:
        return f"{view.name} cannot fail over to {step.to_region}: its secondary region is {view.secondary_region}"
    if view.failover_in_progress:
        return f"a failover of {view.name} is already in progress"
    if step.mode == "planned" and not view.can_planned_failover:
        hint = "; an unplanned failover (mode: unplanned, allow_data_loss: true) is" if view.can_failover else ""
        return (f"a planned failover is not possible now (geo-replication {view.geo_status}, primary "
                f"{view.status_of_primary}, canPlannedFailover false){hint}")
    if step.mode == "unplanned" and not view.can_failover:
        return (f"a failover is not possible now (geo-replication {view.geo_status}, secondary "
                f"{view.status_of_secondary}, canFailover false)")
    return None


def data_at_risk(view: AccountView) -> dict[str, Any]:
    age = f", {view.sync_age_seconds:g} s ago" if view.sync_age_seconds is not None else ""
    summary = (f"writes after the last sync ({view.last_sync_time}{age}) are lost; the account becomes "
               f"{view.post_failover_redundancy or 'locally redundant'} in {view.secondary_region}")
    return {"summary": summary, "last_sync_time": view.last_sync_time, "sync_age_seconds": view.sync_age_seconds,
            "geo_status": view.geo_status, "post_failover_redundancy": view.post_failover_redundancy}


def change_text(step: StorageFailoverStep, view: AccountView) -> str:
    if view.primary_region == step.to_region:
        return f"no change: {view.name} already primary in {view.primary_region} ({view.sku})"
    refused = blocker(step, view)
    if refused:
        return f"cannot fail over {view.name} from {view.primary_region} to {step.to_region}: {refused}"
    if step.mode == "unplanned":
        detail = f"unplanned, allowing data loss; {data_at_risk(view)['summary']}"
    else:
        detail = f"planned; geo-replication {view.geo_status}, last sync {view.last_sync_time}, nothing lost"
    return f"would fail over {view.name} from {view.primary_region} to {step.to_region} ({detail})"


def describe(step: StorageFailoverStep, session: AzureSession) -> str:
    try:
        view = observe(step, session, Deadline(min(step.timeout, 30.0)))
    except OdinError as exc:
        return (f"would fail over {step.ref().account} to {step.to_region} ({step.mode}); "
                f"current state unknown: {exc.message}")
    return change_text(step, view)


def undo_for(step: StorageFailoverStep, before: AccountView) -> dict[str, Any]:
    """The automatic undo, from the state read before acting: a planned failover back."""
    return {"kind": KIND, "account": before.id, "to_region": before.primary_region, "mode": "planned",
            "timeout": step.timeout}


def run(step: StorageFailoverStep, session: AzureSession, *, progress: Progress = no_progress,
        intent: Intent | None = None, on_operation: OnOperation | None = None) -> StepOutcome:
    """Observe ▸ decide ▸ compute the undo ▸ ``intent`` (journaled before acting) ▸ act ▸ verify."""
    ref = step.ref()
    where = f"{KIND} {ref.account}"
    deadline = Deadline(step.timeout)
    output: dict[str, Any] = {"mode": step.mode}
    try:
        before = observe(step, session, deadline)
        output["before"] = asdict(before)
        if before.primary_region == step.to_region:
            return StepOutcome(status="noop", detail=change_text(step, before), output=output)
        refused = blocker(step, before)
        if refused:
            failure = AzureOperationFailed(one_line(f"{where}: FailoverNotPossible: {refused}"))
            failure.code = "FailoverNotPossible"  # type: ignore[attr-defined]
            raise failure
        risk = None
        if step.mode == "unplanned":
            risk = data_at_risk(before)
            output["data_at_risk"] = risk
            progress(f"{where}: unplanned failover allows data loss: {risk['summary']}", data_at_risk=risk)
        undo = undo_for(step, before)
        if intent is not None:
            intent(prior=asdict(before), undo=undo, change=change_text(step, before))
        try:
            poller = session.storage(ref.subscription_id).storage_accounts.begin_failover(
                ref.resource_group, ref.account, failover_type="Planned" if step.mode == "planned" else None,
                **deadline.call(where, lro=True))
            if on_operation is not None:
                on_operation(operation="begin_failover", resource=before.id, continuation_token=token_of(poller))
            finish(poller, deadline, where)
        except Exception as exc:
            raise azure_failure(KIND, ref.account, exc) from None
        after = observe(step, session, deadline)
        output["after"] = asdict(after)
        if after.primary_region != step.to_region:
            return StepOutcome(status="failed", output=output, detail=one_line(
                f"{where}: the failover finished but the primary is still {after.primary_region}"))
    except OdinError as exc:
        output["error"] = {"type": exc.__class__.__name__, "code": code_of(exc), "message": exc.message}
        if getattr(exc, "continuation_token", None):
            output["continuation_token"] = exc.continuation_token  # type: ignore[attr-defined]
        return StepOutcome(status="failed", detail=exc.message, output=output)
    detail = (f"failed over {before.name} from {before.primary_region} to {after.primary_region} "
              f"({step.mode}; now {after.sku}")
    if risk:
        detail += (f"; writes after the last sync {risk['last_sync_time']} were lost; failing back needs "
                   "geo-redundancy re-enabled first")
    return StepOutcome(status="ok", detail=one_line(detail + ")"), output=output, undo=undo)


def reached(step: StorageFailoverStep, session: AzureSession) -> tuple[bool, dict[str, Any]]:
    """Reconcile: is ``to_region`` the primary now (and no failover running)? And what was read."""
    view = observe(step, session, Deadline(min(step.timeout, 60.0)))
    return view.primary_region == step.to_region and not view.failover_in_progress, asdict(view)


def follow(step: StorageFailoverStep, session: AzureSession, operation: str, continuation_token: str,
           seconds: float | None = None) -> None:
    """Reconcile: poll a journaled failover (by its continuation token) until it ends."""
    ref = step.ref()
    deadline = Deadline(seconds or step.timeout)
    try:
        poller = session.storage(ref.subscription_id).storage_accounts.begin_failover(
            ref.resource_group, ref.account, continuation_token=continuation_token)
        finish(poller, deadline, f"{KIND} {ref.account}")
    except Exception as exc:
        raise azure_failure(KIND, ref.account, exc) from None


def reachability_problem(step: StorageFailoverStep, session: AzureSession) -> str | None:
    try:
        observe(step, session, Deadline(min(step.timeout, 15.0)))
    except OdinError as exc:
        return exc.message
    return None
