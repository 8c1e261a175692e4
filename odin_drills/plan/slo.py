"""The service's availability SLO and the handbook's error-budget policy, as plan data.

    slo:
      availability: 99.9      # percent of requests that succeed, over the rolling window
      window: 30d
      critical: false         # this change is a critical fix: it may run with < 25 % of the budget left
      emergency: {reason: "...", by: "..."}   # only for an emergency fix: may run with the budget exhausted

The budget is read from the plan's metric source over ``window`` before T-0 (and reported at
T-1w), so the source must be able to look back: Prometheus. The tiers are the handbook's:
> 50 % remaining normal; 25-50 % conservative (proceeds, warned in the journal and report);
< 25 % freeze: only a change marked ``critical``; exhausted: only an ``emergency`` with its reason
and who decided, recorded in the journal.

During every watch the same target gives the error budget's burn rate (``burn_rates``: the SRE
workbook's multi-window pairs, ``odin_drills.steps.burn``): a change that spends the month's budget
in days is "SLO at risk", a hold, even while it is not yet 1.5x its baseline.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from odin_drills.plan.durations import Duration


class EmergencyOverride(BaseModel):
    """Why an exhausted error budget is overridden, and who decided (both journaled and reported)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3)
    by: str = Field(min_length=1)


class BurnRatePair(BaseModel):
    """One multi-window burn-rate rule of the SRE workbook (chapter 5, "Alerting on SLOs"): the SLO is
    at risk when the error budget burns faster than ``factor`` times the sustainable rate over both
    the ``long`` window (enough budget spent to matter) and the ``short`` one (still burning now)."""

    model_config = ConfigDict(extra="forbid")

    long: Duration = Field(gt=0, description="the long window, e.g. 1h")
    short: Duration = Field(gt=0, description="the short window, e.g. 5m (the workbook: 1/12 of the long one)")
    factor: float = Field(gt=1, description="burn rate (times the rate that spends the budget in exactly the SLO window)")

    @model_validator(mode="after")
    def _short_within_long(self) -> "BurnRatePair":
        if self.short >= self.long:
            raise ValueError("short must be shorter than long")
        return self


def _workbook_pairs() -> list[BurnRatePair]:
    """The workbook's paging pairs for a 30-day SLO: 2 % of the budget in 1 h, 5 % in 6 h."""
    return [BurnRatePair(long=3600.0, short=300.0, factor=14.4), BurnRatePair(long=21600.0, short=1800.0, factor=6.0)]


class ErrorBudgetPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    availability: float = Field(gt=0, lt=100, description="SLO target: percent of requests that succeed, e.g. 99.9")
    window: Duration = Field(default=30 * 86400.0, gt=0, description="the rolling SLO window (handbook: 30 days)")
    critical: bool = Field(
        default=False, description="this change is a critical fix: it may run while less than 25 % of the budget remains")
    emergency: EmergencyOverride | None = Field(
        default=None, description="an emergency fix: it may run with the budget exhausted (reason and name journaled)")
    burn_rates: list[BurnRatePair] = Field(
        default_factory=_workbook_pairs,
        description="during every watch: the SLO is at risk (a hold) when a pair's long and short windows both burn "
                    "faster than its factor (default the SRE workbook's 1h/5m at 14.4x and 6h/30m at 6x); [] turns it off")
