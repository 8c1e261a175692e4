"""Anytime-valid evidence for the rollback ladder: a watch may be looked at after every window.

The fixed-window judge tests each window at 99 % and acts on the first window that looks bad; over
a 23 h watch of 276 windows a healthy service is then held or rolled back more often than not
(issue 11: 13 of 20 healthy watches at 1 and 10 req/s). This module replaces the per-window
p-value with evidence whose error guarantee holds *over the whole watch*, however often it is
looked at, so the judge can act the moment the evidence is conclusive and never otherwise.

**The question each rung asks.** For a multiplier k (watch 1.1, hold 1.5, rollback 2.0) and a
metric, H0(k) says "the current value is at most k times the baseline's"; the rung fires when
H0(k) is rejected and the change also clears the policy floor. So 2x stays an effect size: a
2.0x breach never rolls back, a 2.5x breach does once the data show it is above 2x.

**Method: the baseline bounded once, the watch as an e-detector.** The baseline is one fixed
sample, measured a week before, not a stream running beside the change (as Netflix's canaries
are, which the counting-process tests of Lindon, Sanden & Shirikian, KDD 2022, assume: there the
split of each new event between baseline and canary is Binomial with a known share under H0, so
a mixture of likelihood ratios is a martingale). With a fixed baseline that split is not a
martingale: given the baseline's E_b errors, the conditional Bayes factor drifts by
``n_b (r1 - r0) / (n_b + r1 n) * (lambda - (E_b + E_c) / (n_b + r0 n))`` per request, zero only
when the true rate equals its running estimate. So the evidence is split in two:

1. *The baseline, bounded once per migration*: an exact one-sided upper bound ``U`` at level
   ``alpha_b``: Clopper–Pearson for the error rate; for a percentile q, the order statistic
   ``X_(m)`` with ``P(Binomial(n, q) >= m) <= alpha_b`` (distribution-free; from a histogram, the
   upper bound of that order statistic's bucket). With probability at least ``1 - alpha_b`` the
   baseline is at most U, so H0(k) implies "current <= k U": a simple bound on one stream.
2. *The watch, as Bernoulli counts*: errors among requests (null rate ``p0 = k U``), or, for
   latency, requests slower than ``x0 = k U`` (null share ``1 - q``: if the current percentile is
   at most x0, at most 5 % of requests are slower than it, whatever the distribution). From a
   histogram, requests slower than the first bucket bound at or above x0: fewer, so conservative.
   Each window's likelihood ratio against a rise to ``r p0`` is
   ``r^y ((1 - r p0) / (1 - p0))^(n - y)``, a supermartingale factor under any rate <= p0. Two
   mixtures make it an e-detector: over rises r in ``GRID`` (1.25x to 100x the null, equal
   weights) and over the window the rise began (each of the watch's T windows, weight 1/T; the
   not yet begun count as 1). This is the Shiryaev–Roberts statistic ``R_t = (R_{t-1} + 1) L_t``
   written as a test martingale ``E_t = (R_t + (T - t)) / T`` (Shin, Ramdas & Rinaldo,
   "E-detectors", 2022): starting at 1, so by Ville's inequality ``P(ever E_t >= 1/alpha) <=
   alpha``. A rise starting mid-watch is judged on the windows since it began, not diluted by
   the healthy hours before it (a test on all windows since the start would need 52 windows of a
   5x breach that began at window 138 to reach 2x on average).

A rung k fires when the e-detectors of every rung up to k reach ``1/alpha`` (closed testing: the
nulls are nested, so one alpha covers all three rungs of a metric) and the metric's point estimate
since the rise began exceeds the baseline by more than the floor. Total error: the baseline
bounds' ``alpha_b`` plus each watch's alpha, split evenly between the error rate and latency (and
between p95 and p99). ``AlphaBudget`` spends one alpha per migration across the phases.

**The end of a watch.** Evidence of a rise above 1.1x at the end is a hold (measured degradation:
a person decides). Otherwise the watch proceeds only if it *could* have seen a rollback-tier
error breach: the chance that the watch rung's detector would have fired by now, had the error
rate been ``max(2 U, U + floor)`` all along, is at least ``policy.power`` (the fixed judge's power
rule, for this test). It is a lower bound (one look, the rise from the first window, the best
single alternative on the grid), computed exactly from the binomial tail. If not, the watch says
how many more requests it would need, or that no amount would do because the baseline is too small.
And it proceeds only if no metric's estimate over the whole watch is at least the hold multiple of
the baseline point (clearing the floor): the absence of evidence is not health. Such a watch takes
its extensions, then holds (``SequentialWatch.unsettled_estimates``; ``bench/estimate_rule.py``).

Why not confidence sequences for the ratio itself: every rung needs only "is it above k", which the
e-detector answers at three points; a full lower bound would need every window's latency data
kept to re-count at any threshold (at 100 req/s, 8 million samples over a day).

Measured (``bench/watch_noise.py`` -> ``bench/results/watch_noise.md``; 1 h baselines, 23 h
watches of 276 five-minute windows, fixed seeds, the hold-on-estimate rule below): healthy watches
at 1, 10 and 100 req/s, 0.1 % and 1 % errors, samples and histograms: 0 of 400 held or rolled back
in every cell, 0 of 4,000 in all (the fixed judge: 55-100 % at 1 and 10 req/s); every breach of
2.5x and more acted on at least as fast as the fixed judge (median and p90 windows), a 20 % error
outage after its first window in every trial. The price of one alpha over a day is speed on small
breaches with few errors: acting needs about log(T / alpha) + log(8) = 14 nats against the
baseline's bound, so a 1.6x error rise at 10 req/s and 1 % is held after a median 14 windows (the
fixed judge: 1, having spent 1 % on each, and holding 40 % of the healthy halves first).

Why one file over the ~600-line guide: the bounds, the detector, the alpha budget and the watch
that applies them are one statistical argument whose constants (grid, alpha shares, bucket
layout) must agree; split, a change to one would silently invalidate the guarantee stated above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from math import exp, log, log1p
from typing import Any, Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from odin_drills.steps.outage import detected_signals
from odin_drills.steps.limits import judge_limits, limit_reasons, limit_tier
from odin_drills.steps.stats import min_detectable_rate
from odin_drills.steps.gates import (
    Decision,
    DecisionName,
    MetricVerdict,
    RequestCounts,
    Tier,
    _exact,
    _grade,
    _ms,
    _pct as _rate,
    _pp,
    _threshold,
    _times,
    signal_reasons,
)

GRID: tuple[float, ...] = (1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0)
"""Rises the e-detector is ready for, as multiples of the null rate (equal prior weight each).
The evidence for a rise between two of them is that of the nearer one below, less log(8) = 2.1
nats for not knowing which: the price of acting at once on a 20 % outage (100x a 0.2 % null)
while still accumulating a 1.5x rise over several windows."""

RUNGS: tuple[str, ...] = ("watch", "hold", "rollback")
MAX_E = 1e300  # e-values are stored and printed as floats; beyond this they are "overwhelming"



# ---------------------------------------------------------------- exact one-sided bounds

def rate_upper_bound(errors: int | float, requests: int | float, alpha: float) -> float:
    """Clopper–Pearson one-sided upper bound on a binomial rate: P(rate > bound) <= alpha."""
    from scipy.special import betaincinv

    if requests <= 0 or errors >= requests:
        return 1.0
    return float(betaincinv(errors + 1, requests - errors, 1.0 - alpha))


@lru_cache(maxsize=1024)
def upper_rank(n: int, q: float, alpha: float) -> int | None:
    """The smallest rank m with P(Binomial(n, q) >= m) <= alpha, so the m-th smallest of n values
    lies below the q-quantile with probability at most alpha (it would take m or more values
    below the quantile, each with probability at most q). None when n values are too few."""
    from scipy.special import betainc

    def tail(m: int) -> float:  # P(Binomial(n, q) >= m) = I_q(m, n - m + 1)
        return float(betainc(m, n - m + 1, q))

    if n <= 0 or tail(n) > alpha:
        return None
    low, high = 1, n
    while low < high:
        middle = (low + high) // 2
        if tail(middle) <= alpha:
            high = middle
        else:
            low = middle + 1
    return low


# ---------------------------------------------------------------- latency as counts

@dataclass(frozen=True)
class LatencyData:
    """One window's latencies as something that can be counted above a threshold."""

    samples: np.ndarray | None = None  # sorted
    bounds: np.ndarray | None = None  # histogram upper bounds (ms), increasing
    cumulative: np.ndarray | None = None  # requests at or below each bound

    @property
    def n(self) -> int:
        if self.samples is not None:
            return int(self.samples.size)
        return int(self.cumulative[-1]) if self.cumulative is not None and self.cumulative.size else 0

    def slower_than(self, threshold: float) -> int:
        """Requests slower than ``threshold``; from a histogram, slower than the first bound at or
        above it (an undercount, so the evidence errs on the side of the null)."""
        if self.samples is not None:
            return int(self.samples.size - np.searchsorted(self.samples, threshold, side="right"))
        assert self.bounds is not None and self.cumulative is not None
        index = int(np.searchsorted(self.bounds, threshold, side="left"))
        if index >= self.bounds.size:
            return 0  # above the last bound: nothing is known to be slower
        return int(self.cumulative[-1] - self.cumulative[index])

    def upper_bound(self, q: float, alpha: float) -> float | None:
        """Exact one-sided upper bound on the q-quantile (None: too few values)."""
        rank = upper_rank(self.n, q, alpha)
        if rank is None:
            return None
        if self.samples is not None:
            return float(self.samples[rank - 1])
        assert self.bounds is not None and self.cumulative is not None
        return float(self.bounds[int(np.searchsorted(self.cumulative, rank, side="left"))])

    def share_slower(self, threshold: float) -> float:
        return self.slower_than(threshold) / self.n if self.n else 0.0


def latency_data(snapshot: Any) -> LatencyData | None:
    """Samples if the snapshot has them, else its histogram, else None (percentiles only)."""
    samples = getattr(snapshot, "latency_samples_ms", None)
    if samples:
        return LatencyData(samples=np.sort(np.asarray(samples, dtype=np.float64)))
    histogram = getattr(snapshot, "latency_histogram", None)
    if histogram is not None and histogram.counts and histogram.counts[-1] > 0:
        return LatencyData(bounds=np.asarray(histogram.le_ms, dtype=np.float64),
                           cumulative=np.asarray(histogram.counts, dtype=np.int64))
    return None


# ---------------------------------------------------------------- the e-detector

class EDetector:
    """Evidence that a Bernoulli rate rose above ``p0`` at some window of a watch of ``horizon``.

    ``update(n, y)`` adds a window of n trials with y successes (errors, or requests slower than
    the threshold). ``e_value`` is a test martingale under "rate <= p0 in every window": it starts
    at 1, and ``P(it ever reaches 1/alpha) <= alpha`` (Ville). Windows after ``horizon`` extend the
    rises already begun but start none.
    """

    def __init__(self, p0: float, horizon: int, grid: Sequence[float] = GRID) -> None:
        self.p0 = p0
        self.horizon = max(1, int(horizon))
        ratios = [r for r in grid if r * p0 < 1.0] if 0.0 < p0 < 1.0 else []
        self.active = bool(ratios)
        self.log_weights = np.full(len(ratios), -log(len(ratios))) if ratios else np.zeros(0)
        ratio_array = np.asarray(ratios, dtype=np.float64)
        self._log_r = np.log(ratio_array)
        self._log_q = np.log1p(-(ratio_array - 1.0) * p0 / (1.0 - p0)) if ratios else ratio_array
        self.t = 0
        capacity = min(self.horizon, 64)  # rows grow with the windows seen, never past the horizon
        self._log_lr = np.zeros((capacity, len(ratios)))  # row s: log LR since window s + 1
        self._n = np.zeros(capacity)
        self._y = np.zeros(capacity)
        self._cache: tuple[float, int] | None = None

    @property
    def starts(self) -> int:
        return min(self.t, self.horizon)

    def update(self, n: int, y: int) -> None:
        self.t += 1
        rows = self.starts
        if rows > self._n.size:
            grown = min(self.horizon, 2 * self._n.size)
            self._log_lr = np.vstack([self._log_lr, np.zeros((grown - self._n.size, self._log_lr.shape[1]))])
            self._n = np.concatenate([self._n, np.zeros(grown - self._n.size)])
            self._y = np.concatenate([self._y, np.zeros(grown - self._y.size)])
        if n > 0:
            self._n[:rows] += n
            self._y[:rows] += y
            if self.active:
                self._log_lr[:rows] += y * self._log_r + (n - y) * self._log_q
        self._cache = None

    def _state(self) -> tuple[float, int]:
        """(log e-value, index of the start with the most evidence), computed once per window."""
        if self._cache is not None:
            return self._cache
        if not self.active or self.t == 0:
            state = (0.0, 0)  # nothing seen, or nothing this detector can see: the martingale is at 1
        else:
            terms = self._log_lr[: self.starts] + self.log_weights
            top = float(terms.max())
            with np.errstate(divide="ignore"):  # a start whose evidence underflows is log 0 = -inf
                per_start = np.log(np.exp(terms - top).sum(axis=1)) + top  # log of each start's mixture
            best = int(np.argmax(per_start))
            total = float(np.exp(per_start - top).sum())
            waiting = self.horizon - self.starts
            log_sum = top + log(total) if waiting == 0 else float(np.logaddexp(top + log(total), log(waiting)))
            state = (log_sum - log(self.horizon), best)
        self._cache = state
        return state

    @property
    def log_e(self) -> float:
        return self._state()[0]

    @property
    def e_value(self) -> float:
        log_e = self.log_e
        return MAX_E if log_e > log(MAX_E) else exp(log_e)

    def since(self) -> tuple[int, int, int] | None:
        """(window the evidence is strongest from, 1-based; trials and successes since then)."""
        if self.t == 0:
            return None
        best = self._state()[1]
        return best + 1, int(self._n[best]), int(self._y[best])


# ---------------------------------------------------------------- power of the detector

def fire_count(n: int, p0: float, horizon: int, alpha: float, grid: Sequence[float] = GRID) -> int | None:
    """The fewest successes among n trials (from the first window) that make the detector's start-1
    term alone reach 1/alpha for some rise on the grid; None when no count would."""
    ratios = [r for r in grid if r * p0 < 1.0] if 0.0 < p0 < 1.0 else []
    if not ratios or n <= 0:
        return None
    need = log(horizon / alpha) + log(len(ratios))
    best: float | None = None
    for r in ratios:
        log_r, log_q = log(r), log1p(-(r - 1.0) * p0 / (1.0 - p0))
        # y log r + (n - y) log q >= need  <=>  y >= (need - n log q) / (log r - log q)
        y = (need - n * log_q) / (log_r - log_q)
        if y <= n and (best is None or y < best):
            best = y
    if best is None:
        return None
    return max(0, int(np.ceil(best - 1e-9)))


def detection_power(n: int, true_rate: float, p0: float, horizon: int, alpha: float) -> float:
    """A lower bound on the chance the detector fires by n trials when the rate is ``true_rate``
    from the first window on: P(Binomial(n, true_rate) >= fire_count)."""
    from scipy.special import betainc

    k = fire_count(n, p0, horizon, alpha)
    if k is None:
        return 0.0
    if k == 0:
        return 1.0
    return float(betainc(k, n - k + 1, min(max(true_rate, 0.0), 1.0)))


def trials_needed(true_rate: float, p0: float, horizon: int, alpha: float, power: float,
                  start: int = 1, limit: int = 10**12) -> int | None:
    """The fewest trials (at least ``start``) for ``detection_power >= power``; None if beyond ``limit``."""
    if true_rate <= p0 or p0 >= 1.0:
        return None
    n = max(1, start)
    while detection_power(n, true_rate, p0, horizon, alpha) < power:
        n *= 2
        if n > limit:
            return None
    low, high = max(1, n // 2), n
    while low < high:
        middle = (low + high) // 2
        if detection_power(middle, true_rate, p0, horizon, alpha) >= power:
            high = middle
        else:
            low = middle + 1
    return max(low, start)


# ---------------------------------------------------------------- spending alpha

PHASE_WEIGHTS = {"t-1w": 0.125, "t0": 0.25, "t+1h": 0.25, "t+24h": 0.5}
"""How a migration's detector alpha is split between phases (renormalised over the phases that
have gates). The day-long watch gets half: it has the most windows to guard."""

BASELINE_SHARE = 0.5
"""Share of alpha for the baseline's bounds (spent once, whatever the number of watches)."""


@dataclass(frozen=True)
class AlphaBudget:
    """Who may spend how much of the policy's alpha.

    ``baseline``: for the exact bounds on the baseline (once per migration: every watch compares
    with the same bounds, so one failure of them is one event). ``per_watch[phase]``: for the
    e-detectors of each watch in that phase. Scope ``migration``: the false-alarm probability of a
    whole healthy migration is at most ``alpha``. Scope ``watch``: each watch gets the whole
    alpha (half for the bounds, half for its detectors), and a migration of w watches at most w x alpha.
    """

    alpha: float
    baseline: float
    per_watch: dict[str, float] = field(default_factory=dict)
    default_watch: float = 0.0
    scope: str = "watch"

    def watch(self, phase: str | None) -> float:
        return self.per_watch.get(phase or "", self.default_watch)

    @classmethod
    def single(cls, alpha: float) -> "AlphaBudget":
        """One watch on its own (``odin replay``, tests, and flows that pass no plan)."""
        return cls(alpha=alpha, baseline=alpha * BASELINE_SHARE, default_watch=alpha * (1 - BASELINE_SHARE))

    @classmethod
    def for_watches(cls, policy: Any, watches: dict[str, int]) -> "AlphaBudget":
        """The budget for a migration with ``watches[phase]`` gates in each phase."""
        alpha = policy.alpha
        if policy.alpha_scope == "watch":
            budget = cls.single(alpha)
            return cls(alpha=alpha, baseline=budget.baseline, default_watch=budget.default_watch, scope="watch")
        detectors = alpha * (1 - BASELINE_SHARE)
        phases = {phase: count for phase, count in watches.items() if count > 0 and phase in PHASE_WEIGHTS}
        total = sum(PHASE_WEIGHTS[phase] for phase in phases) or 1.0
        per_watch = {phase: detectors * PHASE_WEIGHTS[phase] / total / count for phase, count in phases.items()}
        smallest = min(per_watch.values()) if per_watch else detectors
        return cls(alpha=alpha, baseline=alpha * BASELINE_SHARE, per_watch=per_watch, default_watch=smallest,
                   scope="migration")

    @classmethod
    def for_plan(cls, plan: Any) -> "AlphaBudget":
        return cls.for_watches(plan.policy, watches_per_phase(plan))

    def describe(self) -> str:
        parts = [f"alpha {_pct(self.alpha)} per {self.scope}: {_pct(self.baseline)} for the baseline's bounds"]
        for phase, value in self.per_watch.items():
            parts.append(f"{_pct(value)} per {phase} watch")
        if not self.per_watch:
            parts.append(f"{_pct(self.default_watch)} per watch")
        return ", ".join(parts)


def watches_per_phase(plan: Any) -> dict[str, int]:
    """How many gate watches each phase of ``plan`` runs (the flows' rule: a gate after every
    world-changing step and for every gate step; T+1h and T+24h also their own)."""
    counts = {}
    for phase in ("t-1w", "t0", "t+1h", "t+24h"):
        steps = plan.phases.steps(phase)
        gates = sum(1 for step in steps if step.changes_world or getattr(step, "kind", "") == "gate")
        counts[phase] = gates + (1 if phase in ("t+1h", "t+24h") else 0)
    return counts


def _pct(value: float) -> str:
    text = f"{value * 100:.3g}%"
    return text


# ---------------------------------------------------------------- one watch, window by window

_QUANTILES = {"p95": 0.95, "p99": 0.99}
_LABELS = {"error_rate": "error rate", "latency_p95_ms": "p95 latency", "latency_p99_ms": "p99 latency"}


class RungEvidence(BaseModel):
    """One rung of one metric: is the current value above ``limit`` (k x the baseline's bound)?"""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    multiplier: float
    limit: float | None = Field(description="k x the baseline's upper bound (rate or ms); null: no bound")
    e_value: float = Field(description="evidence against 'at most limit' since the watch began; 1 = none")
    since_window: int | None = Field(description="the window the evidence is strongest from (1-based)")
    current_since: float | None = Field(description="the metric since that window (rate, or ms)")
    fired: bool
    fired_on: Literal["evidence", "estimate"] | None = Field(
        default=None, description="evidence: conclusive above this rung's own limit; estimate (hold only): "
                                  "conclusive above the watch rung's limit with the estimate since then at or "
                                  "above this rung's multiple of the baseline")


class MetricEvidence(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    data: Literal["counts", "samples", "histogram", "percentiles"]
    baseline: float
    baseline_bound: float | None = Field(description="exact one-sided upper bound on the baseline")
    bound_confidence: float
    alpha: float = Field(description="this metric's share of the watch's alpha")
    e_threshold: float = Field(description="1 / alpha: an e-value at or above it is conclusive")
    rungs: dict[str, RungEvidence]
    tier: Tier


class SequentialDecision(Decision):
    """A window judged by the sequential judge: the ladder's Decision plus the evidence behind it."""

    judge: Literal["sequential"] = "sequential"
    window: int
    alpha: float = Field(description="the watch's alpha (its detectors' share plus the baseline bounds')")
    evidence: dict[str, MetricEvidence]
    evidence_tier: Tier = Field(description="the highest rung the sequential evidence reached")
    alert_tier: Tier = Field(
        default="ok", description="the rung the Sev 1 alerts read from the plan's alert source reach (2 or more: "
                                  "rollback, 1: hold); their rules' own `for:` is their confirmation, so like "
                                  "conclusive evidence they act in the window they are seen")
    limit_tier: Tier = Field(
        default="ok", description="the rung an absolute limit reached (policy.absolute); its exact test at the "
                                  "watch's per-window share of absolute.alpha is the evidence, so it acts at once")


class _Metric:
    """The e-detectors of one metric and what the sentences need."""

    def __init__(self, name: str, baseline_point: float, bound: float | None, data: str, alpha: float,
                 bound_alpha: float, policy: Any, horizon: int, quantile: float | None = None) -> None:
        self.name, self.baseline_point, self.bound, self.data = name, baseline_point, bound, data
        self.alpha, self.bound_alpha, self.policy, self.quantile = alpha, bound_alpha, policy, quantile
        self.is_error = quantile is None
        self.floor = policy.floors.error_rate if self.is_error else policy.floors.latency_ms
        self.multipliers = {rung: getattr(policy.multipliers, rung) for rung in RUNGS}
        self.limits = {rung: (k * bound if bound is not None else None) for rung, k in self.multipliers.items()}
        null = (lambda limit: limit) if self.is_error else (lambda limit: 1.0 - quantile)  # type: ignore[operator]
        self.detectors = {rung: EDetector(null(limit) if limit is not None else 1.0, horizon)
                          for rung, limit in self.limits.items()}
        self.points: list[tuple[int, float]] = []  # latency: (values, the window's percentile)

    def update(self, snapshot: Any, latency: LatencyData | None) -> None:
        if self.is_error:
            for detector in self.detectors.values():
                detector.update(snapshot.requests, snapshot.errors)
            return
        value = getattr(snapshot.latency_ms, self._percentile)
        if latency is None or self.bound is None:
            for detector in self.detectors.values():
                detector.update(0, 0)
            self.points.append((0, value))
            return
        for rung, detector in self.detectors.items():
            detector.update(latency.n, latency.slower_than(self.limits[rung]))  # type: ignore[arg-type]
        self.points.append((latency.n, value))

    @property
    def _percentile(self) -> str:
        return self.name.removeprefix("latency_").removesuffix("_ms")

    def since(self, rung: str) -> tuple[int | None, float | None]:
        found = self.detectors[rung].since()
        if found is None:
            return None, None
        start, n, y = found
        if self.is_error:
            return start, (y / n if n else None)
        return start, self.latency_since(start)

    def latency_since(self, start: int = 1) -> float | None:
        """The windows' percentiles from window ``start`` on, weighted by their requests (None: none)."""
        points = self.points[start - 1:]
        weight = sum(n for n, _ in points)
        return sum(n * v for n, v in points) / weight if weight else None

    def evidence(self) -> MetricEvidence:
        threshold = 1.0 / self.alpha
        rungs: dict[str, RungEvidence] = {}
        tier: Tier = "ok"
        lower_all_conclusive = True
        for rung in RUNGS:
            detector = self.detectors[rung]
            e_value = detector.e_value
            start, current = self.since(rung)
            conclusive = lower_all_conclusive and detector.active and e_value >= threshold
            lower_all_conclusive = conclusive
            floor_ok = current is not None and current - self.baseline_point > self.floor
            fired = conclusive and floor_ok
            fired_on: Literal["evidence", "estimate"] | None = "evidence" if fired else None
            if not fired and rung == "hold" and self._hold_on_estimate(rungs.get("watch")):
                watch = rungs["watch"]
                fired, fired_on, start, current = True, "estimate", watch.since_window, watch.current_since
            if fired:
                tier = rung  # type: ignore[assignment]
            rungs[rung] = RungEvidence(multiplier=self.multipliers[rung], limit=self.limits[rung], e_value=e_value,
                                       since_window=start, current_since=current, fired=fired, fired_on=fired_on)
        return MetricEvidence(data=self.data, baseline=self.baseline_point, baseline_bound=self.bound,  # type: ignore[arg-type]
                              bound_confidence=1.0 - self.bound_alpha, alpha=self.alpha, e_threshold=threshold,
                              rungs=rungs, tier=tier)

    def _hold_on_estimate(self, watch: RungEvidence | None) -> bool:
        """A hold on the watch rung's evidence and the hold rung's effect size.

        A hold changes nothing in the world: it asks a person, with a deadline. So it does not wait
        for evidence above 1.5x the baseline's *bound* (which, for a 2.5x breach with ~30 expected
        errors a window, took 4 windows against the fixed judge's 2: issue 11): it fires once the
        rise above the watch rung's limit (1.1x the bound) is conclusive — the same anytime-valid
        evidence, so a healthy service trips it at most alpha of the time over the whole watch — and
        the metric since the rise began is at least 1.5x the baseline (the effect size, as the fixed
        judge reads it) and clears the floor. A rollback, which changes the world, still needs
        conclusive evidence above its own multiple of the bound: 2.0x never rolls back."""
        if watch is None or not watch.fired or watch.current_since is None:
            return False
        return (watch.current_since >= self.multipliers["hold"] * self.baseline_point
                and watch.current_since - self.baseline_point > self.floor)

    def sentence(self, evidence: MetricEvidence) -> str | None:
        """Why the highest rung fired, in words; None when none did."""
        if evidence.tier == "ok":
            return None
        rung = evidence.rungs[evidence.tier]
        value = _rate if self.is_error else _ms
        delta = (rung.current_since or 0.0) - self.baseline_point
        floor = _pp(self.floor) if self.is_error else _ms(self.floor)
        change = _pp(delta) if self.is_error else _ms(delta)
        if rung.fired_on == "estimate":
            watch = evidence.rungs["watch"]
            ratio = (rung.current_since or 0.0) / self.baseline_point if self.baseline_point else float("inf")
            return (f"{_LABELS[self.name]} {value(rung.current_since or 0.0)} since window {rung.since_window} vs "
                    f"baseline {value(self.baseline_point)} (at most {value(self.bound or 0.0)} at "
                    f"{_conf(evidence.bound_confidence)}): {ratio:.2f}x the baseline >= {_times(rung.multiplier)}, "
                    f"and conclusively above {_times(watch.multiplier)} that bound ({value(watch.limit or 0.0)}) with "
                    f"e-value {_e(watch.e_value)} >= 1/alpha = {_e(evidence.e_threshold)}, +{change} > {floor} floor "
                    f"(a hold asks a person; a rollback needs evidence above {_times(self.multipliers['rollback'])} "
                    "the bound)")
        return (f"{_LABELS[self.name]} {value(rung.current_since or 0.0)} since window {rung.since_window} vs "
                f"baseline {value(self.baseline_point)} (at most {value(self.bound or 0.0)} at "
                f"{_conf(evidence.bound_confidence)}): above {_times(rung.multiplier)} that bound "
                f"({value(rung.limit or 0.0)}) with e-value {_e(rung.e_value)} >= 1/alpha = {_e(evidence.e_threshold)}, "
                f"+{change} > {floor} floor")

    def summary(self, evidence: MetricEvidence, window_value: float) -> str:
        value = _rate if self.is_error else _ms
        if evidence.data == "percentiles":
            return (f"{_LABELS[self.name]} {value(window_value)} vs {value(self.baseline_point)} "
                    "(percentiles only: judged on the point estimate)")
        watch = evidence.rungs["watch"]
        bound = f" (at most {value(self.bound)})" if self.bound is not None else ""
        return (f"{_LABELS[self.name]} {value(window_value)} vs {value(self.baseline_point)}{bound}, "
                f"e-value for > {_times(watch.multiplier)} {_e(watch.e_value)} of {_e(evidence.e_threshold)} needed")


class SequentialWatch:
    """The sequential judge's state over one watch: feed windows in order with ``add``; ``conclude``
    at the end of the planned windows.

    Pure: no I/O, no clock. ``alpha`` is this watch's detector alpha; ``baseline_alpha`` the alpha
    of the baseline's bounds (see ``AlphaBudget``); ``horizon`` the number of windows the watch may
    take (planned + extensions), fixed before the first window.
    """

    def __init__(self, baseline: Any, policy: Any, *, alpha: float, baseline_alpha: float, horizon: int,
                 interval_seconds: float | None = None) -> None:
        self.baseline, self.policy, self.horizon = baseline, policy, max(1, horizon)
        self.alpha, self.baseline_alpha, self.interval_seconds = alpha, baseline_alpha, interval_seconds
        percentiles = [p for p in ("p95", "p99") if p in policy.latency_percentiles]
        base_latency = latency_data(baseline)
        latency_share = 0.5 if base_latency is not None else 0.0
        error_alpha, error_bound_alpha = alpha * (1 - latency_share), baseline_alpha * (1 - latency_share)
        self.metrics: dict[str, _Metric] = {
            "error_rate": _Metric("error_rate", baseline.error_rate,
                                  rate_upper_bound(baseline.errors, baseline.requests, error_bound_alpha),
                                  "counts", error_alpha, error_bound_alpha, policy, self.horizon),
        }
        for percentile in percentiles:
            share = latency_share / len(percentiles) if latency_share else 0.0
            bound_alpha = baseline_alpha * share if share else baseline_alpha
            bound = base_latency.upper_bound(_QUANTILES[percentile], bound_alpha) if base_latency else None
            data = "percentiles" if base_latency is None else ("samples" if base_latency.samples is not None else "histogram")
            self.metrics[f"latency_{percentile}_ms"] = _Metric(
                f"latency_{percentile}_ms", getattr(baseline.latency_ms, percentile), bound, data,
                alpha * share if share else alpha, bound_alpha, policy, self.horizon, _QUANTILES[percentile])
        self.windows = 0
        self.requests = 0
        self.errors = 0
        self.last: SequentialDecision | None = None

    # -------------------------------------------------------------- the power rule, sequentially

    def _breach(self) -> tuple[float, float, float] | None:
        """(rollback-tier rate, the watch rung's null, error alpha) for the power rule; None: no bound."""
        errors = self.metrics["error_rate"]
        bound = errors.bound
        if bound is None:
            return None
        m = self.policy.multipliers
        breach = min(max(m.rollback * bound, bound + self.policy.floors.error_rate), 1.0)
        return breach, m.watch * bound, errors.alpha

    def power(self) -> float:
        """Chance the watch rung would have fired by now had the error rate been at the rollback tier
        (``max(2 U, U + floor)``) since the first window (a lower bound)."""
        breach = self._breach()
        if breach is None:
            return 0.0
        rate, null, alpha = breach
        return detection_power(self.requests, rate, null, self.horizon, alpha)

    def min_detectable(self) -> float | None:
        """The smallest error rate the watch so far would have caught with the policy's power, had it
        held since the first window: the report's "min detectable" for this judge (a watch, not one
        window, since the evidence is the watch's). Closed form, as the fixed judge's: the detector
        fires on ``fire_count`` errors among these requests, so the rate is the ``power`` quantile of
        the Beta that Binomial tail inverts to. None: no bound, no traffic, or no count would fire."""
        breach = self._breach()
        if breach is None or self.requests == 0:
            return None
        _, null, alpha = breach
        return min_detectable_rate(self.requests, fire_count(self.requests, null, self.horizon, alpha), self.policy.power)

    def requests_needed(self) -> int | None:
        breach = self._breach()
        if breach is None:
            return None
        rate, null, alpha = breach
        return trials_needed(rate, null, self.horizon, alpha, self.policy.power, start=self.requests)

    # -------------------------------------------------------------- windows

    def add(self, window: Any) -> SequentialDecision:
        """Judge one more window; the decision's name is what this window says (rollback_now,
        rollback, hold, watch, inconclusive, proceed), acting on it is the caller's business."""
        self.windows += 1
        self.requests += window.requests
        self.errors += window.errors
        latency = latency_data(window)
        for metric in self.metrics.values():
            metric.update(window, latency)
        evidence = {name: metric.evidence() for name, metric in self.metrics.items()}
        breaches: dict[str, list[str]] = {rung: [] for rung in RUNGS}
        verdicts: dict[str, MetricVerdict] = {}
        for name, metric in self.metrics.items():
            found = evidence[name]
            current = window.error_rate if metric.is_error else getattr(window.latency_ms, metric._percentile)
            tier, test = found.tier, "e-detector"
            if not metric.is_error and (latency is None or metric.bound is None):
                tier, sentence = self._percentile_rule(metric, current)  # no distribution: the point stands
                test = "percentiles"
                if sentence:
                    breaches[tier].append(sentence)
            elif tier != "ok":
                breaches[tier].append(metric.sentence(found) or "")
            base = metric.baseline_point
            detectable = self.min_detectable() if metric.is_error else None
            verdicts[name] = MetricVerdict(
                baseline=base, current=current, ratio=current / base if base else None,
                threshold=_threshold(tier, self.policy), floor=metric.floor, p_value=None,
                min_detectable_ratio=detectable / base if detectable is not None and base else None,
                min_detectable=detectable, tier=tier, test=test,  # type: ignore[arg-type]
            )
        signals = signal_reasons(detected_signals(window, self.policy, self.baseline))
        # the absolute limits spend their own alpha per watch, split over its windows (steps.limits)
        limits = judge_limits(window, getattr(self.policy, "absolute", None),
                              getattr(getattr(self.policy, "absolute", None), "alpha", 0.0) / self.horizon,
                              self.baseline)
        limit_breaches, limit_notes = limit_reasons(limits)
        power = self.power()
        power_reason = None if power >= self.policy.power else self._power_reason(power)
        rungs: list[tuple[DecisionName, list[str]]] = [
            ("rollback_now", signals["rollback_now"]),
            ("rollback", breaches["rollback"] + limit_breaches["rollback"] + signals["rollback"]),
            ("hold", breaches["hold"] + limit_breaches["hold"] + signals["hold"]),
            ("watch", breaches["watch"] + signals["watch"]),
            ("inconclusive", signals["inconclusive"] + ([power_reason] if power_reason else [])),
        ]
        decision: DecisionName = next((name for name, fired in rungs if fired), "proceed")
        reasons = [reason for _, fired in rungs for reason in fired] + limit_notes
        if decision in ("proceed", "inconclusive"):
            reasons.append("no breach so far: " + "; ".join(
                metric.summary(evidence[name], verdicts[name].current) for name, metric in self.metrics.items()))
        evidence_tier = max((found.tier for found in evidence.values()), key=_tier_rank)
        self.last = SequentialDecision(
            decision=decision, reasons=reasons, metrics=verdicts, power=min(max(power, 0.0), 1.0),
            requests=RequestCounts(baseline=self.baseline.requests, current=window.requests),
            confidence=1.0 - (self.alpha + self.baseline_alpha), power_target=self.policy.power,
            window=self.windows, alpha=self.alpha + self.baseline_alpha, evidence=evidence,
            evidence_tier=evidence_tier, alert_tier=_alert_tier(window), limits=limits, limit_tier=limit_tier(limits),
        )
        return self.last

    def _percentile_rule(self, metric: _Metric, current: float) -> tuple[Tier, str | None]:
        point_tier, floor_ok = _grade(_exact(current), _exact(metric.baseline_point), _exact(metric.floor), self.policy)
        if point_tier == "ok" or not floor_ok:
            return "ok", None
        base = metric.baseline_point
        ratio = f"is {current / base:.2f}x" if base else "(ratio undefined: zero baseline)"
        return point_tier, (f"{_LABELS[metric.name]} {_ms(current)} vs baseline {_ms(base)} {ratio} "
                            f"(> {_times(_threshold(point_tier, self.policy))}, +{_ms(current - base)} > "
                            f"{_ms(metric.floor)} floor, percentiles only: the point estimate stands)")

    def _power_reason(self, power: float) -> str:
        breach = self._breach()
        if breach is None or self.baseline.requests == 0:
            return "baseline window has no requests: the error rate cannot be judged (power 0.00)"
        rate, null, _ = breach
        needed = self.requests_needed()
        more = ("no amount of traffic would do" if needed is None else
                f"about {needed:,} requests in all would ({needed - self.requests:,} more"
                + (f", {self._duration(needed - self.requests)} at this watch's traffic" if self._duration(needed - self.requests) else "")
                + ")")
        return (f"cannot yet rule out a {_times(self.policy.multipliers.rollback)} error breach: had the error rate "
                f"been {_rate(rate)} (the rollback tier of the baseline's bound {_rate(self.metrics['error_rate'].bound or 0.0)}) "
                f"all along, the evidence for > {_rate(null)} would have been conclusive with probability "
                f"{power:.2f} < {self.policy.power:.2f} after {self.requests:,} requests; {more}")

    def _duration(self, requests: int) -> str | None:
        if not self.interval_seconds or not self.windows or not self.requests:
            return None
        seconds = requests / (self.requests / self.windows) * self.interval_seconds
        return _seconds(seconds)

    def conclude(self) -> tuple[str | None, str]:
        """At the end of the planned windows: ("proceed" | "hold", reason), or (None, reason) when
        collecting more would help (the caller extends the watch, or holds when it may not)."""
        last = self.last
        if last is None:
            return None, "no window judged yet"
        summary = "; ".join(last.reasons)
        if last.decision == "rollback":  # not yet confirmed (hard signals, or confirm_windows set)
            return None, summary
        if last.evidence_tier != "ok":
            return "hold", (f"all {self.windows} windows: conclusively worse than "
                            f"{_times(self.policy.multipliers.watch)} baseline, not (yet) a hold or a rollback: a person "
                            f"decides: {summary}")
        if last.decision in ("watch", "inconclusive"):
            return None, summary
        unsettled = self.unsettled_estimates()
        if unsettled:
            return None, (f"all {self.windows} windows: no conclusive breach, but not within baseline either: "
                          + "; ".join(unsettled) + "; collecting more before proceeding")
        breach = self._breach()
        rise = f"a rise to {_rate(breach[0])} ({_times(self.policy.multipliers.rollback)} the baseline's bound)" \
            if breach else "a rollback-tier rise"
        return "proceed", (f"all {self.windows} windows: {summary}; {rise} would have been seen with probability "
                           f"{last.power:.2f}")

    def watch_estimates(self) -> dict[str, float | None]:
        """Each judged metric's point estimate over the whole watch: errors over requests; for a
        latency percentile, the windows' percentiles weighted by their requests (None: no data, or
        percentiles only, which every window already judges on the point)."""
        estimates: dict[str, float | None] = {
            "error_rate": self.errors / self.requests if self.requests else None}
        for name, metric in self.metrics.items():
            if not metric.is_error:
                estimates[name] = metric.latency_since() if metric.data != "percentiles" else None
        return estimates

    def unsettled_estimates(self) -> list[str]:
        """Why this watch may not proceed although no rung fired: a metric whose estimate over the
        whole watch is at least the hold multiple of the baseline and clears the floor.

        The rungs act on evidence, so that noise never holds a healthy service; but the absence of
        evidence is not evidence of health. One window of 1,800 requests at 5.3 % errors against a
        2.2 % baseline (bound 3.3 %) fires no rung, and the power rule passes; proceeding there
        would break the handbook's "proceed only within 110 %" at 2.4x (issue 14, seed 103 of
        ``bench/time_to_act.py``). So such a watch collects more windows (its extensions) and
        holds for a person when they run out. The whole watch's estimate, not the detector's
        best-start estimate, is used: that one is chosen for being high, and would extend healthy
        watches at low traffic."""
        reasons: list[str] = []
        hold = self.policy.multipliers.hold
        for name, estimate in self.watch_estimates().items():
            metric = self.metrics[name]
            base = metric.baseline_point
            if estimate is None or estimate - base <= metric.floor or estimate < hold * base:
                continue
            value = _rate if metric.is_error else _ms
            ratio = f"{estimate / base:.2f}x" if base else "above a zero baseline"
            counts = f" ({self.errors:,} of {self.requests:,} requests)" if metric.is_error else ""
            reasons.append(f"{_LABELS[name]} {value(estimate)}{counts} over the watch vs baseline {value(base)} is "
                           f"{ratio} >= {_times(hold)}, +{(_pp if metric.is_error else _ms)(estimate - base)} > "
                           f"{(_pp if metric.is_error else _ms)(metric.floor)} floor")
        return reasons


def _alert_tier(window: Any) -> Tier:
    """The rung of the Sev 1 alerts an alert source listed (not of a hand-written ``sev1_alerts``)."""
    sev1 = sum(1 for alert in (getattr(window, "alerts", None) or []) if alert.level == "sev1")
    return "rollback" if sev1 >= 2 else "hold" if sev1 == 1 else "ok"


def _tier_rank(tier: str) -> int:
    return ("ok", "watch", "hold", "rollback").index(tier) if tier in ("ok", "watch", "hold", "rollback") else 0


def _e(value: float) -> str:
    if value >= MAX_E:
        return "overwhelming (>1e300)"
    return f"{value:.3g}" if value < 1e4 else f"{value:.2e}"


def _conf(confidence: float) -> str:
    text = f"{confidence * 100:.4f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _seconds(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


# ---------------------------------------------------------------- journaling latencies compactly

HISTOGRAM_BOUNDS_MS: tuple[float, ...] = tuple(round(2.0 ** (k / 8), 6) for k in range(-8, 8 * 17 + 1))
"""Bucket bounds for journaled latencies: 2^(1/8) apart (the layout of a Prometheus native
histogram at schema 3), 0.5 ms to 131 s. A gate entry keeps its window's latencies as these
counts instead of dropping the samples, so ``odin replay --journal`` has a distribution to judge."""


def histogram_of(samples: Sequence[float] | None) -> Any:
    """Samples as a cumulative histogram on ``HISTOGRAM_BOUNDS_MS``, trimmed to the buckets used."""
    from odin_drills.steps.snapshot import LatencyHistogram

    if not samples:
        return None
    values = np.sort(np.asarray(samples, dtype=np.float64))
    bounds = np.asarray(HISTOGRAM_BOUNDS_MS)
    cumulative = np.searchsorted(values, bounds, side="right")
    last = int(np.searchsorted(cumulative, values.size, side="left"))
    if last >= bounds.size:  # slower than the last bound: one more bound at the maximum
        bounds, cumulative, last = np.append(bounds, values[-1]), np.append(cumulative, values.size), bounds.size
    first = max(0, int(np.searchsorted(cumulative, 1, side="left")) - 1)
    return LatencyHistogram(le_ms=[float(b) for b in bounds[first:last + 1]],
                            counts=[int(c) for c in cumulative[first:last + 1]])
