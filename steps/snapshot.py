"""A measurement window: what the service did, as numbers the rollback ladder can judge.

The same model is the baseline captured at T-1w, every window measured later, and the JSON file
``odin gate`` reads, so a baseline written by one process days earlier loads unchanged in another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LatencyPercentiles(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    p50: float = Field(ge=0)
    p95: float = Field(ge=0)
    p99: float = Field(ge=0)


class LatencyHistogram(BaseModel):
    """A Prometheus-style cumulative histogram: ``counts[i]`` requests took at most ``le_ms[i]``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    le_ms: list[float]
    counts: list[int]

    @model_validator(mode="after")
    def _cumulative(self) -> "LatencyHistogram":
        if len(self.le_ms) != len(self.counts):
            raise ValueError("le_ms and counts must have the same length")
        if any(b <= a for a, b in zip(self.le_ms, self.le_ms[1:])):
            raise ValueError("le_ms must be strictly increasing")
        if any(c < 0 for c in self.counts) or any(b < a for a, b in zip(self.counts, self.counts[1:])):
            raise ValueError("counts must be cumulative (non-decreasing, non-negative)")
        return self


class Signals(BaseModel):
    """Facts beyond rates and latencies. Absent means benign."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    outage: bool = False
    data_loss: bool = False
    data_corruption: bool = False
    security_breach: bool = False
    rto_exceeded: bool = False
    critical_failed: int = Field(default=0, ge=0)
    noncritical_failed: int = Field(default=0, ge=0)
    sev1_alerts: int = Field(default=0, ge=0)
    new_alerts: int = Field(default=0, ge=0)
    slo_at_risk: bool = False
    user_feedback: Literal["positive", "neutral", "negative"] = "neutral"
    details: dict[str, str] = Field(
        default_factory=dict,
        description="where a detected signal came from, by signal name (outage, sev1_alerts, new_alerts, ...): "
                    "the sentence a decision shows instead of the bare signal, so it carries its numbers",
    )


class FiringAlert(BaseModel):
    """An alert firing at the end of a window, as the alert source read it (``level`` from the plan's
    severity map: sev0, sev1 or lower; ``security`` when the plan's security matchers hold)."""

    model_config = ConfigDict(extra="forbid")

    fingerprint: str = Field(min_length=1, description="the alert source's identity of the alert (its label set)")
    name: str
    severity: str | None = None
    level: Literal["sev0", "sev1", "lower"] = "lower"
    security: bool = False


class Snapshot(BaseModel):
    """One window of traffic. ``requests`` counts all requests, errors included."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    requests: int = Field(ge=0)
    errors: int = Field(ge=0)
    latency_ms: LatencyPercentiles
    latency_samples_ms: list[float] | None = None
    latency_histogram: LatencyHistogram | None = None
    signals: Signals = Field(default_factory=Signals)
    alerts: list[FiringAlert] | None = Field(
        default=None, description="alerts firing at the end of the window; null: the plan has no alert source. "
                                  "A baseline's list is what 'new' alerts are compared with")
    # Provenance, filled by the engine; optional in hand-written files.
    started_at: datetime | None = None
    ended_at: datetime | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _errors_within_requests(self) -> "Snapshot":
        if self.errors > self.requests:
            raise ValueError(f"errors ({self.errors}) cannot exceed requests ({self.requests})")
        return self

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


_FEEDBACK_ORDER = {"positive": 0, "neutral": 1, "negative": 2}


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return 0.0
    rank = max(1, int(-(-q * len(ordered) // 100)))  # nearest-rank
    return float(ordered[min(rank, len(ordered)) - 1])


def merge_snapshots(snapshots: list[Snapshot]) -> Snapshot:
    """One snapshot for several consecutive windows: counts add, samples join, signals keep the worst.

    Percentiles are recomputed from samples when every window has them; otherwise the worst
    window's percentile stands (conservative: a merge never hides a slow window).
    """
    if not snapshots:
        raise ValueError("nothing to merge")
    if len(snapshots) == 1:
        return snapshots[0]
    samples: list[float] | None = []
    for snap in snapshots:
        if snap.latency_samples_ms is None or samples is None:
            samples = None
        else:
            samples.extend(snap.latency_samples_ms)
    if samples:
        latency = LatencyPercentiles(
            p50=_percentile(samples, 50), p95=_percentile(samples, 95), p99=_percentile(samples, 99)
        )
    else:
        latency = LatencyPercentiles(
            p50=max(s.latency_ms.p50 for s in snapshots),
            p95=max(s.latency_ms.p95 for s in snapshots),
            p99=max(s.latency_ms.p99 for s in snapshots),
        )
    histogram = None
    hists = [s.latency_histogram for s in snapshots]
    if all(h is not None for h in hists) and len({tuple(h.le_ms) for h in hists if h}) == 1:
        first = hists[0]
        assert first is not None
        histogram = LatencyHistogram(
            le_ms=list(first.le_ms), counts=[sum(h.counts[i] for h in hists if h) for i in range(len(first.counts))]
        )
    sig = [s.signals for s in snapshots]
    signals = Signals(
        outage=any(s.outage for s in sig),
        data_loss=any(s.data_loss for s in sig),
        data_corruption=any(s.data_corruption for s in sig),
        security_breach=any(s.security_breach for s in sig),
        rto_exceeded=any(s.rto_exceeded for s in sig),
        critical_failed=max(s.critical_failed for s in sig),
        noncritical_failed=max(s.noncritical_failed for s in sig),
        sev1_alerts=max(s.sev1_alerts for s in sig),
        new_alerts=max(s.new_alerts for s in sig),
        slo_at_risk=any(s.slo_at_risk for s in sig),
        user_feedback=max((s.user_feedback for s in sig), key=_FEEDBACK_ORDER.__getitem__),
        details={key: text for s in sig for key, text in s.details.items()},
    )
    listed = [s.alerts for s in snapshots if s.alerts is not None]
    alerts = list({a.fingerprint: a for found in listed for a in found}.values()) if listed else None
    return Snapshot(
        alerts=alerts,
        requests=sum(s.requests for s in snapshots),
        errors=sum(s.errors for s in snapshots),
        latency_ms=latency,
        latency_samples_ms=samples or None,
        latency_histogram=histogram,
        signals=signals,
        started_at=snapshots[0].started_at,
        ended_at=snapshots[-1].ended_at,
        source=snapshots[-1].source,
    )
