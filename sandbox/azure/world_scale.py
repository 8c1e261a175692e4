"""The generated resources of a scaled world (``scale.Scale``), added after the default estate.

Kept apart from the resource modules so the default world (one failover group, one storage
account, one origin group) is built exactly as before; a ``Scale()`` adds nothing. Each generated
resource is an ordinary one of its kind, so the SQL, storage and Front Door rules (failovers,
busy conflicts, operations, faults) apply to it unchanged.
"""

from __future__ import annotations

from .replication import GeoReplica
from .scale import database_name, origin_name
from .world_frontdoor import FrontDoorRules, Origin, OriginGroup
from .world_sql import FailoverGroup, SqlRules
from .world_storage import StorageAccount, StorageRules


class ScaleRules(SqlRules, StorageRules, FrontDoorRules):
    """Adds ``topology.scale``'s failover groups, storage accounts and origin groups."""

    def _reset_scale(self, now: float) -> None:
        scale = self.topology.scale
        if scale.empty:
            return
        t = self.topology
        primary, secondary = t.sql_servers[t.primary_region], t.sql_servers[t.secondary_region]
        for index, name in enumerate(scale.failover_group_names(), start=1):
            database = database_name(index)
            self.failover_groups[name] = FailoverGroup(
                name=name, members=(primary, secondary), primary=primary, databases=[database],
                replicas={database: GeoReplica(primary, secondary, self.replication_lag, now)},
                link_started_at=now)
        for name in scale.storage_account_names():
            self.storage_accounts[name] = StorageAccount(
                name=name, sku="Standard_GRS", primary_region=t.primary_region,
                secondary_region=t.secondary_region,
                replica=GeoReplica(t.primary_region, t.secondary_region, self.storage_lag, now), created_at=now)
        default = self.frontdoor.origin_groups[t.origin_group]
        for name in scale.origin_group_names():
            origins = {}
            for priority, region in enumerate((t.primary_region, t.secondary_region), start=1):
                host, port = self.app_endpoints[region]
                origin = Origin(name=origin_name(name, region), region=region, host_name=host, http_port=port,
                                priority=priority, weight=1000, origin_host_header=host)
                origin.deployed = origin.settings()
                origins[origin.name] = origin
            group = OriginGroup(name=name, origins=origins, health_probe=dict(default.health_probe),
                                load_balancing=dict(default.load_balancing))
            group.deployed = group.settings()
            self.frontdoor.origin_groups[name] = group
