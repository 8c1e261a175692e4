"""Telemetry sources a plan can judge from besides the synthetic probe: Prometheus (metrics),
Alertmanager and Azure Monitor (alerts).

The probe says "can users reach it"; telemetry says what real users got, and alerts say what the
service's own monitoring already concluded. Every metric source yields the same ``Snapshot``;
the alert source adds the alerts firing at the end of each window, which the ladder maps to its
hard signals (``odin_drills.steps.outage.detected_signals``).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationInfo, field_validator

from odin_drills.plan.durations import Duration

WINDOW_PLACEHOLDER = "$window"
"""Written in a PromQL range (``[$window]``); replaced by the window's real length in seconds."""


class AzureMonitorMetricSource(BaseModel):
    """What the two Azure Monitor metric sources share: Application Insights requests through Log
    Analytics (``odin_drills.plan.azure_monitor``) and platform metrics
    (``odin_drills.plan.azure_platform_metrics``).

    Both read one window per query from an https ``endpoint`` (each declares its own, with its own
    default) and are paced alike under a scaled clock. ``query_delay`` (Azure's ingestion delay, longer
    for platform metrics) and ``timeout`` (what it bounds) differ, so each source keeps its own.
    """

    model_config = ConfigDict(extra="forbid")

    min_window_wall_seconds: float = Field(
        default=3.0, ge=0.1, description="under a scaled clock a window never lasts less than this much real time")
    rate_per_second: float | None = Field(
        default=None, gt=0, description="the service's usual traffic, for odin plan's adequacy lines")

    @field_validator("endpoint", check_fields=False)
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        """Each source's own ``endpoint`` field: the target's bearer token is sent to it."""
        if value is not None and not value.startswith("https://"):
            raise ValueError(f"{value!r} must be https:// (bearer tokens need TLS)")
        return value.rstrip("/") if value else value


class PrometheusMetrics(BaseModel):
    """PromQL over Prometheus' HTTP API (``/api/v1/query``), evaluated at the end of each window.

    ``requests`` and ``errors`` each return one number (sum the series); ``latency_buckets``
    returns one series per ``le`` label (``sum by (le) (increase(..._bucket[$window]))``): the raw
    bucket increases become the window's cumulative histogram, so the sequential judge counts
    slow requests exactly as it does from the probe's samples, and p50/p95/p99 are read from it
    with ``histogram_quantile``'s rule (linear inside the bucket). ``up`` (optional) returns the
    scrape targets' worst ``up`` over the window: 0 means the service was down for all of it, so
    its counters could not even grow, which counts as an outage (``rollback_now``).
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["prometheus"]
    url: HttpUrl = Field(description="Prometheus' base URL, e.g. http://prometheus:9090")
    requests: str = Field(min_length=1, description="PromQL: requests in the window, e.g. "
                                                     "sum(increase(http_requests_total{job=\"shop\"}[$window]))")
    errors: str = Field(min_length=1, description="PromQL: failed requests in the window (5xx), same form")
    latency_buckets: str | None = Field(
        default=None, description="PromQL: one series per le, e.g. "
                                  "sum by (le) (increase(http_request_duration_seconds_bucket{job=\"shop\"}[$window]))")
    latency_unit: Literal["seconds", "milliseconds"] = Field(default="seconds", description="unit of the le bounds")
    up: str | None = Field(default=None, description="PromQL: e.g. min(min_over_time(up{job=\"shop\"}[$window])); "
                                                     "0 = down the whole window = outage")
    query_delay: Duration = Field(
        default=15.0, ge=0,
        description="real seconds to wait after a window ends before querying, so the last scrape is in "
                    "(at least one scrape interval)")
    timeout: Duration = Field(default=10.0, gt=0, description="per query")
    min_window_wall_seconds: float = Field(
        default=3.0, ge=0.1,
        description="under a scaled clock a window never lasts less than this much real time (a few scrapes)")
    rate_per_second: float | None = Field(
        default=None, gt=0,
        description="the service's usual traffic, for odin plan's adequacy lines; T-1w otherwise uses the "
                    "baseline's own rate")

    @field_validator("requests", "errors", "latency_buckets", "up")
    @classmethod
    def _balanced(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if value.count("(") != value.count(")") or value.count("[") != value.count("]") \
                or value.count("{") != value.count("}"):
            raise ValueError(f"unbalanced brackets in PromQL {value!r}")
        return value


_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_MATCHER = re.compile(r'^\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"[^"]*"\s*$')


class SeverityMap(BaseModel):
    """Which values of the severity label are the handbook's Sev 0 and Sev 1 (anything else is
    lower: it counts only when new, on the watch rung)."""

    model_config = ConfigDict(extra="forbid")

    sev0: list[str] = Field(default_factory=lambda: ["critical", "sev0", "0"],
                            description="Sev 0: complete outage -> outage -> rollback_now")
    sev1: list[str] = Field(default_factory=lambda: ["high", "sev1", "1"],
                            description="Sev 1: 1 -> hold, 2 or more -> rollback")


class AlertmanagerAlerts(BaseModel):
    """The Alertmanager API v2 (``GET /api/v2/alerts``): alerts firing (active, not silenced or
    inhibited) at the end of each window.

    Sev 0 -> ``outage``; Sev 1 -> ``sev1_alerts``; one matching ``security`` -> ``security_breach``;
    any alert not already firing when the baseline was captured -> ``new_alerts``.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["alertmanager"]
    url: HttpUrl = Field(description="Alertmanager's base URL, e.g. http://alertmanager:9093")
    filter: list[str] = Field(
        default_factory=list,
        description='label matchers so only the service\'s own alerts count, e.g. [\'service="shop"\']')
    severity_label: str = Field(default="severity")
    severities: SeverityMap = Field(default_factory=SeverityMap)
    security: list[str] = Field(
        default_factory=list,
        description='matchers marking a security alert (every one must match), e.g. [\'category="security"\']')
    timeout: Duration = Field(default=10.0, gt=0)

    @field_validator("filter", "security")
    @classmethod
    def _matchers(cls, value: list[str]) -> list[str]:
        for matcher in value:
            if not _MATCHER.match(matcher):
                raise ValueError(f'{matcher!r} is not a label matcher like service="shop" (=, !=, =~, !~)')
        return value

    @field_validator("severity_label")
    @classmethod
    def _label(cls, value: str) -> str:
        if not _LABEL_NAME.match(value):
            raise ValueError(f"{value!r} is not a label name")
        return value


_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_RESOURCE_GROUP = r"^[-\w.()]{0,89}[-\w()]$"
"""Azure's rule for resource group names: 1-90 letters, digits, ``_ - . ( )``, not ending in a period."""
_RESOURCE_GROUP_OF = re.compile(r"^/subscriptions/[^/]+/resourceGroups/([^/]+)/providers/[^/]+/.+$", re.IGNORECASE)
_RULE_NAME = r"^[^<>*%&:\\?+/#|\x00-\x1f]{1,260}$"
"""An alert rule's name: what Azure accepts for scheduled-query and metric alert rule names."""


class AzureAlertSecurity(BaseModel):
    """Which Azure Monitor alerts are security alerts (-> ``security_breach``): an alert counts as one
    when its rule is listed in ``alert_rules`` **or** its monitor service in ``monitor_services``."""

    model_config = ConfigDict(extra="forbid")

    alert_rules: list[Annotated[str, Field(pattern=_RULE_NAME)]] = Field(
        default_factory=list, description="alert rule names, e.g. [SuspiciousSignIns]")
    monitor_services: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, description='monitor services, e.g. ["ActivityLog Security"]')


class AzureMonitorAlerts(BaseModel):
    """Azure Monitor's alerts (``Microsoft.AlertsManagement/alerts``, read through the real
    ``azure-mgmt-alertsmanagement`` client): alerts fired (``monitorCondition: Fired``) and not
    closed (``alertState`` New or Acknowledged) at the end of each window.

    Only the service's own alerts count: those on resources of ``target_resource_group`` (and of
    ``target_resource`` / ``target_resource_type`` / ``alert_rules`` when given). Azure's severities
    are the handbook's: Sev0 -> ``outage``; Sev1 -> ``sev1_alerts``; Sev2-Sev4 count only when new
    since the baseline (``new_alerts``); a ``security`` match -> ``security_breach``.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["azure_monitor_alerts"]
    subscription_id: str | None = Field(
        default=None, pattern=_GUID,
        description="the subscription whose alerts are read (a GUID); the target's when left out")
    target_resource_group: str = Field(
        pattern=_RESOURCE_GROUP, description="only alerts on resources of this resource group count")
    target_resource: str | None = Field(
        default=None, description="only alerts on this resource (its full ARM id, inside target_resource_group)")
    target_resource_type: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9.]+(/[A-Za-z0-9.]+)*$",
        description="only alerts on resources of this type, e.g. Microsoft.Web/sites")
    alert_rules: list[Annotated[str, Field(pattern=_RULE_NAME)]] = Field(
        default_factory=list, description="only alerts of these rules (names); every rule when empty")
    security: AzureAlertSecurity = Field(default_factory=AzureAlertSecurity)
    timeout: Duration = Field(default=10.0, gt=0, description="per request (connect and read)")

    @field_validator("target_resource")
    @classmethod
    def _inside_group(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        found = _RESOURCE_GROUP_OF.match(value)
        if found is None:
            raise ValueError(f"{value!r} is not an ARM resource id like "
                             "/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.Web/sites/NAME")
        group = info.data.get("target_resource_group")
        if group is not None and found.group(1).lower() != str(group).lower():
            raise ValueError(f"the resource is in resource group {found.group(1)!r}, not target_resource_group "
                             f"{group!r}")
        return value


AlertSourceSpec = Annotated[Union[AlertmanagerAlerts, AzureMonitorAlerts], Field(discriminator="kind")]
