"""``metrics: {kind: azure_monitor_metrics}``: Azure Monitor platform metrics of the serving resources.

What the platform itself counted for the service's resources (for App Service web apps: every
request the front ends served, ``Requests``, and the failed ones, ``Http5xx``), read per window with
one ``metrics:getBatch`` query per region through ``azure-monitor-querymetrics``' ``MetricsClient``.
No agent or SDK in the service is needed, so it works for services without Application Insights.

The batch API is regional: ``https://{region}.metrics.monitor.azure.com`` answers only for resources
in that region, and every resource of one request must share the subscription and the type (the
metric namespace). ``resource_ids`` is therefore either one region's list (with ``region``) or a
mapping region -> list (a region-failover plan names the web app of each region).

Kept apart from ``telemetry.py``: its resource-id and region rules are its own.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from odin_drills.plan.arm_ids import parse_arm_id
from odin_drills.plan.durations import Duration
from odin_drills.plan.telemetry import AzureMonitorMetricSource

APP_SERVICE_NAMESPACE = "Microsoft.Web/sites"
APP_SERVICE_DEFAULTS = {"requests_metric": "Requests", "failed_metrics": ["Http5xx"],
                        "latency_metric": "HttpResponseTime"}
"""App Service's own metric names: requests served, 5xx answers, and the average response time (seconds)."""

GRAINS_SECONDS = (60.0, 300.0, 900.0, 1800.0, 3600.0, 21600.0, 43200.0, 86400.0)
"""The time grains platform metrics are kept at (PT1M ... P1D)."""
MAX_RESOURCES_PER_QUERY = 50
"""What one ``metrics:getBatch`` request accepts."""

_REGION = re.compile(r"^[a-z][a-z0-9]{1,39}$")
_METRIC_NAME = r"^[A-Za-z0-9_. /-]{1,128}$"


class AzureMonitorPlatformMetrics(AzureMonitorMetricSource):
    """Platform metrics of one resource type over one window each, summed across the resources.

    Platform metrics are per-minute aggregates: totals (request and failure counts) and an average
    (response time). They carry **no percentiles and no latency distribution**, so a window gives the
    ladder its error rate and, with ``latency_metric``, the average response time only (see
    ``odin_drills.steps.probes.azure_monitor_metrics`` for how that is put in the Snapshot).
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["azure_monitor_metrics"]
    resource_ids: list[str] | dict[str, list[str]] | None = Field(
        default=None,
        description="ARM ids of the resources (one type, one subscription): a list of one region's (with region), "
                    "or region -> list; with a sandbox target, the sandbox's regional web apps when left out")
    region: str | None = Field(
        default=None, description="the region of a resource_ids list (names the regional endpoint), e.g. eastus")
    endpoint: str | None = Field(
        default=None, description="the metrics endpoint of a resource_ids list, https://{region}.metrics.monitor."
                                  "azure.com when left out (the sandbox's for a sandbox target)")
    metric_namespace: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9.]+(/[A-Za-z0-9.]+)+$",
        description="the resources' type, e.g. Microsoft.Web/sites (the default, from resource_ids)")
    requests_metric: str | None = Field(
        default=None, pattern=_METRIC_NAME, description="total requests per window (Total); App Service: Requests")
    failed_metrics: list[str] | None = Field(
        default=None, min_length=1,
        description="failed requests, summed (Total); App Service: [Http5xx], or [Http4xx, Http5xx]")
    latency_metric: str | None = Field(
        default=None, pattern=_METRIC_NAME,
        description="average response time (Average); App Service: HttpResponseTime; null: latency not judged")
    latency_unit: Literal["seconds", "milliseconds"] = Field(default="seconds", description="unit of latency_metric")
    interval: Duration = Field(default=60.0, description="the time grain asked for: 1m (PT1M), 5m, 15m, 30m, 1h, "
                                                         "6h, 12h or 1d")
    query_delay: Duration = Field(
        default=180.0, ge=0,
        description="real seconds to wait after a window before querying: platform metrics' ingestion delay")
    timeout: Duration = Field(default=30.0, gt=0, description="per query (connect and read)")

    @field_validator("resource_ids", mode="before")
    @classmethod
    def _resources(cls, value: Any) -> Any:
        """One message for any shape problem (a union would report each branch on its own line)."""
        if value is None:
            return value
        groups: dict[str, Any] = value if isinstance(value, dict) else {"": value}
        if not groups:
            raise ValueError("name at least one resource")
        ids: list[str] = []
        for region, listed in groups.items():
            if region and (not isinstance(region, str) or not _REGION.match(region)):
                raise ValueError(f"{region!r} is not an Azure region name like eastus")
            if not isinstance(listed, list) or not listed or not all(isinstance(i, str) for i in listed):
                raise ValueError("expected a non-empty list of ARM resource ids, or region -> list")
            if len(listed) > MAX_RESOURCES_PER_QUERY:
                raise ValueError(f"at most {MAX_RESOURCES_PER_QUERY} resources per region (one getBatch request)")
            ids.extend(listed)
        parsed = [parse_arm_id(i) for i in ids]  # ValueError names the bad id
        types = {f"{p.namespace}/{'/'.join(k for k, _ in p.segments)}".lower() for p in parsed}
        if len(types) > 1:
            raise ValueError(f"resources of one type only (one metric namespace per query), not {sorted(types)}")
        if len({p.subscription_id.lower() for p in parsed}) > 1:
            raise ValueError("resources of one subscription only (the batch API queries one subscription)")
        if len({i.lower() for i in ids}) != len(ids):
            raise ValueError("a resource is listed twice")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.match(value):
            raise ValueError(f"{value!r} is not an Azure region name like eastus")
        return value

    @field_validator("failed_metrics", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("failed_metrics")
    @classmethod
    def _names(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            if not re.match(_METRIC_NAME, name):
                raise ValueError(f"{name!r} is not a metric name")
        return value

    @field_validator("interval")
    @classmethod
    def _grain(cls, value: float) -> float:
        if value not in GRAINS_SECONDS:
            raise ValueError("platform metrics are kept at 1m, 5m, 15m, 30m, 1h, 6h, 12h or 1d grains")
        return value

    @model_validator(mode="after")
    def _defaults(self) -> "AzureMonitorPlatformMetrics":
        """Namespace from the resources; App Service's metric names for web apps; a list needs its region."""
        ids = self.all_resource_ids()
        if isinstance(self.resource_ids, dict) and (self.region or self.endpoint):
            raise ValueError("region and endpoint go with a resource_ids list; with region -> list each region "
                             "is queried at its own endpoint")
        if isinstance(self.resource_ids, list) and not self.region:
            raise ValueError("region: required with a resource_ids list (the batch API is regional); or give "
                             "resource_ids as region -> list")
        if self.metric_namespace is None:
            first = parse_arm_id(ids[0]) if ids else None
            self.metric_namespace = (f"{first.namespace}/{'/'.join(k for k, _ in first.segments)}" if first
                                     else APP_SERVICE_NAMESPACE)
        app_service = self.metric_namespace.lower() == APP_SERVICE_NAMESPACE.lower()
        for field, default in APP_SERVICE_DEFAULTS.items():
            if field in self.model_fields_set:
                continue
            if app_service:
                setattr(self, field, list(default) if isinstance(default, list) else default)
            elif field != "latency_metric":
                raise ValueError(f"{field}: required for {self.metric_namespace} (the defaults are App Service's)")
        return self

    def all_resource_ids(self) -> list[str]:
        if self.resource_ids is None:
            return []
        if isinstance(self.resource_ids, dict):
            return [i for ids in self.resource_ids.values() for i in ids]
        return list(self.resource_ids)

    def by_region(self) -> dict[str, list[str]]:
        """Resource ids per region, as the queries go out (empty when the sandbox names them)."""
        if isinstance(self.resource_ids, dict):
            return {region: list(ids) for region, ids in self.resource_ids.items()}
        if self.resource_ids:
            return {str(self.region): list(self.resource_ids)}
        return {}

    def metric_names(self) -> list[str]:
        """What each query asks for: requests, the failure counts, then the latency (if any)."""
        names = [str(self.requests_metric), *(self.failed_metrics or [])]
        if self.latency_metric:
            names.append(self.latency_metric)
        return list(dict.fromkeys(names))
