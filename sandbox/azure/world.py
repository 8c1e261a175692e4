"""The simulated Azure estate and its rules: the state every server of the sandbox shares.

What lives here, and nothing about HTTP:

- a SQL **failover group** across two servers (one per region) whose primary takes the demo
  service's writes and replicates them to the secondary with a lag; planned failover (waits for
  the secondary, loses nothing, needs both regions), forced failover (immediate, loses what was
  not replicated), try-planned-then-forced;
- a geo-redundant **storage account** whose ``lastSyncTime`` trails writes; planned failover
  (swap regions, stays GRS) and unplanned failover (secondary becomes an LRS primary, writes
  after the last sync are lost);
- a **Front Door** profile: endpoint, route, origin group, two origins; origin changes are
  deployed (seen by the edge) when their operation finishes;
- the **acknowledged writes**, the ground truth of data-loss measurement;
- the **operations** (``operations.OperationEngine``), finished lazily at their due time.

One re-entrant lock guards it all (shared with ``FaultRegistry``): the ARM server, the edge,
the region apps and the admin API run on different threads. Every public method takes the lock
and first ``advance``-s the world to now, so state is always current when read.
"""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock, iso
from .errors import ArmError, DataPlaneUnavailable, OperationError
from .faults import FaultRegistry
from .operations import Operation, OperationEngine
from .replication import GeoReplica, Record
from .topology import DISPLAY_NAMES, REGIONS, Topology, seeded_uuid

PLANNED, FORCED, TRY_PLANNED = "failover", "forceFailoverAllowDataLoss", "tryPlannedBeforeForcedFailover"
SQL_FAILOVERS = (PLANNED, FORCED, TRY_PLANNED)


# --- SQL -------------------------------------------------------------------------------------
@dataclass
class SqlServer:
    name: str
    region: str


@dataclass
class FailoverGroup:
    """A failover group between two servers; each server shows its own view of it."""

    name: str
    members: tuple[str, str]
    primary: str
    databases: list[str]
    replicas: dict[str, GeoReplica]
    link_started_at: float
    read_write_policy: str = "Manual"
    grace_minutes: int | None = None
    read_only_policy: str = "Disabled"
    busy_with: str | None = None

    @property
    def secondary(self) -> str:
        return self.partner_of(self.primary)

    def partner_of(self, server: str) -> str:
        return self.members[1] if server == self.members[0] else self.members[0]


# --- Storage ---------------------------------------------------------------------------------
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


# --- Front Door ------------------------------------------------------------------------------
ROUTING_FIELDS = {"enabledState": "enabled_state", "priority": "priority", "weight": "weight",
                  "hostName": "host_name", "httpPort": "http_port", "httpsPort": "https_port",
                  "originHostHeader": "origin_host_header",
                  "enforceCertificateNameCheck": "enforce_certificate_name_check"}


@dataclass
class Origin:
    name: str
    region: str
    host_name: str
    http_port: int
    priority: int
    weight: int
    enabled_state: str = "Enabled"
    https_port: int = 443
    origin_host_header: str = "127.0.0.1"
    enforce_certificate_name_check: bool = True
    provisioning_state: str = "Succeeded"
    busy_with: str | None = None
    deployed: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        return {attr: getattr(self, attr) for attr in ROUTING_FIELDS.values()}


@dataclass
class OriginGroup:
    name: str
    origins: dict[str, Origin]
    health_probe: dict[str, Any]
    load_balancing: dict[str, Any]
    restoration_minutes: int = 10
    authentication: dict[str, Any] | None = None
    provisioning_state: str = "Succeeded"
    busy_with: str | None = None
    deployed: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        return {"health_probe": dict(self.health_probe), "load_balancing": dict(self.load_balancing)}


@dataclass
class FrontDoor:
    profile: str
    front_door_id: str
    endpoint: str
    endpoint_host: str
    route: str
    route_origin_group: str
    origin_groups: dict[str, OriginGroup]
    sku: str = "Standard_AzureFrontDoor"


@dataclass(frozen=True)
class EdgeTarget:
    """One origin as the edge routes to it: the *deployed* settings."""

    name: str
    region: str
    url: str
    priority: int
    weight: int
    enabled: bool


@dataclass(frozen=True)
class EdgeView:
    """What the edge needs to route and probe, read in one go."""

    targets: tuple[EdgeTarget, ...]
    probe_path: str
    probe_method: str
    sample_size: int
    successful_samples_required: int


# --- writes ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AckedWrite:
    """A write the demo service acknowledged to its caller."""

    id: str
    kind: str  # "order" | "blob"
    key: str
    store: str  # ARM id of the failover group / storage account
    app_region: str
    committed_on: str  # SQL server or storage region that acknowledged it
    at: float
    sha256: str
    size: int


class World:
    """The sandbox's Azure: resources, their rules, data, and operations."""

    def __init__(self, *, topology: Topology, clock: Clock, lock: threading.RLock,
                 faults: FaultRegistry, app_endpoints: Mapping[str, tuple[str, int]],
                 replication_lag_seconds: float = 2.0, storage_lag_seconds: float | None = None,
                 operation_seconds: float = 0.0, probe_interval_seconds: float = 0.5,
                 seed: object = 0) -> None:
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
        self.operations = OperationEngine(self._new_id)
        self.reset()

    # ===================================================================== setup and time
    def reset(self) -> None:
        """Back to the initial estate: eastus primary everywhere, no data, no operations."""
        t = self.topology
        with self.lock:
            self._rng = random.Random(f"{self.seed}/world")
            now = self.clock()
            self._last_advance = now
            self.servers = {name: SqlServer(name, region) for region, name in t.sql_servers.items()}
            primary = t.sql_servers[t.primary_region]
            secondary = t.sql_servers[t.secondary_region]
            self.failover_groups = {t.failover_group: FailoverGroup(
                name=t.failover_group, members=(primary, secondary), primary=primary,
                databases=[t.database],
                replicas={t.database: GeoReplica(primary, secondary, self.replication_lag, now)},
                link_started_at=now)}
            self.storage_accounts = {t.storage_account: StorageAccount(
                name=t.storage_account, sku="Standard_GRS", primary_region=t.primary_region,
                secondary_region=t.secondary_region,
                replica=GeoReplica(t.primary_region, t.secondary_region, self.storage_lag, now),
                created_at=now)}
            origins = {}
            for priority, region in enumerate((t.primary_region, t.secondary_region), start=1):
                host, port = self.app_endpoints[region]
                origin = Origin(name=t.origins[region], region=region, host_name=host,
                                http_port=port, priority=priority, weight=1000, origin_host_header=host)
                origin.deployed = origin.settings()
                origins[origin.name] = origin
            group = OriginGroup(
                name=t.origin_group, origins=origins,
                health_probe={"probePath": "/health", "probeRequestType": "HEAD",
                              "probeProtocol": "Http",
                              "probeIntervalInSeconds": max(1, round(self.probe_interval_seconds))},
                load_balancing={"sampleSize": 4, "successfulSamplesRequired": 3,
                                "additionalLatencyInMilliseconds": 50})
            group.deployed = group.settings()
            self.frontdoor = FrontDoor(
                profile=t.frontdoor_profile, front_door_id=seeded_uuid(self.seed, "frontdoor"),
                endpoint=t.frontdoor_endpoint,
                endpoint_host=f"{t.frontdoor_endpoint}-{seeded_uuid(self.seed, 'edge')[:13].replace('-', '')}.z01.azurefd.net",
                route=t.frontdoor_route, route_origin_group=t.origin_group,
                origin_groups={group.name: group})
            self._writes: list[AckedWrite] = []
            self._payloads: dict[str, tuple[bytes, str]] = {}
            self.operations.clear()

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def advance(self) -> None:
        """Bring the world to now: finish due operations (each at its due time), replicate."""
        with self.lock:
            now = max(self.clock(), self._last_advance)
            for op in self.operations.due(now):
                self._replicate(op.due_at)
                self.operations.finish(op, self.faults.take_operation_failure(op.name))
            self._replicate(now)

    def _replicate(self, at: float) -> None:
        at = max(at, self._last_advance)
        self._last_advance = at
        for group in self.failover_groups.values():
            up = self._link_up(*(self.servers[s].region for s in group.members))
            for replica in group.replicas.values():
                replica.advance(at, up)
        for account in self.storage_accounts.values():
            if account.secondary_region is not None:
                account.replica.advance(at, self._link_up(account.primary_region, account.secondary_region))

    def region_down(self, region: str) -> bool:
        return self.faults.region_down(region)

    def _link_up(self, *regions: str) -> bool:
        return not any(self.faults.region_down(r) for r in regions)

    def _seconds(self, operation: str) -> float:
        slow = self.faults.operation_seconds(operation)
        return self.operation_seconds if slow is None else slow

    # ===================================================================== SQL
    def sql_server(self, name: str) -> SqlServer:
        """A server by name; 404 if unknown, 503 while its region is down (its RP does not answer)."""
        with self.lock:
            self.advance()
            server = self._find(self.servers, name)
            if server is None:
                raise ArmError(404, "ResourceNotFound",
                               f"The Resource 'Microsoft.Sql/servers/{name}' under resource group "
                               f"'{self.topology.resource_group}' was not found.")
            if self.region_down(server.region):
                raise ArmError(503, "ServiceUnavailable",
                               f"The server '{server.name}' in region '{server.region}' is unavailable "
                               "(region outage). Please retry later.")
            return server

    def failover_groups_of(self, server: str) -> list[FailoverGroup]:
        with self.lock:
            srv = self.sql_server(server)
            return [g for g in self.failover_groups.values() if srv.name in g.members]

    def failover_group(self, server: str, name: str) -> FailoverGroup:
        with self.lock:
            srv = self.sql_server(server)
            group = self._find(self.failover_groups, name)
            if group is None or srv.name not in group.members:
                raise ArmError(404, "ResourceNotFound",
                               f"The Resource 'Microsoft.Sql/servers/{srv.name}/failoverGroups/{name}' "
                               f"under resource group '{self.topology.resource_group}' was not found.")
            return group

    def failover_group_state(self, group: FailoverGroup) -> str:
        """``replicationState`` as Azure reports it: CATCH_UP, SEEDING or SUSPENDED."""
        with self.lock:
            if not self._link_up(*(self.servers[s].region for s in group.members)):
                return "SUSPENDED"
            if any(r.seeding for r in group.replicas.values()):
                return "SEEDING"
            return "CATCH_UP"

    def replication_links(self, server: str, database: str | None = None
                          ) -> list[tuple[FailoverGroup, str, GeoReplica]]:
        """The geo links of a server (optionally of one database), from that server's side."""
        with self.lock:
            srv = self.sql_server(server)
            if database is not None and database.lower() != self.topology.database.lower():
                raise ArmError(404, "ResourceNotFound",
                               f"The Resource 'Microsoft.Sql/servers/{srv.name}/databases/{database}' "
                               f"under resource group '{self.topology.resource_group}' was not found.")
            links = []
            for group in self.failover_groups.values():
                if srv.name in group.members:
                    for db, replica in group.replicas.items():
                        if database is None or db.lower() == database.lower():
                            links.append((group, db, replica))
            return links

    def replication_link_id(self, group: FailoverGroup, database: str) -> str:
        return seeded_uuid(self.seed, f"link/{group.name}/{database}")

    def begin_failover_group_failover(self, server: str, name: str, kind: str) -> Operation:
        """POST failover / forceFailoverAllowDataLoss / tryPlannedBeforeForcedFailover, sent to
        the server that is to become primary."""
        assert kind in SQL_FAILOVERS
        with self.lock:
            group = self.failover_group(server, name)
            target = self._find(self.servers, server)
            assert target is not None
            resource_id = self.topology.failover_group_id(target.name, group.name)
            now = self.clock()
            if group.busy_with is not None:
                self._refuse(kind, resource_id, 409, "FailoverGroupOperationInProgress",
                             f"Another operation ({group.busy_with}) is in progress on failover group "
                             f"'{group.name}'. Wait for it to finish.")
            if group.primary == target.name:
                self._refuse(kind, resource_id, 400, "FailoverGroupAlreadyPrimary",
                             f"Server '{target.name}' is already the primary of failover group "
                             f"'{group.name}'; send the failover to the secondary server "
                             f"'{group.secondary}'.")
            old_primary = self.servers[group.primary]
            both_up = self._link_up(old_primary.region, target.region)
            seconds = self._seconds(kind)
            mode = {PLANNED: "planned", FORCED: "forced"}.get(kind) or ("planned" if both_up else "forced")
            if mode == "planned" and both_up:
                catch_up = max(r.caught_up_at(now) for r in group.replicas.values()) - now
                seconds = max(seconds, catch_up)

            def apply(at: float) -> None:
                self._complete_sql_failover(group, target, kind, op, at)

            def release() -> None:
                group.busy_with = None

            op = self.operations.start(
                name=kind, resource_id=resource_id, location=target.region, provider="Microsoft.Sql",
                now=now, seconds=seconds, apply=apply, release=release,
                details={"server": target.name, "from_server": old_primary.name, "mode": mode})
            group.busy_with = op.id
            return op

    def _complete_sql_failover(self, group: FailoverGroup, target: SqlServer, kind: str,
                               op: Operation, at: float) -> None:
        old = self.servers[group.primary]
        if self.region_down(target.region):
            raise OperationError("ServerUnavailable",
                                 f"Server '{target.name}' in region '{target.region}' became "
                                 "unavailable during the failover.")
        both_up = self._link_up(old.region, target.region)
        planned = kind == PLANNED or (kind == TRY_PLANNED and both_up)
        if planned and not both_up:
            raise OperationError(
                "FailoverGroupPrimaryUnreachable",
                f"Planned failover of failover group '{group.name}' to server '{target.name}' failed: "
                f"the primary server '{old.name}' in region '{old.region}' is unreachable, so the "
                "secondary cannot be synchronized without data loss. Use forceFailoverAllowDataLoss "
                "(or tryPlannedBeforeForcedFailover) to fail over allowing data loss.")
        lost = 0
        for replica in group.replicas.values():
            if planned:
                replica.drain(at)
                replica.swap()
            else:
                lost += len(replica.promote_secondary(at, keep_old_primary=True))
        group.primary = target.name
        group.link_started_at = at
        op.details.update({"performed": "planned" if planned else "forced", "lost_writes": lost})

    def begin_failover_group_put(self, server: str, name: str, body: Any) -> tuple[Operation, bool]:
        """PUT a failover group: update policies of an existing one (on its primary), or create
        one with this server as primary. Returns the operation and whether it creates."""
        with self.lock:
            srv = self.sql_server(server)
            props = body.get("properties") if isinstance(body, dict) else None
            if not isinstance(props, dict):
                raise ArmError(400, "InvalidRequestContent", "The request body must hold 'properties'.")
            rw = props.get("readWriteEndpoint")
            if not isinstance(rw, dict) or rw.get("failoverPolicy") not in ("Automatic", "Manual"):
                raise ArmError(400, "InvalidFailoverGroupReadWriteEndpoint",
                               "properties.readWriteEndpoint.failoverPolicy must be 'Automatic' or 'Manual'.")
            grace = rw.get("failoverWithDataLossGracePeriodMinutes")
            if rw["failoverPolicy"] == "Automatic" and not (isinstance(grace, int) and grace >= 60):
                raise ArmError(400, "InvalidFailoverWithDataLossGracePeriod",
                               "failoverWithDataLossGracePeriodMinutes (>= 60) is required when "
                               "failoverPolicy is 'Automatic'.")
            ro_policy = (props.get("readOnlyEndpoint") or {}).get("failoverPolicy", "Disabled")
            if ro_policy not in ("Enabled", "Disabled"):
                raise ArmError(400, "InvalidFailoverGroupReadOnlyEndpoint",
                               "properties.readOnlyEndpoint.failoverPolicy must be 'Enabled' or 'Disabled'.")
            databases = []
            for db_id in props.get("databases") or []:
                server_path, _, db_name = str(db_id).rstrip("/").lower().rpartition("/databases/")
                if not server_path.endswith(f"/servers/{srv.name.lower()}"):
                    raise ArmError(400, "InvalidDatabaseId",
                                   f"'{db_id}' is not a database of server '{srv.name}'.")
                if db_name != self.topology.database.lower():
                    raise ArmError(404, "DatabaseDoesNotExist",
                                   f"Database '{db_name}' does not exist on server '{srv.name}'.")
                databases.append(self.topology.database)
            partners = [p.get("id", "") for p in props.get("partnerServers") or [] if isinstance(p, dict)]
            if len(partners) != 1:
                raise ArmError(400, "InvalidPartnerServers", "Exactly one partner server is required.")
            partner = self._find(self.servers, partners[0].rstrip("/").split("/")[-1])
            if partner is None or partner.region == srv.region:
                raise ArmError(400, "InvalidPartnerServer",
                               f"'{partners[0]}' is not a server in another region.")
            group = self._find(self.failover_groups, name)
            creating = group is None
            resource_id = self.topology.failover_group_id(srv.name, name)
            op_name = "failoverGroupCreateOrUpdate"
            if group is not None:
                if group.busy_with is not None:
                    self._refuse(op_name, resource_id, 409, "FailoverGroupOperationInProgress",
                                 f"Another operation ({group.busy_with}) is in progress on '{group.name}'.")
                if srv.name not in group.members or partner.name not in group.members:
                    self._refuse(op_name, resource_id, 400, "FailoverGroupPartnerChangeNotSupported",
                                 "The partner servers of an existing failover group cannot change.")
                if group.primary != srv.name:
                    self._refuse(op_name, resource_id, 400, "FailoverGroupUpdateOnSecondary",
                                 f"Update failover group '{group.name}' through its primary server "
                                 f"'{group.primary}'.")
                if set(group.databases) - set(databases):
                    self._refuse(op_name, resource_id, 400, "DatabaseRemovalNotSupported",
                                 "The sandbox does not remove databases from a failover group.")
            elif databases and any(self.topology.database in g.databases
                                   for g in self.failover_groups.values()):
                self._refuse(op_name, resource_id, 400, "DatabaseAlreadyInFailoverGroup",
                             f"Database '{self.topology.database}' already belongs to a failover group.")

            def apply(at: float) -> None:
                target = self.failover_groups.get(name)
                if target is None:
                    target = FailoverGroup(name=name, members=(srv.name, partner.name), primary=srv.name,
                                           databases=[], replicas={}, link_started_at=at)
                    self.failover_groups[name] = target
                target.read_write_policy = rw["failoverPolicy"]
                target.grace_minutes = grace if rw["failoverPolicy"] == "Automatic" else None
                target.read_only_policy = ro_policy

            def release() -> None:
                if name in self.failover_groups:
                    self.failover_groups[name].busy_with = None

            op = self.operations.start(
                name=op_name, resource_id=resource_id, location=srv.region, provider="Microsoft.Sql",
                now=self.clock(), seconds=self._seconds(op_name), apply=apply, release=release,
                details={"server": srv.name, "create": creating})
            if group is not None:
                group.busy_with = op.id
            return op, creating

    # ===================================================================== Storage
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

    # ===================================================================== Front Door
    def cdn_profile(self, name: str) -> FrontDoor:
        with self.lock:
            self.advance()
            if self.frontdoor.profile.lower() != name.lower():
                raise ArmError(404, "ResourceNotFound", f"Profile '{name}' was not found.")
            return self.frontdoor

    def origin_group(self, profile: str, name: str) -> OriginGroup:
        with self.lock:
            group = self._find(self.cdn_profile(profile).origin_groups, name)
            if group is None:
                raise ArmError(404, "ResourceNotFound", f"Origin group '{name}' was not found.")
            return group

    def origin(self, profile: str, group: str, name: str) -> Origin:
        with self.lock:
            origin = self._find(self.origin_group(profile, group).origins, name)
            if origin is None:
                raise ArmError(404, "ResourceNotFound", f"Origin '{name}' was not found.")
            return origin

    def begin_origin_update(self, profile: str, group: str, name: str, body: Any) -> Operation:
        """PATCH an origin: the new values show at once in ARM (provisioningState Updating);
        the edge routes by them once the operation has deployed them."""
        op_name = "origin_update"
        with self.lock:
            og = self.origin_group(profile, group)
            origin = self.origin(profile, group, name)
            changes = _origin_changes(body)
            resource_id = self.topology.origin_id(self.frontdoor.profile, og.name, origin.name)
            if origin.busy_with is not None:
                self._refuse(op_name, resource_id, 409, "Conflict",
                             f"Another update ({origin.busy_with}) of origin '{origin.name}' is in progress.",
                             {"changes": changes})
            before = origin.settings()
            for key, value in changes.items():
                setattr(origin, ROUTING_FIELDS[key], value)
            origin.provisioning_state = "Updating"

            def apply(at: float) -> None:
                origin.deployed = origin.settings()
                origin.provisioning_state = "Succeeded"

            def release() -> None:
                origin.busy_with = None
                if op.status != "Succeeded":
                    for attr, value in before.items():
                        setattr(origin, attr, value)
                    origin.provisioning_state = "Failed"

            op = self.operations.start(
                name=op_name, resource_id=resource_id, location="global", provider="Microsoft.Cdn",
                now=self.clock(), seconds=self._seconds(op_name), apply=apply, release=release,
                details={"changes": changes})
            origin.busy_with = op.id
            return op

    def begin_origin_group_update(self, profile: str, group: str, body: Any) -> Operation:
        op_name = "origin_group_update"
        with self.lock:
            og = self.origin_group(profile, group)
            changes = _origin_group_changes(body)
            resource_id = self.topology.origin_group_id(self.frontdoor.profile, og.name)
            if og.busy_with is not None:
                self._refuse(op_name, resource_id, 409, "Conflict",
                             f"Another update ({og.busy_with}) of origin group '{og.name}' is in progress.")
            before = (dict(og.health_probe), dict(og.load_balancing), og.restoration_minutes, og.authentication)
            if "healthProbeSettings" in changes:
                og.health_probe.update(changes["healthProbeSettings"] or {})
            if "loadBalancingSettings" in changes:
                og.load_balancing.update(changes["loadBalancingSettings"] or {})
            lb = og.load_balancing
            if lb["successfulSamplesRequired"] > lb["sampleSize"]:
                og.health_probe, og.load_balancing, og.restoration_minutes, og.authentication = before
                raise ArmError(400, "BadRequest",
                               "successfulSamplesRequired cannot exceed sampleSize.")
            if "trafficRestorationTimeToHealedOrNewEndpointsInMinutes" in changes:
                og.restoration_minutes = changes["trafficRestorationTimeToHealedOrNewEndpointsInMinutes"]
            if "authentication" in changes:
                og.authentication = changes["authentication"]
            og.provisioning_state = "Updating"

            def apply(at: float) -> None:
                og.deployed = og.settings()
                og.provisioning_state = "Succeeded"

            def release() -> None:
                og.busy_with = None
                if op.status != "Succeeded":
                    og.health_probe, og.load_balancing, og.restoration_minutes, og.authentication = before
                    og.provisioning_state = "Failed"

            op = self.operations.start(
                name=op_name, resource_id=resource_id, location="global", provider="Microsoft.Cdn",
                now=self.clock(), seconds=self._seconds(op_name), apply=apply, release=release,
                details={"changes": changes})
            og.busy_with = op.id
            return op

    def edge_view(self) -> EdgeView:
        """The deployed routing of the endpoint's route, for the edge proxy and its probes."""
        with self.lock:
            self.advance()
            og = self.frontdoor.origin_groups[self.frontdoor.route_origin_group]
            probe = og.deployed["health_probe"]
            lb = og.deployed["load_balancing"]
            method = str(probe.get("probeRequestType") or "HEAD").upper()
            targets = tuple(
                EdgeTarget(name=o.name, region=o.region,
                           url=f"http://{o.deployed['host_name']}:{o.deployed['http_port']}",
                           priority=int(o.deployed["priority"]), weight=int(o.deployed["weight"]),
                           enabled=o.deployed["enabled_state"] == "Enabled")
                for o in og.origins.values())
            return EdgeView(targets=targets, probe_path=str(probe.get("probePath") or "/"),
                            probe_method="GET" if method == "GET" else "HEAD",
                            sample_size=int(lb.get("sampleSize") or 4),
                            successful_samples_required=int(lb.get("successfulSamplesRequired") or 3))

    # ===================================================================== the demo's data
    def write_order(self, app_region: str, payload: bytes) -> AckedWrite:
        """Commit an order through the failover group's read-write listener (its primary)."""
        t = self.topology
        with self.lock:
            self.advance()
            group = self.failover_groups[t.failover_group]
            primary = self.servers[group.primary]
            if self.region_down(primary.region):
                raise DataPlaneUnavailable(
                    "DatabaseUnavailable",
                    f"The read-write listener of failover group '{group.name}' points to "
                    f"'{primary.name}' in region '{primary.region}', which does not answer.")
            write_id = self._new_id()
            return self._acknowledge(group.replicas[t.database], "order", write_id, write_id,
                                     t.failover_group_id(primary.name, group.name), app_region,
                                     primary.name, payload, "application/json")

    def read_order(self, order_id: str) -> bytes | None:
        t = self.topology
        with self.lock:
            self.advance()
            group = self.failover_groups[t.failover_group]
            primary = self.servers[group.primary]
            if self.region_down(primary.region):
                raise DataPlaneUnavailable("DatabaseUnavailable",
                                           f"The primary '{primary.name}' does not answer.")
            record = group.replicas[t.database].read(order_id)
            return self._payloads[record.write_id][0] if record else None

    def write_blob(self, app_region: str, name: str, data: bytes, content_type: str) -> AckedWrite:
        """Write a blob to the storage account's primary endpoint."""
        t = self.topology
        with self.lock:
            self.advance()
            account = self.storage_accounts[t.storage_account]
            self._require_storage_primary(account)
            return self._acknowledge(account.replica, "blob", name, self._new_id(),
                                     t.storage_account_id(account.name), app_region,
                                     account.primary_region, data, content_type)

    def read_blob(self, name: str) -> tuple[bytes, str] | None:
        with self.lock:
            self.advance()
            account = self.storage_accounts[self.topology.storage_account]
            self._require_storage_primary(account)
            record = account.replica.read(name)
            return self._payloads[record.write_id] if record else None

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

    def _acknowledge(self, replica: GeoReplica, kind: str, key: str, write_id: str, store: str,
                     app_region: str, committed_on: str, payload: bytes, content_type: str) -> AckedWrite:
        now = self.clock()
        replica.write(Record(key=key, write_id=write_id, at=now))
        self._payloads[write_id] = (payload, content_type)
        ack = AckedWrite(id=write_id, kind=kind, key=key, store=store, app_region=app_region,
                         committed_on=committed_on, at=now,
                         sha256=hashlib.sha256(payload).hexdigest(), size=len(payload))
        self._writes.append(ack)
        return ack

    # ===================================================================== ground truth
    def writes_report(self) -> list[dict[str, Any]]:
        """Every acknowledged write and whether the *current* primary still holds it."""
        t = self.topology
        with self.lock:
            self.advance()
            replicas = {"order": self.failover_groups[t.failover_group].replicas[t.database],
                        "blob": self.storage_accounts[t.storage_account].replica}
            return [{
                "id": w.id, "kind": w.kind, "key": w.key, "store": w.store, "region": w.app_region,
                "committed_on": w.committed_on, "acknowledged_at": iso(w.at),
                "acknowledged_at_epoch": w.at, "payload_sha256": w.sha256, "bytes": w.size,
                "survives": replicas[w.kind].holds(w.id),
            } for w in self._writes]

    def operations_log(self) -> list[dict[str, Any]]:
        with self.lock:
            self.advance()
            return self.operations.log()

    def snapshot(self) -> dict[str, Any]:
        """A compact picture of who is primary where, for humans and for waiting in tests."""
        with self.lock:
            self.advance()
            now = self.clock()
            groups = {}
            for g in self.failover_groups.values():
                groups[g.name] = {
                    "primary": g.primary, "secondary": g.secondary,
                    "primary_region": self.servers[g.primary].region,
                    "replication_state": self.failover_group_state(g),
                    "pending_writes": sum(r.pending for r in g.replicas.values()),
                    "synced_through": min((iso(r.synced_through) for r in g.replicas.values()), default=None),
                    "busy_with": g.busy_with,
                }
            accounts = {a.name: {
                "sku": a.sku, "primary_region": a.primary_region, "secondary_region": a.secondary_region,
                "last_sync_time": iso(a.replica.synced_through) if a.secondary_region else None,
                "pending_writes": a.replica.pending, "busy_with": a.busy_with,
            } for a in self.storage_accounts.values()}
            og = self.frontdoor.origin_groups[self.frontdoor.route_origin_group]
            origins = {o.name: {"region": o.region, "enabledState": o.deployed["enabled_state"],
                                "priority": o.deployed["priority"], "weight": o.deployed["weight"],
                                "provisioningState": o.provisioning_state} for o in og.origins.values()}
            return {"time": iso(now), "regions_down": [r for r in REGIONS if self.region_down(r)],
                    "failover_groups": groups, "storage_accounts": accounts,
                    "frontdoor_origins": origins}

    # ===================================================================== helpers
    def _refuse(self, operation: str, resource_id: str, status: int, code: str, message: str,
                details: dict[str, Any] | None = None) -> None:
        self.operations.reject(name=operation, resource_id=resource_id, now=self.clock(),
                               code=code, message=message, details=details)
        raise ArmError(status, code, message)

    @staticmethod
    def _find(items: Mapping[str, Any], name: str) -> Any:
        """ARM names are case-insensitive."""
        wanted = name.lower()
        return next((v for k, v in items.items() if k.lower() == wanted), None)

    def display_name(self, region: str) -> str:
        return DISPLAY_NAMES.get(region, region)


def _post_failover_sku(sku: str) -> str:
    """After an unplanned failover the account keeps one region: GRS/RAGRS → LRS, GZRS → ZRS."""
    family, _, redundancy = sku.partition("_")
    return f"{family}_{'ZRS' if redundancy.endswith('GZRS') else 'LRS'}"


def _origin_changes(body: Any) -> dict[str, Any]:
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict) or not props:
        raise ArmError(400, "BadRequest", "The request body must hold the changed 'properties'.")
    changes: dict[str, Any] = {}
    for key, value in props.items():
        if key not in ROUTING_FIELDS:
            continue  # ARM ignores properties this sandbox does not model (e.g. azureOrigin)
        if key == "enabledState" and value not in ("Enabled", "Disabled"):
            raise ArmError(400, "BadRequest", "enabledState must be 'Enabled' or 'Disabled'.")
        if key == "priority" and not (isinstance(value, int) and 1 <= value <= 5):
            raise ArmError(400, "BadRequest", "priority must be an integer from 1 to 5.")
        if key == "weight" and not (isinstance(value, int) and 1 <= value <= 1000):
            raise ArmError(400, "BadRequest", "weight must be an integer from 1 to 1000.")
        if key in ("httpPort", "httpsPort") and not (isinstance(value, int) and 1 <= value <= 65535):
            raise ArmError(400, "BadRequest", f"{key} must be a port number.")
        if key in ("hostName", "originHostHeader") and not (isinstance(value, str) and value):
            raise ArmError(400, "BadRequest", f"{key} must be a non-empty string.")
        if key == "enforceCertificateNameCheck" and not isinstance(value, bool):
            raise ArmError(400, "BadRequest", "enforceCertificateNameCheck must be a boolean.")
        changes[key] = value
    if not changes:
        raise ArmError(400, "BadRequest",
                       f"Nothing to update: the sandbox models {sorted(ROUTING_FIELDS)} of an origin.")
    return changes


def _origin_group_changes(body: Any) -> dict[str, Any]:
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict) or not props:
        raise ArmError(400, "BadRequest", "The request body must hold the changed 'properties'.")
    changes: dict[str, Any] = {}
    probe = props.get("healthProbeSettings")
    if "healthProbeSettings" in props:
        if probe is not None and not isinstance(probe, dict):
            raise ArmError(400, "BadRequest", "healthProbeSettings must be an object.")
        changes["healthProbeSettings"] = {k: v for k, v in (probe or {}).items() if v is not None}
    lb = props.get("loadBalancingSettings")
    if lb is not None:
        if not isinstance(lb, dict) or any(not isinstance(lb.get(k, 1), int) or lb.get(k, 1) < 0 for k in
                                           ("sampleSize", "successfulSamplesRequired",
                                            "additionalLatencyInMilliseconds")):
            raise ArmError(400, "BadRequest", "loadBalancingSettings holds non-negative integers.")
        if lb.get("sampleSize", 1) < 1 or lb.get("successfulSamplesRequired", 1) < 1:
            raise ArmError(400, "BadRequest", "sampleSize and successfulSamplesRequired must be >= 1.")
        changes["loadBalancingSettings"] = {k: v for k, v in lb.items() if v is not None}
    minutes = props.get("trafficRestorationTimeToHealedOrNewEndpointsInMinutes")
    if minutes is not None:
        if not isinstance(minutes, int) or not 0 <= minutes <= 50:
            raise ArmError(400, "BadRequest",
                           "trafficRestorationTimeToHealedOrNewEndpointsInMinutes must be 0..50.")
        changes["trafficRestorationTimeToHealedOrNewEndpointsInMinutes"] = minutes
    if "authentication" in props:
        changes["authentication"] = props["authentication"]
    if not changes:
        raise ArmError(400, "BadRequest", "Nothing to update in the origin group.")
    return changes
