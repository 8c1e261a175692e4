"""Can this baseline and these windows see a breach at all? Asked at T-1w, not discovered at T+24h.

A watch can only act on what its evidence can show. Before any change, from the baseline just
captured and the run's traffic (the probe's rate), ``assess`` says for every gate watch of the
plan how long it must collect to see

- a **2x error breach** (the error rate at ``max(2 x baseline, baseline + floor)``), and
- a **1.5x latency breach** (every latency 1.5x the baseline's, so p95 and p99 with them),

with the policy's ``power``, by the sequential judge at the alpha the watch will have
(``AlphaBudget``): the chance that the watch rung's e-detector (evidence of more than 1.1x the
baseline's bound, which the judge turns into a hold at the latest when the watch ends) fires by
then, computed as in ``sequential.detection_power``. A watch is *adequate* when that time fits in
its planned length plus ``windows.max_extensions`` intervals. When no length would do, it says
why: the baseline's bound is too loose (too few baseline errors: ``2 x rate <= 1.1 x bound``), so
the baseline itself must grow; or the histogram's buckets are too coarse to tell 1.5x apart.

Unlike the end-of-watch power rule (which measures against the rollback tier of the baseline's
*bound*, the test's own scale), this asks about the baseline's *rate*, what a person means by 2x:
a 1 h baseline holding 36 errors has a 99.75 % bound 1.5x its rate, and no window length makes a
true 2x visible against it. ``policy.adequacy`` decides what T-1w does about it: warn (journal it),
refuse (exit 2 before any change), or off.

Before there is a baseline (``odin plan``) the same question is asked of ``expected_baseline``:
the baseline the plan would capture at the probe's rate, for a few typical base error rates. It is
not monotone in the base rate: at very low rates the floor (+0.1 pp) makes "2x" a large rise, at
high rates there are errors enough; in between a 2x rise is small and rare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from odin_drills.steps.sequential import (
    AlphaBudget,
    latency_data,
    rate_upper_bound,
    trials_needed,
    _seconds,
)


@dataclass(frozen=True)
class Watch:
    """One gate watch a plan runs: its phase, what it is called, its planned windows."""

    phase: str
    name: str
    windows: int
    interval: float  # plan seconds per window

    @property
    def duration(self) -> float:
        return self.windows * self.interval


@dataclass(frozen=True)
class Finding:
    metric: str  # "error_rate" or "latency_p95_ms" ...
    watch: Watch
    needed_seconds: float | None  # None: no length would do
    longest_seconds: float  # planned + extensions
    adequate: bool
    reason: str


def plan_watches(plan: Any) -> list[Watch]:
    """The gate watches the migration flow runs for ``plan`` (one per world-changing step and gate
    step, T+1h validation and T+24h final), as the flows size them."""
    policy = plan.policy
    windows = policy.windows
    found: list[Watch] = []
    for phase in ("t-1w", "t0", "t+1h", "t+24h"):
        if phase == "t+1h":
            found.append(Watch(phase, "validation", max(1, round(windows.validation / windows.interval)), windows.interval))
        if phase == "t+24h":
            found.append(Watch(phase, "24h-vs-baseline", max(1, round(windows.final / windows.interval)), windows.interval))
        for step in plan.phases.steps(phase):
            if getattr(step, "kind", "") == "gate":
                found.append(Watch(phase, step.label, 1, step.window or windows.step))
            elif step.changes_world:
                found.append(Watch(phase, step.label, 1, windows.step))
    return found


def _error_share(has_latency: bool) -> float:
    return 0.5 if has_latency else 1.0


def assess(baseline: Any, policy: Any, budget: AlphaBudget, watches: list[Watch],
           requests_per_second: float) -> list[Finding]:
    """Every watch and metric: the collection time needed to see the breach, and whether it fits."""
    findings: list[Finding] = []
    base_latency = latency_data(baseline)
    share = _error_share(base_latency is not None)
    m = policy.multipliers
    rate = baseline.error_rate
    bound = rate_upper_bound(baseline.errors, baseline.requests, budget.baseline * share)
    breach = min(max(m.rollback * rate, rate + policy.floors.error_rate), 1.0)
    null = m.watch * bound
    for watch in watches:
        horizon = watch.windows + policy.windows.max_extensions
        longest = horizon * watch.interval
        alpha = budget.watch(watch.phase) * share
        findings.append(_finding("error_rate", watch, longest, requests_per_second,
                                 trials_needed(breach, null, horizon, alpha, policy.power) if breach > null else None,
                                 _error_words(rate, breach, bound, null, baseline, policy, budget, share)))
        for percentile, q in (("p95", 0.95), ("p99", 0.99)):
            if percentile not in policy.latency_percentiles:
                continue
            name = f"latency_{percentile}_ms"
            if base_latency is None:
                findings.append(Finding(name, watch, None, longest, True,
                                        "percentiles only: latency is judged on point estimates, outside alpha"))
                continue
            latency_share = (1 - share) / len([p for p in policy.latency_percentiles if p in ("p95", "p99")])
            upper = base_latency.upper_bound(q, budget.baseline * latency_share)
            if upper is None:
                findings.append(Finding(name, watch, None, longest, False,
                                        f"the baseline has too few latencies ({base_latency.n}) to bound its {percentile}"))
                continue
            threshold = m.watch * upper
            if base_latency.bounds is not None:  # the current's histogram counts above the next bound
                import numpy as np

                index = int(np.searchsorted(base_latency.bounds, threshold, side="left"))
                threshold = float(base_latency.bounds[index]) if index < base_latency.bounds.size else float("inf")
            slower = base_latency.share_slower(threshold / 1.5) if threshold != float("inf") else 0.0
            p0 = 1.0 - q
            needed = trials_needed(slower, p0, horizon, budget.watch(watch.phase) * latency_share, policy.power) \
                if slower > p0 else None
            words = (f"a 1.5x latency breach puts {slower:.1%} of requests above {threshold:.4g} ms "
                     f"({m.watch:g}x the baseline {percentile}'s bound {upper:.4g} ms), against {p0:.0%} allowed")
            if needed is None:
                words += ("; the histogram's buckets are too coarse or the bound too loose to tell 1.5x apart"
                          if base_latency.bounds is not None else "; no window length would show it")
            findings.append(_finding(name, watch, longest, requests_per_second, needed, words))
    return findings


def _finding(metric: str, watch: Watch, longest: float, rps: float, needed: int | None, words: str) -> Finding:
    seconds = needed / rps if needed is not None and rps > 0 else None
    adequate = seconds is not None and seconds <= longest
    return Finding(metric, watch, seconds, longest, adequate, words)


def _error_words(rate: float, breach: float, bound: float, null: float, baseline: Any, policy: Any,
                 budget: AlphaBudget, share: float) -> str:
    words = (f"a 2x error breach ({rate:.3%} -> {breach:.3%}) against the watch rung's limit {null:.3%} "
             f"({policy.multipliers.watch:g}x the baseline's bound {bound:.3%})")
    if breach <= null:
        needed = _baseline_needed(rate, policy, budget, share)
        words += ("; the baseline is too small: its bound is too loose for any window to show 2x"
                  + (f"; a baseline of about {needed:,} requests would do" if needed else ""))
    return words


def _baseline_needed(rate: float, policy: Any, budget: AlphaBudget, share: float) -> int | None:
    """The baseline size (requests) at this error rate whose bound lets a 2x breach clear the watch rung."""
    if rate <= 0:
        return None
    m = policy.multipliers
    breach = max(m.rollback * rate, rate + policy.floors.error_rate)
    n = 1000
    while n < 10**11:
        if m.watch * rate_upper_bound(rate * n, n, budget.baseline * share) < breach * 0.95:
            return n
        n *= 2
    return None


def describe(findings: list[Finding], requests_per_second: float) -> list[str]:
    """One line per watch and metric, for the journal and ``odin plan``."""
    lines = []
    for f in findings:
        label = {"error_rate": "errors", "latency_p95_ms": "p95", "latency_p99_ms": "p99"}[f.metric]
        head = f"{f.watch.phase} {f.watch.name} ({_seconds(f.watch.duration)}, up to {_seconds(f.longest_seconds)}): {label}"
        if f.needed_seconds is None:
            verdict = "adequate" if f.adequate else "INADEQUATE"
            lines.append(f"{head} {verdict}: {f.reason}")
        else:
            verdict = "ok" if f.adequate else "INADEQUATE"
            lines.append(f"{head} {verdict}: needs {_seconds(f.needed_seconds)} at {requests_per_second:.3g} req/s; {f.reason}")
    return lines


def expected_baseline(error_rate: float, requests_per_second: float, baseline_seconds: float) -> Any:
    """The baseline a plan would capture at this traffic and base error rate (expected counts, no
    latency distribution): for ``odin plan``, before there is a baseline."""
    from odin_drills.steps.snapshot import LatencyPercentiles, Snapshot

    requests = max(1, round(requests_per_second * baseline_seconds))
    return Snapshot(requests=requests, errors=min(requests, round(error_rate * requests)),
                    latency_ms=LatencyPercentiles(p50=1, p95=1, p99=1))


def check_baseline(plan: Any, record: Any, journal: Any) -> list[Finding]:
    """T-1w: judge the baseline just captured against the plan's watches; journal what was found
    (a note per inadequate watch and metric, or one note that all are adequate) and, with
    ``policy.adequacy: refuse``, raise ``UsageError`` (exit 2) before any change is made."""
    from odin_drills.errors import UsageError

    policy = plan.policy
    if policy.adequacy == "off" or getattr(policy, "judge", "sequential") != "sequential":
        return []
    snapshot = record.snapshot
    # The probe's configured rate is the run's traffic; the baseline's own rate per plan second is
    # not, under a scaled clock (a week of plan time measured in seconds of real time).
    rps = float(getattr(plan.metrics, "rate_per_second", 0) or 0) or (
        snapshot.requests / record.window_seconds if record.window_seconds > 0 else 0.0)
    findings = assess(snapshot, policy, AlphaBudget.for_plan(plan), plan_watches(plan), rps)
    bad = [line for f, line in zip(findings, describe(findings, rps)) if not f.adequate]
    if not bad:
        journal.append("note", phase="t-1w", message=f"adequacy: every watch can see a 2x error and a 1.5x latency "
                                                        f"breach at {rps:.3g} req/s")
        return findings
    for line in bad:
        journal.append("note", phase="t-1w", message=f"adequacy ({policy.adequacy}): {line}")
    if policy.adequacy == "refuse":
        raise UsageError("policy.adequacy: the baseline and the plan's windows cannot see a breach: " + "; ".join(bad))
    return findings


PLAN_BASE_RATES = (0.001, 0.01)


def plan_lines(plan: Any) -> list[str]:
    """What ``odin plan`` shows before any baseline exists: for each gate watch, how long it needs to
    see a 2x error breach at typical base error rates, at the probe's rate and a baseline of
    ``windows.baseline`` at that rate (expected counts; T-1w checks the real baseline again)."""
    policy = plan.policy
    if getattr(policy, "judge", "sequential") != "sequential" or policy.adequacy == "off":
        return []
    if not getattr(plan.metrics, "rate_per_second", None):  # telemetry without a stated traffic level
        return [f"adequacy: metrics.{plan.metrics.kind} states no rate_per_second: T-1w checks the real "
                f"baseline (policy.adequacy: {policy.adequacy})"]
    rps = float(plan.metrics.rate_per_second)
    budget = AlphaBudget.for_plan(plan)
    lines = [f"adequacy ({budget.describe()}; at the probe's {rps:g} req/s and a {_seconds(policy.windows.baseline)} "
             f"baseline): time each gate needs to see a 2x error breach, T-1w checks the real baseline "
             f"(policy.adequacy: {policy.adequacy})"]
    for watch in plan_watches(plan):
        parts = []
        for rate in PLAN_BASE_RATES:
            finding = assess(expected_baseline(rate, rps, policy.windows.baseline), policy, budget, [watch], rps)[0]
            if finding.needed_seconds is None:
                parts.append(f"at {rate:.1%} errors never (baseline too small)")
            else:
                parts.append(f"at {rate:.1%} errors {_seconds(finding.needed_seconds)}"
                             + ("" if finding.adequate else " (TOO LONG)"))
        lines.append(f"  {watch.phase} {watch.name} ({_seconds(watch.duration)}, up to "
                     f"{_seconds((watch.windows + policy.windows.max_extensions) * watch.interval)}): " + "; ".join(parts))
    return lines
