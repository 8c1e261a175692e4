"""The rollback policy: every threshold the ladder uses, as plan-file fields with safe defaults.

Defaults follow the design notes (the README's rollback ladder): multipliers 2.0 / 1.5 / 1.1, floors 0.1 percentage
points of error rate and 5 ms of p95 latency, 99 % confidence, 80 % power, 50 requests minimum,
1 h to roll back, 4 h for a human to decide a hold. Watches are judged sequentially with one
alpha of 1 % per migration (``odin_drills.steps.sequential``); ``judge: fixed`` restores the
per-window rule with two confirming windows. Beside the relative ladder, the handbook's absolute
limits (``absolute``: 5 % errors roll back, a p95 above 500 ms holds, each on exact evidence).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from odin_drills.plan.durations import Duration


class Multipliers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rollback: float = Field(default=2.0, gt=1)
    hold: float = Field(default=1.5, gt=1)
    watch: float = Field(default=1.1, gt=1)

    @model_validator(mode="after")
    def _ordered(self) -> "Multipliers":
        if not (self.watch <= self.hold <= self.rollback):
            raise ValueError("multipliers must satisfy watch <= hold <= rollback")
        return self


class Floors(BaseModel):
    """Absolute change a metric must also exceed, so 0 % -> 0.01 % is not "infinitely worse"."""

    model_config = ConfigDict(extra="forbid")

    error_rate_pp: float = Field(default=0.1, ge=0, description="percentage points")
    latency_ms: float = Field(default=5.0, ge=0)

    @property
    def error_rate(self) -> float:
        """The error-rate floor as a fraction (0.1 pp -> 0.001)."""
        return self.error_rate_pp / 100.0


class Windows(BaseModel):
    """How long each judgement looks at traffic, in plan time."""

    model_config = ConfigDict(extra="forbid")

    baseline: Duration = Field(default=3600.0, gt=0, description="T-1w baseline capture")
    step: Duration = Field(default=300.0, gt=0, description="gate after each T-0 step")
    interval: Duration = Field(default=300.0, gt=0, description="one evaluation while watching")
    validation: Duration = Field(default=3600.0, gt=0, description="T+1h validation suite")
    final: Duration = Field(default=82800.0, gt=0, description="T+24h: from T+1h to T+24h")
    max_extensions: int = Field(
        default=3, ge=0, description="extra intervals while inconclusive, watching or confirming"
    )


class Deadlines(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rollback: Duration = Field(default=3600.0, gt=0)
    hold: Duration = Field(default=14400.0, gt=0)


class OutageRule(BaseModel):
    """When a window counts as an outage (``rollback_now`` at once, no confirmation window).

    The rule: at least ``min_requests`` requests reached the metric source in the window and at
    least ``error_rate`` of them failed (error statuses, refused or reset connections, timeouts:
    the probe counts every one). Why these defaults: a healthy service at even 10 % errors fails
    20 of 20 requests with probability 1e-20, so 99 % of >= 20 is never noise; and a service that
    fails 99 % of its requests is down for its users whatever its baseline was. A telemetry
    source adds what counts cannot show (a scrape target that was down the whole window).
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="false: only an explicit outage signal (a Sev 0 alert, a snapshot) counts")
    error_rate: float = Field(
        default=0.99, gt=0.5, le=1,
        description="share of the window's requests that failed, at or above which the service is down",
    )
    min_requests: int = Field(default=20, ge=1, description="fewer requests in the window never make an outage")


class AbsoluteLimits(BaseModel):
    """The handbook's absolute limits, beside the relative ladder: whatever the baseline was, an
    error rate above ``error_rate_pct`` rolls back ("Roll back immediately: error rate > 5 %") and
    a p95 above the SLO's latency threshold (``p95_latency_ms``; the handbook's "p95 < 500 ms")
    holds at least. A relative ladder alone passes a service that was already at 6 % errors a week
    ago and stays there.

    Evidence, not noise: a limit fires only when an exact one-sided binomial bound puts the
    window above it (``odin_drills.steps.limits``): 3 errors in 20 requests are 15 % but prove
    nothing about 5 %. ``alpha`` is what the limits may spend over one watch of the sequential
    judge (split evenly over its windows), beside, not out of, the judge's own alpha; the fixed
    judge tests them per window at its ``confidence`` like every other rule.
    """

    model_config = ConfigDict(extra="forbid")

    error_rate_pct: float | None = Field(
        default=5.0, gt=0, lt=100,
        description="percent of requests failing above which a window rolls back regardless of baseline; null: off")
    p95_latency_ms: float | None = Field(
        default=500.0, gt=0,
        description="the SLO's latency threshold: a p95 above it is at least a hold regardless of baseline; null: off")
    alpha: float = Field(
        default=0.001, gt=0, lt=0.5,
        description="sequential judge: chance, over one watch, that a service at or under the limits trips one")


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    multipliers: Multipliers = Field(default_factory=Multipliers)
    floors: Floors = Field(default_factory=Floors)
    judge: Literal["sequential", "fixed"] = Field(
        default="sequential",
        description="sequential: anytime-valid evidence over the whole watch, one alpha per migration (or watch); "
                    "fixed: the per-window ladder at `confidence`, confirmed over 2 windows (the rule before issue 11)",
    )
    alpha: float = Field(
        default=0.01, gt=0, lt=0.5,
        description="sequential judge: the chance a healthy service is held or rolled back anywhere in alpha_scope",
    )
    alpha_scope: Literal["migration", "watch"] = Field(
        default="migration", description="spend alpha once across all phases' gates, or anew in every watch",
    )
    confidence: float = Field(default=0.99, gt=0.5, lt=1, description="fixed judge: the per-window level")
    power: float = Field(default=0.8, gt=0, lt=1)
    min_requests: int = Field(
        default=50, ge=1,
        description="fixed judge: fewer requests in a window only stand in the way of proceed (inconclusive); "
                    "hard signals, journeys, alerts and conclusive breaches still decide",
    )
    outage: OutageRule = Field(default_factory=OutageRule)
    absolute: AbsoluteLimits = Field(default_factory=AbsoluteLimits)
    confirm_windows: int | None = Field(
        default=None, ge=1,
        description="consecutive rollback windows before acting; unset: 2 for the fixed judge and for the hard "
                    "signals, 1 (act at once) where the sequential evidence decides",
    )
    adequacy: Literal["warn", "refuse", "off"] = Field(
        default="warn", description="at T-1w, when the baseline and the plan's windows cannot see a 2x error or a "
                                    "1.5x latency breach: journal a warning, refuse the migration, or say nothing",
    )
    latency_percentiles: list[Literal["p95", "p99"]] = Field(default_factory=lambda: ["p95"])
    baseline_from: Literal["t-1w", "shifted"] = Field(
        default="t-1w",
        description="what each watch is compared with: the window captured at T-1w, or (telemetry sources only) "
                    "the same hours `baseline_shift` earlier, read back per watch so Monday morning meets Monday morning "
                    "(a watch longer than an hour meets the busiest hour of its span: a healthy daily peak is never "
                    "held, a breach in a quiet hour shows once it passes that hour)",
    )
    baseline_shift: Duration = Field(
        default=604800.0, gt=0, description="baseline_from shifted: how far back the same hours are (default 7d)",
    )
    windows: Windows = Field(default_factory=Windows)
    deadlines: Deadlines = Field(default_factory=Deadlines)
    on_hold_timeout: Literal["rollback", "proceed"] = "rollback"
    rollback_grace: Duration = Field(
        default=0.0, description="time a human has to override a confirmed rollback"
    )

    def rollback_confirmations(self, evidence: bool) -> int:
        """Consecutive rollback windows needed: as set, else 1 for sequential evidence, else 2."""
        if self.confirm_windows is not None:
            return self.confirm_windows
        return 1 if evidence and self.judge == "sequential" else 2

    @model_validator(mode="after")
    def _p95_always(self) -> "Policy":
        if "p95" not in self.latency_percentiles:
            self.latency_percentiles = ["p95", *self.latency_percentiles]
        return self
