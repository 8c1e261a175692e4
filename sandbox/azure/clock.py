"""Time for the Azure sandbox: one injectable source for every rule that depends on time.

Replication lag, last-sync times, long-running-operation durations and the timestamps that
ground RTO/RPO measurements all read the same clock. Production code and the servers use wall
time (``time.time``, seconds since the epoch, so timestamps mean the same thing to every process
on the machine); tests of the world's rules use a ``ManualClock`` and move it by hand, which
makes "a write 0.5 s before a 2 s-lag outage is lost" exact instead of flaky.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timezone

Clock = Callable[[], float]
"""Seconds since the epoch, as ``time.time`` returns them."""


def iso(ts: float) -> str:
    """ARM's timestamp format: ISO 8601 in UTC with a ``Z`` (the SDKs parse it into datetimes)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")


class ManualClock:
    """A clock that moves only when told to: deterministic time for tests without servers."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward (never back: replication watermarks assume monotonic time)."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        with self._lock:
            self._now += seconds
            return self._now
