"""The handbook's absolute limits beside the relative ladder (``policy.absolute``, ``steps.limits``):
an error rate above 5 % rolls back and a p95 above the SLO's 500 ms holds, whatever the baseline,
but only on evidence (an exact binomial bound), with the numbers in the decision's reasons; over
a sequential watch the limits spend their own alpha, split over its windows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from odin_drills.plan.policy import Policy
from odin_drills.steps.gates import evaluate
from odin_drills.steps.judge import judge_one_window, replay
from odin_drills.steps.limits import judge_limits
from odin_drills.steps.sequential import AlphaBudget, SequentialWatch
from odin_drills.steps.snapshot import LatencyHistogram, LatencyPercentiles, Snapshot

POLICY = Policy()
FIXED = Policy(judge="fixed")


def window(requests: int, errors: int, p95: float = 100.0, samples: np.ndarray | None = None,
           histogram: LatencyHistogram | None = None) -> Snapshot:
    return Snapshot(requests=requests, errors=errors, latency_ms=LatencyPercentiles(p50=p95 / 2, p95=p95, p99=p95 * 1.3),
                    latency_samples_ms=None if samples is None else [float(x) for x in samples],
                    latency_histogram=histogram)


def uniform_ms(n: int, high: float, seed: int) -> np.ndarray:
    """n latencies uniform between 100 ms and ``high`` (seeded): p95 = 100 + 0.95 (high - 100)."""
    return np.random.default_rng(seed).uniform(100, high, n)


# --- error rate > 5 %: rollback whatever the baseline ---------------------------------------------

@pytest.mark.parametrize("policy", [POLICY, FIXED], ids=["sequential", "fixed"])
def test_an_error_rate_above_5_percent_rolls_back_whatever_its_ratio_to_the_baseline(policy: Policy) -> None:
    baseline, current = window(50_000, 2_250), window(10_000, 620)  # 4.5 % a week ago, 6.2 % now: only 1.38x
    decision = judge_one_window(baseline, current, policy)
    assert decision.decision == "rollback", decision.reasons
    said = next(r for r in decision.reasons if "absolute limit" in r)
    assert said.startswith("error rate 6.20% (620 of 10,000 requests) above the absolute limit of 5.00% "
                           "(policy.absolute.error_rate_pct), whatever the baseline: at least 5.")
    limit = decision.limits[0]
    assert limit.metric == "error_rate" and limit.breached and limit.rung == "rollback"
    assert limit.p_value == pytest.approx(binomtest(620, 10_000, 0.05, alternative="greater").pvalue, rel=1e-6)
    assert 0.05 < limit.share_bound < 0.062  # the exact lower bound sits between the limit and the estimate
    # without the limit the ladder would have passed it: same baseline, same window
    relaxed = policy.model_copy(update={"absolute": policy.absolute.model_copy(update={"error_rate_pct": None})})
    alone = judge_one_window(baseline, current, relaxed)
    assert alone.decision != "rollback" and all(v.metric != "error_rate" for v in alone.limits), alone.reasons


@pytest.mark.parametrize("policy", [POLICY, FIXED], ids=["sequential", "fixed"])
def test_a_baseline_above_the_limit_leaves_the_change_to_the_relative_ladder_and_says_so(policy: Policy) -> None:
    """Rolling back a service that failed 10 % before the change cannot bring it under 5 %."""
    baseline, current = window(50_000, 5_000), window(10_000, 1_020)  # 10 % then, 10.2 % now
    decision = judge_one_window(baseline, current, policy)
    assert decision.decision == "proceed", decision.reasons
    limit = decision.limits[0]
    assert not limit.applied and not limit.breached and limit.baseline == pytest.approx(0.10)
    assert any(r.startswith("error rate 10.20% (1,020 of 10,000 requests) above the absolute limit of 5.00% "
                            "(policy.absolute.error_rate_pct) not applied: the baseline was above it already (10.00%)")
               for r in decision.reasons), decision.reasons
    tripled = judge_one_window(baseline, window(10_000, 3_000), policy)  # the change itself: 3x
    assert tripled.decision == "rollback" and "absolute limit" not in tripled.reasons[0]


@pytest.mark.parametrize("policy", [POLICY, FIXED], ids=["sequential", "fixed"])
def test_a_few_failed_requests_above_5_percent_are_noise_not_a_rollback(policy: Policy) -> None:
    baseline, current = window(50_000, 2_500), window(20, 3)  # 15 % of 20 requests: p = 0.075 against 5 %
    decision = judge_one_window(baseline, current, policy)
    assert decision.decision != "rollback"
    limit = decision.limits[0]
    assert not limit.breached and limit.p_value == pytest.approx(binom.sf(2, 20, 0.05), rel=1e-9)
    assert any(r.startswith("error rate 15.00% (3 of 20 requests) above the absolute limit of 5.00% "
                            "(policy.absolute.error_rate_pct) but not conclusively") for r in decision.reasons)


def test_the_fewest_errors_that_trip_the_limit_are_the_exact_binomial_critical_count() -> None:
    n, alpha = 2_000, 0.001
    critical = int(binom.isf(alpha, n, 0.05)) + 1  # the smallest y with P(Binomial(n, 5 %) >= y) <= alpha
    assert binom.sf(critical - 1, n, 0.05) <= alpha < binom.sf(critical - 2, n, 0.05)
    below = judge_limits(window(n, critical - 1), POLICY.absolute, alpha)[0]
    at = judge_limits(window(n, critical), POLICY.absolute, alpha)[0]
    assert (below.breached, at.breached) == (False, True)


# --- p95 above the SLO's threshold: at least hold ------------------------------------------------

def test_a_p95_above_the_slo_threshold_holds_though_the_ladder_sees_only_1_2x() -> None:
    base = uniform_ms(20_000, 520, seed=1)  # p95 ~ 499 ms, just inside the SLO
    now = uniform_ms(4_000, 620, seed=2)  # p95 ~ 594 ms: 1.19x, a watch for the relative ladder
    baseline = window(20_000, 20, float(np.percentile(base, 95)), samples=base)
    current = window(4_000, 4, float(np.percentile(now, 95)), samples=now)
    for policy in (POLICY, FIXED):
        decision = judge_one_window(baseline, current, policy)
        assert decision.decision == "hold", (policy.judge, decision.reasons)
        assert decision.metrics["latency_p95_ms"].tier in ("ok", "watch")
        said = next(r for r in decision.reasons if "absolute limit" in r)
        slower = int((now > 500).sum())
        assert said.startswith(f"p95 latency {current.latency_ms.p95:.4g} ms above the absolute limit of 500 ms "
                               f"(policy.absolute.p95_latency_ms), whatever the baseline: {slower:,} of 4,000 requests")
        assert decision.limits[-1].rung == "hold" and decision.limits[-1].count == slower


def test_the_p95_limit_reads_histograms_counting_only_what_is_surely_slower() -> None:
    le = [100.0, 250.0, 400.0, 750.0, 2000.0]
    # 1,000 requests, 120 above 750 ms: surely slower than 500 ms -> hold
    clear = LatencyHistogram(le_ms=le, counts=[500, 800, 850, 880, 1000])
    # 150 between 400 and 750 ms, only 10 above 750: they might all be under 500 ms -> not shown
    unsure = LatencyHistogram(le_ms=le, counts=[500, 800, 840, 990, 1000])
    baseline = window(10_000, 10, 100.0, histogram=LatencyHistogram(le_ms=le, counts=[8000, 9500, 9900, 9990, 10_000]))
    held = evaluate(baseline, window(1_000, 0, 900.0, histogram=clear))
    assert held.decision in ("hold", "rollback") and held.limits[-1].breached and held.limits[-1].count == 120
    doubtful = judge_limits(window(1_000, 0, 600.0, histogram=unsure), POLICY.absolute, 0.01)[-1]
    assert doubtful.count == 10 and not doubtful.breached


def test_limits_can_be_turned_off_and_moved() -> None:
    current = window(10_000, 800, 700.0)
    off = Policy.model_validate({"absolute": {"error_rate_pct": None, "p95_latency_ms": None}})
    assert judge_limits(current, off.absolute, 0.01) == []
    tighter = Policy.model_validate({"absolute": {"error_rate_pct": 10, "p95_latency_ms": 1000}})
    found = judge_limits(current, tighter.absolute, 0.01)
    assert [(v.metric, v.limit, v.breached) for v in found] == [("error_rate", 0.1, False), ("latency_p95_ms", 1000.0, False)]


# --- over a whole watch ----------------------------------------------------------------------------

def test_over_a_watch_each_window_spends_alpha_over_the_horizon_so_a_service_at_the_limit_rarely_trips() -> None:
    """A service at exactly 5 % errors, 200 watches of 100 windows of 1,000 requests (seeded): split
    over the horizon, at most absolute.alpha (0.1 %) of watches may trip; at the whole alpha in
    every window (no split) about 1 - 0.999^100 = 9.5 % would."""
    rng = np.random.default_rng(11)
    counts = rng.binomial(1_000, 0.05, size=(200, 100))
    alpha, horizon = POLICY.absolute.alpha, 100
    worst = counts.max(axis=1)  # every window has 1,000 requests: a watch trips iff its worst window does
    split = sum(judge_limits(window(1_000, int(y)), POLICY.absolute, alpha / horizon)[0].breached for y in worst)
    unsplit = sum(judge_limits(window(1_000, int(y)), POLICY.absolute, alpha)[0].breached for y in worst)
    assert split <= 1 and unsplit >= 8, (split, unsplit)


def test_the_sequential_watch_tests_its_limits_at_alpha_over_its_horizon_and_acts_at_once() -> None:
    baseline = window(50_000, 2_250)  # 4.5 %: 7.5 % now is 1.67x, short of the relative ladder's 2x
    budget = AlphaBudget.single(POLICY.alpha)
    watch = SequentialWatch(baseline, POLICY, alpha=budget.watch(None), baseline_alpha=budget.baseline, horizon=40)
    decision = watch.add(window(4_000, 300))
    assert decision.limits[0].alpha == pytest.approx(POLICY.absolute.alpha / 40)
    assert decision.limit_tier == "rollback" and decision.evidence_tier != "rollback"
    verdict, _ = replay(baseline, [window(4_000, 300)] * 5, POLICY, duration=1200, interval=300)
    assert verdict.action == "rollback" and verdict.windows == 1, verdict.reason
    assert "above the absolute limit of 5.00%" in verdict.reason and verdict.reason.startswith("conclusive after window 1")


# --- T-1w: a baseline above a limit is said a week ahead ------------------------------------------

def test_t1w_names_each_limit_the_baseline_itself_breaks_and_what_to_do() -> None:
    from odin_drills.steps.limits import baseline_above_limits

    healthy = window(10_000, 100, p95=200.0)
    assert baseline_above_limits(healthy, POLICY.absolute) == []
    failing = window(10_000, 1_000, p95=650.0)  # the demo shop's 10 %, and a slow p95
    lines = baseline_above_limits(failing, POLICY.absolute)
    assert len(lines) == 2
    assert lines[0].startswith("the baseline's error rate 10.00% (1,000 of 10,000 requests) is above "
                               "policy.absolute.error_rate_pct (5.00%): that limit will not be applied")
    assert lines[1].startswith("the baseline's p95 latency 650 ms is above policy.absolute.p95_latency_ms (500 ms)")
    assert all("raise or turn off the limit" in line for line in lines)
    off = Policy.model_validate({"absolute": {"error_rate_pct": None, "p95_latency_ms": 700}})
    assert baseline_above_limits(failing, off.absolute) == []
    assert baseline_above_limits(window(0, 0), POLICY.absolute) == []  # no requests: nothing to say about errors
