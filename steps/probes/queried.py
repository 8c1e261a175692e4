"""What every metric source that *reads* a window from a monitoring system shares (Prometheus,
Application Insights): wait out the window in real time, wait the system's ingestion delay, then
ask for exactly that span.

Unlike the synthetic probe these sources send no traffic: they only time the window and query it.
``close()`` ends a window's waits at once (a hold's monitor, a shutdown), and windows asked for from
several threads run one after another.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from odin_drills.steps.clock import Clock, measurement_window
from odin_drills.steps.probes.synthetic import ProbeClosed
from odin_drills.steps.snapshot import Snapshot


class QueriedWindowSource:
    """A ``MetricSource`` whose windows are read back from a monitoring system; subclasses say how
    (``read_window``) and what to release on close (``release``). ``spec`` needs
    ``min_window_wall_seconds`` and ``query_delay``."""

    name: str

    def __init__(self, spec: Any, clock: Clock, wall_now: Any = time.time) -> None:
        self.spec = spec
        self.clock = clock
        self._wall_now = wall_now
        self._closed = threading.Event()
        self._window_lock = threading.Lock()

    def _sleep(self, seconds: float) -> None:
        if self._closed.wait(seconds):
            raise ProbeClosed(f"{self.name} was closed during a window")

    def wall_seconds(self, plan_seconds: float) -> float:
        floor = self.spec.min_window_wall_seconds if self.clock.scale != 1 else 0.0
        return max(self.clock.wall_seconds(plan_seconds), floor)

    def measure(self, plan_seconds: float) -> Snapshot:
        if self._closed.is_set():
            raise ProbeClosed(f"{self.name} is closed")
        wall = self.wall_seconds(plan_seconds)
        with self._window_lock, measurement_window(self.clock, plan_seconds, wall) as span:
            if wall > 0:
                self._sleep(wall)
            ended = self._wall_now()
            if self.spec.query_delay > 0:
                self._sleep(self.spec.query_delay)
            window = self.read_window(ended, max(wall, 0.001))
        return window.model_copy(update={"started_at": span.started_at, "ended_at": span.ended_at or self.clock.now(),
                                         "source": self.name})

    def read_window(self, end: float, seconds: float) -> Snapshot:
        """The ``seconds`` of wall time up to ``end`` (unix seconds) as a Snapshot."""
        raise NotImplementedError

    def release(self) -> None:
        """Close what this source opened (called once no window is running)."""

    def close(self) -> None:
        self._closed.set()
        with self._window_lock:  # the interrupted window, if any, has returned
            self.release()
