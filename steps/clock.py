"""Plan time: real time, or real time run N× faster for rehearsals and tests.

A migration's phases are a week, an hour and a day apart. Under ``ScaledClock(scale=N)`` the same
code waits ``seconds / N`` of wall time, and ``now()`` advances N× faster from the moment the clock
was made, so journals, deadlines and reports all speak plan time. ``ManualClock`` is the test double:
``sleep`` advances it instantly.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    scale: float

    def now(self) -> datetime:
        """The current plan time, timezone-aware UTC."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of plan time."""

    def wall_seconds(self, seconds: float) -> float:
        """How much real time ``seconds`` of plan time takes on this clock."""


class ScaledClock:
    """Plan time that runs ``scale`` times faster than the wall clock (1 = real time)."""

    def __init__(self, scale: float = 1.0, start: datetime | None = None) -> None:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        self.scale = float(scale)
        self._origin_plan = start or datetime.now(timezone.utc)
        self._origin_wall = time.monotonic()

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._origin_wall) * self.scale
        return self._origin_plan + timedelta(seconds=elapsed)

    def wall_seconds(self, seconds: float) -> float:
        return max(0.0, seconds) / self.scale

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(self.wall_seconds(seconds))

    def sleep_until(self, moment: datetime) -> None:
        self.sleep((moment - self.now()).total_seconds())


class RealClock(ScaledClock):
    def __init__(self) -> None:
        super().__init__(1.0)


class ManualClock:
    """A clock that only moves when told to (or when something sleeps on it). For tests."""

    def __init__(self, start: datetime | None = None, scale: float = 1.0) -> None:
        self.scale = scale
        self._now = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def sleep_until(self, moment: datetime) -> None:
        self.sleep((moment - self.now()).total_seconds())

    def wall_seconds(self, seconds: float) -> float:
        return 0.0
