"""Point-in-time restore of block blobs: a storage account's blob ranges put back as they were.

Azure restores blobs *in place* (``POST .../storageAccounts/{account}/restoreBlobRanges`` with
``timeToRestore`` and ``blobRanges``, each ``[startRange, endRange)`` as ``container/blob``
strings, empty meaning the account's start or end): every blob in a range becomes what it was at
the point — its version of then, or no blob when it did not exist yet. It needs blob versioning,
the change feed and a restore policy; the model:

- **history**: every acknowledged blob write (the ledger) plus every change a restore applied, so
  a second restore (a drill's restore-back) sees what the first did;
- **the restore window**: from the account's creation (or ``now - pitr_blob_retention``, the
  later) to now; a point outside it is refused with 400 ``InvalidRestorePointInTime``; Azure
  restores exactly to the point (versions are kept per write), so no lag applies;
- **one restore at a time** per account (409 ``BlobRestoreInProgress``), and while it runs the
  blobs in its ranges can be neither read nor written (the region app answers 503), as Azure
  blocks data operations on restoring ranges;
- **duration proportional to the work**: ``pitr_blob_base_seconds`` + ``pitr_blob_seconds_per_change``
  per blob the restore changes, on the sandbox's clock; the changes are applied when it is due;
- a restored blob is a new write of its old version on the primary (it geo-replicates like any
  write); a blob that did not exist at the point gets a *tombstone* record, read as absent.

Ground truth for tests: ``blob_restore_report()``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .clock import iso
from .errors import DataPlaneUnavailable
from .operations import Operation
from .pitr import _epoch
from .replication import Record
from .world_base import WorldBase

BLOB_RESTORE_OPERATION = "blobRangesRestore"
TOMBSTONE = "restore-deleted:"


@dataclass
class BlobRestore:
    """One restore of blob ranges: what was asked, what it changes, where it is."""

    restore_id: str
    account: str
    time_to_restore: float
    ranges: list[tuple[str, str]]
    requested_at: float
    status: str = "InProgress"
    failure_reason: str | None = None
    completed_at: float | None = None
    restored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def covers(self, name: str) -> bool:
        return any(in_range(name, start, end) for start, end in self.ranges)

    def parameters(self) -> dict[str, Any]:
        return {"timeToRestore": iso(self.time_to_restore),
                "blobRanges": [{"startRange": s, "endRange": e} for s, e in self.ranges]}

    def status_body(self) -> dict[str, Any]:
        """The ``BlobRestoreStatus`` shape (a monitor's body, and ``$expand=blobRestoreStatus``)."""
        body: dict[str, Any] = {"status": self.status, "restoreId": self.restore_id, "parameters": self.parameters()}
        if self.failure_reason:
            body["failureReason"] = self.failure_reason
        return body


def in_range(name: str, start: str, end: str) -> bool:
    """``[start, end)`` over ``container/blob`` names; empty means the account's start / end."""
    return (not start or name >= start) and (not end or name < end)


class BlobPitrRules(WorldBase):
    """Blob point-in-time restore on the storage accounts (see the module doc)."""

    blob_restores: dict[str, list[BlobRestore]]
    blob_history: dict[str, list[Record]]
    pitr_blob_base_seconds: float
    pitr_blob_seconds_per_change: float
    pitr_blob_retention_seconds: float

    def _reset_blob_pitr(self) -> None:
        self.blob_restores = {}
        self.blob_history = {}

    # ===================================================================== reading
    def blob_restore_status(self, account_name: str) -> dict[str, Any] | None:
        """The account's latest restore (``$expand=blobRestoreStatus``), None when it never had one."""
        with self.lock:
            account = self.storage_account(account_name)  # type: ignore[attr-defined]
            latest = (self.blob_restores.get(account.name) or [None])[-1]
            return latest.status_body() if latest else None

    def earliest_blob_restore_point(self, account_name: str) -> float:
        with self.lock:
            account = self.storage_account(account_name)  # type: ignore[attr-defined]
            return max(account.created_at, self.clock() - self.pitr_blob_retention_seconds)

    def _restoring(self, account_name: str, name: str) -> BlobRestore | None:
        running = [r for r in self.blob_restores.get(account_name, []) if r.status == "InProgress"]
        return next((r for r in running if r.covers(name)), None)

    def _require_not_restoring(self, account_name: str, name: str) -> None:
        """Called by the blob data plane: a range being restored takes no reads or writes."""
        running = self._restoring(account_name, name)
        if running is not None:
            raise DataPlaneUnavailable("OperationNotAllowedOnBlobRange",
                                       f"Blob '{name}' is in a range being restored ({running.restore_id}).")

    def _history(self, account: Any) -> list[Record]:
        """Every version the account's primary ever held, oldest first."""
        store = self.topology.storage_account_id(account.name)
        held = account.replica.copies[account.replica.primary].write_ids
        written = [Record(key=w.key, write_id=w.id, at=w.at) for w in self.ledger.writes("blob")
                   if w.store == store and w.id in held]
        return sorted(written + self.blob_history.get(account.name, []), key=lambda r: r.at)

    def _state_at(self, history: list[Record], point: float) -> dict[str, Record]:
        state: dict[str, Record] = {}
        for record in history:
            if record.at <= point:
                state[record.key] = record
        return state

    # ===================================================================== restore
    def begin_blob_ranges_restore(self, account_name: str, body: Any) -> tuple[Operation, BlobRestore]:
        with self.lock:
            self.advance()
            account = self.storage_account(account_name)  # type: ignore[attr-defined]
            resource_id = self.topology.storage_account_id(account.name)
            body = body if isinstance(body, dict) else {}
            lowered = {str(k).lower(): v for k, v in body.items()}  # the REST spec spells it timetoRestore
            raw_point, raw_ranges = lowered.get("timetorestore"), lowered.get("blobranges")
            ranges = _ranges(raw_ranges)
            if ranges is None:
                self._refuse(BLOB_RESTORE_OPERATION, resource_id, 400, "InvalidBlobRange",
                             "blobRanges must be a non-empty list of {startRange, endRange} with startRange < endRange.")
            assert ranges is not None
            point = _epoch(raw_point)
            now = self.clock()
            earliest = self.earliest_blob_restore_point(account.name)
            if point is None or point < earliest or point > now:
                self._refuse(BLOB_RESTORE_OPERATION, resource_id, 400, "InvalidRestorePointInTime",
                             f"timeToRestore '{raw_point}' is outside the restore window of '{account.name}': "
                             f"from {iso(earliest)} to {iso(now)}.")
            assert point is not None
            if any(r.status == "InProgress" for r in self.blob_restores.get(account.name, [])):
                self._refuse(BLOB_RESTORE_OPERATION, resource_id, 409, "BlobRestoreInProgress",
                             f"A blob restore is already in progress on storage account '{account.name}'.")
            if self.region_down(account.primary_region):
                self._refuse(BLOB_RESTORE_OPERATION, resource_id, 409, "StorageUnavailable",
                             f"The primary region '{account.primary_region}' of '{account.name}' does not answer.")
            restore = BlobRestore(restore_id=self._new_id(), account=account.name, time_to_restore=point,
                                  ranges=ranges, requested_at=now)
            history = self._history(account)
            then, current = self._state_at(history, point), self._state_at(history, now)
            changes = self._changes(restore, then, current)
            slow = self.faults.operation_seconds(BLOB_RESTORE_OPERATION)
            seconds = slow if slow is not None else (self.pitr_blob_base_seconds
                                                     + len(changes) * self.pitr_blob_seconds_per_change)

            def apply(at: float) -> None:
                for key, record in changes.items():
                    applied = Record(key=key, write_id=record.write_id if record else f"{TOMBSTONE}{restore.restore_id}",
                                     at=at)
                    account.replica.write(applied)
                    self.blob_history.setdefault(account.name, []).append(applied)
                    (restore.restored if record else restore.removed).append(key)
                restore.status, restore.completed_at = "Complete", at

            def release() -> None:
                if restore.status == "InProgress":  # the operation failed: Azure reports why
                    restore.status = "Failed"
                    restore.failure_reason = (op.error or {}).get("message", "the restore failed")

            op = self.operations.start(
                name=BLOB_RESTORE_OPERATION, resource_id=resource_id, location=account.primary_region,
                provider="Microsoft.Storage", now=now, seconds=seconds, apply=apply, release=release,
                details={"account": account.name, "restore_id": restore.restore_id, "time_to_restore": iso(point),
                         "blob_ranges": restore.parameters()["blobRanges"], "changes": len(changes), "kind": "blobs"})
            self.blob_restores.setdefault(account.name, []).append(restore)
            return op, restore

    @staticmethod
    def _changes(restore: BlobRestore, then: dict[str, Record],
                 current: dict[str, Record]) -> dict[str, Record | None]:
        """Per blob in the ranges: the version to put back, or None to remove it."""
        changes: dict[str, Record | None] = {}
        for key in sorted(set(then) | set(current)):
            if not restore.covers(key):
                continue
            old, now = then.get(key), current.get(key)
            old = None if old is None or old.write_id.startswith(TOMBSTONE) else old
            now = None if now is None or now.write_id.startswith(TOMBSTONE) else now
            if (old and old.write_id) != (now and now.write_id):
                changes[key] = old
        return changes

    def blob_restore_of(self, op: Operation) -> BlobRestore | None:
        with self.lock:
            restores = self.blob_restores.get(op.details.get("account", ""), [])
            return next((r for r in restores if r.restore_id == op.details.get("restore_id")), None)

    def blob_restore_report(self) -> list[dict[str, Any]]:
        """Ground truth: every blob restore, its point, ranges and what it changed."""
        with self.lock:
            self.advance()
            return [{**r.status_body(), "account": r.account, "time_to_restore_epoch": r.time_to_restore,
                     "requested_at_epoch": r.requested_at, "completed_at_epoch": r.completed_at,
                     "restored": list(r.restored), "removed": list(r.removed)}
                    for restores in self.blob_restores.values() for r in restores]


def _ranges(value: Any) -> list[tuple[str, str]] | None:
    if not isinstance(value, list) or not value:
        return None
    ranges = []
    for item in value:
        if not isinstance(item, dict):
            return None
        start, end = item.get("startRange"), item.get("endRange")
        if not isinstance(start, str) or not isinstance(end, str) or (start and end and start >= end):
            return None
        ranges.append((start, end))
    return ranges
