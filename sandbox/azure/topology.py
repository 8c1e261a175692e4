"""The names and ARM ids of everything the sandbox simulates, in one place.

Two regions, a SQL failover group across them, a geo-redundant storage account, a Front Door
profile, a public DNS zone whose ``app`` name points at the primary region's app, and an App
Service plan with one web app per region (whose ``orders`` connection string names the failover
group's listener, or in ``per_server`` mode the primary's server). Names are fixed (a runbook
written against the sandbox reads like one written against a real subscription); the subscription
id comes from the seed so two sandboxes never look like the same tenant.

Ids follow what Azure itself returns: SQL and Storage use the camel-case segments of the
request paths (``resourceGroups``); Front Door answers with lower-case segments
(``resourcegroups``, ``origingroups``, ``afdendpoints``), as in the published examples. ARM
treats ids case-insensitively, and so must code that compares them.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

from .scale import Scale

REGIONS: tuple[str, str] = ("eastus", "westus")
"""Sandbox regions, in their ARM (canonical) spelling."""

DISPLAY_NAMES: dict[str, str] = {"eastus": "East US", "westus": "West US"}
"""The SQL resource provider reports locations by display name, as its examples show."""

CONNECTION_MODES: tuple[str, str] = ("listener", "per_server")
"""What each web app's ``orders`` connection string names at start: ``listener``, the failover
group's read-write listener (writes follow the primary: a failover needs no app change);
``per_server``, the primary region's SQL server itself (a failover needs the runbook's "update
connection strings" step, or the DR region's app keeps writing to the old primary)."""


def seeded_uuid(seed: object, purpose: str) -> str:
    """A version-4-shaped UUID that is the same for the same seed and purpose."""
    return str(uuid.UUID(int=random.Random(f"{seed}/{purpose}").getrandbits(128), version=4))


@dataclass(frozen=True)
class Topology:
    """Resource names of one sandbox world and the ARM ids built from them."""

    subscription_id: str
    resource_group: str = "rg-odin-drills"
    primary_region: str = "eastus"
    secondary_region: str = "westus"
    sql_servers: dict[str, str] = field(
        default_factory=lambda: {"eastus": "odin-sql-eastus", "westus": "odin-sql-westus"})
    failover_group: str = "odin-fg"
    database: str = "orders"
    storage_account: str = "odindrillsdata"
    frontdoor_profile: str = "odin-frontdoor"
    frontdoor_endpoint: str = "odin-edge"
    frontdoor_route: str = "default-route"
    origin_group: str = "app-origins"
    origins: dict[str, str] = field(
        default_factory=lambda: {"eastus": "app-eastus", "westus": "app-westus"})
    dns_zone: str = "odin-demo.example"
    dns_app_record: str = "app"  # CNAME to the primary region's app (its origin name, an A record)
    app_service_plans: dict[str, str] = field(
        default_factory=lambda: {"eastus": "odin-plan-eastus", "westus": "odin-plan-westus"})
    web_apps: dict[str, str] = field(
        default_factory=lambda: {"eastus": "app-eastus", "westus": "app-westus"})  # one per plan, same region
    connection_mode: str = "listener"  # one of CONNECTION_MODES
    scale: Scale = field(default_factory=Scale)  # generated resources beside the fixed ones (``scale``)

    def __post_init__(self) -> None:
        if self.connection_mode not in CONNECTION_MODES:
            raise ValueError(f"connection_mode {self.connection_mode!r}: one of {', '.join(CONNECTION_MODES)}")

    @classmethod
    def from_seed(cls, seed: object, connection_mode: str = "listener", scale: Scale | None = None) -> Topology:
        return cls(subscription_id=seeded_uuid(seed, "subscription"), connection_mode=connection_mode,
                   scale=scale or Scale())

    # --- ids -------------------------------------------------------------------------------
    @property
    def resource_group_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"

    def sql_server_id(self, server: str) -> str:
        return f"{self.resource_group_id}/providers/Microsoft.Sql/servers/{server}"

    def failover_group_id(self, server: str, failover_group: str) -> str:
        return f"{self.sql_server_id(server)}/failoverGroups/{failover_group}"

    def database_id(self, server: str, database: str) -> str:
        return f"{self.sql_server_id(server)}/databases/{database}"

    def replication_link_id(self, server: str, database: str, link: str) -> str:
        return f"{self.database_id(server, database)}/replicationLinks/{link}"

    def storage_account_id(self, account: str) -> str:
        return f"{self.resource_group_id}/providers/Microsoft.Storage/storageAccounts/{account}"

    def cdn_profile_id(self, profile: str) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourcegroups/{self.resource_group}"
                f"/providers/Microsoft.Cdn/profiles/{profile}")

    def origin_group_id(self, profile: str, origin_group: str) -> str:
        return f"{self.cdn_profile_id(profile)}/origingroups/{origin_group}"

    def origin_id(self, profile: str, origin_group: str, origin: str) -> str:
        return f"{self.origin_group_id(profile, origin_group)}/origins/{origin}"

    def endpoint_id(self, profile: str, endpoint: str) -> str:
        return f"{self.cdn_profile_id(profile)}/afdendpoints/{endpoint}"

    def route_id(self, profile: str, endpoint: str, route: str) -> str:
        return f"{self.endpoint_id(profile, endpoint)}/routes/{route}"

    def dns_zone_id(self, zone: str) -> str:
        return f"{self.resource_group_id}/providers/Microsoft.Network/dnsZones/{zone}"

    def record_set_id(self, zone: str, record_type: str, name: str) -> str:
        return f"{self.dns_zone_id(zone)}/{record_type}/{name}"

    def app_service_plan_id(self, plan: str) -> str:
        return f"{self.resource_group_id}/providers/Microsoft.Web/serverfarms/{plan}"

    def web_app_id(self, app: str) -> str:
        return f"{self.resource_group_id}/providers/Microsoft.Web/sites/{app}"
