"""Absolute limits beside the relative ladder: numbers no baseline excuses.

The ladder compares a window with its baseline, so a service already failing 6 % of its requests
a week ago passes at 6 % today. The handbook also says "roll back immediately: error rate > 5 %"
and sets the latency SLO at "p95 < 500 ms"; ``policy.absolute``
(``odin_drills.plan.policy.AbsoluteLimits``) carries both:

    error rate above error_rate_pct (5 %)     rollback, whatever the baseline
    p95 above p95_latency_ms (500 ms)          at least hold

**Evidence, not noise.** A limit fires only when the window shows it at level ``alpha``, by an
exact one-sided binomial bound, in the judge's evidence style (exact counts, no normal
approximation):

- error rate: y errors among n requests; the Clopper–Pearson lower bound on the rate at
  ``1 - alpha`` is above the limit  <=>  ``P(Binomial(n, limit) >= y) <= alpha`` (the p-value
  shown). 3 of 20 requests failing is 15 %, but p = 0.075: no rollback; 30 of 200 is, p = 2e-7.
- p95: y of n requests slower than the threshold; the p95 is above it exactly when more than 5 %
  are, so the same bound on the share slower than the threshold, against 5 %. From a histogram,
  requests slower than the first bucket bound at or above the threshold are counted (fewer: the
  evidence errs towards "not above"). With percentiles only there is nothing to count and the
  point estimate stands, as in the relative ladder.

**Alpha, and the sequential judge's whole-watch alpha.** The limits test a different null from the
ladder ("the true rate is at most 5 %", not "at most k times the baseline"), so they cannot share
its e-detectors; they spend their own ``policy.absolute.alpha`` (default 0.1 %) per watch,
split evenly over the watch's ``horizon`` windows (Bonferroni: each window is tested at
``alpha / horizon``), so over a whole watch a service at or under the limits trips one with
probability at most ``alpha``, however many windows are looked at. That adds to the watch's own
alpha (a union bound: at most ``policy.alpha + absolute.alpha`` for a watch under
``alpha_scope: watch``), never more; the detectors keep their share unchanged. For a healthy
service the limits' real false-alarm rate is far lower still: the bound is reached only by a
service whose true rate sits exactly at the limit. The fixed judge tests them per window at
``1 - confidence``, like its other per-window rules. A breach acts at once: a 20 % error rate
over 400 requests has p < 1e-25 even at ``alpha / 279``, and the outage rule (99 %) stays
``rollback_now``.

**A baseline above the limit.** "Whatever the baseline" means whatever the *ratio* to it: 6 %
errors roll back after a baseline of 4 %, though that is only 1.5x. A service whose baseline was
above the limit already (the demo shop fails 10 % by design) is another case: rolling back
cannot bring it under the limit, only back to where it was, and the re-check after the rollback
would call it still degraded. There the limit is judged and shown in every decision, marked not
applied with the baseline's number, and the relative ladder judges the change (a rise from 10 %
to 30 % is 3x). Raise the limit, or turn it off, if such a service's normal is meant.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

P95_SHARE = 0.05
"""Share of requests slower than the p95: more than this slower than x means p95 > x."""


class LimitVerdict(BaseModel):
    """One absolute limit judged on one window, with every number its sentence shows."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    metric: Literal["error_rate", "latency_p95_ms"]
    limit: float = Field(description="error rate as a fraction, or p95 in ms")
    current: float = Field(description="the window's error rate, or its p95 in ms")
    count: int = Field(description="errors, or requests slower than the limit")
    requests: int
    share_bound: float | None = Field(description="exact lower bound on the share failing (or slower) at 1 - alpha")
    p_value: float | None = Field(description="P(Binomial(n, null share) >= count); null: percentiles only")
    alpha: float
    rung: Literal["rollback", "hold"]
    breached: bool
    test: Literal["binomial-exact", "percentiles"]
    field: str = Field(description="the policy field that set the limit")
    baseline: float | None = Field(default=None, description="the baseline's error rate or p95 (null: not given)")
    applied: bool = Field(default=True, description="false: the baseline was above the limit itself (see the module)")

    def sentence(self) -> str | None:
        """Why the limit fired, or why a window above it did not make it fire; None: nothing to say."""
        if self.metric == "error_rate":
            head = (f"error rate {_pct(self.current)} ({self.count:,} of {self.requests:,} requests) above the absolute "
                    f"limit of {_pct(self.limit)} ({self.field})")
        else:
            head = f"p95 latency {_ms(self.current)} above the absolute limit of {_ms(self.limit)} ({self.field})"
        if not self.applied:
            if self.current <= self.limit:
                return None
            before = _pct(self.baseline or 0.0) if self.metric == "error_rate" else _ms(self.baseline or 0.0)
            return (f"{head} not applied: the baseline was above it already ({before}), so rolling back cannot "
                    "bring the service under it (the relative ladder judges the change)")
        if self.test == "percentiles":
            return f"{head}, whatever the baseline: percentiles only, the point estimate stands" if self.breached else None
        null = self.limit if self.metric == "error_rate" else P95_SHARE
        slower = "" if self.metric == "error_rate" else (
            f"{self.count:,} of {self.requests:,} requests ({_pct(self.count / self.requests)}) slower than "
            f"{_ms(self.limit)}; ")
        evidence = (f"{slower}at least {_pct(self.share_bound or 0.0)} at {_conf(1 - self.alpha)} confidence "
                    f"(exact binomial p={self.p_value:.2g} {'<=' if self.breached else '>'} {self.alpha:.2g}"
                    f"{'' if self.metric == 'error_rate' else f' against {_pct(null)} slower'})")
        if self.breached:
            return f"{head}, whatever the baseline: {evidence}"
        if self.current <= self.limit:
            return None
        return f"{head} but not conclusively: {evidence}"


def judge_limits(window: Any, limits: Any, alpha: float, baseline: Any = None) -> list[LimitVerdict]:
    """The window's absolute limits under ``limits`` (``policy.absolute``), each tested at ``alpha``;
    a limit the ``baseline`` was above already is judged but not applied."""
    verdicts: list[LimitVerdict] = []
    if limits is None:
        return verdicts
    if limits.error_rate_pct is not None and window.requests > 0:
        limit = limits.error_rate_pct / 100.0
        verdicts.append(_counted("error_rate", limit, window.error_rate, window.errors, window.requests, limit,
                                 alpha, "rollback", "policy.absolute.error_rate_pct"))
    if limits.p95_latency_ms is not None:
        verdicts.extend(_p95(window, limits.p95_latency_ms, alpha))
    if baseline is None:
        return verdicts
    before = {"error_rate": baseline.error_rate if baseline.requests else None, "latency_p95_ms": baseline.latency_ms.p95}
    return [_against(verdict, before[verdict.metric]) for verdict in verdicts]


def _against(verdict: LimitVerdict, baseline: float | None) -> LimitVerdict:
    """The verdict with the baseline's value; not applied when the baseline was above the limit."""
    if baseline is None:
        return verdict
    applied = bool(baseline <= verdict.limit)  # numpy scalars would survive model_copy and break the journal
    return verdict.model_copy(update={"baseline": float(baseline), "applied": applied,
                                      "breached": bool(verdict.breached and applied)})


def baseline_above_limits(baseline: Any, limits: Any) -> list[str]:
    """T-1w: the limits the baseline itself breaks, one sentence each with what to do.

    Such a limit is judged but not applied for the whole migration (see the module), so the
    handbook's "roll back at 5 %" silently stops protecting it; the SRE should hear that a week
    before the change, not read it in a T+24h decision. A point estimate is enough here: this is a
    warning about the plan, not a decision about the change."""
    if limits is None or baseline is None:
        return []
    found: list[str] = []
    if limits.error_rate_pct is not None and baseline.requests > 0 and baseline.error_rate > limits.error_rate_pct / 100:
        found.append(f"the baseline's error rate {_pct(baseline.error_rate)} ({baseline.errors:,} of "
                     f"{baseline.requests:,} requests) is above policy.absolute.error_rate_pct "
                     f"({_pct(limits.error_rate_pct / 100)}): that limit will not be applied during this migration; "
                     "fix the service first, or raise or turn off the limit if this is its normal")
    if limits.p95_latency_ms is not None and baseline.latency_ms.p95 > limits.p95_latency_ms:
        found.append(f"the baseline's p95 latency {_ms(baseline.latency_ms.p95)} is above "
                     f"policy.absolute.p95_latency_ms ({_ms(limits.p95_latency_ms)}): that limit will not be applied "
                     "during this migration; fix the service first, or raise or turn off the limit if this is its normal")
    return found


def limit_reasons(verdicts: list[LimitVerdict]) -> tuple[dict[str, list[str]], list[str]]:
    """(breach sentences by rung, notes on windows above a limit without the evidence)."""
    rungs: dict[str, list[str]] = {"rollback": [], "hold": []}
    notes: list[str] = []
    for verdict in verdicts:
        said = verdict.sentence()
        if said is None:
            continue
        (rungs[verdict.rung] if verdict.breached else notes).append(said)
    return rungs, notes


def limit_tier(verdicts: list[LimitVerdict]) -> Literal["rollback", "hold", "ok"]:
    """The highest rung a limit reached: evidence enough to act in this window."""
    fired = {verdict.rung for verdict in verdicts if verdict.breached}
    return "rollback" if "rollback" in fired else "hold" if "hold" in fired else "ok"


def _p95(window: Any, threshold: float, alpha: float) -> list[LimitVerdict]:
    from odin_drills.steps.sequential import latency_data

    current = window.latency_ms.p95
    data = latency_data(window)
    if data is None:  # percentiles only: the point estimate stands, as in the relative ladder
        return [LimitVerdict(metric="latency_p95_ms", limit=threshold, current=current, count=0,
                             requests=window.requests, share_bound=None, p_value=None, alpha=alpha, rung="hold",
                             breached=bool(current > threshold), test="percentiles", field="policy.absolute.p95_latency_ms")]
    return [_counted("latency_p95_ms", threshold, current, data.slower_than(threshold), data.n, P95_SHARE, alpha,
                     "hold", "policy.absolute.p95_latency_ms")]


def _counted(metric: Literal["error_rate", "latency_p95_ms"], limit: float, current: float, count: int, n: int,
             null: float, alpha: float, rung: Literal["rollback", "hold"], field: str) -> LimitVerdict:
    """The exact one-sided test of "the share is at most ``null``" on ``count`` of ``n``."""
    from scipy.special import betainc, betaincinv

    p_value = float(betainc(count, n - count + 1, null)) if count > 0 else 1.0  # P(Binomial(n, null) >= count)
    bound = float(betaincinv(count, n - count + 1, alpha)) if count > 0 else 0.0  # Clopper–Pearson lower
    return LimitVerdict(metric=metric, limit=limit, current=current, count=count, requests=n, share_bound=bound,
                        p_value=p_value, alpha=alpha, rung=rung, breached=bool(p_value <= alpha and count / n > null),
                        test="binomial-exact", field=field)


def _pct(rate: float) -> str:
    percent = rate * 100
    return f"{percent:.2f}%" if percent == 0 or percent >= 0.1 else f"{percent:.2g}%"


def _ms(value: float) -> str:
    return f"{value:.4g} ms" if value < 1000 else f"{value:,.0f} ms"


def _conf(confidence: float) -> str:
    text = f"{confidence * 100:.6f}".rstrip("0").rstrip(".")
    return f"{text}%"
