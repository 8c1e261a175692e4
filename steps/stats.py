"""The statistics under the rollback ladder: exact error-rate tests, their power, and Mann–Whitney U.

Kept apart from ``odin_drills.steps.gates`` so the ladder reads as rules. Every function here is pure and works
on counts. scipy supplies the distributions (Boost's hypergeometric CDF, ``betainc``,
``betaincinv``, ``ndtr``, ``mannwhitneyu``); the one thing written here is the U statistic for
*bucket counts*, which scipy has no form of, and which must not expand a histogram of millions of
requests into one value per request.

Error rates use Fisher's exact test, one-sided: the 2×2 table is ``[[current errors, current
successes], [baseline errors, baseline successes]]`` and the alternative is that the current
window's odds of an error are higher. Its p-value falls as the current error count rises (the
other three margins held), so the fewest errors that make a window "worse" (the *critical count*
k*) is found by binary search, and the test's power against a true rate p is exactly
``P(Binomial(n, p) >= k*)``. That power is the regularised incomplete beta ``I_p(k*, n-k*+1)``
(``betainc``), increasing in p, so the smallest rate detected with a given power is its exact
inverse (``betaincinv``) rather than another search.

Why Fisher's and not the conditional binomial test (ARCHITECTURE.md allows either): a window is
requests that each fail or not, two binomial samples; Fisher's test conditions on both margins and
is exact for them. The conditional binomial test (given E errors in all, the current window's
share is Binomial(E, n_c / (n_b + n_c))) is exact for Poisson counts and, for these windows, a
slightly conservative stand-in: in the tail, where decisions are made, its p-values on the cases of
``tests/test_gates.py`` are higher (0.078 against 0.077, 2.4e-10 against 1.6e-10, further apart
farther out), so it would change the numbers the gate prints, for no gain. Fisher's p-value is computed as
``scipy.stats.fisher_exact`` computes it, one value of the hypergeometric CDF, with the same Boost
function, which scipy also exposes in ``scipy.special`` (``_hypergeom_cdf``; a private name, so the
tests pin our p-values to ``fisher_exact``'s); a scipy without it (before 1.14) gets it from
``scipy.stats.hypergeom``, correct but slow to start.

Why not ``scipy.stats`` itself: importing it costs about a second (all of scipy.stats and what it
pulls in), which ``odin gate`` (goal: answer in under 1 s) cannot afford; ``scipy.special`` costs
about a third of that. So the error test, its power and the minimum detectable rate use only
``scipy.special``, as does the U test on histogram buckets (``ndtr``), and ``scipy.stats`` is
imported only for the U test on raw latency samples (``mannwhitneyu``), on first use. A gate on
snapshots with percentiles only, or with histograms, never imports it.
"""

from __future__ import annotations

from functools import lru_cache
from math import isfinite, sqrt
from typing import Sequence

import numpy as np


def error_rate_p_value(
    current_errors: int, current_requests: int, baseline_errors: int, baseline_requests: int
) -> float:
    """One-sided Fisher's exact p-value for "the current error rate is higher than the baseline's".

    ``scipy.stats.fisher_exact(table, alternative="greater")``, number for number: given the
    margins, the current window's successes are hypergeometric, and few of them is the evidence,
    so the p-value is their CDF at the count seen. A zero margin (no requests, no errors or no
    successes on a side) leaves nothing to test: 1.
    """
    current_ok, baseline_ok = current_requests - current_errors, baseline_requests - baseline_errors
    successes, total = current_ok + baseline_ok, current_requests + baseline_requests
    if 0 in (current_requests, baseline_requests, current_errors + baseline_errors, successes):
        return 1.0
    if current_ok >= min(current_requests, successes):  # the top of the support (e.g. no current errors)
        return 1.0
    p_value = _hypergeom_cdf()(float(current_ok), float(current_requests), float(successes), float(total))
    return min(max(float(p_value), 0.0), 1.0)


@lru_cache(maxsize=1)
def _hypergeom_cdf():
    """Boost's hypergeometric CDF as ``cdf(k, good, draws, population)``, from scipy.special if it has it."""
    try:
        from scipy.special._ufuncs import _hypergeom_cdf  # scipy >= 1.14; what scipy.stats.hypergeom calls
    except ImportError:  # pragma: no cover - older scipy: the same function, behind the slow import
        from scipy.stats import hypergeom

        return lambda k, good, draws, population: hypergeom.cdf(k, population, good, draws)
    return _hypergeom_cdf


@lru_cache(maxsize=4096)
def critical_errors(
    current_requests: int, baseline_errors: int, baseline_requests: int, alpha: float
) -> int | None:
    """The fewest current errors the test calls worse (p < alpha), or None when no count would.

    Binary search over 0..n: about log2(n) p-values. Cached, because a flow (and the benchmark)
    asks again and again about the same window sizes and baseline.
    """
    n = current_requests

    def flags(k: int) -> bool:
        return error_rate_p_value(k, n, baseline_errors, baseline_requests) < alpha

    if n == 0 or not flags(n):
        return None
    low, high = 0, n
    while low < high:
        middle = (low + high) // 2
        if flags(middle):
            high = middle
        else:
            low = middle + 1
    return low


def detection_power(true_rate: float, current_requests: int, critical: int | None) -> float:
    """Probability that a window of n requests at ``true_rate`` reaches the critical error count."""
    if critical is None:
        return 0.0
    if critical == 0:
        return 1.0
    from scipy.special import betainc

    # P(Binomial(n, p) >= k) = I_p(k, n - k + 1): the function min_detectable_rate inverts.
    return float(betainc(critical, current_requests - critical + 1, min(max(true_rate, 0.0), 1.0)))


def min_detectable_rate(current_requests: int, critical: int | None, power: float) -> float | None:
    """The smallest true error rate this window flags with probability ``power`` (None: none can)."""
    if critical is None:
        return None
    if critical == 0:
        return 0.0
    from scipy.special import betaincinv

    return float(betaincinv(critical, current_requests - critical + 1, power))


def latency_p_value_samples(current: Sequence[float], baseline: Sequence[float]) -> float:
    """One-sided Mann–Whitney U p-value for "current latencies are larger" (scipy picks the method).

    The only use of ``scipy.stats`` (about a second to import), hence imported here, on first use.
    """
    from scipy.stats import mannwhitneyu

    p_value = float(mannwhitneyu(current, baseline, alternative="greater").pvalue)
    return p_value if isfinite(p_value) else 1.0  # no usable evidence, e.g. NaN samples


def latency_p_value_grouped(current_counts: Sequence[float], baseline_counts: Sequence[float]) -> float:
    """One-sided Mann–Whitney U p-value from request counts per latency bucket, buckets in order.

    Every bucket is a tie group: a current request beats each baseline request in a lower bucket
    and half-beats each one in its own, so ``U = sum_g a_g * (B_below_g + b_g / 2)``. The p-value
    is the normal approximation with the tie correction of the variance and a continuity
    correction of 0.5 (scipy's ``method="asymptotic"``); on expanded data it gives scipy's number.
    Cost is one pass over the buckets, whatever the request counts.
    """
    from scipy.special import ndtr

    a = np.asarray(current_counts, dtype=np.float64)
    b = np.asarray(baseline_counts, dtype=np.float64)
    n1, n2 = float(a.sum()), float(b.sum())
    if n1 == 0 or n2 == 0:
        return 1.0
    baseline_below = np.cumsum(b) - b
    u = float(np.dot(a, baseline_below + b / 2))
    total = n1 + n2
    ties = a + b
    tie_term = float(np.sum(ties**3 - ties)) / (total * (total - 1)) if total > 1 else 0.0
    variance = n1 * n2 / 12 * ((total + 1) - tie_term)
    if variance <= 0:
        return 1.0
    z = (u - n1 * n2 / 2 - 0.5) / sqrt(variance)
    return float(ndtr(-z))


def bucket_counts(
    bounds: Sequence[float],
    *,
    samples: Sequence[float] | None = None,
    cumulative: dict[float, int] | None = None,
    total: int | None = None,
) -> np.ndarray:
    """Counts per bucket ``<= bounds[0]``, ``(bounds[0], bounds[1]]``, …, ``> bounds[-1]``.

    From raw samples, or from a cumulative histogram (``le -> count``; every bound must be one of its
    ``le`` values, so coarsening is exact) whose overall count is ``total``.
    """
    if samples is not None:
        ordered = np.sort(np.asarray(samples, dtype=np.float64))
        at_bounds = np.searchsorted(ordered, np.asarray(bounds, dtype=np.float64), side="right")
        overall = len(ordered)
    else:
        assert cumulative is not None and total is not None
        at_bounds = np.asarray([cumulative[bound] for bound in bounds], dtype=np.float64)
        overall = total
    return np.diff(np.concatenate(([0.0], at_bounds, [overall])).astype(np.float64))
