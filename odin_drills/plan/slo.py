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
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from odin_drills.plan.durations import Duration


class EmergencyOverride(BaseModel):
    """Why an exhausted error budget is overridden, and who decided (both journaled and reported)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3)
    by: str = Field(min_length=1)


class ErrorBudgetPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    availability: float = Field(gt=0, lt=100, description="SLO target: percent of requests that succeed, e.g. 99.9")
    window: Duration = Field(default=30 * 86400.0, gt=0, description="the rolling SLO window (handbook: 30 days)")
    critical: bool = Field(
        default=False, description="this change is a critical fix: it may run while less than 25 % of the budget remains")
    emergency: EmergencyOverride | None = Field(
        default=None, description="an emergency fix: it may run with the budget exhausted (reason and name journaled)")
