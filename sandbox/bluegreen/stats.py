"""Server-side traffic counts and latency percentiles over a recent window.

The demo measures itself so a drill can check its probe: if the probe's p95 through the router
is far from the p95 the servers measured, the probe (not the service) is adding latency.
Two vantage points are kept: each version's own server (handler time: the natural latency,
injected latency and nothing else), and the router (from request parsed to response ready,
so it includes the proxy hop).

Counts are cumulative since the last reset; percentiles cover the last ``window_seconds``, to
within ±0.5 % (see ``LatencyWindow``), in memory that stays flat under a long soak. Everything
here runs on the demo's event loop thread, so it needs no locks.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), ``q`` in 0..100, of sorted values."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return sorted_values[0]
    rank = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


_BUCKET_RATIO = 1.01  # each bucket 1 % wider than the last: any value is known to ±0.5 %
_LOG_RATIO = math.log(_BUCKET_RATIO)
_SMALLEST_MS = 0.001


def _bucket(latency_ms: float) -> int:
    if latency_ms <= _SMALLEST_MS:
        return 0
    return int(math.log(latency_ms / _SMALLEST_MS) / _LOG_RATIO)


def _bucket_value(bucket: int) -> float:
    """The geometric middle of a bucket: at most 0.5 % from any value that fell in it."""
    return _SMALLEST_MS * _BUCKET_RATIO ** (bucket + 0.5)


class _Slot:
    __slots__ = ("number", "counts", "samples", "total_ms")

    def __init__(self, number: int) -> None:
        self.number = number
        self.counts: dict[int, int] = {}
        self.samples = 0
        self.total_ms = 0.0


class LatencyWindow:
    """Latency samples (ms) of the last ``window_seconds``, as a log-bucketed histogram.

    Why not keep every sample and sort on read: at 1000 req/s a minute is 60,000 samples per
    vantage point, and sorting them took ≈ 50-90 ms on the event loop - a stall every probe
    request in flight would see, inflating the very p99 the stats are meant to check. Buckets
    1 % wide make both recording and reading cost the same at any traffic, for percentiles
    within ±0.5 % of the exact ones. The window moves in 60 slots (1 s each by default), so a
    sample leaves it between ``window_seconds`` and ``window_seconds`` + one slot after it came.
    """

    SLOTS = 60

    def __init__(self, clock: Callable[[], float], window_seconds: float = 60.0) -> None:
        self._clock = clock
        self.window_seconds = window_seconds
        self._slot_seconds = window_seconds / self.SLOTS
        self._slots: deque[_Slot] = deque()
        self._counts: dict[int, int] = {}  # the sum of every slot's counts
        self._samples = 0
        self._total_ms = 0.0

    def add(self, latency_ms: float) -> None:
        number = int(self._clock() / self._slot_seconds)
        slots = self._slots
        if not slots or slots[-1].number != number:
            self._expire(number)
            slots.append(_Slot(number))
        slot = slots[-1]
        bucket = _bucket(latency_ms)
        slot.counts[bucket] = slot.counts.get(bucket, 0) + 1
        slot.samples += 1
        slot.total_ms += latency_ms
        self._counts[bucket] = self._counts.get(bucket, 0) + 1
        self._samples += 1
        self._total_ms += latency_ms

    def _expire(self, current: int) -> None:
        oldest_kept = current - self.SLOTS + 1
        slots, counts = self._slots, self._counts
        while slots and slots[0].number < oldest_kept:
            slot = slots.popleft()
            for bucket, count in slot.counts.items():
                left = counts[bucket] - count
                if left:
                    counts[bucket] = left
                else:
                    del counts[bucket]
            self._samples -= slot.samples
            self._total_ms -= slot.total_ms

    def clear(self) -> None:
        self._slots.clear()
        self._counts.clear()
        self._samples = 0
        self._total_ms = 0.0

    def percentiles(self, *qs: float) -> list[float | None]:
        """Percentiles (``q`` in 0..100) over the window, by the nearest-rank-above rule."""
        self._expire(int(self._clock() / self._slot_seconds))
        if not self._samples:
            return [None for _ in qs]
        ranks = [max(1, math.ceil(q / 100.0 * self._samples)) for q in qs]
        found: dict[int, float] = {}
        seen = 0
        pending = sorted(set(ranks))
        for bucket in sorted(self._counts):
            seen += self._counts[bucket]
            while pending and pending[0] <= seen:
                found[pending.pop(0)] = _bucket_value(bucket)
            if not pending:
                break
        return [found[rank] for rank in ranks]

    def summary(self) -> dict[str, float | int | None]:
        p50, p95, p99 = self.percentiles(50, 95, 99)
        samples = self._samples
        return {
            "samples": samples,
            "p50": _round(p50),
            "p95": _round(p95),
            "p99": _round(p99),
            "mean": _round(self._total_ms / samples) if samples else None,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class TrafficStats:
    """Requests, 5xx errors and latency for one vantage point (a version, or the router)."""

    def __init__(self, clock: Callable[[], float], window_seconds: float = 60.0) -> None:
        self.requests = 0
        self.errors = 0
        self.latency = LatencyWindow(clock, window_seconds)

    def record(self, status: int, latency_ms: float) -> None:
        self.requests += 1
        if status >= 500:
            self.errors += 1
        self.latency.add(latency_ms)

    def reset(self) -> None:
        self.requests = 0
        self.errors = 0
        self.latency.clear()

    def as_json(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.errors / self.requests, 6) if self.requests else None,
            "latency_ms": self.latency.summary(),
        }


class RouterStats(TrafficStats):
    """Router-side stats, plus where traffic went and how often an upstream could not answer."""

    def __init__(self, clock: Callable[[], float], versions: Iterable[str], window_seconds: float = 60.0) -> None:
        super().__init__(clock, window_seconds)
        self._versions = tuple(versions)
        self.routed = dict.fromkeys(self._versions, 0)
        self.upstream_failures = 0

    def reset(self) -> None:
        super().reset()
        self.routed = dict.fromkeys(self._versions, 0)
        self.upstream_failures = 0

    def as_json(self) -> dict[str, object]:
        return {**super().as_json(), "routed": dict(self.routed), "upstream_failures": self.upstream_failures}
