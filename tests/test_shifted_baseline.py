"""``policy.baseline_from: shifted``: each watch meets the same hours earlier, read back from a real
Prometheus scraping the real demo service (``tests/monitoring_servers.py``). Only plan time is
scaled (300×: an hour of shift is 12 real seconds). Every process is stopped by its PID.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

from odin_drills.plan.policy import Policy
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.gates import evaluate
from odin_drills.steps.judge import Judge, MemoryJournal
from odin_drills.steps.shifted_baseline import shifted_baseline
from tests.test_prometheus_source import source, stack  # noqa: F401  (stack: the demo, a real Prometheus, load)
from tests.test_signal_plan_fields import PROMETHEUS, errors, plan
from tests.conftest import run_odin

SCALE = 300
HOUR = 3600.0  # plan seconds: 12 real seconds at SCALE


def test_a_watch_meets_the_same_hours_earlier_not_the_t1w_capture(stack):
    """The service has run at 10 % errors for the last hour (its normal for this time of day); the
    T-1w capture saw 1 %. Against the capture the watch would roll back; against the same hours
    earlier it is normal, and the journal says which hours were read."""
    demo, url = stack
    clock = ScaledClock(scale=SCALE)
    prom = source(url, clock)
    try:
        captured = prom.measure(900)  # the T-1w capture: 1 %
        demo.add_fault("blue", error_rate=0.10)  # from now on, this hour's normal
        time.sleep(clock.wall_seconds(HOUR) + 1.5)  # an hour of plan time at 10 % is in Prometheus
        journal = MemoryJournal()
        judge = Judge(source=prom, baseline=captured, policy=Policy(), journal=journal, clock=clock,
                      rebaseline=shifted_baseline(prom, clock, HOUR, captured))
        verdict = judge.watch(900, phase="t+1h", step=None, interval=900)
    finally:
        prom.close()
    assert captured.requests >= 100 and captured.error_rate < 0.04, captured
    notes = [fields["message"] for kind, fields in journal.entries
             if kind == "note" and fields["message"].startswith("baseline:")]
    assert len(notes) == 1 and notes[0].startswith("baseline: the same hours earlier, "), notes
    assert "3600 s of plan time before this watch" in notes[0]
    assert 0.06 <= judge.baseline.error_rate <= 0.15, judge.baseline  # the shifted hours, not the capture
    assert verdict.action not in ("rollback", "rollback_now"), verdict.reason
    window = [fields for kind, fields in journal.entries if kind == "gate"][-1]["snapshot"]
    from odin_drills.steps.snapshot import Snapshot

    against_capture = evaluate(captured, Snapshot.model_validate(window), Policy())
    assert against_capture.decision in ("rollback", "rollback_now", "hold"), against_capture.reasons


def test_a_watch_longer_than_an_hour_meets_the_busiest_hour_of_its_span(stack):
    """Two hours back: one at 1 % errors, one at 10 %. A two-hour watch is compared with the 10 %
    hour (a daily peak is not held against the day's average), and the journal line names both
    hours read and the one chosen."""
    demo, url = stack
    clock = ScaledClock(scale=SCALE)
    prom = source(url, clock)
    try:
        captured = prom.measure(900)
        time.sleep(clock.wall_seconds(HOUR))  # an hour at 1 %
        demo.add_fault("blue", error_rate=0.10)
        time.sleep(clock.wall_seconds(HOUR) + 1.5)  # an hour at 10 %
        baseline, line = shifted_baseline(prom, clock, 2 * HOUR, captured)(clock.wall_seconds(2 * HOUR))
    finally:
        prom.close()
    assert line.startswith("baseline: the busiest hour of the same hours earlier, "), line
    assert "read in 2 hours: errors from " in line and "latency from " in line, line
    assert 0.06 <= baseline.error_rate <= 0.15, (baseline, line)  # the 10 % hour, not the ~5 % average
    assert baseline.requests < 0.7 * captured.requests * (2 * HOUR / 900), baseline  # one hour's counts, not two


def test_the_busiest_hour_ignores_a_near_empty_hour_and_takes_latency_from_the_slowest():
    from odin_drills.steps.shifted_baseline import busiest_hour
    from odin_drills.steps.snapshot import LatencyPercentiles, Snapshot

    def hour(requests: int, errors: int, p95: float) -> Snapshot:
        return Snapshot(requests=requests, errors=errors, latency_ms=LatencyPercentiles(p50=p95 / 2, p95=p95, p99=p95))

    pieces = [hour(1000, 10, 80), hour(1200, 30, 95), hour(3, 2, 900), hour(900, 9, 140), hour(0, 0, 0)]
    chosen = busiest_hour(pieces)
    assert chosen is not None
    baseline, errors_at, latency_at = chosen
    assert (errors_at, latency_at) == (1, 3)  # the 3-request hour (67 %, 900 ms) cannot set the bar
    assert (baseline.requests, baseline.errors, baseline.latency_ms.p95) == (1200, 30, 140)
    assert busiest_hour([hour(0, 0, 0)]) is None


def test_hours_with_no_history_fall_back_to_the_capture_and_say_so(stack):
    """A week back, this Prometheus (started seconds ago) kept nothing: the watch is judged against
    the T-1w capture and the journal names the span and why, before the first window."""
    _, url = stack
    clock = ScaledClock(scale=SCALE)
    prom = source(url, clock)
    try:
        captured = prom.measure(900)
        journal = MemoryJournal()
        judge = Judge(source=prom, baseline=captured, policy=Policy(), journal=journal, clock=clock,
                      rebaseline=shifted_baseline(prom, clock, 7 * 24 * HOUR, captured))
        verdict = judge.watch(900, phase="t+1h", step=None, interval=900)
    finally:
        prom.close()
    kinds = [kind for kind, _ in journal.entries]
    assert kinds.index("note") < kinds.index("gate")
    note = [fields["message"] for kind, fields in journal.entries if kind == "note"][0]  # the first: before any window
    assert note.startswith("baseline: the same hours earlier cannot be a baseline ("), note
    assert note.endswith("compared with the T-1w capture instead"), note
    assert judge.baseline is captured
    assert verdict.action not in ("rollback", "rollback_now"), verdict.reason  # 1 % against 1 %


def test_a_source_without_history_is_named():
    probe = SimpleNamespace(name="synthetic probe http://shop", measure=lambda seconds: None)  # no read_window
    captured = _snapshot()
    baseline, line = shifted_baseline(probe, ScaledClock(scale=SCALE), HOUR, captured)(3.0)
    assert baseline is captured
    assert line == "baseline: synthetic probe http://shop cannot read past hours: compared with the T-1w capture"


def _snapshot():
    from odin_drills.steps.snapshot import LatencyPercentiles, Snapshot

    return Snapshot(requests=100, errors=1, latency_ms=LatencyPercentiles(p50=5, p95=9, p99=12))


def test_plan_fields_validate_and_bad_ones_are_one_line(tmp_path: Path):
    shifted = {"baseline_from": "shifted", "baseline_shift": "7d"}
    ok = run_odin(["validate", str(plan(tmp_path, metrics=PROMETHEUS, policy=shifted))])
    assert ok.returncode == 0, ok.stderr
    lines = errors(tmp_path, policy=shifted)  # the good plan's synthetic probe
    assert len(lines) == 1 and "policy.baseline_from: shifted reads the same hours back" in lines[0], lines
    assert "metrics.kind prometheus, azure_monitor or azure_monitor_metrics" in lines[0]
    lines = errors(tmp_path, metrics=PROMETHEUS, policy={"baseline_from": "shifted", "baseline_shift": "12h"})
    assert len(lines) == 1 and "policy.baseline_shift: 43200 s is shorter than T+1h and T+24h together" in lines[0], lines
