"""The geo-redundant storage account: its ``lastSyncTime``, its two failovers, and its blobs.

The account's ``lastSyncTime`` trails writes by the storage lag (a ``GeoReplica``). Azure offers
two customer-initiated failovers, and they differ in what they cost:

- **planned** (``failoverType=Planned``): waits for the secondary, swaps the regions, stays GRS,
  loses nothing; it needs both regions available and in sync;
- **unplanned** (no ``failoverType``): the secondary becomes an LRS (or ZRS) primary, and the
  writes after the last sync are lost. While it runs the account's endpoints are away.

Storage's control plane keeps answering during a region outage (that is how customers fail
over), unlike SQL's; only the data plane of the primary region goes dark.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .blob_pitr import TOMBSTONE
from .clock import iso
from .errors import ArmError, DataPlaneUnavailable, OperationError
from .operations import Operation
from .replication import GeoReplica
from .world_base import WorldBase
from .world_writes import AckedWrite


@dataclass
class StorageAccount:
    name: str
    sku: str
    primary_region: str
    secondary_region: str | None
    replica: GeoReplica
    created_at: float
    kind: str = "StorageV2"
    last_failover_at: float | None = None
    busy_with: str | None = None


class StorageRules(WorldBase):
    """Storage accounts, their geo-replication stats and failovers, and the blobs."""

    storage_accounts: dict[str, StorageAccount]

    # ===================================================================== estate and time
    def _reset_storage(self, now: float) -> None:
        """One Standard_GRS account, primary in the primary region."""
        t = self.topology
        self.storage_accounts = {t.storage_account: StorageAccount(
            name=t.storage_account, sku="Standard_GRS", primary_region=t.primary_region,
            secondary_region=t.secondary_region,
            replica=GeoReplica(t.primary_region, t.secondary_region, self.storage_lag, now),
            created_at=now)}

    def _replicate_storage(self, at: float) -> None:
        for account in self.storage_accounts.values():
            if account.secondary_region is not None:
                account.replica.advance(at, self._link_up(account.primary_region, account.secondary_region))

    def _storage_summary(self) -> dict[str, Any]:
        return {a.name: {
            "sku": a.sku, "primary_region": a.primary_region, "secondary_region": a.secondary_region,
            "last_sync_time": iso(a.replica.synced_through) if a.secondary_region else None,
            "pending_writes": a.replica.pending, "busy_with": a.busy_with,
        } for a in self.storage_accounts.values()}

    # ===================================================================== control plane
    def storage_account(self, name: str) -> StorageAccount:
        """Storage's control plane stays up in an outage: that is how customers fail over."""
        with self.lock:
            self.advance()
            account = self._find(self.storage_accounts, name)
            if account is None:
                raise ArmError(404, "ResourceNotFound",
                               f"The Resource 'Microsoft.Storage/storageAccounts/{name}' under resource "
                               f"group '{self.topology.resource_group}' was not found.")
            return account

    def geo_replication_stats(self, account: StorageAccount) -> dict[str, Any] | None:
        with self.lock:
            if account.secondary_region is None:
                return None
            link = self._link_up(account.primary_region, account.secondary_region)
            status = "Unavailable" if not link else ("Bootstrap" if account.replica.seeding else "Live")
            idle = account.busy_with is None
            return {
                "status": status,
                "lastSyncTime": iso(account.replica.synced_through),
                "canFailover": idle and not self.region_down(account.secondary_region),
                "canPlannedFailover": idle and status == "Live",
                "postFailoverRedundancy": _post_failover_sku(account.sku),
                "postPlannedFailoverRedundancy": account.sku,
            }

    def begin_storage_failover(self, name: str, planned: bool) -> Operation:
        op_name = "storage_failover"
        with self.lock:
            account = self.storage_account(name)
            resource_id = self.topology.storage_account_id(account.name)
            now = self.clock()
            failover_type = "Planned" if planned else None
            if account.busy_with is not None:
                self._refuse(op_name, resource_id, 409, "StorageAccountOperationInProgress",
                             f"An operation ({account.busy_with}) is already in progress on storage "
                             f"account '{account.name}'.", {"failoverType": failover_type})
            seconds = self._seconds(op_name)
            if planned and account.secondary_region and self._link_up(account.primary_region,
                                                                      account.secondary_region):
                seconds = max(seconds, account.replica.caught_up_at(now) - now)

            def apply(at: float) -> None:
                self._complete_storage_failover(account, planned, op, at)

            def release() -> None:
                account.busy_with = None

            op = self.operations.start(
                name=op_name, resource_id=resource_id, location=account.primary_region,
                provider="Microsoft.Storage", now=now, seconds=seconds, apply=apply, release=release,
                details={"failoverType": failover_type, "from_region": account.primary_region,
                         "to_region": account.secondary_region})
            account.busy_with = op.id
            return op

    def _complete_storage_failover(self, account: StorageAccount, planned: bool, op: Operation,
                                   at: float) -> None:
        if account.secondary_region is None:
            raise OperationError("FailoverNotSupported",
                                 f"Storage account '{account.name}' ({account.sku}) has no secondary "
                                 "region to fail over to.")
        old, new = account.primary_region, account.secondary_region
        if self.region_down(new):
            raise OperationError("SecondaryRegionUnavailable",
                                 f"The secondary region '{new}' of storage account '{account.name}' "
                                 "is unavailable.")
        if planned:
            if self.region_down(old) or account.replica.seeding:
                raise OperationError(
                    "PlannedFailoverNotAllowed",
                    f"Planned failover of storage account '{account.name}' needs both regions "
                    f"available and in sync; the primary region '{old}' is unavailable. Use an "
                    "unplanned failover (no failoverType) instead.")
            account.replica.drain(at)
            account.replica.swap()
            account.primary_region, account.secondary_region = new, old
            lost = 0
        else:
            lost = len(account.replica.promote_secondary(at, keep_old_primary=False))
            account.primary_region, account.secondary_region = new, None
            account.sku = _post_failover_sku(account.sku)
        account.last_failover_at = at
        op.details["lost_writes"] = lost

    # ===================================================================== the blobs
    def write_blob(self, app_region: str, name: str, data: bytes, content_type: str) -> AckedWrite:
        """Write a blob to the storage account's primary endpoint."""
        t = self.topology
        with self.lock:
            self.advance()
            account = self.storage_accounts[t.storage_account]
            self._require_storage_primary(account)
            self._require_not_restoring(account.name, name)
            return self.ledger.acknowledge(
                account.replica, kind="blob", key=name, write_id=self._new_id(),
                store=t.storage_account_id(account.name), app_region=app_region,
                committed_on=account.primary_region, payload=data, content_type=content_type,
                at=self.clock())

    def read_blob(self, name: str) -> tuple[bytes, str] | None:
        with self.lock:
            self.advance()
            account = self.storage_accounts[self.topology.storage_account]
            self._require_storage_primary(account)
            self._require_not_restoring(account.name, name)
            record = account.replica.read(name)
            if record is not None and record.write_id.startswith(TOMBSTONE):
                return None  # a blob restore removed it (``blob_pitr``)
            return self.ledger.payload(record)

    def _require_not_restoring(self, account_name: str, name: str) -> None:
        """``blob_pitr`` refuses blobs of a range being restored; ``World`` provides it."""
        raise NotImplementedError

    def _require_storage_primary(self, account: StorageAccount) -> None:
        running = self.operations.get(account.busy_with) if account.busy_with else None
        if running is not None and running.details.get("failoverType") is None:
            # an unplanned failover takes the account's endpoints away until it is done
            raise DataPlaneUnavailable("AccountFailoverInProgress",
                                       f"Storage account '{account.name}' is failing over.")
        if self.region_down(account.primary_region):
            raise DataPlaneUnavailable(
                "StorageUnavailable",
                f"The primary endpoint of '{account.name}' in '{account.primary_region}' does not answer.")


def _post_failover_sku(sku: str) -> str:
    """After an unplanned failover the account keeps one region: GRS/RAGRS → LRS, GZRS → ZRS."""
    family, _, redundancy = sku.partition("_")
    return f"{family}_{'ZRS' if redundancy.endswith('GZRS') else 'LRS'}"
