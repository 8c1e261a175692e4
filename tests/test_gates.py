"""The rollback ladder's promises: each rung, each boundary, the evidence and power rules, the JSON."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import fisher_exact, mannwhitneyu

from odin_drills.steps import stats
from odin_drills.steps.gates import DECISIONS, Decision, evaluate, severity
from odin_drills.plan.policy import Policy
from odin_drills.steps.snapshot import LatencyHistogram, Snapshot


def window(
    requests: int,
    errors: int,
    p95: float = 100.0,
    p99: float = 200.0,
    samples: np.ndarray | None = None,
    histogram: LatencyHistogram | None = None,
    **signals,
) -> Snapshot:
    return Snapshot(
        requests=requests,
        errors=errors,
        latency_ms={"p50": min(p95, 50.0), "p95": p95, "p99": max(p99, p95)},
        latency_samples_ms=None if samples is None else [float(x) for x in samples],
        latency_histogram=histogram,
        signals=signals,
    )


def sampled(samples: np.ndarray, requests: int | None = None, errors: int = 0) -> Snapshot:
    """A window whose percentiles are those of its samples."""
    p50, p95, p99 = np.percentile(samples, [50, 95, 99])
    return Snapshot(
        requests=requests or len(samples),
        errors=errors,
        latency_ms={"p50": float(p50), "p95": float(p95), "p99": float(p99)},
        latency_samples_ms=[float(x) for x in samples],
    )


def histogram(bucket_counts: list[int], le_ms: list[float] | None = None) -> LatencyHistogram:
    le = le_ms or [10, 25, 50, 100, 250, 500, 1000, 2500]
    return LatencyHistogram(le_ms=le, counts=np.cumsum(bucket_counts).tolist())


BASELINE = window(50_000, 500)  # 1 % errors, p95 100 ms
CLEAN = window(10_000, 100)  # the same again: proceed


# --- rollback_now: outage and friends beat everything ------------------------------------------


def test_a_clean_high_traffic_window_proceeds():
    decision = evaluate(BASELINE, CLEAN)
    assert decision.decision == "proceed"
    assert decision.reasons[-1].startswith("no breach: error rate 1.00% vs 1.00% (1.00x)")
    assert decision.power > 0.99


@pytest.mark.parametrize(
    "signal, reason",
    [
        ("outage", "outage reported"),
        ("data_loss", "data loss reported"),
        ("data_corruption", "data corruption reported"),
        ("security_breach", "security breach reported"),
        ("rto_exceeded", "RTO exceeded"),
    ],
)
def test_each_catastrophe_signal_rolls_back_now(signal, reason):
    decision = evaluate(BASELINE, window(10_000, 100, **{signal: True}))
    assert decision.decision == "rollback_now"
    assert decision.reasons == [reason]


def test_an_outage_beats_every_other_signal_and_all_are_reported():
    current = window(
        10_000, 400, p95=300, outage=True, critical_failed=1, sev1_alerts=3, slo_at_risk=True, new_alerts=2
    )
    decision = evaluate(BASELINE, current)
    assert decision.decision == "rollback_now"
    assert decision.reasons[0] == "outage reported"
    text = " | ".join(decision.reasons)
    for fragment in ("error rate 4.00%", "p95 latency 300 ms", "1 critical journey failing",
                     "3 Sev 1 alerts", "SLO at risk", "2 new alerts"):
        assert fragment in text


def test_rollback_now_even_with_too_few_requests():
    decision = evaluate(BASELINE, window(3, 0, data_loss=True))
    assert decision.decision == "rollback_now"
    assert "only 3 requests in the window (< 50 minimum)" in decision.reasons


# --- inconclusive: too few requests -------------------------------------------------------------


def test_too_few_requests_is_inconclusive():
    decision = evaluate(BASELINE, window(49, 0))
    assert decision.decision == "inconclusive"
    assert decision.reasons[0] == "only 49 requests in the window (< 50 minimum)"


def test_too_few_requests_never_outrank_a_failing_critical_journey():
    # Traffic volume only stands in the way of proceed (issue 10): the journey decides, and the
    # thin window is still said.
    decision = evaluate(BASELINE, window(10, 0, critical_failed=1))
    assert decision.decision == "rollback"
    assert decision.reasons[0] == "1 critical journey failing"
    assert "only 10 requests in the window (< 50 minimum)" in decision.reasons


def test_too_few_requests_never_outrank_sev1_alerts_or_a_new_alert():
    assert evaluate(BASELINE, window(5, 0, sev1_alerts=2)).decision == "rollback"
    assert evaluate(BASELINE, window(5, 0, sev1_alerts=1)).decision == "hold"
    assert evaluate(BASELINE, window(5, 0, new_alerts=1)).decision == "watch"


def test_49_requests_all_failing_is_an_outage_not_inconclusive():
    # The case: 49 requests, 49 errors, three failing critical journeys returned
    # inconclusive (p=3.6e-94). Now the outage rule decides, with its numbers.
    decision = evaluate(BASELINE, window(49, 49, critical_failed=3))
    assert decision.decision == "rollback_now"
    assert decision.reasons[0] == ("outage: 49 of 49 requests failed in the window (100.00% >= 99.00% "
                                   "with >= 20 requests: policy.outage)")
    assert "3 critical journeys failing" in decision.reasons
    assert decision.metrics["error_rate"].p_value < 1e-80


def test_a_conclusive_error_breach_in_a_thin_window_rolls_back():
    decision = evaluate(BASELINE, window(49, 30))  # 61 % vs 1 %: below the outage rule, far above 2x
    assert decision.decision == "rollback"
    assert decision.metrics["error_rate"].tier == "rollback"


def test_min_requests_comes_from_the_policy():
    assert evaluate(BASELINE, window(60, 0), Policy(min_requests=100)).reasons[0].startswith("only 60 requests")


# --- worse than k x: the point rule is strict and exact -----------------------------------------


def test_exactly_twice_the_baseline_error_rate_is_not_worse_than_2x():
    decision = evaluate(BASELINE, window(10_000, 200))  # 2.00 % vs 1.00 %, overwhelming evidence
    verdict = decision.metrics["error_rate"]
    assert verdict.ratio == 2.0 and verdict.p_value < 1e-10
    assert verdict.tier == "hold" and verdict.threshold == 1.5
    assert decision.decision == "hold"


def test_one_error_past_twice_the_baseline_rolls_back():
    decision = evaluate(BASELINE, window(10_000, 201))
    assert decision.decision == "rollback"
    assert decision.metrics["error_rate"].tier == "rollback"
    assert decision.metrics["error_rate"].threshold == 2.0


def test_exactly_twice_the_baseline_latency_is_not_worse_than_2x():
    assert evaluate(BASELINE, window(10_000, 100, p95=200.0)).decision == "hold"
    assert evaluate(BASELINE, window(10_000, 100, p95=200.1)).decision == "rollback"


def test_multiplier_boundaries_are_compared_exactly_not_in_floating_point():
    # 1.15 * 100 is 114.99999999999999 in floating point; 115 ms is not worse than 1.15x.
    policy = Policy(multipliers={"rollback": 2.0, "hold": 1.5, "watch": 1.15})
    assert evaluate(BASELINE, window(10_000, 100, p95=115.0), policy).decision == "proceed"
    assert evaluate(BASELINE, window(10_000, 100, p95=115.1), policy).decision == "watch"


# --- floors ----------------------------------------------------------------------------------------


def test_zero_to_a_hundredth_of_a_percent_errors_is_not_a_breach():
    decision = evaluate(window(100_000, 0), window(100_000, 10))
    verdict = decision.metrics["error_rate"]
    assert verdict.p_value < 0.01  # real, significant, and too small to matter
    assert verdict.ratio is None and verdict.tier == "ok"
    assert decision.decision == "proceed"
    assert "+0.01 pp <= 0.10 pp floor" in decision.reasons[0]


def test_latency_4ms_slower_at_3x_is_not_a_breach():
    decision = evaluate(window(50_000, 500, p95=2.0), window(10_000, 100, p95=6.0))
    assert decision.metrics["latency_p95_ms"].ratio == 3.0
    assert decision.metrics["latency_p95_ms"].tier == "ok"
    assert decision.decision == "proceed"


def test_latency_exactly_at_the_floor_is_not_a_breach_and_just_past_it_is():
    assert evaluate(window(50_000, 500, p95=2.0), window(10_000, 100, p95=7.0)).decision == "proceed"
    assert evaluate(window(50_000, 500, p95=2.0), window(10_000, 100, p95=7.5)).decision == "rollback"


def test_error_floor_is_a_change_of_a_tenth_of_a_percentage_point():
    # 0.05 % -> 0.15 %: 3x, significant at these counts, but exactly +0.10 pp.
    baseline, at_floor, past_floor = window(1_000_000, 500), window(1_000_000, 1500), window(1_000_000, 1501)
    assert evaluate(baseline, at_floor).metrics["error_rate"].tier == "ok"
    assert evaluate(baseline, past_floor).metrics["error_rate"].tier == "rollback"


# --- evidence ----------------------------------------------------------------------------------


def test_a_noisy_small_window_at_2_3x_does_not_roll_back():
    decision = evaluate(window(1000, 10), window(304, 7))  # 2.30 % vs 1.00 %
    verdict = decision.metrics["error_rate"]
    assert round(verdict.ratio, 2) == 2.3
    assert verdict.p_value >= 0.01 and verdict.tier == "ok"
    assert decision.decision == "inconclusive"  # too little traffic to say either way
    assert any("is 2.30x but is not a breach (p=0.077 >= 0.01, not significant)" in r for r in decision.reasons)


def test_a_large_significant_2_3x_rolls_back():
    decision = evaluate(BASELINE, window(10_000, 230))
    assert decision.decision == "rollback"
    assert decision.reasons[0].startswith("error rate 2.30% vs baseline 1.00% is 2.30x (> 2.0x, +1.30 pp > 0.10 pp floor, p=")


def test_a_significant_1_6x_holds():
    decision = evaluate(BASELINE, window(10_000, 160))
    assert decision.decision == "hold"
    assert decision.metrics["error_rate"].tier == "hold"


def test_a_significant_1_2x_is_watched():
    decision = evaluate(window(1_000_000, 10_000), window(100_000, 1200))
    assert decision.decision == "watch"
    assert decision.metrics["error_rate"].tier == "watch"
    assert decision.metrics["error_rate"].threshold == 1.1


def test_higher_confidence_needs_more_evidence():
    baseline, current = window(50_000, 500), window(3000, 55)  # 1.83x
    p_value = evaluate(baseline, current).metrics["error_rate"].p_value
    assert 1e-5 < p_value < 1e-4
    assert evaluate(baseline, current).decision == "hold"
    assert evaluate(baseline, current, Policy(confidence=0.99999)).metrics["error_rate"].tier == "ok"


# --- journeys, alerts, SLO, feedback ---------------------------------------------------------------


@pytest.mark.parametrize(
    "signals, decision, reason",
    [
        ({"critical_failed": 1}, "rollback", "1 critical journey failing"),
        ({"critical_failed": 2}, "rollback", "2 critical journeys failing"),
        ({"sev1_alerts": 2}, "rollback", "2 Sev 1 alerts"),
        ({"sev1_alerts": 1}, "hold", "1 Sev 1 alert"),
        ({"noncritical_failed": 1}, "hold", "1 non-critical journey failing"),
        ({"slo_at_risk": True}, "hold", "SLO at risk"),
        ({"user_feedback": "negative"}, "hold", "negative user feedback"),
        ({"new_alerts": 1}, "watch", "1 new alert"),
        ({"user_feedback": "positive"}, "proceed", None),
    ],
)
def test_each_signal_lands_on_its_rung(signals, decision, reason):
    result = evaluate(BASELINE, window(10_000, 100, **signals))
    assert result.decision == decision
    if reason:
        assert result.reasons == [reason]


def test_every_signal_that_fired_is_reported_not_only_the_deciding_one():
    decision = evaluate(BASELINE, window(10_000, 160, critical_failed=1, new_alerts=1))
    assert decision.decision == "rollback"
    assert decision.reasons[0] == "1 critical journey failing"
    assert decision.reasons[1].startswith("error rate 1.60% vs baseline 1.00% is 1.60x (> 1.5x")
    assert decision.reasons[2] == "1 new alert"


# --- power ---------------------------------------------------------------------------------------


def test_a_clean_low_traffic_window_is_inconclusive_and_says_why():
    decision = evaluate(window(5000, 50), window(300, 3))
    assert decision.decision == "inconclusive"
    assert decision.power < 0.8
    assert decision.reasons[0].startswith(
        "not enough traffic to rule out a 2.0x error breach (power 0.15 < 0.80 with 300 requests"
    )
    assert "it would catch an error rate of 3.77% (3.8x) 80% of the time" in decision.reasons[0]


def test_a_clean_high_traffic_window_has_the_power_to_proceed():
    decision = evaluate(window(18_000, 180), window(3600, 36))
    assert decision.power >= 0.8
    assert decision.decision == "proceed"


def test_power_uses_the_floor_when_the_baseline_has_no_errors():
    decision = evaluate(window(5000, 0), window(300, 0))
    assert decision.decision == "inconclusive"
    assert "true error rate of 0.10% (zero baseline + 0.10 pp floor)" in decision.reasons[0]
    assert decision.metrics["error_rate"].min_detectable_ratio is None
    assert decision.metrics["error_rate"].min_detectable is not None


def test_power_is_not_reported_once_the_error_rate_itself_rolls_back():
    decision = evaluate(window(5000, 50), window(300, 30))  # 10x on a small window
    assert decision.decision == "rollback"
    assert not any("not enough traffic" in reason for reason in decision.reasons)


def test_a_baseline_without_requests_cannot_pass_a_window():
    decision = evaluate(window(0, 0), window(3600, 0))
    assert decision.decision == "inconclusive"
    assert decision.power == 0.0
    assert decision.reasons[0].startswith("baseline window has no requests")


def test_min_detectable_ratio_shrinks_as_requests_grow():
    ratios = [
        evaluate(window(5 * n, n // 20), window(n, n // 100)).metrics["error_rate"].min_detectable_ratio
        for n in (300, 1000, 3600, 10_000, 100_000)
    ]
    assert all(a > b for a, b in zip(ratios, ratios[1:])), ratios
    assert ratios[-1] < 1.15


def test_critical_error_count_from_binary_search_matches_a_linear_scan():
    for n, base_errors, base_n in [(300, 15, 1500), (1000, 0, 5000), (50, 1, 10), (3600, 36, 18_000)]:
        scan = next(
            (k for k in range(n + 1) if stats.error_rate_p_value(k, n, base_errors, base_n) < 0.01), None
        )
        assert stats.critical_errors(n, base_errors, base_n, 0.01) == scan


def test_error_p_value_is_scipys_fisher_exact_number_for_number():
    # stats computes it with the Boost function behind scipy.stats.hypergeom (a private scipy.special
    # name, to keep scipy.stats out of `odin gate`): pin it to the public function.
    small = [(ec, nc, eb, nb) for nc in range(6) for nb in range(6) for ec in range(nc + 1) for eb in range(nb + 1)]
    rng = np.random.default_rng(12)
    drawn = []
    for _ in range(300):
        nc, nb = int(rng.integers(1, 20_000)), int(rng.integers(1, 100_000))
        rate = float(rng.choice([0.001, 0.01, 0.2]))
        drawn.append((int(rng.binomial(nc, min(1.0, 3 * rate))), nc, int(rng.binomial(nb, rate)), nb))
    for ec, nc, eb, nb in small + drawn + [(90_000, 9_000_000, 100_000, 10_000_000)]:
        expected = fisher_exact([[ec, nc - ec], [eb, nb - eb]], alternative="greater").pvalue
        assert stats.error_rate_p_value(ec, nc, eb, nb) == float(expected), (ec, nc, eb, nb)


def test_a_gate_without_latency_samples_does_not_import_scipy_stats():
    # scipy.stats takes about a second to import; only the U test on raw samples needs it.
    code = (
        "import sys\n"
        "from odin_drills.steps.gates import evaluate\n"
        "from odin_drills.steps.snapshot import Snapshot\n"
        "def snap(requests, errors, **extra):\n"
        "    return Snapshot(requests=requests, errors=errors, latency_ms={'p50': 8, 'p95': 14, 'p99': 20}, **extra)\n"
        "hist = {'le_ms': [10, 20], 'counts': [900, 1000]}\n"
        "assert evaluate(snap(5000, 50), snap(5000, 120)).decision == 'rollback'\n"
        "assert evaluate(snap(300, 3), snap(300, 3)).decision == 'inconclusive'\n"
        "evaluate(snap(1000, 10, latency_histogram=hist), snap(1000, 10, latency_histogram=hist))\n"
        "assert 'scipy.stats' not in sys.modules, 'scipy.stats imported'\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_min_detectable_rate_is_where_the_power_reaches_the_target():
    critical = stats.critical_errors(1000, 50, 5000, 0.01)
    rate = stats.min_detectable_rate(1000, critical, 0.8)
    assert stats.detection_power(rate, 1000, critical) == pytest.approx(0.8, abs=1e-9)
    assert stats.detection_power(rate * 0.99, 1000, critical) < 0.8


# --- latency evidence: Mann-Whitney U --------------------------------------------------------------


def lognormal(n: int, seed: int, scale: float = 1.0) -> np.ndarray:
    return scale * np.random.default_rng(seed).lognormal(mean=4.0, sigma=0.5, size=n)


def test_a_real_latency_shift_is_flagged_by_mann_whitney():
    decision = evaluate(sampled(lognormal(5000, 1)), sampled(lognormal(1000, 2, scale=2.5)))
    verdict = decision.metrics["latency_p95_ms"]
    assert verdict.test == "mann-whitney-u" and verdict.p_value < 1e-50
    assert verdict.tier == "rollback" and decision.decision == "rollback"
    assert "Mann-Whitney p=" in decision.reasons[0]


def test_a_same_distribution_window_is_not_flagged():
    decision = evaluate(sampled(lognormal(18_000, 3), errors=180), sampled(lognormal(3600, 4), errors=36))
    verdict = decision.metrics["latency_p95_ms"]
    assert verdict.test == "mann-whitney-u" and verdict.p_value > 0.01
    assert verdict.tier == "ok" and decision.decision == "proceed"


def test_a_p95_jump_the_samples_do_not_support_is_not_a_breach():
    samples = lognormal(2000, 5)
    baseline, current = sampled(samples), sampled(samples)
    current = current.model_copy(update={"latency_ms": current.latency_ms.model_copy(update={"p95": 500.0})})
    verdict = evaluate(baseline, current).metrics["latency_p95_ms"]
    assert verdict.ratio > 2 and verdict.tier == "ok"


def test_percentiles_alone_let_the_point_estimate_stand():
    verdict = evaluate(BASELINE, window(10_000, 100, p95=250.0)).metrics["latency_p95_ms"]
    assert verdict.test == "percentiles" and verdict.p_value is None and verdict.tier == "rollback"


# --- latency evidence from histograms ---------------------------------------------------------------

BASE_BUCKETS = [1_000_000, 3_000_000, 4_000_000, 1_500_000, 400_000, 80_000, 15_000, 5_000]


def test_histograms_are_compared_by_bucket_counts_without_expanding_millions_of_requests():
    slower = [0, 1_000_000, 3_000_000, 4_000_000, 1_500_000, 400_000, 80_000, 20_000]
    baseline = window(10_000_000, 100_000, p95=240.0, histogram=histogram(BASE_BUCKETS))
    current = window(9_000_000, 90_000, p95=490.0, histogram=histogram(slower))
    started = time.perf_counter()
    decision = evaluate(baseline, current)
    assert time.perf_counter() - started < 0.5
    verdict = decision.metrics["latency_p95_ms"]
    assert verdict.test == "mann-whitney-u-buckets" and verdict.p_value < 1e-100
    assert decision.decision == "rollback"


def test_identical_histograms_show_no_evidence():
    baseline = window(10_000_000, 100_000, p95=240.0, histogram=histogram(BASE_BUCKETS))
    current = window(10_000_000, 100_000, p95=490.0, histogram=histogram(BASE_BUCKETS))
    verdict = evaluate(baseline, current).metrics["latency_p95_ms"]
    assert verdict.p_value == pytest.approx(0.5, abs=0.01) and verdict.tier == "ok"


def test_bucket_u_matches_scipy_on_the_expanded_data():
    rng = np.random.default_rng(6)
    current, baseline = rng.integers(0, 8, 400), rng.integers(0, 7, 900)
    expected = mannwhitneyu(current, baseline, alternative="greater", method="asymptotic").pvalue
    grouped = stats.latency_p_value_grouped(np.bincount(current, minlength=8), np.bincount(baseline, minlength=8))
    assert grouped == pytest.approx(expected, rel=1e-9)


def test_histograms_with_different_bounds_are_compared_on_the_bounds_they_share():
    fine = histogram(BASE_BUCKETS)
    coarse_le = [25, 100, 500, 2500]
    coarse = LatencyHistogram(le_ms=coarse_le, counts=[4_000_000, 9_500_000, 9_980_000, 10_000_000])
    shifted = histogram([0, 1_000_000, 3_000_000, 4_000_000, 1_500_000, 400_000, 80_000, 20_000])
    verdict = evaluate(window(10_000_000, 0, histogram=coarse), window(10_000_000, 0, histogram=shifted))
    assert verdict.metrics["latency_p95_ms"].test == "mann-whitney-u-buckets"
    expected = stats.latency_p_value_grouped(
        stats.bucket_counts(coarse_le, cumulative=dict(zip(shifted.le_ms, shifted.counts)), total=shifted.counts[-1]),
        stats.bucket_counts(coarse_le, cumulative=dict(zip(coarse.le_ms, coarse.counts)), total=coarse.counts[-1]),
    )
    assert verdict.metrics["latency_p95_ms"].p_value == expected
    assert fine.counts[-1] == coarse.counts[-1]


def test_samples_against_a_histogram_are_binned_on_its_bounds():
    samples = lognormal(3000, 7, scale=3.0)
    current = sampled(samples)
    baseline = window(1_000_000, 10_000, p95=130.0, histogram=histogram(BASE_BUCKETS))
    verdict = evaluate(baseline, current).metrics["latency_p95_ms"]
    assert verdict.test == "mann-whitney-u-buckets" and verdict.p_value < 1e-10


def test_histograms_sharing_no_bound_fall_back_to_the_point_estimate():
    baseline = window(10_000, 100, histogram=LatencyHistogram(le_ms=[10, 100], counts=[10, 20]))
    current = window(10_000, 100, histogram=LatencyHistogram(le_ms=[20, 200], counts=[10, 20]))
    assert evaluate(baseline, current).metrics["latency_p95_ms"].test == "percentiles"


# --- p99 ---------------------------------------------------------------------------------------------


def test_p99_is_judged_only_when_the_policy_asks():
    current = window(10_000, 100, p95=100.0, p99=700.0)
    default = evaluate(BASELINE, current)
    assert set(default.metrics) == {"error_rate", "latency_p95_ms"}
    assert default.decision == "proceed"
    with_p99 = evaluate(BASELINE, current, Policy(latency_percentiles=["p95", "p99"]))
    assert set(with_p99.metrics) == {"error_rate", "latency_p95_ms", "latency_p99_ms"}
    assert with_p99.decision == "rollback"
    assert with_p99.reasons[0].startswith("p99 latency 700 ms vs baseline 200 ms is 3.50x")


# --- the Decision as JSON ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "baseline, current",
    [
        (BASELINE, window(10_000, 410)),
        (window(100_000, 0), window(100_000, 10)),  # zero baseline: ratio undefined
        (window(0, 0), window(300, 3)),  # empty baseline: nothing detectable
        (window(5000, 50, p95=0.0), window(300, 3, p95=50.0)),  # zero latency baseline
    ],
)
def test_json_has_the_documented_keys_and_no_nan_or_infinity(baseline, current):
    document = evaluate(baseline, current, Policy(latency_percentiles=["p99"])).model_dump(mode="json")
    json.dumps(document, allow_nan=False)
    assert {"decision", "reasons", "metrics", "power", "requests"} <= set(document)
    assert document["requests"] == {"baseline": baseline.requests, "current": current.requests}
    assert set(document["metrics"]) == {"error_rate", "latency_p95_ms", "latency_p99_ms"}
    for metric in document["metrics"].values():
        assert {"baseline", "current", "ratio", "threshold", "floor", "p_value",
                "min_detectable_ratio", "tier", "test"} <= set(metric)
    assert Decision.model_validate(document) == evaluate(baseline, current, Policy(latency_percentiles=["p99"]))


def test_the_rollback_example_reads_as_documented():
    decision = evaluate(window(5000, 50), window(1000, 41))
    document = decision.to_json()
    assert document["decision"] == "rollback"
    assert document["reasons"][0].startswith(
        "error rate 4.10% vs baseline 1.00% is 4.10x (> 2.0x, +3.10 pp > 0.10 pp floor, p=1.6e-10 < 0.01)"
    )
    error = document["metrics"]["error_rate"]
    assert (error["baseline"], error["current"], error["threshold"], error["floor"]) == (0.01, 0.041, 2.0, 0.001)
    assert (error["tier"], error["test"]) == ("rollback", "fisher-exact")
    assert error["ratio"] == pytest.approx(4.1)


# --- order, purity, speed ------------------------------------------------------------------------


def test_decisions_are_ordered_by_severity():
    assert DECISIONS == ("proceed", "inconclusive", "watch", "hold", "rollback", "rollback_now")
    assert [severity(d) for d in DECISIONS] == list(range(6))
    assert max(["watch", "rollback", "hold"], key=severity) == "rollback"
    assert evaluate(BASELINE, CLEAN).severity == 0


def test_evaluate_is_pure_same_inputs_same_decision_inputs_untouched():
    baseline, current = sampled(lognormal(2000, 8)), sampled(lognormal(500, 9, scale=1.3), errors=9)
    before = (baseline.model_dump(), current.model_dump())
    assert evaluate(baseline, current) == evaluate(baseline, current)
    assert (baseline.model_dump(), current.model_dump()) == before


def test_one_evaluation_of_3600_requests_with_samples_takes_well_under_50_ms():
    baseline, current = sampled(lognormal(18_000, 10), errors=180), sampled(lognormal(3600, 11), errors=40)
    evaluate(baseline, current)  # imports and caches warm
    timings = []
    for _ in range(3):
        stats.critical_errors.cache_clear()  # time the power search too
        started = time.perf_counter()
        evaluate(baseline, current)
        timings.append(time.perf_counter() - started)
    assert min(timings) < 0.05
