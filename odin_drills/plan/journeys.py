"""Smoke journeys and metric sources: how a plan says what "the service works" means."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, HttpUrl, Tag, model_validator

from odin_drills.plan.durations import Duration

HttpMethod = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class BodyAssertion(BaseModel):
    """One check on a response body: a substring, or a JSONPath that must exist / equal a value."""

    model_config = ConfigDict(extra="forbid")

    contains: str | None = None
    jsonpath: str | None = None
    equals: Any = None

    @model_validator(mode="after")
    def _one_kind(self) -> "BodyAssertion":
        if (self.contains is None) == (self.jsonpath is None):
            raise ValueError("an assertion needs exactly one of 'contains' or 'jsonpath'")
        if self.jsonpath is not None:
            from jsonpath_ng import parse  # noqa: PLC0415  (only when a plan uses JSONPath)

            try:
                parse(self.jsonpath)
            except Exception as exc:  # jsonpath_ng raises several types
                raise ValueError(f"invalid JSONPath {self.jsonpath!r}: {exc}") from None
        return self


class SmokeJourney(BaseModel):
    """A user journey checked end to end; a failing critical one triggers a rollback."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    method: HttpMethod = "GET"
    url: HttpUrl
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    json_body: Any = Field(default=None, alias="json")
    expect_status: int | list[int] = 200
    assertions: list[BodyAssertion] = Field(default_factory=list, alias="assert")
    latency_budget_ms: float | None = Field(default=None, gt=0)
    timeout: Duration = 10.0
    critical: bool = True
    retries: int = Field(
        default=2, ge=0, le=10,
        description="extra attempts before the journey counts as failed: one dropped request is noise, not a broken journey",
    )
    retry_delay: Duration = 0.2

    @model_validator(mode="after")
    def _one_body(self) -> "SmokeJourney":
        if self.body is not None and self.json_body is not None:
            raise ValueError("give either 'body' or 'json', not both")
        return self


class SyntheticProbe(BaseModel):
    """Open-loop HTTP probe: requests leave on a fixed schedule, so slow answers cannot hide load."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["synthetic_probe"] = "synthetic_probe"
    url: HttpUrl
    method: HttpMethod = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    rate_per_second: float = Field(
        default=100.0, gt=0, le=1500, description="requests per real second; measured to hold up to ~1500 on 2 cores"
    )
    timeout: Duration = 5.0
    error_statuses: str = Field(
        default="5xx", description="which statuses count as errors: '5xx' or '4xx,5xx'"
    )
    min_window_wall_seconds: float = Field(
        default=3.0,
        ge=0.1,
        description="under a scaled clock a window never lasts less than this much real time, "
        "so the probe still gathers real requests",
    )


def _metric_kind(value: Any) -> str:
    """A ``metrics:`` block without ``kind`` is the synthetic probe (as before other sources existed)."""
    if isinstance(value, dict):
        return str(value.get("kind", "synthetic_probe"))
    return str(getattr(value, "kind", "synthetic_probe"))


from odin_drills.plan.azure_monitor import AzureMonitorMetrics  # noqa: E402  (a sibling module; no cycle)
from odin_drills.plan.azure_platform_metrics import AzureMonitorPlatformMetrics  # noqa: E402  (a sibling module)
from odin_drills.plan.telemetry import PrometheusMetrics  # noqa: E402  (a sibling module; no cycle)

MetricSourceSpec = Annotated[
    Annotated[SyntheticProbe, Tag("synthetic_probe")] | Annotated[PrometheusMetrics, Tag("prometheus")]
    | Annotated[AzureMonitorMetrics, Tag("azure_monitor")]
    | Annotated[AzureMonitorPlatformMetrics, Tag("azure_monitor_metrics")],
    Discriminator(_metric_kind),
]
"""The plan's ``metrics:``: the synthetic probe (default), Prometheus (``odin_drills.plan.telemetry``),
Application Insights (``azure_monitor``) or Azure Monitor platform metrics (``azure_monitor_metrics``)."""
