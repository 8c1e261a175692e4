"""ARM routes for Microsoft.Network/dnsZones: the zone (GET) and its A and CNAME record sets
(GET, PUT, DELETE), in the shapes of Microsoft's examples (api-version 2018-05-01, what
``azure-mgmt-dns`` 9.0.0 sends).

Kept beside ``arm_app`` rather than in it: DNS is synchronous in ARM (no long-running
operations), so it shares only the front door — auth, faults, scope, the world's lock — which
``ArmApi`` applies before calling these handlers.

- ``GET dnsZones/{zone}``: ``nameServers`` are the sandbox's DNS responder (``127.0.0.1:PORT``),
  so a client that asks "which servers answer for this zone?" reaches it, as it would reach
  Azure's ``ns1-01.azure-dns.com.`` in the cloud;
- ``PUT dnsZones/{zone}/{A|CNAME}/{name}``: 201 when created, 200 when replaced;
- ``DELETE``: 200, or 204 when there was nothing to delete (as the examples show).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .world_dns import MAX_RECORD_SETS, DnsZone, RecordSet

if TYPE_CHECKING:
    from .arm_app import Call, Result
    from .world import World

Handler = Callable[["Call"], "Result"]


def dns_routes(world: World, rg_pattern: str) -> list[tuple[str, str, Handler]]:
    """``(method, path pattern, handler)`` for ``ArmApi``'s table; ``rg_pattern`` matches up to ``/providers``."""
    zone = rg_pattern + r"/Microsoft\.Network/dnsZones/(?P<zone>[^/]+)"
    record = zone + r"/(?P<rtype>A|CNAME)/(?P<record>[^/]+)"

    def get_zone(call: Call) -> Result:
        return 200, zone_shape(world, world.dns_zone(call.params["zone"])), {}

    def get_record_set(call: Call) -> Result:
        p = call.params
        found = world.record_set(p["zone"], p["rtype"], p["record"])
        return 200, record_set_shape(world, world.dns_zone(p["zone"]), found), {}

    def put_record_set(call: Call) -> Result:
        p = call.params
        stored, created = world.put_record_set(p["zone"], p["rtype"], p["record"], call.body)
        return (201 if created else 200), record_set_shape(world, world.dns_zone(p["zone"]), stored), {}

    def delete_record_set(call: Call) -> Result:
        p = call.params
        return (200 if world.delete_record_set(p["zone"], p["rtype"], p["record"]) else 204), None, {}

    return [("GET", zone + "$", get_zone),
            ("GET", record + "$", get_record_set),
            ("PUT", record + "$", put_record_set),
            ("DELETE", record + "$", delete_record_set)]


def zone_shape(world: World, zone: DnsZone) -> dict[str, Any]:
    return {"id": world.topology.dns_zone_id(zone.name), "etag": zone.etag, "location": "global",
            "name": zone.name, "type": "Microsoft.Network/dnsZones",
            "properties": {"maxNumberOfRecordSets": MAX_RECORD_SETS, "numberOfRecordSets": len(zone.record_sets),
                           "nameServers": list(world.dns_name_servers)},
            "tags": {}}


def record_set_shape(world: World, zone: DnsZone, record: RecordSet) -> dict[str, Any]:
    fqdn = (zone.name if record.name == "@" else f"{record.name}.{zone.name}") + "."
    props: dict[str, Any] = {"metadata": dict(record.metadata), "TTL": record.ttl, "fqdn": fqdn}
    if record.type == "A":
        props["ARecords"] = [{"ipv4Address": v} for v in record.values]
    else:
        props["CNAMERecord"] = {"cname": record.values[0]}
    return {"id": world.topology.record_set_id(zone.name, record.type, record.name), "etag": record.etag,
            "name": record.name, "type": f"Microsoft.Network/dnsZones/{record.type}", "properties": props}
