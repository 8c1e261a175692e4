"""The plan clock: waits shrink by N, a measurement window counts its plan length, never backwards.

Driven by an injected wall clock (no real sleeps) except where a thread test needs real ones.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from odin_drills.steps.clock import ManualClock, ScaledClock, WindowSpan, measurement_window

START = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


class FakeWall:
    """A wall clock that moves only when told to, or when something sleeps on it."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def scaled(scale: float) -> tuple[ScaledClock, FakeWall]:
    wall = FakeWall()
    return ScaledClock(scale, START, wall_time=wall, wall_sleep=wall.sleep), wall


def elapsed(clock, since: datetime = START) -> float:
    return (clock.now() - since).total_seconds()


def test_plan_time_runs_n_times_faster_than_wall_time() -> None:
    clock, wall = scaled(20000)
    wall.t += 0.5
    assert elapsed(clock) == pytest.approx(10000)


def test_waits_shrink_by_n() -> None:
    clock, wall = scaled(20000)
    clock.sleep(3600)
    assert wall.slept == [pytest.approx(0.18)]
    assert elapsed(clock) == pytest.approx(3600)
    clock.sleep_until(START + timedelta(hours=24))
    assert wall.slept[-1] == pytest.approx(82800 / 20000)
    assert elapsed(clock) == pytest.approx(86400)


def test_a_window_with_a_long_wall_floor_advances_plan_time_by_its_plan_length() -> None:
    clock, wall = scaled(20000)
    before = clock.now()
    with clock.window(300, 6.0) as span:  # 300 plan s would be 0.015 wall s; the floor makes it 6
        assert span.started_at == before
        wall.t += 3.0
        assert elapsed(clock, before) == pytest.approx(150)  # half way, at D / W plan s per wall s
        wall.t += 3.0
    assert span.ended_at is not None
    assert (span.ended_at - span.started_at).total_seconds() == pytest.approx(300, abs=1e-6)
    assert elapsed(clock, before) == pytest.approx(300, abs=1e-6)  # not 6 × 20000 = 33 plan hours
    wall.t += 0.01  # after the window, N× again
    assert elapsed(clock, before) == pytest.approx(300 + 200, abs=1e-6)


def test_an_overrunning_window_holds_plan_time_at_its_end() -> None:
    clock, wall = scaled(20000)
    with clock.window(300, 6.0) as span:
        wall.t += 6.0
        inside = [clock.now()]
        wall.t += 4.0  # in-flight requests awaited after the sending stopped
        inside.append(clock.now())
    assert all(span.started_at <= t <= span.ended_at for t in inside)
    assert (span.ended_at - span.started_at).total_seconds() == pytest.approx(300, abs=1e-6)


def test_a_window_that_ends_early_still_counts_its_full_length() -> None:
    clock, wall = scaled(20000)
    with clock.window(300, 6.0) as span:
        wall.t += 1.0
    assert (span.ended_at - span.started_at).total_seconds() == pytest.approx(300, abs=1e-6)


def test_an_interrupted_window_ends_where_it_stands() -> None:
    clock, wall = scaled(20000)
    with pytest.raises(RuntimeError):
        with clock.window(300, 6.0) as span:
            wall.t += 1.0
            raise RuntimeError("probe closed")
    assert (span.ended_at - span.started_at).total_seconds() == pytest.approx(50)


def test_a_five_minute_gate_window_counts_five_minutes_not_days_over_a_t0_like_sequence() -> None:
    clock, wall = scaled(20000)
    for _ in range(3):  # step (50 ms of work), then a 5-minute gate window with a 6 s floor
        wall.t += 0.05
        with clock.window(300, 6.0):
            wall.t += 6.2
    assert elapsed(clock) == pytest.approx(3 * (300 + 0.05 * 20000), abs=1e-3)


def test_monotonic_across_windows_waits_and_pushes() -> None:
    clock, wall = scaled(20000)
    seen = [clock.now()]
    for _ in range(5):
        with clock.window(300, 6.0):
            for _ in range(8):
                wall.t += 1.0
                seen.append(clock.now())
        seen.append(clock.now())
        clock.sleep(1800)
        seen.append(clock.now())
        clock.advance_to(clock.now() - timedelta(hours=1))  # never back
        seen.append(clock.now())
        wall.t += 0.001
        seen.append(clock.now())
    assert seen == sorted(seen)


def test_a_wait_during_a_window_takes_its_full_plan_length_and_the_window_spans_it() -> None:
    """A hold deadline (4 h plan, 0.72 wall s) expiring while a monitor window is open."""
    clock, wall = scaled(20000)
    hold_started = clock.now()
    with clock.window(300, 6.0) as span:
        clock.sleep(4 * 3600)  # another thread in real life; wall moves 0.72 s
        assert elapsed(clock, hold_started) == pytest.approx(4 * 3600)
        wall.t += 5.0
        during = clock.now()
    assert span.started_at <= during <= span.ended_at
    assert span.ended_at >= hold_started + timedelta(hours=4)


def test_advance_to_moves_plan_time_on_and_never_back() -> None:
    clock, _ = scaled(20000)
    clock.advance_to(START + timedelta(hours=4))
    assert elapsed(clock) == pytest.approx(4 * 3600)
    clock.advance_to(START)
    assert elapsed(clock) == pytest.approx(4 * 3600)


def test_overlapping_windows_never_run_the_clock_backwards() -> None:
    clock, wall = scaled(20000)
    seen = []
    with clock.window(300, 6.0) as outer:
        wall.t += 3.0
        with clock.window(60, 6.0) as inner:
            for _ in range(6):
                wall.t += 1.0
                seen.append(clock.now())
        seen.append(clock.now())
    seen.append(clock.now())
    assert seen == sorted(seen)
    assert (outer.ended_at - outer.started_at).total_seconds() >= 300 - 1e-6
    assert (inner.ended_at - inner.started_at).total_seconds() >= 60 - 1e-6


def test_at_scale_one_plan_time_is_wall_time_and_a_window_is_its_real_length() -> None:
    clock, wall = scaled(1)
    with clock.window(300, 300) as span:
        wall.t += 310  # 300 s of sending and 10 s awaiting the last requests
    assert (span.ended_at - span.started_at).total_seconds() == pytest.approx(310)
    clock.advance_to(clock.now() + timedelta(hours=1))  # a wall-timed wait already took its real time
    assert elapsed(clock) == pytest.approx(310)
    clock.sleep(60)
    assert wall.slept == [60] and elapsed(clock) == pytest.approx(370)


def test_manual_clock_window_takes_no_time_and_advances_by_the_plan_length() -> None:
    clock = ManualClock(START)
    with clock.window(300, 0.0) as span:
        assert clock.now() == START
    assert span.ended_at == clock.now() == START + timedelta(seconds=300)


def test_a_clock_without_windows_sleeps_out_the_rest_of_the_window() -> None:
    class Bare:
        scale = 1.0

        def __init__(self) -> None:
            self.inner = ManualClock(START)

        def now(self) -> datetime:
            return self.inner.now()

        def sleep(self, seconds: float) -> None:
            self.inner.sleep(seconds)

    bare = Bare()
    with measurement_window(bare, 300, 0.0) as span:
        bare.inner.advance(100)
    assert isinstance(span, WindowSpan)
    assert span.ended_at == START + timedelta(seconds=300)


def test_thread_safe_and_monotonic_under_real_threads() -> None:
    clock = ScaledClock(20000)
    stop = threading.Event()
    problems: list[str] = []

    def reader() -> None:
        last = clock.now()
        while not stop.is_set():
            now = clock.now()
            if now < last:
                problems.append(f"{now} < {last}")
            last = now

    def windows() -> None:
        for _ in range(20):
            with clock.window(300, 0.01):
                pass

    def sleeper() -> None:
        for _ in range(20):
            clock.sleep(10)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    workers = [threading.Thread(target=windows), threading.Thread(target=sleeper)]
    for thread in readers + workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=30)
    stop.set()
    for thread in readers:
        thread.join(timeout=30)
    assert not problems


def test_with_idle_rate_one_engine_work_counts_its_real_time_and_waits_still_shrink() -> None:
    """The migration flow's clock: half a second of task start-up is half a plan second, not hours."""
    wall = FakeWall()
    clock = ScaledClock(20000, START, wall_time=wall, wall_sleep=wall.sleep, idle_rate=1.0)
    wall.t += 0.5  # engine work between steps
    assert elapsed(clock) == pytest.approx(0.5)
    clock.sleep(3600)  # a wait step: still N× shorter in wall time, its full length in plan time
    assert wall.slept == [pytest.approx(0.18)]
    assert elapsed(clock) == pytest.approx(3600.5)
    with clock.window(300, 3.0):  # a 5-minute gate window with a 3 s real floor
        wall.t += 3.0
    assert elapsed(clock) == pytest.approx(3900.5)
    wall.t += 0.25
    assert elapsed(clock) == pytest.approx(3900.75)
