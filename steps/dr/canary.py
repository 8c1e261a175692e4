"""The canary: measured data loss instead of estimated data loss.

During the drill a background thread writes small unique payloads through the service (Front Door
+ ``canary.path``) at a fixed rate and keeps every write the service *acknowledged*, with the
acknowledgement's plan time, wall time and the payload's SHA-256. After the failover
``verify()`` reads each acknowledged write back from the new primary and sorts it:

* **verified**: present with the payload that was sent;
* **lost**: acknowledged, and the new primary does not have it (404) — the RPO is made of these;
* **corrupted**: present with a different payload;
* **unreadable**: the read itself failed (after retries), so nothing can be said about it.

A write the service refused or never answered (during the outage, say) was never promised to
anyone: it is a *failed write*, counted separately, never a loss.

Payloads are JSON objects ``{"canary", "seq", "data"}``; their hash is taken over the canonical
encoding (sorted keys, no spaces), which is also what the sandbox's demo service hashes.

Journal entries:
  canary_started   url, rate_per_second, payload_bytes
  canary_state     state (acknowledging|failing), seq, reason, previous, previous_lasted_seconds,
                   previous_writes
  canary_stopped   attempted, acknowledged, failed_writes
  canary_verified  acknowledged, verified, lost, corrupted, unreadable, lost_ids (first 20),
                   oldest_lost_ack, newest_ack_before_failover, newest_surviving_ack
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import httpx
from pydantic import BaseModel, Field

from odin_drills.plan.drill import DrillPlan, ResolvedEndpoints
from odin_drills.steps.dr.detection import http_failure
from odin_drills.steps.probes.smoke import display_url, transport_failure


def canonical(payload: Any) -> bytes:
    """The bytes a payload is hashed over: JSON with sorted keys and no spaces."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def sha256_of(payload: Any) -> str:
    return hashlib.sha256(canonical(payload)).hexdigest()


class CanaryWrite(BaseModel):
    """One acknowledged canary write."""

    seq: int
    write_id: str | None = Field(description="the id the service acknowledged the write under")
    sha256: str = Field(description="of the canonical payload sent")
    sent_at: datetime = Field(description="plan time")
    acked_at: datetime = Field(description="plan time the acknowledgement arrived")
    acked_wall: datetime
    server_acknowledged_at: str | None = Field(default=None, description="the service's own timestamp, if it gave one")
    served_by: str | None = None


@dataclass(frozen=True)
class ReadBack:
    """What reading one write back found: ``found`` True/False, or None when the read failed."""

    found: bool | None
    payload: Any = None
    detail: str = ""


Reader = Callable[[str], ReadBack]
"""Reads one write back by its id from the new primary."""


class CanaryResult(BaseModel):
    attempted: int
    acknowledged: int = Field(description="writes the service acknowledged: the ones that count")
    failed_writes: int = Field(description="writes never acknowledged: not losses")
    failures_by_reason: dict[str, int] = Field(default_factory=dict)
    verified: int
    lost: list[CanaryWrite] = Field(default_factory=list)
    corrupted: list[CanaryWrite] = Field(default_factory=list)
    unreadable: list[CanaryWrite] = Field(default_factory=list)
    failover_at: datetime | None = Field(default=None, description="when the failover began (plan time)")
    newest_surviving_ack: datetime | None = None
    oldest_lost_ack: datetime | None = None
    newest_lost_ack: datetime | None = None
    newest_ack_before_failover: datetime | None = Field(
        default=None, description="the newest acknowledgement before failover_at (None without it)")

    @property
    def lost_ids(self) -> list[str]:
        return [w.write_id for w in self.lost if w.write_id]

    @property
    def lost_span_seconds(self) -> float | None:
        """Oldest lost write to the newest write acknowledged before the failover (never short of
        the newest lost write); 0 when none was lost; None when nothing was acknowledged."""
        if not self.lost:
            return 0.0 if self.acknowledged else None
        assert self.oldest_lost_ack is not None and self.newest_lost_ack is not None
        end = max(self.newest_lost_ack, self.newest_ack_before_failover or self.newest_lost_ack)
        return (end - self.oldest_lost_ack).total_seconds()


class CanaryWriter:
    """Writes canary payloads through the service on a background thread. Thread-safe."""

    def __init__(
        self,
        url: str,
        clock: Any,
        rate_per_second: float = 5.0,
        journal: Any = None,
        *,
        read_path: str = "/api/orders/{id}",
        read_field: str | None = "order",
        id_field: str = "id",
        payload_bytes: int = 64,
        timeout: float = 2.0,
        region_header: str = "x-odin-region",
        phase: str | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        """
        :param url: where writes are POSTed (Front Door + ``canary.path``).
        :param rate_per_second: writes per wall second (the service sees the same load at any scale).
        :param read_path: appended to ``verify``'s base URL to read a write back; ``{id}`` is its id.
        :param read_field: where the read answer holds the payload (None: the whole body).
        :param timeout: wall seconds per request.
        """
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.url = url
        self.clock = clock
        self.rate_per_second = float(rate_per_second)
        self.journal = journal
        self.read_path = read_path
        self.read_field = read_field
        self.id_field = id_field
        self.payload_bytes = payload_bytes
        self.timeout = timeout
        self.region_header = region_header
        self.phase = phase
        self.run_id = uuid.uuid4().hex[:12]
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._lock = threading.Lock()
        self._acked: list[CanaryWrite] = []
        self._attempted = 0
        self._failures: Counter[str] = Counter()
        self._state: tuple[bool, datetime, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_plan(cls, plan: DrillPlan, endpoints: ResolvedEndpoints, clock: Any, journal: Any = None,
                  **options: Any) -> CanaryWriter:
        c = plan.canary
        return cls(endpoints.frontdoor + c.path, clock, c.rate_per_second, journal, read_path=c.read_path,
                   read_field=c.read_field, payload_bytes=c.payload_bytes, timeout=c.timeout,
                   region_header=plan.detection.region_header, **options)

    # ===================================================================== writing
    def start(self) -> CanaryWriter:
        if self._thread is None:
            self._stop.clear()
            self._journal("canary_started", url=display_url(self.url), rate_per_second=self.rate_per_second,
                          payload_bytes=self.payload_bytes)
            self._thread = threading.Thread(target=self._run, name="odin-canary", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop writing (the write in flight finishes); idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            with self._lock:
                attempted, acked = self._attempted, len(self._acked)
            self._journal("canary_stopped", attempted=attempted, acknowledged=acked,
                          failed_writes=attempted - acked)

    def close(self) -> None:
        self.stop()
        if self._own_client:
            self._client.close()

    def __enter__(self) -> CanaryWriter:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def acknowledged(self) -> list[CanaryWrite]:
        """The acknowledged writes so far, oldest first."""
        with self._lock:
            return list(self._acked)

    def _run(self) -> None:
        period = 1.0 / self.rate_per_second
        origin = time.monotonic()
        slot = 0
        while not self._stop.is_set():
            self.write_once()
            slot = max(slot + 1, int((time.monotonic() - origin) / period) + 1)  # late: skip, never burst
            self._stop.wait(max(0.0, origin + slot * period - time.monotonic()))

    def write_once(self) -> CanaryWrite | None:
        """Send one canary write now; the acknowledged write, or None when it was not acknowledged."""
        with self._lock:
            seq = self._attempted
            self._attempted += 1
        payload = {"canary": self.run_id, "seq": seq, "data": secrets.token_hex(max(1, self.payload_bytes // 2))}
        digest = sha256_of(payload)
        sent_at = self.clock.now()
        try:
            response = self._send(seq, payload)
        except Exception as exc:  # noqa: BLE001 - an unanswered write is a failed write, not a crash
            self._failed(seq, transport_failure(exc, display_url(self.url), self.timeout))
            return None
        acked_at = self.clock.now()
        if not 200 <= response.status_code < 300:
            self._failed(seq, http_failure(response))
            return None
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        write_id = body.get(self.id_field)
        write = CanaryWrite(seq=seq, write_id=str(write_id) if write_id is not None else None, sha256=digest,
                            sent_at=sent_at, acked_at=acked_at, acked_wall=datetime.now(timezone.utc),
                            server_acknowledged_at=body.get("acknowledged_at"),
                            served_by=response.headers.get(self.region_header))
        with self._lock:
            self._acked.append(write)
        self._note_state(True, seq, "acknowledged", acked_at)
        return write

    def _send(self, seq: int, payload: Any) -> httpx.Response:
        """One write on the wire: POST the payload (a subclass may write elsewhere, e.g. a blob per write)."""
        return self._client.post(self.url, content=canonical(payload), headers={"content-type": "application/json"},
                                 timeout=self.timeout)

    def _failed(self, seq: int, reason: str) -> None:
        with self._lock:
            self._failures[reason] += 1
        self._note_state(False, seq, reason, self.clock.now())

    def _note_state(self, ok: bool, seq: int, reason: str, at: datetime) -> None:
        with self._lock:
            previous = self._state
            if previous is not None and previous[0] == ok:
                self._state = (ok, previous[1], previous[2] + 1)
                return
            self._state = (ok, at, 1)
        entry: dict[str, Any] = {"state": "acknowledging" if ok else "failing", "seq": seq, "reason": reason}
        if previous is not None:
            entry.update(previous="acknowledging" if previous[0] else "failing",
                         previous_lasted_seconds=round((at - previous[1]).total_seconds(), 3),
                         previous_writes=previous[2])
        self._journal("canary_state", **entry)

    # ===================================================================== reading back
    def http_reader(self, base_url: str, client: httpx.Client | None = None, attempts: int = 3) -> Reader:
        """Read writes back with ``GET base_url + read_path``: 404 is missing, 2xx found, anything
        else (after ``attempts``) unreadable. Uses the writer's client unless given one."""
        base = base_url.rstrip("/")
        session = client or self._client

        def read(write_id: str) -> ReadBack:
            url = base + self.read_path.format(id=write_id)
            detail = ""
            for attempt in range(attempts):
                if attempt:
                    time.sleep(0.05 * attempt)
                try:
                    response = session.get(url, timeout=self.timeout)
                except Exception as exc:  # noqa: BLE001 - unreadable, not lost
                    detail = transport_failure(exc, display_url(url), self.timeout)
                    continue
                if response.status_code == 404:
                    return ReadBack(found=False, detail="HTTP 404")
                if 200 <= response.status_code < 300:
                    try:
                        body = response.json()
                    except ValueError:
                        return ReadBack(found=True, payload=None, detail="the answer is not JSON")
                    if self.read_field is not None:
                        body = body.get(self.read_field) if isinstance(body, dict) else None
                    return ReadBack(found=True, payload=body)
                detail = http_failure(response)
            return ReadBack(found=None, detail=detail)

        return read

    def verify(self, reader: str | Reader, failover_at: datetime | None = None) -> CanaryResult:
        """Read every acknowledged write back (``reader``: the new primary's base URL, or a
        function) and compare payload hashes. Works after ``close()`` too.

        ``failover_at`` (plan time) is when the failover *began* (the decision, or the first
        failover action): acknowledgements before it bound the RPO. Not its completion: the new
        primary may acknowledge canary writes before the runbook notices the operation finished,
        and those would stretch the RPO by the whole outage. Without it the RPO span ends at the
        newest lost write.
        """
        if isinstance(reader, str):
            if self._client.is_closed:
                with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                    return self._verify(self.http_reader(reader, client), failover_at)
            return self._verify(self.http_reader(reader), failover_at)
        return self._verify(reader, failover_at)

    def _verify(self, read: Reader, failover_at: datetime | None) -> CanaryResult:
        acked = self.acknowledged()
        with self._lock:
            attempted = self._attempted
            failures = dict(self._failures)
        verified: list[CanaryWrite] = []
        lost: list[CanaryWrite] = []
        corrupted: list[CanaryWrite] = []
        unreadable: list[CanaryWrite] = []
        for write in acked:
            if write.write_id is None:
                unreadable.append(write)
                continue
            found = read(write.write_id)
            if found.found is None:
                unreadable.append(write)
            elif not found.found:
                lost.append(write)
            elif found.payload is None or sha256_of(found.payload) != write.sha256:
                corrupted.append(write)
            else:
                verified.append(write)
        before = [w.acked_at for w in acked if failover_at is not None and w.acked_at < failover_at]
        result = CanaryResult(
            attempted=attempted, acknowledged=len(acked), failed_writes=attempted - len(acked),
            failures_by_reason=failures, verified=len(verified), lost=lost, corrupted=corrupted,
            unreadable=unreadable, failover_at=failover_at,
            newest_surviving_ack=max((w.acked_at for w in verified + corrupted), default=None),
            oldest_lost_ack=min((w.acked_at for w in lost), default=None),
            newest_lost_ack=max((w.acked_at for w in lost), default=None),
            newest_ack_before_failover=max(before, default=None),
        )
        self._journal("canary_verified", acknowledged=result.acknowledged, verified=result.verified,
                      lost=len(lost), corrupted=len(corrupted), unreadable=len(unreadable),
                      lost_ids=result.lost_ids[:20], oldest_lost_ack=result.oldest_lost_ack,
                      newest_ack_before_failover=result.newest_ack_before_failover,
                      newest_surviving_ack=result.newest_surviving_ack)
        return result

    def _journal(self, kind: str, **data: Any) -> None:
        if self.journal is not None:
            self.journal.append(kind, phase=self.phase, **data)

