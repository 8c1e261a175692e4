"""The SQL failover group: two servers (one per region) and the rules of failing over between them.

The primary takes the demo service's order writes and replicates them to the secondary with a
lag (a ``GeoReplica`` per database). Failovers are Azure's three:

- **planned** (``failover``): waits for the secondary to catch up, loses nothing, and fails
  with ``FailoverGroupPrimaryUnreachable`` unless both regions answer;
- **forced** (``forceFailoverAllowDataLoss``): immediate, loses exactly what was not replicated;
- **try-planned** (``tryPlannedBeforeForcedFailover``): planned if both regions answer when the
  operation completes, forced otherwise.

Failovers are POSTed to the server that is to *become* primary; a server in a region that is
down answers ARM with 503, since its resource provider does not answer either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .clock import iso
from .errors import ArmError, DataPlaneUnavailable, OperationError
from .operations import Operation
from .replication import GeoReplica
from .topology import seeded_uuid
from .world_base import WorldBase
from .world_writes import AckedWrite

PLANNED, FORCED, TRY_PLANNED = "failover", "forceFailoverAllowDataLoss", "tryPlannedBeforeForcedFailover"
SQL_FAILOVERS = (PLANNED, FORCED, TRY_PLANNED)


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


class SqlRules(WorldBase):
    """SQL servers, failover groups, their replication links, failovers, and the orders."""

    servers: dict[str, SqlServer]
    failover_groups: dict[str, FailoverGroup]

    # ===================================================================== estate and time
    def _reset_sql(self, now: float) -> None:
        """One server per region; the failover group's primary in the primary region."""
        t = self.topology
        self.servers = {name: SqlServer(name, region) for region, name in t.sql_servers.items()}
        primary = t.sql_servers[t.primary_region]
        secondary = t.sql_servers[t.secondary_region]
        self.failover_groups = {t.failover_group: FailoverGroup(
            name=t.failover_group, members=(primary, secondary), primary=primary,
            databases=[t.database],
            replicas={t.database: GeoReplica(primary, secondary, self.replication_lag, now)},
            link_started_at=now)}

    def _replicate_sql(self, at: float) -> None:
        for group in self.failover_groups.values():
            up = self._link_up(*(self.servers[s].region for s in group.members))
            for replica in group.replicas.values():
                replica.advance(at, up)

    def _sql_summary(self) -> dict[str, Any]:
        return {g.name: {
            "primary": g.primary, "secondary": g.secondary,
            "primary_region": self.servers[g.primary].region,
            "replication_state": self.failover_group_state(g),
            "pending_writes": sum(r.pending for r in g.replicas.values()),
            "synced_through": min((iso(r.synced_through) for r in g.replicas.values()), default=None),
            "busy_with": g.busy_with,
        } for g in self.failover_groups.values()}

    # ===================================================================== reading
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
            if database is not None and database.lower() not in {
                    d.lower() for g in self.failover_groups.values() for d in g.databases}:
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

    # ===================================================================== failover
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

    # ===================================================================== create / update
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

    # ===================================================================== the orders
    def write_order(self, app_region: str, payload: bytes, server: str | None = None) -> AckedWrite:
        """Commit an order through the failover group's read-write listener (its primary), or on
        ``server`` when the app's connection string names one: only the primary takes writes (a
        geo-secondary is read-only), and a server in a region that is down does not answer."""
        t = self.topology
        with self.lock:
            self.advance()
            group = self.failover_groups[t.failover_group]
            primary = self.servers[group.primary]
            if server is not None:
                named = self._find(self.servers, server)
                if named is None:
                    raise DataPlaneUnavailable("ServerNotFound", f"There is no server '{server}'.")
                if self.region_down(named.region):
                    raise DataPlaneUnavailable(
                        "DatabaseUnavailable",
                        f"The server '{named.name}' in region '{named.region}' does not answer (region outage).")
                if named.name != primary.name:
                    raise DataPlaneUnavailable(
                        "DatabaseReadOnly",
                        f"The server '{named.name}' is a geo-secondary of failover group '{group.name}' (the primary "
                        f"is '{primary.name}'): its database '{t.database}' is read-only, so the write failed.")
            if self.region_down(primary.region):
                raise DataPlaneUnavailable(
                    "DatabaseUnavailable",
                    f"The read-write listener of failover group '{group.name}' points to "
                    f"'{primary.name}' in region '{primary.region}', which does not answer.")
            write_id = self._new_id()
            return self.ledger.acknowledge(
                group.replicas[t.database], kind="order", key=write_id, write_id=write_id,
                store=t.failover_group_id(primary.name, group.name), app_region=app_region,
                committed_on=primary.name, payload=payload, content_type="application/json",
                at=self.clock())

    def read_order(self, order_id: str) -> bytes | None:
        t = self.topology
        with self.lock:
            self.advance()
            group = self.failover_groups[t.failover_group]
            primary = self.servers[group.primary]
            if self.region_down(primary.region):
                raise DataPlaneUnavailable("DatabaseUnavailable",
                                           f"The primary '{primary.name}' does not answer.")
            found = self.ledger.payload(group.replicas[t.database].read(order_id))
            return found[0] if found else None
