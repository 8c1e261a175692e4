"""``metrics: {kind: azure_monitor}``: Application Insights request telemetry through Log Analytics.

What real users got, from the service's own request telemetry: one KQL ``summarize`` over the
requests table per window (count, failed count, duration percentiles and a cumulative duration
histogram), through ``azure-monitor-query``'s ``LogsQueryClient`` with the target's credential.
Kept apart from ``telemetry.py`` because it has its own query text to build, which the sandbox's
endpoint parses (``odin_drills.sandbox.azure.log_analytics``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from odin_drills.plan.durations import Duration
from odin_drills.plan.telemetry import AzureMonitorMetricSource

DEFAULT_BUCKETS_MS = [5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0]
"""Duration bucket bounds (ms): Prometheus' defaults, so the two sources' histograms compare."""

QUERY_MARKER = "// odin-drills:requests-window v1"
"""The query's first line: a KQL comment (Azure ignores it; the sandbox recognises odin's query by it)."""

TABLE_COLUMNS = {
    # table -> (success, duration in ms, role name) columns
    "AppRequests": ("Success", "DurationMs", "AppRoleName"),
    "requests": ("success", "duration", "cloud_RoleName"),
}


class AzureMonitorMetrics(AzureMonitorMetricSource):
    """Application Insights requests through the Log Analytics query API, one query per window.

    ``table: AppRequests`` is a workspace-based Application Insights resource's table (queried by
    ``workspace_id``); ``requests`` is the classic schema. ``role`` keeps only the service's own
    requests (``AppRoleName`` / ``cloud_RoleName``). A failed request is one Application Insights
    marked unsuccessful (by default a result code >= 400).
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["azure_monitor"]
    workspace_id: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        description="the Log Analytics workspace id (a GUID); with a sandbox target, the sandbox's when left out")
    endpoint: str | None = Field(
        default=None, description="the Log Analytics API, https://api.loganalytics.io when left out (the sandbox's "
                                  "log_analytics_url for a sandbox target)")
    table: Literal["AppRequests", "requests"] = "AppRequests"
    role: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._:/-]{1,256}$",
                             description="only requests of this cloud role (AppRoleName / cloud_RoleName)")
    latency_buckets_ms: list[float] = Field(
        default_factory=lambda: list(DEFAULT_BUCKETS_MS), min_length=1,
        description="duration histogram bounds in ms (increasing); a last +Inf bucket is added")
    query_delay: Duration = Field(
        default=60.0, ge=0,
        description="real seconds to wait after a window before querying: Application Insights' ingestion delay")
    timeout: Duration = Field(default=30.0, gt=0, description="per query (server and client)")

    @field_validator("latency_buckets_ms")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(b <= 0 for b in value) or any(b <= a for a, b in zip(value, value[1:])):
            raise ValueError("bounds must be positive and strictly increasing")
        return value

    def query(self) -> str:
        """The KQL sent for every window (the window itself is the request's ``timespan``)."""
        success, duration, role_column = TABLE_COLUMNS[self.table]
        lines = [QUERY_MARKER, self.table]
        if self.role:
            lines.append(f'| where {role_column} == "{self.role}"')
        parts = ["requests = count()", f"failed = countif({success} == false)",
                 *(f"p{q} = percentile({duration}, {q})" for q in (50, 95, 99)),
                 *(f"le_{i} = countif({duration} <= {_number(bound)})" for i, bound in enumerate(self.latency_buckets_ms))]
        lines.append("| summarize " + ", ".join(parts))
        return "\n".join(lines)


def _number(value: float) -> str:
    """A KQL real literal without exponent notation (``10000``, ``2.5``)."""
    return str(int(value)) if float(value).is_integer() else f"{value:.6f}".rstrip("0").rstrip(".")
