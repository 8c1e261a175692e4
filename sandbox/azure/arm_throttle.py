"""ARM's per-subscription write limit, as a token bucket, and a count of who ignored it.

Azure Resource Manager throttles each subscription's writes (PUT, PATCH, POST, DELETE) with a
token bucket: a burst of N, refilled continuously; when it is empty the write is answered 429
``TooManyRequests`` with ``Retry-After``, and every answer carries
``x-ms-ratelimit-remaining-subscription-writes``. A drill that fails over hundreds of resources at
once runs into it, and what matters is how the engine behaves then: a client that sends another
write before a ``Retry-After`` it was given has elapsed only burns budget and prolongs the throttle.

``ArmWriteThrottle`` answers like ARM (opt-in: a sandbox without ``arm_write_limit`` never
throttles) and counts, per subscription, the writes, the 429s and the writes that **arrived before
the last Retry-After returned for that subscription had elapsed** ("ignored Retry-After") — the
number a well-behaved engine keeps at 0. The sandbox runs on a scaled clock, so the limit is given
in wall seconds (e.g. ``50/1``: a burst of 50, 50 more per second) and the wait is sent to the
millisecond: ``Retry-After`` as fractional seconds (ARM sends whole seconds; azure-core parses
either) and ``x-ms-retry-after-ms``; the deadline counted against is exactly that wait.

Reads are not limited here (ARM's read limit is separate and far higher); LRO polls are reads.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

WRITE_METHODS = frozenset({"PUT", "PATCH", "POST", "DELETE"})
_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*s?\s*$")


@dataclass(frozen=True)
class WriteLimit:
    """A burst of ``writes``, refilled at ``writes`` per ``window_seconds`` (wall time)."""

    writes: int
    window_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.writes < 1 or self.window_seconds <= 0:
            raise ValueError(f"arm write limit: need at least 1 write per a positive window, not "
                             f"{self.writes}/{self.window_seconds}")

    @property
    def refill_per_second(self) -> float:
        return self.writes / self.window_seconds

    def text(self) -> str:
        return f"{self.writes}/{self.window_seconds:g}s"


def parse_write_limit(text: str | WriteLimit | None) -> WriteLimit | None:
    """``"50/1"`` or ``"50/1s"`` (writes per seconds) → ``WriteLimit``; None/empty → no limit."""
    if text is None or isinstance(text, WriteLimit):
        return text
    if not str(text).strip():
        return None
    match = _LIMIT.match(str(text))
    if match is None:
        raise ValueError(f"arm write limit {text!r}: expected WRITES/SECONDS, e.g. 50/1")
    return WriteLimit(int(match.group(1)), float(match.group(2)))


@dataclass(frozen=True)
class WriteVerdict:
    """The throttle's answer to one write."""

    allowed: bool
    remaining: int
    retry_after: float | None = None  # seconds, when not allowed

    def headers(self) -> dict[str, str]:
        headers = {"x-ms-ratelimit-remaining-subscription-writes": str(self.remaining)}
        if self.retry_after is not None:
            millis = max(1, math.ceil(self.retry_after * 1000))
            headers["Retry-After"] = f"{millis / 1000:.3f}"  # fractional: the sandbox's clock is scaled
            headers["x-ms-retry-after-ms"] = str(millis)
        return headers

    def body(self) -> dict[str, Any]:
        return {"error": {"code": "TooManyRequests",
                          "message": "The request was throttled: the subscription's write limit is exhausted. "
                                     f"Retry after {self.retry_after:.3f} seconds."}}


@dataclass
class _Bucket:
    tokens: float
    updated_at: float
    retry_deadline: float = 0.0  # the latest Retry-After returned, as a deadline
    reads: int = 0
    writes: int = 0
    throttled: int = 0
    ignored_retry_after: int = 0


class ArmWriteThrottle:
    """One bucket per subscription; thread-safe (the ARM server answers on its own thread)."""

    def __init__(self, limit: WriteLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def admit(self, method: str, path: str) -> WriteVerdict | None:
        """None for a read (counted, never limited); else whether this write may proceed (and the
        headers to answer with)."""
        match = _SUBSCRIPTION.match(path)
        subscription = match.group(1).lower() if match else "-"
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(subscription)
            if bucket is None:
                bucket = self._buckets[subscription] = _Bucket(float(self.limit.writes), now)
            if method.upper() not in WRITE_METHODS:
                bucket.reads += 1
                return None
            rate = self.limit.refill_per_second
            bucket.tokens = min(float(self.limit.writes), bucket.tokens + (now - bucket.updated_at) * rate)
            bucket.updated_at = now
            bucket.writes += 1
            if now < bucket.retry_deadline:
                bucket.ignored_retry_after += 1
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return WriteVerdict(True, int(bucket.tokens))
            wait = (1.0 - bucket.tokens) / rate
            wait = math.ceil(wait * 1000) / 1000  # what x-ms-retry-after-ms says, so honouring it is never early
            bucket.retry_deadline = max(bucket.retry_deadline, now + wait)
            bucket.throttled += 1
            return WriteVerdict(False, 0, wait)

    def stats(self) -> dict[str, Any]:
        """Totals and per-subscription counts, for tests, benches and ``GET /throttle``."""
        with self._lock:
            subs = {s: {"reads": b.reads, "writes": b.writes, "throttled": b.throttled,
                        "ignored_retry_after": b.ignored_retry_after} for s, b in self._buckets.items()}
        return {"limit": self.limit.text(),
                "reads": sum(s["reads"] for s in subs.values()),
                "writes": sum(s["writes"] for s in subs.values()),
                "throttled": sum(s["throttled"] for s in subs.values()),
                "ignored_retry_after": sum(s["ignored_retry_after"] for s in subs.values()),
                "subscriptions": subs}

    def reset(self) -> None:
        """Full buckets and zero counts (the sandbox's ``reset()``)."""
        with self._lock:
            self._buckets.clear()
