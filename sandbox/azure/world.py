"""The simulated Azure estate and its rules: the state every server of the sandbox shares.

What lives in the world, and nothing about HTTP — one module per resource, stacked here:

- ``world_sql``: a SQL **failover group** across two servers (one per region) whose primary
  takes the demo service's writes and replicates them to the secondary with a lag; planned
  failover (waits for the secondary, loses nothing, needs both regions), forced failover
  (immediate, loses what was not replicated), try-planned-then-forced;
- ``world_storage``: a geo-redundant **storage account** whose ``lastSyncTime`` trails writes;
  planned failover (swap regions, stays GRS) and unplanned failover (secondary becomes an LRS
  primary, writes after the last sync are lost);
- ``world_frontdoor``: a **Front Door** profile: endpoint, route, origin group, two origins;
  origin changes are deployed (seen by the edge) when their operation finishes;
- ``pitr``: **point-in-time restore** of the orders database to a new database (continuous
  backups with a log-backup lag, duration proportional to size), and deleting the copy;
- ``blob_pitr``: **point-in-time restore of blob ranges** of the storage account, in place
  (versions kept per write; the ranges blocked while it runs);
- ``world_dns``: a public **DNS zone** with A and CNAME record sets, which the sandbox's UDP
  responder answers from (or from the past, under a ``dns_stale`` fault);
- ``world_web``: an **App Service plan** and a **web app** per region: the plan's instance count,
  the app's app settings and connection strings (the region app writes orders where its ``orders``
  connection string says: ``db_target``);
- ``world_writes``: the **acknowledged writes**, the ground truth of data-loss measurement;
- ``world_base``: the lock, time, faults and the **operations** (``operations.OperationEngine``),
  finished lazily at their due time.

One re-entrant lock guards it all (shared with ``FaultRegistry``): the ARM server, the edge,
the region apps and the admin API run on different threads. Every public method takes the lock
and first ``advance``-s the world to now, so state is always current when read.

Callers import everything from here; the resource modules are how it is kept, not an API.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from typing import Any

from .blob_pitr import BlobPitrRules, BlobRestore
from .clock import Clock, iso
from .world_dns import DnsRules, DnsZone, RecordSet
from .faults import FaultRegistry
from .operations import OperationEngine
from .pitr import GIB, PitrRules, RestoredDatabase
from .topology import REGIONS, Topology
from .world_frontdoor import ROUTING_FIELDS, EdgeTarget, EdgeView, FrontDoor, FrontDoorRules, Origin, OriginGroup
from .world_sql import FORCED, PLANNED, SQL_FAILOVERS, TRY_PLANNED, FailoverGroup, SqlRules, SqlServer
from .world_storage import StorageAccount, StorageRules
from .world_scale import ScaleRules
from .world_web import AppServicePlan, WebApp, WebRules
from .world_writes import AckedWrite, WriteLedger

__all__ = ["FORCED", "PLANNED", "ROUTING_FIELDS", "SQL_FAILOVERS", "TRY_PLANNED", "AckedWrite", "AppServicePlan",
           "BlobRestore",
           "DnsZone", "EdgeTarget", "EdgeView", "FailoverGroup", "FrontDoor", "Origin", "OriginGroup", "RecordSet",
           "RestoredDatabase", "SqlServer", "StorageAccount", "WebApp", "World"]


class World(ScaleRules, SqlRules, PitrRules, BlobPitrRules, StorageRules, FrontDoorRules, DnsRules, WebRules):
    """The sandbox's Azure: resources, their rules, data, and operations."""

    def __init__(self, *, topology: Topology, clock: Clock, lock: threading.RLock,
                 faults: FaultRegistry, app_endpoints: Mapping[str, tuple[str, int]],
                 replication_lag_seconds: float = 2.0, storage_lag_seconds: float | None = None,
                 operation_seconds: float = 0.0, probe_interval_seconds: float = 0.5,
                 seed: object = 0, pitr_log_lag_seconds: float | None = None,
                 pitr_granularity_seconds: float = 0.0, pitr_base_seconds: float = 0.5,
                 pitr_seconds_per_gib: float = 0.5, pitr_base_size_bytes: int = 2 * GIB,
                 pitr_retention_seconds: float = 7 * 86400.0, pitr_blob_base_seconds: float = 0.5,
                 pitr_blob_seconds_per_change: float = 0.01,
                 pitr_blob_retention_seconds: float = 6 * 86400.0) -> None:
        self.topology = topology
        self.clock = clock
        self.lock = lock
        self.faults = faults
        self.app_endpoints = dict(app_endpoints)
        self.replication_lag = replication_lag_seconds
        self.storage_lag = replication_lag_seconds if storage_lag_seconds is None else storage_lag_seconds
        self.operation_seconds = operation_seconds
        self.probe_interval_seconds = probe_interval_seconds
        self.seed = seed
        # point-in-time restore (``pitr``): log backups trail writes like the geo link does by default
        self.pitr_log_lag = replication_lag_seconds if pitr_log_lag_seconds is None else pitr_log_lag_seconds
        self.pitr_granularity = pitr_granularity_seconds
        self.pitr_base_seconds = pitr_base_seconds
        self.pitr_seconds_per_gib = pitr_seconds_per_gib
        self.pitr_base_size_bytes = pitr_base_size_bytes
        self.pitr_retention_seconds = pitr_retention_seconds
        # blob point-in-time restore (``blob_pitr``): the restore policy's window (days < soft delete's)
        self.pitr_blob_base_seconds = pitr_blob_base_seconds
        self.pitr_blob_seconds_per_change = pitr_blob_seconds_per_change
        self.pitr_blob_retention_seconds = pitr_blob_retention_seconds
        self.operations = OperationEngine(self._new_id)
        self.dns_name_servers: list[str] = []  # the sandbox names its DNS responder once it listens
        self.reset()

    def reset(self) -> None:
        """Back to the initial estate: eastus primary everywhere, no data, no operations."""
        with self.lock:
            self._rng = random.Random(f"{self.seed}/world")
            now = self.clock()
            self._last_advance = now
            self._reset_sql(now)
            self._reset_pitr(now)
            self._reset_storage(now)
            self._reset_blob_pitr()
            self._reset_frontdoor()
            self._reset_dns(now)
            self._reset_web()
            self._reset_scale(now)  # a scaled world's generated resources (``world_scale``), after the defaults
            self.ledger = WriteLedger()
            self.operations.clear()

    def _replicate_links(self, at: float) -> None:
        self._replicate_sql(at)
        self._replicate_storage(at)

    # ===================================================================== ground truth
    def writes_report(self) -> list[dict[str, Any]]:
        """Every acknowledged write and whether the *current* primary still holds it."""
        t = self.topology
        with self.lock:
            self.advance()
            return self.ledger.report({"order": self.failover_groups[t.failover_group].replicas[t.database],
                                       "blob": self.storage_accounts[t.storage_account].replica})

    def snapshot(self) -> dict[str, Any]:
        """A compact picture of who is primary where, for humans and for waiting in tests."""
        with self.lock:
            self.advance()
            return {"time": iso(self.clock()), "regions_down": [r for r in REGIONS if self.region_down(r)],
                    "failover_groups": self._sql_summary(), "storage_accounts": self._storage_summary(),
                    "frontdoor_origins": self._frontdoor_summary(), "dns_zones": self._dns_summary(),
                    **self._web_summary()}
