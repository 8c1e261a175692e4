"""The read-only questions a failover asks Azure, through the same SDK clients as its actions.

    partner_server(group id, target, r)   the failover group's server in region r (to become primary)
    read_replication(steps, target)       who is primary and how replication stands, as ARM says now:
                                          a ``ReplicationRead`` (the journal's state, each storage
                                          account's answer stamped with when it came)
    replication_evidence(outcomes, now)   what the APIs reported around the failover, for the scorecard

Nothing here changes Azure: the world-changing actions are ``odin_drills.steps.actions.run_action``'s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from odin_drills.errors import UsageError
from odin_drills.steps.dr.scorecard import ReplicationEvidence

def partner_server(failover_group_id: str, target: Any, region: str) -> str:
    """The ARM id of the failover group's server in ``region`` (the one to become primary).
    ``target`` may be an ``AzureSession`` already open (a drill of hundreds of groups reads them all
    through one, over the same connections)."""
    from odin_drills.steps.azure import AzureSession
    from odin_drills.plan.arm_ids import ArmId, parse_arm_id, region_name

    ref = parse_arm_id(failover_group_id)
    server = ref.name_of("servers") or ""
    try:
        session, owned = AzureSession.of(target)
        try:
            group = session.sql(ref.subscription_id).failover_groups.get(ref.resource_group, server, ref.name)
        finally:
            if owned:
                session.close()
    except UsageError:
        raise
    except Exception as exc:
        raise UsageError(f"resources.failover_groups: cannot read {ref.name} through server {server} "
                         f"({exc.__class__.__name__}: {_first_line(exc)}); in an incident name the group through "
                         "the server in the DR region") from None
    if region_name(group.location) == region:  # the id names the group through that very server
        return str(ArmId(ref.subscription_id, ref.resource_group, ref.namespace, ref.segments[:-1]))
    for partner in group.properties.partner_servers or []:
        if region_name(partner.location) == region:
            return str(partner.id)
    raise UsageError(f"resources.failover_groups: {ref.name} has no server in {region} "
                     f"(it is in {region_name(group.location)})")


@dataclass(frozen=True)
class StorageRead:
    """One storage account's ``geoReplicationStats`` as one GET returned them, stamped with the wall
    time the answer came back (``read_at``): ``lastSyncTime`` is Azure's wall clock, so the lag is
    ``read_at - last_sync_time``, of this very answer. ``error`` when the GET failed."""

    account: str
    read_at: datetime
    last_sync_time: datetime | None = None
    sku: str | None = None
    error: str | None = None


@dataclass
class ReplicationRead:
    """One read of replication, as ARM answered it. ``state`` is what the journal's ``replication``
    entry holds; ``storage`` keeps each storage step's answer by its label, so the lag judged later
    comes from this read (``steps.dr.replication_lag``) instead of asking ARM a second time."""

    state: dict[str, Any]
    storage: dict[str, StorageRead] = field(default_factory=dict)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def read_replication(steps: list[tuple[str, Any]], target: Any,
                     now: Callable[[], datetime] = utc_now) -> ReplicationRead:
    """For each (label, failover step): who is primary and how replication stands, as ARM says
    now. A read that fails is reported in ``errors``, never raised. ``now`` stamps each storage
    answer (wall time: what Azure's ``lastSyncTime`` is measured against)."""
    from odin_drills.steps.azure import AzureSession

    read = ReplicationRead(state={"failover_groups": {}, "storage_accounts": {}})
    try:
        session = AzureSession(target)
    except Exception as exc:
        why = f"{exc.__class__.__name__}: {_first_line(exc)}"
        read.state["errors"] = [why]
        read.storage = {label: StorageRead(account=short(step.account), read_at=now(), error=why)
                        for label, step in steps if step.kind == "azure.storage.failover"}
        return read
    with session:
        for label, step in steps:
            try:
                if step.kind == "azure.sql.failover":
                    name, group = _failover_group(session, step)
                    read.state["failover_groups"][name] = group
                elif step.kind == "azure.storage.failover":
                    read.storage[label], shown = _storage_account(session, step, now)
                    read.state["storage_accounts"][read.storage[label].account] = shown
            except Exception as exc:  # noqa: BLE001 - a read that fails is evidence too
                why = f"{exc.__class__.__name__}: {_first_line(exc)}"
                read.state.setdefault("errors", []).append(f"{label}: {why}")
                if step.kind == "azure.storage.failover":
                    read.storage[label] = StorageRead(account=short(step.account), read_at=now(), error=why)
    return read


def _failover_group(session: Any, step: Any) -> tuple[str, dict[str, Any]]:
    """The group's name, and who is primary and its replication state, as ARM says now."""
    from odin_drills.plan.arm_ids import parse_arm_id, region_name

    ref = parse_arm_id(step.to_server)
    name = step.ref().failover_group
    group = session.sql(ref.subscription_id).failover_groups.get(ref.resource_group, ref.name, name)
    role = str(_plain(group.properties.replication_role)).lower()
    primary = region_name(group.location) if role == "primary" else next(
        (region_name(p.location) for p in group.properties.partner_servers or []), None)
    return name, {"primary_region": primary, "replication_state": _plain(group.properties.replication_state)}


def _storage_account(session: Any, step: Any, now: Callable[[], datetime]) -> tuple[StorageRead, dict[str, Any]]:
    """One GET with ``geoReplicationStats``: the stamped read, and what the journal shows of it."""
    from odin_drills.plan.arm_ids import parse_arm_id, region_name

    ref = parse_arm_id(step.account)
    account = session.storage(ref.subscription_id).storage_accounts.get_properties(
        ref.resource_group, ref.name, expand="geoReplicationStats")
    read_at = now()
    stats = account.properties.geo_replication_stats
    synced = stats.last_sync_time if stats else None
    sku = _plain(account.sku.name) if account.sku else None
    shown = {"primary_region": region_name(account.properties.primary_location), "sku": sku,
             "geo_replication": _plain(stats.status) if stats else None,
             "last_sync_time": synced.isoformat() if synced else None}
    return StorageRead(account=ref.name, read_at=read_at, last_sync_time=synced, sku=sku), shown


def replication_evidence(outcomes: list[tuple[Any, Any]], now: dict[str, Any]) -> ReplicationEvidence:
    """What the APIs reported around the failover, as reported: the replication state each SQL
    failover read before acting, and the storage account's last sync time; ``now`` (a
    ``read_replication`` answer) when the failovers said nothing."""
    sql_state = storage_sync = None
    for step, outcome in outcomes:
        risk = outcome.output.get("data_at_risk") or {}
        before = outcome.output.get("before") or {}
        if step.kind == "azure.sql.failover":
            sql_state = sql_state or risk.get("replication_state") or before.get("replication_state")
        elif step.kind == "azure.storage.failover":
            storage_sync = storage_sync or risk.get("last_sync_time") or before.get("last_sync_time")
    if sql_state is None:
        sql_state = next((g.get("replication_state") for g in now.get("failover_groups", {}).values()), None)
    synced = None
    if storage_sync:
        with contextlib.suppress(ValueError):
            synced = datetime.fromisoformat(str(storage_sync).replace("Z", "+00:00"))
    return ReplicationEvidence(replication_state=sql_state, storage_last_sync_time=synced)


def short(arm_id: str) -> str:
    """The last segment of an ARM id (its resource's name)."""
    return str(arm_id).rstrip("/").rsplit("/", 1)[-1]


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0][:200] if text else ""
