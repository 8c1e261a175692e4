"""Asynchronous geo-replication with a lag: the one rule behind every RPO the sandbox produces.

A SQL failover group and a GRS storage account both keep a primary copy that acknowledges
writes at once and a secondary copy that receives them later. Azure describes the secondary by a
watermark: "everything written before *T* is there" (storage's ``lastSyncTime``; SQL's
replication lag). ``GeoReplica`` keeps exactly that watermark, so what a forced failover loses is
*exactly* the writes acknowledged after it — the ground truth a drill's RPO is checked against.

A write is on the secondary once the watermark has passed it (``at < synced_through``). The
watermark moves only while the link is up (both regions answer); the owner calls
``advance(now, link_up)`` before anything that could change the link, so the link is constant
between two calls and the result does not depend on how often anyone looks.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Record:
    """One acknowledged write as a copy holds it."""

    key: str
    write_id: str
    at: float


@dataclass
class Copy:
    """The data one site (a SQL server or a storage region) holds."""

    by_key: dict[str, Record] = field(default_factory=dict)
    write_ids: set[str] = field(default_factory=set)

    def apply(self, record: Record) -> None:
        self.by_key[record.key] = record
        self.write_ids.add(record.write_id)

    def clone(self) -> Copy:
        return Copy(dict(self.by_key), set(self.write_ids))


class GeoReplica:
    """A primary copy, an optional secondary copy, and the lagging stream between them."""

    def __init__(self, primary: str, secondary: str | None, lag: float, now: float) -> None:
        self.primary = primary
        self.secondary = secondary
        self.lag = lag
        self.copies: dict[str, Copy] = {primary: Copy()}
        if secondary is not None:
            self.copies[secondary] = Copy()
        self._pending: deque[Record] = deque()
        self.synced_through = now
        self._reseed_needed = False
        self._reseed_started: float | None = None

    # --- the stream ------------------------------------------------------------------------
    def write(self, record: Record) -> None:
        """The primary acknowledges a write; the secondary gets it ``lag`` seconds later."""
        self.copies[self.primary].apply(record)
        if self.secondary is not None:
            self._pending.append(record)

    def advance(self, now: float, link_up: bool) -> None:
        """Replicate what the lag allows by ``now``; nothing moves while the link is down."""
        if self.secondary is None:
            return
        if not link_up:
            self._reseed_started = None
            return
        if self._reseed_needed:
            # After a forced failover the old primary is rebuilt from the new one before it
            # can follow again: one lag of reseeding, counted from when the link is back.
            if self._reseed_started is None:
                self._reseed_started = now
            if now - self._reseed_started < self.lag:
                return
            self._reseed_needed = False
            self._reseed_started = None
        self.synced_through = max(self.synced_through, now - self.lag)
        target = self.copies[self.secondary]
        while self._pending and self._pending[0].at < self.synced_through:
            target.apply(self._pending.popleft())

    # --- what an observer sees -------------------------------------------------------------
    @property
    def pending(self) -> int:
        """Writes acknowledged by the primary and not yet on the secondary."""
        return len(self._pending)

    @property
    def seeding(self) -> bool:
        return self._reseed_needed

    def caught_up_at(self, now: float) -> float:
        """When the secondary will hold everything written so far, if the link stays up."""
        done = now
        if self._reseed_needed:
            done = max(done, (self._reseed_started or now) + self.lag)
        if self._pending:
            done = max(done, self._pending[-1].at + self.lag)
        return done

    def holds(self, write_id: str) -> bool:
        """Does the current primary hold this write?"""
        return write_id in self.copies[self.primary].write_ids

    def read(self, key: str) -> Record | None:
        return self.copies[self.primary].by_key.get(key)

    # --- role changes ----------------------------------------------------------------------
    def drain(self, now: float) -> None:
        """Planned failover: the primary ships everything before roles swap, so nothing is lost."""
        if self.secondary is None:
            return
        target = self.copies[self.secondary]
        while self._pending:
            target.apply(self._pending.popleft())
        self._reseed_needed = False
        self._reseed_started = None
        self.synced_through = max(self.synced_through, now)

    def swap(self) -> None:
        """Exchange roles of two copies that hold the same data (call ``drain`` first)."""
        if self.secondary is None or self._pending:
            raise RuntimeError("swap needs a drained secondary")
        self.primary, self.secondary = self.secondary, self.primary

    def promote_secondary(self, now: float, keep_old_primary: bool) -> list[Record]:
        """Forced failover: the secondary becomes primary as it is; return the writes lost.

        With ``keep_old_primary`` the old primary turns secondary and is rebuilt from the new
        primary (its extra writes are gone for good); without it the copy is dropped (a storage
        account that fails over becomes locally redundant).
        """
        if self.secondary is None:
            raise RuntimeError("no secondary to promote")
        lost = list(self._pending)
        self._pending.clear()
        old_primary, new_primary = self.primary, self.secondary
        self.primary = new_primary
        if keep_old_primary:
            self.secondary = old_primary
            self.copies[old_primary] = self.copies[new_primary].clone()
            self._reseed_needed = True
            self._reseed_started = None
        else:
            self.secondary = None
            del self.copies[old_primary]
        self.synced_through = now
        return lost
