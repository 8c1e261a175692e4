"""Point-in-time restore (PITR) of the orders database: continuous backups, and restored copies.

Azure SQL backs a database up continuously (full and differential backups plus transaction-log
backups every few minutes, in practice seconds behind): any instant inside the retention window
can be restored *to a new database* on the same server (``PUT .../databases/{new}`` with
``createMode: PointInTimeRestore``, ``sourceDatabaseId``, ``restorePointInTime``). The model:

- **the restore window**: from the database's creation (or ``now - retention``, the later) to now;
  a point outside it is refused with 400 ``InvalidRestorePointInTime``;
- **log-backup lag** (``pitr_log_lag``, the handbook's "RPO 5 s"): at the moment of the request,
  writes newer than ``request - lag`` are not in any log backup yet, so a point later than that
  restores only up to ``request - lag`` — the writes in between are what a restore loses;
- **granularity** (``pitr_granularity``, 0 = continuous): the effective point is floored to it;
- **duration proportional to size**: ``pitr_base_seconds + size_GiB * pitr_seconds_per_gib`` on
  the sandbox's clock (a ``ManualClock`` in tests), size = the modelled data already there
  (``pitr_base_size_bytes``) plus the orders' payloads;
- **the restored copy** holds exactly the rows the source server's copy held with a commit time at
  or before the effective point, is ``Creating`` until the operation is due, then ``Online``;
- **delete** removes a restored copy (202, then gone); the failover group's own database is not
  deletable here, and a copy still being created answers 409.

Only the failover group's *primary* can be a restore source: a geo-secondary has no backups of its
own (Azure restores from the primary's). The restored copy's rows are readable by the demo service
(``region_app``: ``/api/sql/{server}/databases/{db}/orders/{id}``), which is how a drill checks
them. Ground truth for tests: ``restore_report()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .clock import iso
from .errors import ArmError, DataPlaneUnavailable
from .operations import Operation
from .replication import Record
from .world_base import WorldBase

GIB = 1024 ** 3
RESTORE_OPERATION = "databasePointInTimeRestore"
DELETE_OPERATION = "databaseDelete"


@dataclass
class RestoredDatabase:
    """A database created by a point-in-time restore."""

    name: str
    server: str
    source_server: str
    source_database: str
    requested_point: float
    effective_point: float
    requested_at: float
    rows: dict[str, Record]
    size_bytes: int
    database_id: str
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "Creating"
    online_at: float | None = None
    busy_with: str | None = None


class PitrRules(WorldBase):
    """The orders database's backups, restored copies, and their deletion."""

    restored: dict[tuple[str, str], RestoredDatabase]
    database_created_at: float
    pitr_log_lag: float
    pitr_granularity: float
    pitr_base_seconds: float
    pitr_seconds_per_gib: float
    pitr_base_size_bytes: int
    pitr_retention_seconds: float

    def _reset_pitr(self, now: float) -> None:
        self.restored = {}
        self.database_created_at = now

    # ===================================================================== reading
    def _source_rows(self, server: str) -> dict[str, Record]:
        """The orders database as ``server`` holds it (a copy of the failover group's replica)."""
        group = self.failover_groups[self.topology.failover_group]
        replica = group.replicas[self.topology.database]
        copy = replica.copies.get(server)
        return dict(copy.by_key) if copy is not None else {}

    def _is_source(self, database: str) -> bool:
        return database.lower() == self.topology.database.lower()

    def restored_database(self, server: str, database: str) -> RestoredDatabase | None:
        return self.restored.get((server.lower(), database.lower()))

    def database(self, server: str, name: str) -> dict[str, Any]:
        """A database of ``server`` as the resource shape needs it; 404 when it does not exist."""
        with self.lock:
            srv = self.sql_server(server)
            if self._is_source(name):
                return {"name": self.topology.database, "server": srv.name, "status": "Online",
                        "created_at": self.database_created_at, "tags": {},
                        "database_id": self._database_uuid(srv.name, self.topology.database),
                        "size_bytes": self._size(self._source_rows(srv.name))}
            restored = self.restored_database(srv.name, name)
            if restored is None:
                raise ArmError(404, "ResourceNotFound",
                               f"The Resource 'Microsoft.Sql/servers/{srv.name}/databases/{name}' under resource "
                               f"group '{self.topology.resource_group}' was not found.")
            return {"name": restored.name, "server": srv.name, "status": restored.status,
                    "created_at": restored.requested_at, "tags": dict(restored.tags),
                    "database_id": restored.database_id, "size_bytes": restored.size_bytes}

    def databases_of(self, server: str) -> list[dict[str, Any]]:
        with self.lock:
            srv = self.sql_server(server)
            names = [self.topology.database] + [r.name for (s, _), r in self.restored.items() if s == srv.name.lower()]
            return [self.database(srv.name, n) for n in names]

    def earliest_restore_point(self) -> float:
        with self.lock:
            return max(self.database_created_at, self.clock() - self.pitr_retention_seconds)

    def _database_uuid(self, server: str, database: str) -> str:
        from .topology import seeded_uuid

        return seeded_uuid(self.seed, f"database/{server.lower()}/{database.lower()}")

    def _size(self, rows: dict[str, Record]) -> int:
        payloads = (self.ledger.payload(r) for r in rows.values())
        return self.pitr_base_size_bytes + sum(len(p[0]) for p in payloads if p is not None)

    # ===================================================================== restore
    def begin_point_in_time_restore(self, server: str, name: str, body: Any) -> Operation:
        """PUT a database with ``createMode: PointInTimeRestore``; the new copy is ``Creating`` until due."""
        with self.lock:
            self.advance()
            srv = self.sql_server(server)
            props = body.get("properties") if isinstance(body, dict) else None
            if not isinstance(props, dict):
                raise ArmError(400, "InvalidRequestContent", "The request body must hold 'properties'.")
            mode = str(props.get("createMode") or "Default")
            resource_id = self.topology.database_id(srv.name, name)
            if mode.lower() != "pointintimerestore":
                self._refuse(RESTORE_OPERATION, resource_id, 400, "UnsupportedCreateMode",
                             f"The sandbox creates databases only with createMode 'PointInTimeRestore' (got '{mode}').")
            if self._is_source(name) or self.restored_database(srv.name, name) is not None:
                self._refuse(RESTORE_OPERATION, resource_id, 409, "DatabaseAlreadyExists",
                             f"Database '{name}' already exists on server '{srv.name}'.")
            source_id = str(props.get("sourceDatabaseId") or "")
            source_server_path, _, source_db = source_id.rstrip("/").rpartition("/databases/")
            source_server = source_server_path.rsplit("/", 1)[-1]
            if not source_db or source_server.lower() != srv.name.lower() or not self._is_source(source_db):
                self._refuse(RESTORE_OPERATION, resource_id, 400, "InvalidSourceDatabaseId",
                             f"'{source_id}' is not a database of server '{srv.name}' that can be restored "
                             f"(the sandbox restores '{self.topology.database}' onto its own server).")
            group = self.failover_groups[self.topology.failover_group]
            if group.primary.lower() != srv.name.lower():
                self._refuse(RESTORE_OPERATION, resource_id, 400, "SourceDatabaseIsGeoSecondary",
                             f"Database '{source_db}' on server '{srv.name}' is a geo-secondary; restore from the "
                             f"primary server '{group.primary}'.")
            point = _epoch(props.get("restorePointInTime"))
            now = self.clock()
            earliest = self.earliest_restore_point()
            if point is None or point < earliest or point > now:
                self._refuse(RESTORE_OPERATION, resource_id, 400, "InvalidRestorePointInTime",
                             f"restorePointInTime '{props.get('restorePointInTime')}' is outside the restore window "
                             f"of '{source_db}': from {iso(earliest)} to {iso(now)}.")
            assert point is not None
            effective = min(point, now - self.pitr_log_lag)
            if self.pitr_granularity > 0:
                effective = math.floor(effective / self.pitr_granularity) * self.pitr_granularity
            effective = max(effective, earliest)
            rows = {k: r for k, r in self._source_rows(srv.name).items() if r.at <= effective}
            size = self._size(rows)
            slow = self.faults.operation_seconds(RESTORE_OPERATION)
            seconds = slow if slow is not None else self.pitr_base_seconds + size / GIB * self.pitr_seconds_per_gib
            tags = body.get("tags") if isinstance(body.get("tags"), dict) else {}
            restored = RestoredDatabase(
                name=name, server=srv.name, source_server=srv.name, source_database=self.topology.database,
                requested_point=point, effective_point=effective, requested_at=now, rows=rows, size_bytes=size,
                database_id=self._database_uuid(srv.name, name), tags={str(k): str(v) for k, v in tags.items()})
            key = (srv.name.lower(), name.lower())

            def apply(at: float) -> None:
                restored.status, restored.online_at = "Online", at

            def release() -> None:
                restored.busy_with = None
                if restored.status != "Online":  # a failed restore leaves nothing behind
                    self.restored.pop(key, None)

            op = self.operations.start(
                name=RESTORE_OPERATION, resource_id=resource_id, location=srv.region, provider="Microsoft.Sql",
                now=now, seconds=seconds, apply=apply, release=release,
                details={"server": srv.name, "database": name, "source_database": source_id,
                         "requested_point": iso(point), "effective_point": iso(effective),
                         "rows": len(rows), "size_bytes": size, "kind": "database"})
            restored.busy_with = op.id
            self.restored[key] = restored
            return op

    def begin_database_delete(self, server: str, name: str) -> Operation | None:
        """DELETE a restored copy: its operation, or None when there is nothing to delete (204)."""
        with self.lock:
            self.advance()
            srv = self.sql_server(server)
            resource_id = self.topology.database_id(srv.name, name)
            if self._is_source(name):
                self._refuse(DELETE_OPERATION, resource_id, 400, "DatabaseDeleteNotSupported",
                             f"The sandbox does not delete '{name}': it belongs to failover group "
                             f"'{self.topology.failover_group}'.")
            key = (srv.name.lower(), name.lower())
            restored = self.restored.get(key)
            if restored is None:
                return None
            if restored.busy_with is not None:
                self._refuse(DELETE_OPERATION, resource_id, 409, "DatabaseOperationInProgress",
                             f"Another operation ({restored.busy_with}) is in progress on database '{name}'.")

            def apply(at: float) -> None:
                self.restored.pop(key, None)

            def release() -> None:
                restored.busy_with = None

            op = self.operations.start(
                name=DELETE_OPERATION, resource_id=resource_id, location=srv.region, provider="Microsoft.Sql",
                now=self.clock(), seconds=self._seconds(DELETE_OPERATION), apply=apply, release=release,
                details={"server": srv.name, "database": name, "kind": "database"})
            restored.busy_with = op.id
            return op

    # ===================================================================== the data plane
    def read_database_order(self, server: str, database: str, order_id: str) -> bytes | None:
        """An order as ``database`` on ``server`` holds it (the demo app's connection string
        pointed at that database)."""
        rows = self._database_rows(server, database)
        found = self.ledger.payload(rows.get(order_id))
        return found[0] if found else None

    def database_order_ids(self, server: str, database: str) -> list[str]:
        return sorted(self._database_rows(server, database))

    def _database_rows(self, server: str, database: str) -> dict[str, Record]:
        with self.lock:
            self.advance()
            srv = self._find(self.servers, server)
            if srv is None:
                raise DataPlaneUnavailable("ServerNotFound", f"There is no server '{server}'.")
            if self.region_down(srv.region):
                raise DataPlaneUnavailable("DatabaseUnavailable", f"The server '{srv.name}' does not answer.")
            if self._is_source(database):
                return self._source_rows(srv.name)
            restored = self.restored_database(srv.name, database)
            if restored is None:
                raise DataPlaneUnavailable("DatabaseNotFound", f"There is no database '{database}' on '{srv.name}'.")
            if restored.status != "Online":
                raise DataPlaneUnavailable("DatabaseNotOnline", f"Database '{database}' is {restored.status}.")
            return restored.rows

    def restore_report(self) -> list[dict[str, Any]]:
        """Ground truth: every restored copy, its requested and effective points and its rows."""
        with self.lock:
            self.advance()
            return [{"server": r.server, "database": r.name, "status": r.status,
                     "requested_point": iso(r.requested_point), "requested_point_epoch": r.requested_point,
                     "effective_point": iso(r.effective_point), "effective_point_epoch": r.effective_point,
                     "requested_at_epoch": r.requested_at, "online_at_epoch": r.online_at,
                     "rows": sorted(r.rows), "size_bytes": r.size_bytes, "tags": dict(r.tags)}
                    for r in self.restored.values()]


def _epoch(value: Any) -> float | None:
    """An ARM timestamp (ISO 8601, ``Z`` or an offset) as seconds since the epoch; None if unreadable."""
    from datetime import datetime, timezone

    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()
