"""``slo_at_risk`` during a watch from the SRE workbook's multi-window burn rates (``steps.burn``):
computed from the watch's own windows against the plan's SLO target, set in the window's signals,
a hold in the decision with the burn rates in its reason. Time is a ManualClock, traffic seeded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from odin_drills.plan.policy import Policy
from odin_drills.plan.slo import ErrorBudgetPolicy
from odin_drills.steps.burn import BurnRateMonitor
from odin_drills.steps.clock import ManualClock
from odin_drills.steps.journal import Journal
from odin_drills.steps.judge import Judge
from odin_drills.steps.snapshot import LatencyPercentiles, Snapshot
from tests.test_signal_plan_fields import PROMETHEUS, errors

SLO = ErrorBudgetPolicy(availability=99.9)  # 0.1 % of requests may fail: 14.4x is 1.44 % errors
MINUTES_5 = 300.0


def window(requests: int, errors: int) -> Snapshot:
    return Snapshot(requests=requests, errors=errors, latency_ms=LatencyPercentiles(p50=10, p95=20, p99=30))


def oracle(counts: list[tuple[int, int]], spans: int, factor: float, allowed: float) -> bool:
    """Both the newest ``spans`` windows and the newest one burn faster than ``factor`` (the 1 h/5 min
    pair over 5-minute windows), recomputed here from the raw counts."""
    if len(counts) < spans:
        return False
    long = np.asarray(counts[-spans:])
    long_rate = long[:, 1].sum() / long[:, 0].sum()
    short_rate = counts[-1][1] / counts[-1][0]
    return long_rate / allowed > factor and short_rate / allowed > factor


def test_the_1h_5min_pair_fires_exactly_when_both_windows_burn_above_14_4x() -> None:
    """Two healthy hours, then errors at 2.5 % for 40 minutes, then healthy again (seeded)."""
    rng = np.random.default_rng(7)
    rates = [0.0005] * 24 + [0.025] * 8 + [0.0005] * 6
    counts = [(int(n), int(rng.binomial(n, p))) for n, p in zip(rng.integers(2_500, 3_500, len(rates)), rates)]
    monitor = BurnRateMonitor.for_slo(SLO)
    assert monitor is not None
    seen, expected = [], []
    for index, (n, y) in enumerate(counts):
        seen.append(monitor.observe(window(n, y), MINUTES_5).signals.slo_at_risk)
        expected.append(oracle(counts[: index + 1], 12, 14.4, 0.001))
    assert seen == expected
    first = seen.index(True)
    assert 24 < first < 32  # only after the breach began, once the hour's burn crossed 14.4x
    assert not seen[32]  # the short window clears the signal the first healthy window after the breach


def test_nothing_is_at_risk_until_the_watch_has_measured_the_whole_long_window() -> None:
    monitor = BurnRateMonitor(99.9, SLO.burn_rates, SLO.window)
    burning = [monitor.observe(window(1_000, 100), MINUTES_5) for _ in range(12)]  # 10 %: 100x
    assert [w.signals.slo_at_risk for w in burning] == [False] * 11 + [True]
    said = burning[-1].signals.details["slo_at_risk"]
    assert said.startswith("SLO at risk (99.9 % availability, slo.burn_rates): error budget burning 100.0x over the "
                           "last 1 h (10.00% errors: 1,200 of 12,000 requests) and 100.0x over the last 5 min "
                           "(100 of 1,000), both above 14.4x (pair 1 h/5 min)")
    assert "13.9% of the 30 d budget spent in 1 h" in said  # 100 x 1 h / 720 h
    six_hours = monitor.last[1]
    assert six_hours.long is None and not six_hours.fired  # the 6 h pair has not seen 6 h yet


def test_windows_longer_than_the_short_span_use_the_newest_window() -> None:
    monitor = BurnRateMonitor(99.0, SLO.burn_rates[:1], SLO.window)  # 1 % budget: 14.4x is 14.4 % errors
    first = monitor.observe(window(6_000, 900), 1800.0)  # 15 % over 30 min: the hour is not covered yet
    second = monitor.observe(window(6_000, 1_200), 1800.0)  # 20 %: the hour at 17.5 %, the newest at 20 %
    assert not first.signals.slo_at_risk and second.signals.slo_at_risk
    pair = monitor.last[0]
    assert (pair.long.seconds, pair.short.seconds) == (3600.0, 1800.0)
    assert round(pair.long.burn, 6) == 17.5 and round(pair.short.burn, 6) == 20.0


def test_a_watch_burning_the_budget_at_its_baseline_rate_is_held_with_the_burn_rate_in_the_reason(tmp_path: Path) -> None:
    """The baseline failed 2 % as well, so no relative rung fires; 2 % is 20x a 99.9 % SLO's budget."""
    rng = np.random.default_rng(3)
    baseline = window(200_000, 4_000)
    windows = [window(3_000, int(rng.binomial(3_000, 0.02))) for _ in range(12)]
    clock = ManualClock()
    journal = Journal(tmp_path / "journal.jsonl", clock)

    class Source:
        name = "scripted"

        def measure(self, plan_seconds: float) -> Snapshot:
            clock.sleep(plan_seconds)
            return windows.pop(0)

        def close(self) -> None:
            pass

    judge = Judge(source=Source(), baseline=baseline, policy=Policy(), journal=journal, clock=clock,
                  burn=BurnRateMonitor.for_slo(SLO))
    verdict = judge.watch(3600, phase="t+1h", step="validation", interval=MINUTES_5)
    assert verdict.action == "hold" and verdict.windows == 12, verdict.reason
    burn = judge.burn.last[0].long.burn
    assert burn > 14.4 and f"error budget burning {burn:.1f}x over the last 1 h" in verdict.reason
    gates = journal.entries("gate")
    assert [g.data["snapshot"]["signals"]["slo_at_risk"] for g in gates] == [False] * 11 + [True]
    assert verdict.decision["decision"] == "hold" and verdict.reason.startswith("SLO at risk (99.9 % availability")


def test_burn_rate_pairs_are_plan_fields_refused_one_line_each(tmp_path: Path) -> None:
    lines = errors(tmp_path, metrics=PROMETHEUS,
                   slo={"availability": 99.9, "burn_rates": [{"long": "5m", "short": "1h", "factor": 14.4},
                                                             {"long": "6h", "short": "30m", "factor": 0.5}]})
    assert len(lines) == 2, lines
    assert any("slo.burn_rates[0]: short must be shorter than long" in line for line in lines), lines
    assert any("slo.burn_rates[1].factor: Input should be greater than 1" in line for line in lines), lines
    assert BurnRateMonitor.for_slo(ErrorBudgetPolicy(availability=99.9, burn_rates=[])) is None
