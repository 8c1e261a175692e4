"""World state → ARM JSON, in the shapes of Microsoft's published REST examples.

One function per resource type. The key sets mirror ``tests/contract/azure-rest-examples/`` (the
contract tests compare them), values come from the world. Callers hold the world's lock.
"""

from __future__ import annotations

from typing import Any

from .clock import iso
from .world import FailoverGroup, FrontDoor, Origin, OriginGroup, SqlServer, StorageAccount, World


# --- Microsoft.Sql ---------------------------------------------------------------------------
def sql_server(world: World, server: SqlServer) -> dict[str, Any]:
    t = world.topology
    return {
        "id": t.sql_server_id(server.name),
        "name": server.name,
        "type": "Microsoft.Sql/servers",
        "location": world.display_name(server.region),
        "kind": "v12.0",
        "properties": {
            "administratorLogin": "odinadmin",
            "version": "12.0",
            "state": "Ready",
            "fullyQualifiedDomainName": f"{server.name}.database.windows.net",
            "publicNetworkAccess": "Enabled",
        },
    }


def failover_group(world: World, group: FailoverGroup, server: str) -> dict[str, Any]:
    """The failover group as ``server`` sees it: its own role, and its partner's."""
    t = world.topology
    me = world.servers[server]
    partner = world.servers[group.partner_of(server)]
    read_write: dict[str, Any] = {"failoverPolicy": group.read_write_policy}
    if group.grace_minutes is not None:
        read_write["failoverWithDataLossGracePeriodMinutes"] = group.grace_minutes
    return {
        "id": t.failover_group_id(me.name, group.name),
        "name": group.name,
        "type": "Microsoft.Sql/servers/failoverGroups",
        "location": world.display_name(me.region),
        "properties": {
            "readWriteEndpoint": read_write,
            "readOnlyEndpoint": {"failoverPolicy": group.read_only_policy},
            "replicationRole": "Primary" if group.primary == me.name else "Secondary",
            "replicationState": world.failover_group_state(group),
            "partnerServers": [{
                "id": t.sql_server_id(partner.name),
                "location": world.display_name(partner.region),
                "replicationRole": "Primary" if group.primary == partner.name else "Secondary",
            }],
            "databases": [t.database_id(me.name, db) for db in group.databases],
        },
    }


def replication_link(world: World, group: FailoverGroup, database: str, server: str) -> dict[str, Any]:
    t = world.topology
    replica = group.replicas[database]
    partner = world.servers[group.partner_of(server)]
    link = world.replication_link_id(group, database)
    role = "Primary" if group.primary == server else "Secondary"
    state = world.failover_group_state(group)
    return {
        "properties": {
            "partnerServer": partner.name,
            "partnerDatabase": database,
            "partnerDatabaseId": t.database_id(partner.name, database),
            "partnerLocation": world.display_name(partner.region),
            "role": role,
            "partnerRole": "Secondary" if role == "Primary" else "Primary",
            "replicationMode": "ASYNC",
            "startTime": iso(group.link_started_at),
            "percentComplete": 0 if replica.seeding else 100,
            "replicationState": state,
            "isTerminationAllowed": True,
            "linkType": "GEO",
        },
        "id": t.replication_link_id(server, database, link),
        "name": link,
    }


def database(world: World, db: dict[str, Any]) -> dict[str, Any]:
    """A database (the failover group's, or a restored copy) in the shape of Microsoft's
    ``CreateDatabasePITRMode`` example; ``tags`` only when it has some, as ARM answers."""
    t = world.topology
    server = world.servers[db["server"]]
    sku = {"name": "Standard", "tier": "Standard", "capacity": 10}
    body: dict[str, Any] = {
        "sku": dict(sku),
        "kind": "v12.0,user",
        "properties": {
            "collation": "SQL_Latin1_General_CP1_CI_AS",
            "maxSizeBytes": 268435456000,
            "status": db["status"],
            "databaseId": db["database_id"],
            "creationDate": iso(db["created_at"]),
            "currentServiceObjectiveName": "S0",
            "requestedServiceObjectiveName": "S0",
            "defaultSecondaryLocation": world.display_name(world.topology.secondary_region
                                                           if server.region == world.topology.primary_region
                                                           else world.topology.primary_region),
            "catalogCollation": "SQL_Latin1_General_CP1_CI_AS",
            "isInfraEncryptionEnabled": False,
            "zoneRedundant": False,
            "earliestRestoreDate": iso(world.earliest_restore_point()),
            "readScale": "Disabled",
            "currentSku": dict(sku),
            "currentBackupStorageRedundancy": "Geo",
            "requestedBackupStorageRedundancy": "Geo",
            "isLedgerOn": False,
        },
        "location": world.display_name(server.region),
        "id": t.database_id(server.name, db["name"]),
        "name": db["name"],
        "type": "Microsoft.Sql/servers/databases",
    }
    if db.get("tags"):
        body["tags"] = dict(db["tags"])
    return body


# --- Microsoft.Storage -----------------------------------------------------------------------
def storage_account(world: World, account: StorageAccount, expand_geo: bool) -> dict[str, Any]:
    t = world.topology
    name = account.name
    created = iso(account.created_at)
    services = ("web", "dfs", "blob", "file", "queue", "table")
    props: dict[str, Any] = {
        "keyCreationTime": {"key1": created, "key2": created},
    }
    if expand_geo:
        stats = world.geo_replication_stats(account)
        if stats is not None:
            props["geoReplicationStats"] = stats
    props.update({
        "isHnsEnabled": False,
        "creationTime": created,
        "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow", "ipRules": [],
                        "virtualNetworkRules": [], "resourceAccessRules": []},
        "primaryEndpoints": {
            **{s: f"https://{name}.{s}.core.windows.net/" for s in services},
            "microsoftEndpoints": {s: f"https://{name}-microsoftrouting.{s}.core.windows.net/" for s in services},
            "internetEndpoints": {s: f"https://{name}-internetrouting.{s}.core.windows.net/"
                                  for s in ("web", "dfs", "blob", "file")},
        },
        "primaryLocation": account.primary_region,
        "provisioningState": "Succeeded",
        "routingPreference": {"routingChoice": "MicrosoftRouting", "publishMicrosoftEndpoints": True,
                              "publishInternetEndpoints": True},
        "encryption": {
            "services": {s: {"keyType": "Account", "enabled": True, "lastEnabledTime": created}
                         for s in ("file", "blob")},
            "keySource": "Microsoft.Storage",
        },
    })
    if account.secondary_region is not None:
        props["secondaryLocation"] = account.secondary_region
    props["statusOfPrimary"] = "unavailable" if world.region_down(account.primary_region) else "available"
    if account.secondary_region is not None:
        props["statusOfSecondary"] = "unavailable" if world.region_down(account.secondary_region) else "available"
    if account.last_failover_at is not None:
        props["lastGeoFailoverTime"] = iso(account.last_failover_at)
    if account.busy_with is not None:
        props["failoverInProgress"] = True
    props.update({"supportsHttpsTrafficOnly": True, "isSkuConversionBlocked": False,
                  "accountMigrationInProgress": False})
    return {
        "id": t.storage_account_id(name),
        "kind": account.kind,
        "location": account.primary_region,
        "name": name,
        "properties": props,
        "sku": {"name": account.sku, "tier": "Standard"},
        "tags": {"purpose": "odin-drills-sandbox"},
        "type": "Microsoft.Storage/storageAccounts",
    }


# --- Microsoft.Cdn (Azure Front Door Standard/Premium) ---------------------------------------
def cdn_profile(world: World, fd: FrontDoor) -> dict[str, Any]:
    return {
        "name": fd.profile,
        "type": "Microsoft.Cdn/profiles",
        "id": world.topology.cdn_profile_id(fd.profile),
        "kind": "frontdoor",
        "location": "global",
        "properties": {
            "frontDoorId": fd.front_door_id,
            "logScrubbing": {"scrubbingRules": [], "state": "Disabled"},
            "originResponseTimeoutSeconds": 30,
            "provisioningState": "Succeeded",
            "resourceState": "Active",
        },
        "sku": {"name": fd.sku},
        "tags": {},
    }


def afd_endpoint(world: World, fd: FrontDoor) -> dict[str, Any]:
    return {
        "name": fd.endpoint,
        "type": "Microsoft.Cdn/profiles/afdendpoints",
        "id": world.topology.endpoint_id(fd.profile, fd.endpoint),
        "location": "global",
        "properties": {
            "autoGeneratedDomainNameLabelScope": "TenantReuse",
            "deploymentStatus": "NotStarted",
            "enabledState": "Enabled",
            "hostName": fd.endpoint_host,
            "provisioningState": "Succeeded",
        },
        "tags": {},
    }


def route(world: World, fd: FrontDoor) -> dict[str, Any]:
    t = world.topology
    camel_profile = f"{t.resource_group_id}/providers/Microsoft.Cdn/profiles/{fd.profile}"
    return {
        "name": fd.route,
        "type": "Microsoft.Cdn/profiles/afdendpoints/routes",
        "id": t.route_id(fd.profile, fd.endpoint, fd.route),
        "properties": {
            "cacheConfiguration": {
                "compressionSettings": {"contentTypesToCompress": [], "isCompressionEnabled": False},
                "queryParameters": None,
                "queryStringCachingBehavior": "IgnoreQueryString",
            },
            "customDomains": [],
            "deploymentStatus": "NotStarted",
            "enabledState": "Enabled",
            "forwardingProtocol": "HttpOnly",
            "httpsRedirect": "Disabled",
            "linkToDefaultDomain": "Enabled",
            "originGroup": {"id": f"{camel_profile}/originGroups/{fd.route_origin_group}"},
            "originPath": None,
            "patternsToMatch": ["/*"],
            "provisioningState": "Succeeded",
            "ruleSets": [],
            "supportedProtocols": ["Http", "Https"],
        },
    }


def origin_group(world: World, fd: FrontDoor, og: OriginGroup) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if og.authentication is not None:
        props["authentication"] = og.authentication
    props.update({
        "deploymentStatus": "NotStarted",
        "healthProbeSettings": dict(og.health_probe),
        "loadBalancingSettings": dict(og.load_balancing),
        "provisioningState": og.provisioning_state,
        "trafficRestorationTimeToHealedOrNewEndpointsInMinutes": og.restoration_minutes,
    })
    return {
        "name": og.name,
        "type": "Microsoft.Cdn/profiles/origingroups",
        "id": world.topology.origin_group_id(fd.profile, og.name),
        "properties": props,
    }


def origin(world: World, fd: FrontDoor, og: OriginGroup, o: Origin) -> dict[str, Any]:
    return {
        "name": o.name,
        "type": "Microsoft.Cdn/profiles/origingroups/origins",
        "id": world.topology.origin_id(fd.profile, og.name, o.name),
        "properties": {
            "deploymentStatus": "NotStarted",
            "enabledState": o.enabled_state,
            "enforceCertificateNameCheck": o.enforce_certificate_name_check,
            "hostName": o.host_name,
            "httpPort": o.http_port,
            "httpsPort": o.https_port,
            "originGroupName": og.name,
            "originHostHeader": o.origin_host_header,
            "priority": o.priority,
            "provisioningState": o.provisioning_state,
            "sharedPrivateLinkResource": None,
            "weight": o.weight,
        },
    }
