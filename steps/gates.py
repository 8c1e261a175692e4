"""The rollback ladder: a baseline and a window of traffic in, a Decision with every number out.

``evaluate(baseline, current, policy)`` is pure (no I/O, no clock) and serves ``odin gate``, the
fixed-window judge (``policy.judge: fixed``) and the tests alike; the sequential judge that runs
use by default (``odin_drills.steps.sequential``) keeps its rungs and hard signals
(``signal_reasons``) and replaces the per-window evidence with evidence over the whole watch. The first rung that matches decides; every rung that matched is listed
in ``reasons``::

    rollback_now   outage (detected by policy.outage, or reported), data loss or corruption,
                   security breach, RTO exceeded
    rollback       error rate or latency worse than 2x, a critical journey failing, >= 2 Sev 1 alerts,
                   the error rate above the absolute limit (policy.absolute: 5 %, whatever the baseline)
    hold           worse than 1.5x, a non-critical journey failing, 1 Sev 1 alert, SLO at risk,
                   negative user feedback, p95 above the SLO's latency threshold (policy.absolute: 500 ms)
    watch          worse than 1.1x, a new lower-severity alert
    inconclusive   fewer than policy.min_requests requests in the current window, or too little
                   traffic to have seen a 2x error breach (the power rule): only ever instead of proceed
    proceed        otherwise

(Multipliers, floors, confidence, power and min_requests come from ``odin_drills.plan.policy.Policy``.)

**Worse than k×** needs all three of: the point estimate above k × baseline (strictly: exactly 2.0×
is not worse than 2×); a change above the policy floor (0.1 percentage points of errors, 5 ms of
latency), so 0 % -> 0.01 % errors is not "infinitely worse"; and *evidence* that the current window
is worse than the baseline at ``policy.confidence``: Fisher's exact one-sided test for error counts,
a one-sided Mann–Whitney U test for latency when both windows carry samples or histograms (with
percentiles only, the point estimate stands). Error and latency point comparisons are exact, on
fractions of the counts and of the decimals as written, so a boundary never flips on rounding.

Why evidence: in a simulation of a healthy service with no change at all (1 % errors, 300-request
windows) the point-estimate ladder alone crossed 2× in 6 % of windows and 1.5× in 14 %; at 0.1 %
errors it crossed 2× in 26 % (ARCHITECTURE.md). ``bench/gate_noise.py`` measures this code: with
the evidence rule at 99 % confidence, no-change windows roll back with probability 0.001–0.64 %
depending on traffic (exactly computed; 0.37 % averaged over its six cells), where the point
estimate alone would have rolled back up to 22 % of them, while a 2.5× error breach at 1 % errors is caught within two 1,000-request
windows in 90 % of trials. Results: ``bench/results/gate_noise.md``.

Why power: a quiet window cannot see a doubling of rare errors, and passing it would be a guess.
Before ``proceed`` the ladder asks how likely the error test was to flag a true rate of
``max(2 × baseline, baseline + floor)`` with this many requests; below ``policy.power`` the answer
is ``inconclusive`` and the flow keeps collecting. The same power model gives each error metric's
``min_detectable_ratio``. The power counts the test alone: the point and floor rules are met by
that true rate on average, and counting them too would cap the power of a 2x breach near one half.

Zero baselines: a ratio over a zero baseline is undefined and written as ``null`` (JSON holds no
infinity); the floor still decides whether the change matters, and the power rule's true rate is
``baseline + floor``. ``min_detectable_ratio`` is then ``null`` too, and ``min_detectable`` gives
the smallest detectable error rate itself. A baseline window with no requests cannot be compared at
all: its error test never fires, its power is 0 and a clean window ends ``inconclusive``.

Latency ``p_value`` and tests: the U test compares whole distributions, so p95 and p99 share one
p-value; a change confined to the far tail can move p99 without a significant U. Histograms are
compared on the bucket bounds both share (a snapshot with raw samples is binned on the other's
bounds), each bucket a tie group (see ``odin_drills.steps.stats.latency_p_value_grouped``); two histograms with
no bound in common fall back to the point estimate. Latency has no power model, so its
``min_detectable_ratio`` is ``null``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from odin_drills.steps import stats
from odin_drills.plan.policy import Policy
from odin_drills.steps.limits import LimitVerdict, judge_limits, limit_reasons
from odin_drills.steps.outage import detected_signals
from odin_drills.steps.snapshot import LatencyHistogram, Signals, Snapshot

DecisionName = Literal["proceed", "inconclusive", "watch", "hold", "rollback", "rollback_now"]

DECISIONS: tuple[DecisionName, ...] = ("proceed", "inconclusive", "watch", "hold", "rollback", "rollback_now")
"""Decisions from least to most severe; ``severity`` is the index.

Severity orders what a flow must do, not the ladder's order of checks: ``inconclusive`` ranks
above ``proceed`` (nothing is known yet, keep collecting; an unresolved one becomes a hold) and
below ``watch`` (a watch is a measured, if mild, degradation). Use it to combine several
evaluations, e.g. the worst of the T+1h windows.
"""

Tier = Literal["rollback", "hold", "watch", "ok"]
EvidenceTest = Literal["fisher-exact", "mann-whitney-u", "mann-whitney-u-buckets", "percentiles", "e-detector"]


def severity(decision: DecisionName) -> int:
    """0 for proceed up to 5 for rollback_now; compare decisions with it."""
    return DECISIONS.index(decision)


class MetricVerdict(BaseModel):
    """One metric judged against the baseline. ``None`` means infinite or undefined (JSON-safe)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    baseline: float = Field(description="error rate as a fraction, or latency in ms")
    current: float
    ratio: float | None = Field(description="current / baseline; null when the baseline is 0")
    threshold: float = Field(description="multiplier of the tier breached, else the watch multiplier")
    floor: float = Field(description="absolute change required, in the metric's unit")
    p_value: float | None = Field(description="one-sided p-value of the evidence test; null: no test")
    min_detectable_ratio: float | None = Field(
        description="smallest ratio this window detects with the policy's power; null: no model or zero baseline"
    )
    min_detectable: float | None = Field(
        default=None, description="the same, as a value of the metric (error rate only)"
    )
    tier: Tier
    test: EvidenceTest


class RequestCounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    baseline: int
    current: int


class Decision(BaseModel):
    """What the ladder decided and every number it used. ``model_dump(mode="json")`` is the CLI's JSON."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    decision: DecisionName
    reasons: list[str]
    metrics: dict[str, MetricVerdict]
    power: float = Field(ge=0, le=1, description="chance the error test flags a rollback-tier breach")
    requests: RequestCounts
    confidence: float
    power_target: float
    limits: list[LimitVerdict] = Field(
        default_factory=list, description="the absolute limits (policy.absolute) judged on this window")

    @property
    def severity(self) -> int:
        return severity(self.decision)

    def to_json(self) -> dict:
        """Plain JSON types only: no NaN, no infinity."""
        return self.model_dump(mode="json")


_SIGNALS_NOW = (
    ("outage", "outage reported"),
    ("data_loss", "data loss reported"),
    ("data_corruption", "data corruption reported"),
    ("security_breach", "security breach reported"),
    ("rto_exceeded", "RTO exceeded"),
)


def evaluate(baseline: Snapshot, current: Snapshot, policy: Policy | None = None) -> Decision:
    """Judge ``current`` against ``baseline`` under ``policy`` (defaults when None)."""
    policy = policy or Policy()
    alpha = 1.0 - policy.confidence
    signals = detected_signals(current, policy, baseline)

    judged = [_judge_error_rate(baseline, current, policy, alpha)]
    p_value, test = _latency_evidence(baseline, current)
    for percentile in ("p95", "p99"):
        if percentile in policy.latency_percentiles:
            judged.append(_judge_latency(percentile, baseline, current, p_value, test, policy, alpha))
    metrics = {judgement.name: judgement.verdict for judgement in judged}
    error_verdict = metrics["error_rate"]
    error_power, power_reason = _error_power(baseline, current, policy, alpha)

    breaches: dict[str, list[str]] = {tier: [] for tier in ("rollback", "hold", "watch")}
    notes: list[str] = []
    for judgement in judged:
        sentence = judgement.sentence(alpha)
        if judgement.verdict.tier != "ok":
            breaches[judgement.verdict.tier].append(sentence)
        elif sentence:
            notes.append(sentence)

    limits = judge_limits(current, policy.absolute, alpha, baseline)
    limit_breaches, limit_notes = limit_reasons(limits)
    notes = limit_notes + notes
    signalled = signal_reasons(signals)
    # Traffic never outranks evidence (ARCHITECTURE.md): too few requests only stand in the way of
    # proceed, beside the power rule; journeys, alerts, hard signals and conclusive breaches decide.
    too_few = ([f"only {current.requests} requests in the window (< {policy.min_requests} minimum)"]
               if current.requests < policy.min_requests else [])
    rungs: list[tuple[DecisionName, list[str]]] = [
        ("rollback_now", signalled["rollback_now"]),
        ("rollback", breaches["rollback"] + limit_breaches["rollback"] + signalled["rollback"]),
        ("hold", breaches["hold"] + limit_breaches["hold"] + signalled["hold"]),
        ("watch", breaches["watch"] + signalled["watch"]),
        ("inconclusive", too_few + signalled["inconclusive"]
         + ([power_reason] if power_reason and error_verdict.tier != "rollback" else [])),
    ]
    decision: DecisionName = next((name for name, fired in rungs if fired), "proceed")
    reasons = [reason for _, fired in rungs for reason in fired] + notes
    if decision == "proceed":
        reasons.append(_all_clear(metrics, error_power, current.requests, policy))

    return Decision(
        decision=decision,
        reasons=reasons,
        metrics=metrics,
        power=error_power,
        requests=RequestCounts(baseline=baseline.requests, current=current.requests),
        confidence=policy.confidence,
        power_target=policy.power,
        limits=limits,
    )


def signal_reasons(signals: Signals) -> dict[str, list[str]]:
    """The facts beyond rates and latencies, by the rung they reach (the ladder's hard signals,
    shared by the fixed and the sequential judge)."""
    said = signals.details  # a detected signal's own sentence, with its numbers, beats the bare name
    sev1 = said.get("sev1_alerts")
    return {
        "rollback_now": [said.get(field, text) for field, text in _SIGNALS_NOW if getattr(signals, field)],
        "rollback": ([_count(signals.critical_failed, "critical journey", "failing")] if signals.critical_failed else [])
        + ([sev1 or f"{signals.sev1_alerts} Sev 1 alerts"] if signals.sev1_alerts >= 2 else []),
        "hold": ([_count(signals.noncritical_failed, "non-critical journey", "failing")] if signals.noncritical_failed else [])
        + ([sev1 or "1 Sev 1 alert"] if signals.sev1_alerts == 1 else [])
        + ([said.get("slo_at_risk", "SLO at risk")] if signals.slo_at_risk else [])
        + (["negative user feedback"] if signals.user_feedback == "negative" else []),
        "watch": [said.get("new_alerts") or _count(signals.new_alerts, "new alert", "")] if signals.new_alerts else [],
        # a signal source that did not answer: not knowing is never a proceed
        "inconclusive": [said["unavailable"]] if said.get("unavailable") else [],
    }


@dataclass(frozen=True)
class _Judgement:
    """A verdict plus what the sentences need: which multiplier the point estimate alone crossed,
    and whether the floor and the evidence held (all decided exactly, before rounding to floats)."""

    name: str
    verdict: MetricVerdict
    point_tier: Tier
    floor_ok: bool
    evidence_ok: bool

    def sentence(self, alpha: float) -> str | None:
        """A breach sentence; a "not a breach" note when the point estimate alone crossed a
        multiplier; None when there is nothing to say."""
        verdict, is_error = self.verdict, self.name == "error_rate"
        value = _pct if is_error else _ms
        delta = verdict.current - verdict.baseline
        change = f"{'+' if delta >= 0 else '-'}{_pp(abs(delta)) if is_error else _ms(abs(delta))}"
        floor = _pp(verdict.floor) if is_error else _ms(verdict.floor)
        head = f"{_LABELS[self.name]} {value(verdict.current)} vs baseline {value(verdict.baseline)}"
        ratio = f"is {verdict.ratio:.2f}x" if verdict.ratio is not None else "(ratio undefined: zero baseline)"
        if verdict.p_value is None:
            evidence = "percentiles only: the point estimate stands"
        else:
            label = "p" if verdict.test == "fisher-exact" else "Mann-Whitney p"
            evidence = f"{label}={verdict.p_value:.2g} {'<' if self.evidence_ok else '>='} {alpha:.2g}"

        if verdict.tier != "ok":
            return f"{head} {ratio} (> {_times(verdict.threshold)}, {change} > {floor} floor, {evidence})"
        if self.point_tier == "ok":
            return None
        failed = [] if self.floor_ok else [f"{change} <= {floor} floor"]
        if not self.evidence_ok:
            failed.append(f"{evidence}, not significant")
        return f"{head} {ratio} but is not a breach ({'; '.join(failed)})"


def _judge_error_rate(baseline: Snapshot, current: Snapshot, policy: Policy, alpha: float) -> _Judgement:
    base_rate, cur_rate = baseline.error_rate, current.error_rate
    p_value = stats.error_rate_p_value(current.errors, current.requests, baseline.errors, baseline.requests)
    point_tier, floor_ok = _grade(
        Fraction(current.errors, current.requests or 1),
        Fraction(baseline.errors, baseline.requests or 1),
        _exact(policy.floors.error_rate_pp) / 100,
        policy,
    )
    evidence_ok = p_value < alpha
    tier: Tier = point_tier if floor_ok and evidence_ok else "ok"
    detectable = stats.min_detectable_rate(
        current.requests,
        stats.critical_errors(current.requests, baseline.errors, baseline.requests, alpha),
        policy.power,
    )
    verdict = MetricVerdict(
        baseline=base_rate,
        current=cur_rate,
        ratio=cur_rate / base_rate if base_rate else None,
        threshold=_threshold(tier, policy),
        floor=policy.floors.error_rate,
        p_value=p_value,
        min_detectable_ratio=detectable / base_rate if detectable is not None and base_rate else None,
        min_detectable=detectable,
        tier=tier,
        test="fisher-exact",
    )
    return _Judgement("error_rate", verdict, point_tier, floor_ok, evidence_ok)


def _error_power(baseline: Snapshot, current: Snapshot, policy: Policy, alpha: float) -> tuple[float, str | None]:
    """The chance the error test flags a rollback-tier rate in this window, and the reason when too low.

    The rollback-tier rate is ``max(rollback multiplier × baseline, baseline + floor)``.
    """
    base_rate = baseline.error_rate
    critical = stats.critical_errors(current.requests, baseline.errors, baseline.requests, alpha)
    breach_rate = min(1.0, max(policy.multipliers.rollback * base_rate, base_rate + policy.floors.error_rate))
    power = stats.detection_power(breach_rate, current.requests, critical)
    if power >= policy.power:
        return power, None
    if baseline.requests == 0:
        return power, "baseline window has no requests: the error rate cannot be judged (power 0.00)"
    detectable = stats.min_detectable_rate(current.requests, critical, policy.power)
    target = (
        f"{_pct(breach_rate)} vs baseline {_pct(base_rate)}"
        if base_rate
        else f"{_pct(breach_rate)} (zero baseline + {_pp(policy.floors.error_rate)} floor)"
    )
    if detectable is None:
        seen = "no error count in this window would be significant"
    else:
        ratio = f" ({detectable / base_rate:.1f}x)" if base_rate else ""
        seen = f"it would catch an error rate of {_pct(detectable)}{ratio} {policy.power:.0%} of the time"
    return power, (
        f"not enough traffic to rule out a {_times(policy.multipliers.rollback)} error breach "
        f"(power {power:.2f} < {policy.power:.2f} with {current.requests} requests against a true "
        f"error rate of {target}; {seen})"
    )


def _latency_evidence(baseline: Snapshot, current: Snapshot) -> tuple[float | None, EvidenceTest]:
    """The one-sided Mann–Whitney p-value, from samples or buckets; None with percentiles only."""
    base_samples, cur_samples = baseline.latency_samples_ms or None, current.latency_samples_ms or None
    if base_samples and cur_samples:
        return stats.latency_p_value_samples(cur_samples, base_samples), "mann-whitney-u"

    base_hist = _nonempty(baseline.latency_histogram)
    cur_hist = _nonempty(current.latency_histogram)
    if base_hist and cur_hist:
        bounds = sorted(set(base_hist.le_ms) & set(cur_hist.le_ms))
    elif base_hist and cur_samples:
        bounds = list(base_hist.le_ms)
    elif cur_hist and base_samples:
        bounds = list(cur_hist.le_ms)
    else:
        return None, "percentiles"
    if not bounds:
        return None, "percentiles"

    def counts(samples: list[float] | None, histogram: LatencyHistogram | None) -> np.ndarray:
        if histogram is not None:
            cumulative = dict(zip(histogram.le_ms, histogram.counts))
            return stats.bucket_counts(bounds, cumulative=cumulative, total=histogram.counts[-1])
        return stats.bucket_counts(bounds, samples=samples)

    p_value = stats.latency_p_value_grouped(counts(cur_samples, cur_hist), counts(base_samples, base_hist))
    return p_value, "mann-whitney-u-buckets"


def _nonempty(histogram: LatencyHistogram | None) -> LatencyHistogram | None:
    return histogram if histogram is not None and histogram.counts and histogram.counts[-1] > 0 else None


def _judge_latency(
    percentile: str,
    baseline: Snapshot,
    current: Snapshot,
    p_value: float | None,
    test: EvidenceTest,
    policy: Policy,
    alpha: float,
) -> _Judgement:
    base_ms = getattr(baseline.latency_ms, percentile)
    cur_ms = getattr(current.latency_ms, percentile)
    point_tier, floor_ok = _grade(_exact(cur_ms), _exact(base_ms), _exact(policy.floors.latency_ms), policy)
    evidence_ok = p_value is None or p_value < alpha
    tier: Tier = point_tier if floor_ok and evidence_ok else "ok"
    verdict = MetricVerdict(
        baseline=base_ms,
        current=cur_ms,
        ratio=cur_ms / base_ms if base_ms else None,
        threshold=_threshold(tier, policy),
        floor=policy.floors.latency_ms,
        p_value=p_value,
        min_detectable_ratio=None,
        tier=tier,
        test=test,
    )
    return _Judgement(f"latency_{percentile}_ms", verdict, point_tier, floor_ok, evidence_ok)


def _grade(current: Fraction, baseline: Fraction, floor: Fraction, policy: Policy) -> tuple[Tier, bool]:
    """The highest multiplier the point estimate is strictly above, and whether the change beats the floor."""
    multipliers = policy.multipliers
    point_tier: Tier = "ok"
    for tier, multiplier in (("rollback", multipliers.rollback), ("hold", multipliers.hold), ("watch", multipliers.watch)):
        if current > _exact(multiplier) * baseline:
            point_tier = tier
            break
    return point_tier, current - baseline > floor


def _threshold(tier: Tier, policy: Policy) -> float:
    return getattr(policy.multipliers, tier if tier != "ok" else "watch")


def _exact(value: float) -> Fraction:
    """The decimal as written (``repr``), so 2.0 × 0.1 compares like the numbers on the page."""
    return Fraction(repr(float(value)))


# --- sentences -------------------------------------------------------------------------------

_LABELS = {"error_rate": "error rate", "latency_p95_ms": "p95 latency", "latency_p99_ms": "p99 latency"}


def _all_clear(metrics: dict[str, MetricVerdict], power: float, requests: int, policy: Policy) -> str:
    parts = []
    for name, verdict in metrics.items():
        value = _pct if name == "error_rate" else _ms
        ratio = f"{verdict.ratio:.2f}x" if verdict.ratio is not None else "zero baseline"
        parts.append(f"{_LABELS[name]} {value(verdict.current)} vs {value(verdict.baseline)} ({ratio})")
    return (
        f"no breach: {', '.join(parts)}; power {power:.2f} >= {policy.power:.2f} "
        f"with {requests} requests"
    )


def _count(n: int, thing: str, state: str) -> str:
    plural = "s" if n != 1 else ""
    return f"{n} {thing}{plural} {state}".rstrip()


def _times(multiplier: float) -> str:
    text = f"{multiplier:g}"
    return f"{text}.0x" if "." not in text and "e" not in text else f"{text}x"


def _pct(rate: float) -> str:
    percent = rate * 100
    return f"{percent:.2f}%" if percent == 0 or percent >= 0.1 else f"{percent:.2g}%"


def _pp(rate: float) -> str:
    return f"{rate * 100:.2f} pp"


def _ms(value: float) -> str:
    return f"{value:.4g} ms" if value < 1000 else f"{value:,.0f} ms"
