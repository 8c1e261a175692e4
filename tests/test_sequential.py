"""The sequential evidence's promises, at small trial counts with fixed seeds.

The exact bounds against scipy's exact intervals; the e-detector's guarantee (a test martingale:
mean at most 1 under the null, Ville's bound on ever crossing 1/alpha); the power it reports is a
lower bound; what the ladder's semantics become (2x is an effect size, floors apply, a large
breach acts in its first window, the breach is judged from where it began); how alpha is spent;
the T-1w adequacy check. Whole-watch error rates over hundreds of trials are the benchmark's job
(``bench/watch_noise.py``).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from odin_drills.errors import UsageError
from odin_drills.plan.policy import Policy
from odin_drills.steps.adequacy import Watch, assess, check_baseline, expected_baseline
from odin_drills.steps.sequential import (
    AlphaBudget,
    EDetector,
    LatencyData,
    SequentialWatch,
    detection_power,
    histogram_of,
    rate_upper_bound,
    upper_rank,
    watches_per_phase,
)
from odin_drills.steps.snapshot import Snapshot

RNG_SEED = 20261130


def snap(requests: int, errors: int, samples: np.ndarray | None = None, **signals: object) -> Snapshot:
    p95 = float(np.percentile(samples, 95)) if samples is not None else 100.0
    return Snapshot(requests=requests, errors=errors, latency_ms={"p50": 50.0, "p95": p95, "p99": p95 * 1.3},
                    latency_samples_ms=None if samples is None else samples.tolist(), signals=signals)


def watch(baseline: Snapshot, horizon: int = 279, policy: Policy | None = None) -> SequentialWatch:
    budget = AlphaBudget.for_watches(Policy(), {"t0": 3, "t+1h": 1, "t+24h": 1})
    return SequentialWatch(baseline, policy or Policy(), alpha=budget.watch("t+24h"), baseline_alpha=budget.baseline,
                           horizon=horizon, interval_seconds=300)


# --- exact bounds ----------------------------------------------------------------------------------


@pytest.mark.parametrize("errors, requests", [(0, 3600), (4, 3600), (36, 3600), (360, 36000), (999, 1000)])
def test_the_rate_bound_is_the_one_sided_clopper_pearson_bound(errors: int, requests: int) -> None:
    alpha = 0.0025
    exact = binomtest(errors, requests).proportion_ci(confidence_level=1 - 2 * alpha, method="exact")
    assert rate_upper_bound(errors, requests, alpha) == pytest.approx(exact.high, rel=1e-9)


@pytest.mark.parametrize("n, q", [(300, 0.95), (3600, 0.95), (3600, 0.99), (36000, 0.95)])
def test_the_quantile_bound_is_the_smallest_order_statistic_with_tail_at_most_alpha(n: int, q: float) -> None:
    alpha = 0.00125
    m = upper_rank(n, q, alpha)
    assert m is not None
    # the m-th smallest value is below the q-quantile only if m or more values are: P <= alpha
    assert binom.sf(m - 1, n, q) <= alpha < binom.sf(m - 2, n, q)


def test_too_few_values_have_no_quantile_bound() -> None:
    assert upper_rank(20, 0.99, 0.001) is None  # even the largest of 20 is below the p99 82 % of the time


def test_a_histogram_counts_slower_requests_conservatively() -> None:
    rng = np.random.default_rng(RNG_SEED)
    samples = rng.lognormal(np.log(80), 0.5, 5000)
    exact = LatencyData(samples=np.sort(samples))
    histogram = histogram_of(samples.tolist())
    binned = LatencyData(bounds=np.asarray(histogram.le_ms), cumulative=np.asarray(histogram.counts))
    for threshold in (50.0, 123.4, 180.0, 400.0):
        assert binned.slower_than(threshold) <= exact.slower_than(threshold)
    assert binned.upper_bound(0.95, 0.001) >= exact.upper_bound(0.95, 0.001)
    assert binned.n == exact.n == 5000


# --- the e-detector ---------------------------------------------------------------------------------


def test_e_values_under_the_null_average_at_most_one_and_rarely_cross() -> None:
    rng = np.random.default_rng(RNG_SEED)
    finals, crossed = [], 0
    for _ in range(1500):
        detector = EDetector(0.02, horizon=10)
        ever = False
        for _ in range(10):
            detector.update(200, int(rng.binomial(200, 0.02)))  # the null's boundary: rate exactly p0
            ever |= detector.e_value >= 10
        finals.append(detector.e_value)
        crossed += ever
    assert np.mean(finals) <= 1.0  # a test martingale started at 1 (heavy-tailed: the sample mean is lower)
    assert crossed / 1500 <= 0.1  # Ville: P(ever >= 1/alpha) <= alpha at alpha = 0.1


def test_the_reported_power_is_a_lower_bound() -> None:
    rng = np.random.default_rng(RNG_SEED)
    trials, n, p0, breach, alpha = 1500, 3000, 0.0125, 0.025, 0.001
    fired = 0
    for _ in range(trials):
        detector = EDetector(p0, horizon=4)
        detector.update(n, int(rng.binomial(n, breach)))
        fired += detector.e_value >= 1 / alpha
    power = detection_power(n, breach, p0, 4, alpha)
    assert 0.5 < power < 0.95  # a case where the bound says something
    assert fired / trials >= power - 3 * np.sqrt(power * (1 - power) / trials)


def test_a_rise_is_judged_from_the_window_it_began() -> None:
    detector = EDetector(0.01, horizon=100)
    for _ in range(60):
        detector.update(1000, 10)
    for _ in range(3):
        detector.update(1000, 40)
    start, n, y = detector.since()
    assert (start, n, y) == (61, 3000, 120)


# --- the ladder, sequentially --------------------------------------------------------------------------


BASE_10RPS = snap(36000, 360)  # 1 h at 10 req/s, 1 % errors


def test_a_5x_error_breach_rolls_back_in_its_first_window() -> None:
    decision = watch(BASE_10RPS).add(snap(3000, 150))  # one 5-minute window at 10 req/s, 5 %
    assert decision.decision == "rollback" and decision.evidence_tier == "rollback"
    assert "e-value" in decision.reasons[0] and "above 2.0x that bound" in decision.reasons[0]


def test_a_20_percent_outage_is_acted_on_in_its_first_window_even_at_1_req_s() -> None:
    decision = watch(snap(3600, 36)).add(snap(300, 60))
    assert decision.decision == "rollback"


def test_exactly_twice_the_baseline_is_a_hold_never_a_rollback() -> None:
    state = watch(snap(10_000_000, 100_000))  # the baseline known to 0.1 %
    decision = state.add(snap(1_000_000, 20_000))  # 2.00 %, overwhelming evidence of > 1.5x
    assert decision.decision == "hold"
    assert decision.evidence["error_rate"].rungs["rollback"].fired is False


def test_floors_still_apply() -> None:
    # 0.01 % -> 0.05 %: five times the baseline, overwhelming evidence, but +0.04 pp < the 0.1 pp floor
    state = watch(snap(10_000_000, 1_000))
    decision = state.add(snap(10_000_000, 5_000))
    rungs = decision.evidence["error_rate"].rungs
    assert rungs["rollback"].e_value >= decision.evidence["error_rate"].e_threshold
    assert decision.decision not in ("rollback", "hold") and not rungs["rollback"].fired


def test_a_2_5x_latency_breach_rolls_back_in_its_first_window() -> None:
    rng = np.random.default_rng(RNG_SEED)
    baseline = snap(36000, 360, rng.lognormal(np.log(80), 0.5, 36000))
    decision = watch(baseline).add(snap(3000, 30, 2.5 * rng.lognormal(np.log(80), 0.5, 3000)))
    assert decision.decision == "rollback" and decision.evidence["latency_p95_ms"].tier == "rollback"


def test_healthy_day_long_watches_proceed() -> None:
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(10):
        state = watch(snap(36000, int(rng.binomial(36000, 0.01))))
        for _ in range(276):
            decision = state.add(snap(3000, int(rng.binomial(3000, 0.01))))
            assert decision.decision in ("proceed", "inconclusive")
        action, reason = state.conclude()
        assert action == "proceed" and "would have been seen with probability 1.00" in reason


def test_hard_signals_are_unchanged() -> None:
    state = watch(BASE_10RPS)
    assert state.add(snap(3000, 30, outage=True)).decision == "rollback_now"
    assert state.add(snap(3000, 30, sev1_alerts=1)).decision == "hold"
    assert state.add(snap(3000, 30, critical_failed=1)).decision == "rollback"


# --- spending alpha --------------------------------------------------------------------------------------


def test_one_alpha_per_migration_is_spent_across_the_phases() -> None:
    policy = Policy()
    counts = {"t0": 3, "t+1h": 1, "t+24h": 1}
    budget = AlphaBudget.for_watches(policy, counts)
    spent = budget.baseline + sum(budget.watch(phase) * count for phase, count in counts.items())
    assert spent == pytest.approx(policy.alpha)
    assert budget.watch("t+24h") == pytest.approx(2 * budget.watch("t+1h"))  # the long watch gets more


def test_alpha_per_watch_gives_every_watch_the_whole_alpha() -> None:
    budget = AlphaBudget.for_watches(Policy(alpha_scope="watch"), {"t0": 3, "t+1h": 1, "t+24h": 1})
    assert budget.baseline + budget.watch("t0") == pytest.approx(0.01)
    assert budget.watch("t0") == budget.watch("t+24h")


def test_the_demo_plan_has_a_gate_per_world_changing_step() -> None:
    from odin_drills.plan import load_plan

    plan = load_plan("drills/migration-demo.yaml")
    assert watches_per_phase(plan) == {"t-1w": 0, "t0": 3, "t+1h": 1, "t+24h": 1}


# --- baseline adequacy at T-1w -----------------------------------------------------------------------------


WATCHES = [Watch("t0", "step", 1, 300), Watch("t+24h", "final", 276, 300)]


def test_a_thin_baseline_cannot_see_a_2x_error_breach_at_any_window_length() -> None:
    policy = Policy()
    budget = AlphaBudget.for_watches(policy, {"t0": 1, "t+24h": 1})
    findings = assess(expected_baseline(0.001, 1, 3600), policy, budget, WATCHES, 1)  # 1 h at 1 req/s: 4 errors
    errors = [f for f in findings if f.metric == "error_rate"]
    assert all(not f.adequate and f.needed_seconds is None for f in errors)
    assert "the baseline is too small" in errors[0].reason and "requests would do" in errors[0].reason


def test_at_100_req_s_every_window_sees_a_2x_error_breach() -> None:
    policy = Policy()
    budget = AlphaBudget.for_watches(policy, {"t0": 1, "t+24h": 1})
    findings = assess(expected_baseline(0.01, 100, 3600), policy, budget, WATCHES, 100)
    assert all(f.adequate for f in findings)
    assert findings[0].needed_seconds is not None and findings[0].needed_seconds < 300


class _Record:
    def __init__(self, snapshot: Snapshot, seconds: float) -> None:
        self.snapshot, self.window_seconds = snapshot, seconds


class _Journal:
    def __init__(self) -> None:
        self.notes: list[str] = []

    def append(self, kind: str, **fields: object) -> None:
        self.notes.append(str(fields["message"]))


def test_t_minus_1w_warns_or_refuses_per_policy() -> None:
    from odin_drills.plan import load_plan

    plan = load_plan("drills/migration-demo.yaml")
    thin = _Record(expected_baseline(0.001, 1, 3600), 3600)  # 4 errors: too few at any traffic
    journal = _Journal()
    check_baseline(plan, thin, journal)  # default: warn
    assert journal.notes and all(n.startswith("adequacy (warn): ") for n in journal.notes)
    strict = plan.model_copy(update={"policy": plan.policy.model_copy(update={"adequacy": "refuse"})})
    with pytest.raises(UsageError, match="cannot see a breach"):
        check_baseline(strict, thin, _Journal())
    plenty = _Journal()
    check_baseline(strict, _Record(expected_baseline(0.01, 300, 86400), 86400), plenty)  # the probe's 300 req/s
    assert plenty.notes == ["adequacy: every watch can see a 2x error and a 1.5x latency breach at 300 req/s"]


def test_the_min_detectable_rate_is_where_the_watch_reaches_the_policy_power() -> None:
    """The report's "min detectable" for the sequential judge: a rate at it is caught with the policy's
    power, a rate just under it is not; more traffic makes it smaller; none without traffic."""
    base = snap(36_000, 360)
    w = watch(base)
    first = w.add(snap(3_000, 30))
    detectable = first.metrics["error_rate"].min_detectable
    assert detectable is not None and first.metrics["error_rate"].min_detectable_ratio is not None
    rate, null, alpha = w._breach()  # type: ignore[misc]
    power = Policy().power
    assert detection_power(w.requests, detectable, null, w.horizon, alpha) >= power - 1e-9
    assert detection_power(w.requests, detectable * 0.97, null, w.horizon, alpha) < power
    assert first.metrics["error_rate"].min_detectable_ratio == pytest.approx(detectable / 0.01)
    for _ in range(5):
        later = w.add(snap(3_000, 30))
    assert later.metrics["error_rate"].min_detectable < detectable  # type: ignore[operator]
    assert later.metrics["latency_p95_ms"].min_detectable is None
    assert watch(base).min_detectable() is None


def test_a_rise_conclusively_past_the_watch_rung_but_under_the_holds_multiple_is_only_watched() -> None:
    """The hold on the estimate needs the estimate at 1.5x the baseline: 1.4x is watched, not held."""
    w = watch(snap(10_000_000, 100_000))
    decisions = [w.add(snap(200_000, 2_800)) for _ in range(5)]
    assert all(d.evidence["error_rate"].rungs["watch"].fired for d in decisions)
    assert [d.decision for d in decisions] == ["watch"] * 5
    assert not any(d.evidence["error_rate"].rungs["hold"].fired for d in decisions)
    held = [w2.add(snap(200_000, 3_200)) for w2 in [watch(snap(10_000_000, 100_000))]][0]
    assert held.decision == "hold" and held.evidence["error_rate"].rungs["hold"].fired_on == "estimate"


# --- the end of a watch: no evidence of a breach is not evidence of health --------------------------------


SEED_103_BASELINE = snap(1800, 40)  # bench/time_to_act.py seed 103: a T-1w baseline at 2.2 % errors


def _replay(windows: list[Snapshot], policy: Policy | None = None) -> tuple[object, list[str]]:
    from odin_drills.steps.judge import MemoryJournal, replay

    journal = MemoryJournal()
    verdict, ended = replay(SEED_103_BASELINE, windows, policy or Policy(), duration=300, interval=300,
                            phase="t0", journal=journal)
    assert not ended
    return verdict, [fields["message"] for kind, fields in journal.entries if kind == "note"]


def test_an_inconclusive_window_at_2_3x_the_baseline_does_not_proceed() -> None:
    """Seed 103 of the time-to-act bench: one 1,800-request window at 5.1 % against 2.2 % fired no
    rung (e = 5.8 of 200) and passed the power rule, so the migration completed at 2.3x."""
    state = watch(SEED_103_BASELINE, horizon=4)
    decision = state.add(snap(1800, 92))
    assert decision.decision == "proceed" and decision.evidence_tier == "ok"  # no rung fired on this window
    action, reason = state.conclude()
    assert action is None and "2.30x >= 1.5x" in reason and "92 of 1,800 requests" in reason

    verdict, notes = _replay([snap(1800, 92)] * 4)
    assert verdict.action == "hold" and verdict.windows == 2  # one more window made the evidence conclusive
    assert any(note.startswith("not within baseline after the window: collecting one more interval (1/3)")
               for note in notes)


def test_with_no_extensions_left_an_unsettled_estimate_holds() -> None:
    policy = Policy(windows={"max_extensions": 0})
    verdict, _ = _replay([snap(1800, 92)], policy)
    assert verdict.action == "hold"
    assert verdict.reason.startswith("still not within baseline after 0 extra windows") and "2.30x" in verdict.reason


def test_an_estimate_under_the_holds_multiple_or_the_floor_still_proceeds() -> None:
    verdict, notes = _replay([snap(1800, 52)])  # 2.9 % vs 2.2 %: 1.3x, no evidence either
    assert verdict.action == "proceed" and not notes
    state = watch(snap(10_000_000, 1_000), horizon=1)  # 0.01 % -> 0.04 %: 4x, but +0.03 pp < 0.1 pp floor
    state.add(snap(20_000, 8))
    assert state.unsettled_estimates() == []


def test_latency_estimates_are_the_request_weighted_window_percentiles() -> None:
    rng = np.random.default_rng(RNG_SEED)
    state = watch(snap(36000, 360, rng.lognormal(np.log(80), 0.5, 36000)))
    first, second = rng.lognormal(np.log(80), 0.5, 1000), rng.lognormal(np.log(80), 0.5, 3000)
    state.add(snap(1000, 10, first))
    state.add(snap(3000, 30, second))
    expected = (1000 * np.percentile(first, 95) + 3000 * np.percentile(second, 95)) / 4000
    assert state.watch_estimates()["latency_p95_ms"] == pytest.approx(expected)
    assert state.watch_estimates()["error_rate"] == pytest.approx(0.01)
