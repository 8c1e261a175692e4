"""The acknowledged writes: the ground truth of data-loss measurement.

A drill measures RPO by asking which writes the demo service *acknowledged* are still on the
current primary after a failover. That only works if the sandbox remembers every acknowledgement
apart from the replicas that may lose them, so the ledger lives outside the resources: the SQL
failover group and the storage account put records into their ``GeoReplica``; the ledger keeps
what was promised to the caller (id, when, where, payload hash) and the payloads themselves.

The ledger takes no lock and reads no clock: the ``World`` calls it under its lock, at its time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .clock import iso
from .replication import GeoReplica, Record


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


class WriteLedger:
    """Every acknowledged write in order, and the payload behind each write id."""

    def __init__(self) -> None:
        self._writes: list[AckedWrite] = []
        self._payloads: dict[str, tuple[bytes, str]] = {}

    def acknowledge(self, replica: GeoReplica, *, kind: str, key: str, write_id: str, store: str,
                    app_region: str, committed_on: str, payload: bytes, content_type: str,
                    at: float) -> AckedWrite:
        """Commit a write on the replica's primary and remember that the caller was told so."""
        replica.write(Record(key=key, write_id=write_id, at=at))
        self._payloads[write_id] = (payload, content_type)
        ack = AckedWrite(id=write_id, kind=kind, key=key, store=store, app_region=app_region,
                         committed_on=committed_on, at=at,
                         sha256=hashlib.sha256(payload).hexdigest(), size=len(payload))
        self._writes.append(ack)
        return ack

    def writes(self, kind: str) -> list[AckedWrite]:
        """Every acknowledged write of one kind, oldest first (a blob restore's version history)."""
        return [w for w in self._writes if w.kind == kind]

    def payload(self, record: Record | None) -> tuple[bytes, str] | None:
        """The bytes and content type of what a replica holds, or None if it holds nothing."""
        return self._payloads[record.write_id] if record else None

    def report(self, replicas: Mapping[str, GeoReplica]) -> list[dict[str, Any]]:
        """Every acknowledged write and whether the replica of its kind (``"order"``/``"blob"``)
        still holds it on the *current* primary."""
        return [{
            "id": w.id, "kind": w.kind, "key": w.key, "store": w.store, "region": w.app_region,
            "committed_on": w.committed_on, "acknowledged_at": iso(w.at),
            "acknowledged_at_epoch": w.at, "payload_sha256": w.sha256, "bytes": w.size,
            "survives": replicas[w.kind].holds(w.id),
        } for w in self._writes]
