"""Azure DNS in the world: public zones and their A and CNAME record sets, and what they answer.

ARM (``arm_dns``) reads and writes record sets here; the UDP responder (``dns_server``) answers
queries from the same state, so a PUT is visible to resolvers at once — unless a ``dns_stale``
fault is in force: then the responder answers the zone as it was when the fault was injected (a
change that has not propagated), while ARM shows the change. That is why every change is kept
in a short history, not just the current record sets.

Rules (Azure's): names are case-insensitive; a CNAME record set cannot share its name with any
other record set (409 ``Conflict``); record set names are relative to the zone (``@``: the apex).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from .errors import ArmError
from .world_base import WorldBase

RECORD_TYPES = ("A", "CNAME")
DEFAULT_TTL = 3600  # what Azure's portal proposes; the REST API takes any TTL the body gives
MAX_RECORD_SETS = 10000
HISTORY_LIMIT = 1000  # changes kept per zone while no dns_stale fault needs the past
APP_ADDRESS = "127.0.0.1"  # where the region apps listen (each on its own port: info()["regions"])

Key = tuple[str, str]  # (relative name, lower case; record type)


@dataclass(frozen=True)
class RecordSet:
    name: str  # relative, as first created
    type: str  # "A" | "CNAME"
    ttl: int
    values: tuple[str, ...]  # A: IPv4 addresses; CNAME: (host name,)
    etag: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class DnsZone:
    name: str  # lower case, no trailing dot
    etag: str
    record_sets: dict[Key, RecordSet] = field(default_factory=dict)
    history: list[tuple[float, Key, RecordSet | None]] = field(default_factory=list)  # (at, key, then)

    def view_at(self, at: float | None) -> dict[Key, RecordSet]:
        """The record sets as they were at ``at`` (None: now)."""
        if at is None:
            return self.record_sets
        state: dict[Key, RecordSet] = {}
        for when, key, record in self.history:
            if when > at:
                break
            if record is None:
                state.pop(key, None)
            else:
                state[key] = record
        return state


def relative_name(name: str) -> str:
    return "@" if name in ("", "@") else name


class DnsRules(WorldBase):
    """Zones and record sets; ``dns_answer`` is the responder's question."""

    dns_zones: dict[str, DnsZone]
    dns_name_servers: list[str]  # what the zones report as nameServers: the sandbox's responder

    def _reset_dns(self, now: float) -> None:
        t = self.topology
        zone = DnsZone(name=t.dns_zone.lower(), etag=self._new_id())
        self.dns_zones = {zone.name: zone}
        for origin in t.origins.values():
            self._store(zone, RecordSet(origin, "A", 300, (APP_ADDRESS,), self._new_id()), now)
        target = f"{t.origins[t.primary_region]}.{t.dns_zone}"
        self._store(zone, RecordSet(t.dns_app_record, "CNAME", 60, (target,), self._new_id()), now)

    def _store(self, zone: DnsZone, record: RecordSet, now: float) -> None:
        key = (record.name.lower(), record.type)
        zone.record_sets[key] = record
        self._remember(zone, now, key, record)

    def _remember(self, zone: DnsZone, now: float, key: Key, record: RecordSet | None) -> None:
        """Keep the change for ``dns_stale``; without one in force, the past is only the present."""
        zone.history.append((now, key, record))
        if len(zone.history) > HISTORY_LIMIT and self.faults.dns_frozen_at(zone.name) is None:
            zone.history = [(now, k, r) for k, r in zone.record_sets.items()]

    # ===================================================================== ARM
    def dns_zone(self, name: str) -> DnsZone:
        with self.lock:
            zone = self._find(self.dns_zones, name.rstrip("."))
            if zone is None:
                raise ArmError(404, "ResourceNotFound",
                               f"The Resource 'Microsoft.Network/dnsZones/{name}' under resource group "
                               f"'{self.topology.resource_group}' was not found.")
            return zone

    def record_set(self, zone_name: str, record_type: str, name: str) -> RecordSet:
        with self.lock:
            zone = self.dns_zone(zone_name)
            found = zone.record_sets.get((relative_name(name).lower(), record_type.upper()))
            if found is None:
                raise ArmError(404, "NotFound",
                               f"The resource record '{name}' of type '{record_type.upper()}' does not exist "
                               f"in zone '{zone.name}'.")
            return found

    def put_record_set(self, zone_name: str, record_type: str, name: str, body: Any) -> tuple[RecordSet, bool]:
        """Create or replace a record set from an ARM body; (the record set, whether it was created)."""
        with self.lock:
            zone = self.dns_zone(zone_name)
            record_type, name = record_type.upper(), relative_name(name)
            props = body.get("properties") if isinstance(body, dict) else None
            if not isinstance(props, dict):
                raise ArmError(400, "BadRequest", "The request body needs 'properties'.")
            ttl = props.get("TTL", DEFAULT_TTL)
            if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 <= ttl <= 2147483647:
                raise ArmError(400, "BadRequest", f"The TTL '{ttl}' is not valid.")
            values = _values(record_type, props)
            key = (name.lower(), record_type)
            clash = [t for (n, t) in zone.record_sets if n == key[0] and t != record_type]
            if clash and (record_type == "CNAME" or "CNAME" in clash):
                raise ArmError(409, "Conflict",
                               f"The record set '{name}' cannot be a {record_type} record set: a {clash[0]} record "
                               "set of that name exists, and a CNAME record set must be the only one of its name.")
            previous = zone.record_sets.get(key)
            metadata = props.get("metadata") or {}
            record = RecordSet(previous.name if previous else name, record_type, ttl, values, self._new_id(),
                               dict(metadata) if isinstance(metadata, dict) else {})
            self._store(zone, record, self.clock())
            return record, previous is None

    def delete_record_set(self, zone_name: str, record_type: str, name: str) -> bool:
        """Delete a record set; False when there was none (ARM answers 204)."""
        with self.lock:
            zone = self.dns_zone(zone_name)
            key = (relative_name(name).lower(), record_type.upper())
            if key not in zone.record_sets:
                return False
            del zone.record_sets[key]
            self._remember(zone, self.clock(), key, None)
            return True

    def set_dns_record(self, zone_name: str, record_type: str, name: str, values: list[str], ttl: int = 60) -> None:
        """Change a record set behind ARM's back (tests: someone else changed DNS)."""
        body = {"properties": {"TTL": ttl, **({"ARecords": [{"ipv4Address": v} for v in values]}
                                              if record_type.upper() == "A" else {"CNAMERecord": {"cname": values[0]}})}}
        self.put_record_set(zone_name, record_type, name, body)

    # ===================================================================== the responder's question
    def dns_answer(self, qname: str, qtype: str) -> tuple[str, list[tuple[str, str, int, str]]]:
        """``(rcode, [(owner, type, ttl, value), ...])`` for a query: ``REFUSED`` outside the zones,
        ``NXDOMAIN`` for a name the zone does not hold; a CNAME is answered for any type and followed
        inside the zone (as an authoritative server does)."""
        with self.lock:
            name = qname.rstrip(".").lower()
            zone = next((z for z in self.dns_zones.values() if name == z.name or name.endswith("." + z.name)), None)
            if zone is None:
                return "REFUSED", []
            records = zone.view_at(self.faults.dns_frozen_at(zone.name))
            answers: list[tuple[str, str, int, str]] = []
            for _ in range(8):  # CNAME chains inside the zone, bounded
                relative = "@" if name == zone.name else name[: -len(zone.name) - 1]
                if not any(n == relative for n, _t in records):
                    return ("NXDOMAIN" if not answers else "NOERROR"), answers
                cname = records.get((relative, "CNAME"))
                if cname is not None and qtype != "CNAME":
                    answers.append((name, "CNAME", cname.ttl, cname.values[0]))
                    name = cname.values[0].rstrip(".").lower()
                    if not (name == zone.name or name.endswith("." + zone.name)):
                        break
                    continue
                found = records.get((relative, qtype))
                if found is not None:
                    answers += [(name, qtype, found.ttl, v) for v in found.values]
                break
            return "NOERROR", answers

    def _dns_summary(self) -> dict[str, Any]:
        return {z.name: {f"{r.name} {r.type}": list(r.values) for r in z.record_sets.values()}
                for z in self.dns_zones.values()}


def _values(record_type: str, props: dict[str, Any]) -> tuple[str, ...]:
    if record_type == "A":
        records = props.get("ARecords")
        if not isinstance(records, list) or not records:
            raise ArmError(400, "BadRequest", "An A record set needs 'ARecords' with at least one ipv4Address.")
        values = []
        for entry in records:
            address = entry.get("ipv4Address") if isinstance(entry, dict) else None
            try:
                values.append(str(ipaddress.IPv4Address(str(address))))
            except ValueError:
                raise ArmError(400, "BadRequest", f"The IPv4 address '{address}' is not valid.") from None
        return tuple(values)
    cname = props.get("CNAMERecord")
    host = cname.get("cname") if isinstance(cname, dict) else None
    if not isinstance(host, str) or not host.strip(". "):
        raise ArmError(400, "BadRequest", "A CNAME record set needs 'CNAMERecord' with 'cname'.")
    return (host.strip(),)

