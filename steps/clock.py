"""Plan time: real time, or real time run N× faster for rehearsals and tests.

A migration's phases are a week, an hour and a day apart. Under ``ScaledClock(scale=N)`` the same
code waits ``seconds / N`` of wall time and ``now()`` advances N× faster than the wall clock, so
journals, deadlines, comms and reports all speak plan time. ``ManualClock`` is the test double:
``sleep`` advances it instantly.

Measurement windows are the exception to "N× faster". A window of ``D`` plan seconds must gather
real requests, so under a scaled clock it lasts at least the probe's real-time floor ``W`` — far
longer than ``D / N``. Counting those ``W`` wall seconds at N× would make a 5-minute gate window
33 plan hours at N = 20000. Instead, a window opened with ``clock.window(D, W)`` advances plan time
by exactly ``D``:

* while it is open, plan time runs at ``D / W`` instead of N, and never past ``start + D`` (a
  window that overruns — in-flight requests awaited after the sending stops — holds plan time at
  its end until it closes);
* when it closes, plan time steps to ``start + D`` if it has not got there (a window that ended
  early still counts its full length).

Why a slower rate rather than freezing the clock and stepping by ``D`` at the end: other threads
(comms schedules, hold deadlines, detection loops, live progress) keep seeing plan time move at a
steady pace through the window instead of a stall and a jump, and everything journaled inside the
window is stamped between its start and its end. Plan time never goes backwards: windows that
overlap share the slowest rate and the nearest end, and a window whose end plan time has already
passed (another thread's wait moved the clock on) simply holds the clock until it closes.

Engine work between waits and windows (starting a Prefect task, a PUT to the router) runs at
``idle_rate``: N by default, so background threads that poll ``now()`` (the drill's detection
and comms loops) see plan time move N× faster. The migration flow passes ``idle_rate=1``: its
only waits are the clock's own (phase waits, ``wait`` steps, windows, hold deadlines through
``advance_to``), and engine work then counts its real time — at N = 20000 half a second of task
start-up would otherwise be 2.8 plan hours, and the demo's T-0 would read hours, not minutes.

Waits shrink by N, always: ``sleep(s)`` waits ``s / N`` wall seconds, and if a window slowed the
clock meanwhile it moves plan time on to ``start + s`` when it wakes, so a wait always takes its
full plan length. ``advance_to`` does the same for waits that happen outside the clock (a hold
deadline timed in wall seconds). Under ``scale == 1`` (production) plan time *is* wall time:
windows, sleeps and ``advance_to`` never bend it, and a 5-minute window is 5 real minutes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol


@dataclass
class WindowSpan:
    """Where a measurement window lies in plan time; ``ended_at`` is set when the window closes."""

    plan_seconds: float
    started_at: datetime
    ended_at: datetime | None = None


class Clock(Protocol):
    scale: float

    def now(self) -> datetime:
        """The current plan time, timezone-aware UTC."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of plan time."""

    def wall_seconds(self, seconds: float) -> float:
        """How much real time ``seconds`` of plan time takes on this clock."""

    def window(self, plan_seconds: float, wall_seconds: float) -> Any:
        """A context manager around a measurement window of ``plan_seconds`` lasting about
        ``wall_seconds`` of real time; it yields a ``WindowSpan`` and advances plan time by
        ``plan_seconds`` over the window."""


@contextmanager
def measurement_window(clock: Any, plan_seconds: float, wall_seconds: float) -> Iterator[WindowSpan]:
    """``clock.window(...)``, or for a clock without one: time the block and sleep out the rest."""
    opener = getattr(clock, "window", None)
    if opener is not None:
        with opener(plan_seconds, wall_seconds) as span:
            yield span
        return
    span = WindowSpan(plan_seconds, clock.now())
    yield span
    remaining = plan_seconds - (clock.now() - span.started_at).total_seconds()
    if remaining > 0:
        clock.sleep(remaining)
    span.ended_at = clock.now()


def _ceil_micro(seconds: float) -> float:
    """Round up to a whole microsecond, so ``start + D`` converts to datetimes exactly ``D`` apart."""
    return math.ceil(seconds * 1_000_000 - 1e-6) / 1_000_000


@dataclass
class _Open:
    rate: float  # plan seconds per wall second while this window is open
    end: float  # plan seconds since the origin at which this window is over


class ScaledClock:
    """Plan time that runs ``scale`` times faster than the wall clock (1 = real time).

    ``wall_time`` and ``wall_sleep`` (default ``time.monotonic`` and ``time.sleep``) are the wall
    clock it reads and waits on; tests inject a fake one. Thread-safe.
    """

    def __init__(
        self,
        scale: float = 1.0,
        start: datetime | None = None,
        *,
        wall_time: Callable[[], float] = time.monotonic,
        wall_sleep: Callable[[float], None] = time.sleep,
        idle_rate: float | None = None,
    ) -> None:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        self.scale = float(scale)
        self.idle_rate = self.scale if idle_rate is None else float(idle_rate)
        self._origin_plan = start or datetime.now(timezone.utc)
        self._wall_time = wall_time
        self._wall_sleep = wall_sleep
        self._lock = threading.Lock()
        # plan time = _anchor_plan + _rate × (wall − _anchor_wall), capped at _cap (seconds since origin)
        self._anchor_wall = wall_time()
        self._anchor_plan = 0.0
        self._rate = self.idle_rate
        self._cap = math.inf
        self._last = 0.0  # the latest plan time handed out: nothing after it may be earlier
        self._open: dict[object, _Open] = {}

    # -- plan seconds since the origin; the caller holds the lock --------------------------------

    def _plan_at(self, wall: float) -> float:
        plan = self._anchor_plan + self._rate * max(0.0, wall - self._anchor_wall)
        if plan > self._cap:
            plan = max(self._cap, self._anchor_plan)
        plan = max(plan, self._last)
        self._last = plan
        return plan

    def _reanchor(self, wall: float, plan: float) -> None:
        self._anchor_wall, self._anchor_plan = wall, max(plan, self._last)
        self._last = self._anchor_plan
        if self._open:
            self._rate = min(w.rate for w in self._open.values())
            self._cap = min(w.end for w in self._open.values())
        else:
            self._rate, self._cap = self.idle_rate, math.inf

    def _plan_now(self) -> float:
        with self._lock:
            return self._plan_at(self._wall_time())

    def _to_datetime(self, plan: float) -> datetime:
        return self._origin_plan + timedelta(seconds=plan)

    # -- Clock ----------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._to_datetime(self._plan_now())

    def wall_seconds(self, seconds: float) -> float:
        return max(0.0, seconds) / self.scale

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        target = self._plan_now() + seconds
        self._wall_sleep(self.wall_seconds(seconds))
        self._advance_plan_to(target)

    def sleep_until(self, moment: datetime) -> None:
        self.sleep((moment - self.now()).total_seconds())

    def advance_to(self, moment: datetime) -> None:
        """A wait timed elsewhere (in wall seconds) has taken plan time to ``moment``: never back."""
        self._advance_plan_to((moment - self._origin_plan).total_seconds())

    def _advance_plan_to(self, target: float) -> None:
        if self.scale == 1:
            return  # plan time is wall time
        with self._lock:
            wall = self._wall_time()
            if target > self._plan_at(wall):
                self._reanchor(wall, target)

    @contextmanager
    def window(self, plan_seconds: float, wall_seconds: float) -> Iterator[WindowSpan]:
        """A measurement window: plan time advances by ``plan_seconds`` over it (see the module doc)."""
        if self.scale == 1 or plan_seconds <= 0:
            span = WindowSpan(plan_seconds, self.now())
            yield span
            span.ended_at = self.now()
            return
        key = object()
        with self._lock:
            wall = self._wall_time()
            start = _ceil_micro(self._plan_at(wall))
            rate = plan_seconds / wall_seconds if wall_seconds > 0 else 0.0
            self._open[key] = _Open(rate=rate, end=start + plan_seconds)
            self._reanchor(wall, start)
        span = WindowSpan(plan_seconds, self._to_datetime(start))
        completed = False
        try:
            yield span
            completed = True
        finally:
            with self._lock:
                wall = self._wall_time()
                plan = self._plan_at(wall)
                del self._open[key]
                # an interrupted window ends where it stands; a finished one has taken its full length
                end = max(plan, start + plan_seconds) if completed else plan
                self._reanchor(wall, end)
            span.ended_at = self._to_datetime(end)


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

    def advance_to(self, moment: datetime) -> None:
        with self._lock:
            self._now = max(self._now, moment)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.advance(seconds)

    def sleep_until(self, moment: datetime) -> None:
        self.sleep((moment - self.now()).total_seconds())

    def wall_seconds(self, seconds: float) -> float:
        return 0.0

    @contextmanager
    def window(self, plan_seconds: float, wall_seconds: float) -> Iterator[WindowSpan]:
        """Takes no real time; when the window closes the clock has moved on by ``plan_seconds``."""
        span = WindowSpan(plan_seconds, self.now())
        yield span
        self.advance_to(span.started_at + timedelta(seconds=max(0.0, plan_seconds)))
        span.ended_at = self.now()
