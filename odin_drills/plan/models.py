"""The plan file as a pydantic model: one migration, its service, policy and four phases."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone as fixed_offset, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from odin_drills.plan.journeys import MetricSourceSpec, SmokeJourney
from odin_drills.plan.migration_canary import MigrationCanary
from odin_drills.plan.secrets import SecretSource
from odin_drills.plan.slo import ErrorBudgetPolicy
from odin_drills.plan.telemetry import AlertSourceSpec
from odin_drills.plan.readiness import ReadinessSpec
from odin_drills.plan.people import PeopleSpec
from odin_drills.plan.steps import Step
from odin_drills.plan.policy import Policy

PHASES = ("t-1w", "t0", "t+1h", "t+24h")
"""Phase names in order. Their offsets from the cut-over (T-0) are fixed by the names."""

PHASE_OFFSETS = {"t-1w": -7 * 86400.0, "t0": 0.0, "t+1h": 3600.0, "t+24h": 86400.0}

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def zone_of(name: str) -> tzinfo:
    """An IANA zone (``Europe/Berlin``) or a fixed UTC offset (``+02:00``, ``-0530``, ``UTC+2``,
    ``GMT-3``); ValueError otherwise."""
    match = _OFFSET.match(name.strip())
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta >= timedelta(hours=24):
            raise ValueError(f"UTC offset {name!r} is out of range")
        return fixed_offset(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name like Europe/Berlin, or a UTC offset "
                         "like +02:00)") from None


class ChangeWindow(BaseModel):
    """When T-0 may start: a recurring daily window (times of day, weekdays, time zone) or a fixed span."""

    model_config = ConfigDict(extra="forbid")

    start: time | datetime
    end: time | datetime
    days: list[Weekday] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone_of(value)
        return value

    @model_validator(mode="after")
    def _same_kind(self) -> "ChangeWindow":
        if isinstance(self.start, datetime) != isinstance(self.end, datetime):
            raise ValueError("start and end must both be times of day or both be date-times")
        if isinstance(self.start, datetime) and isinstance(self.end, datetime):
            if self.start.tzinfo is None or self.end.tzinfo is None:
                raise ValueError("fixed change-window date-times need a UTC offset, e.g. 2026-12-01T22:00:00Z")
            if self.end <= self.start:
                raise ValueError("the change window ends before it starts")
        elif isinstance(self.start, time) and isinstance(self.end, time):
            offsets = {t.utcoffset() for t in (self.start, self.end)}
            if len(offsets) > 1:
                raise ValueError("start and end must carry the same UTC offset (or none, and say timezone:)")
        return self

    def zone(self) -> tzinfo:
        """Where a daily window's times of day are read: the offset its times carry, else ``timezone``."""
        if isinstance(self.start, time) and self.start.tzinfo is not None:
            return self.start.tzinfo
        return zone_of(self.timezone)

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (aware) falls in the window; daily windows may cross midnight."""
        if isinstance(self.start, datetime) and isinstance(self.end, datetime):
            return self.start <= moment < self.end
        local = moment.astimezone(self.zone())
        names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        t = local.time().replace(tzinfo=None)
        start, end = self.start, self.end
        assert isinstance(start, time) and isinstance(end, time)
        start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)  # read in self.zone(): compare naive
        if start <= end:
            return names[local.weekday()] in self.days and start <= t < end
        if t >= start:
            return names[local.weekday()] in self.days
        if t < end:
            return names[(local.weekday() - 1) % 7] in self.days
        return False


class SandboxTarget(BaseModel):
    """The built-in Azure simulator; the plan runs unchanged against real Azure.

    Where its ARM endpoint is: these fields, or (for any left out) the ``odin_drills.sandbox.json`` a running
    sandbox writes, named by the environment variable ``ODIN_SANDBOX_INFO``.
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["sandbox"] = "sandbox"
    arm_url: str | None = Field(default=None, description="the sandbox's ARM endpoint, https://127.0.0.1:PORT")
    ca_cert: str | None = Field(default=None, description="path of the sandbox CA certificate (PEM)")
    subscription_id: str | None = Field(default=None, description="the sandbox's subscription id")
    connection_mode: Literal["listener", "per_server"] | None = Field(
        default=None, description="what the sandbox's web apps' orders connection string names: the failover "
        "group's listener (the default: writes follow a failover) or the primary's server (per_server: the DR "
        "region's app writes to the old primary until a settings step moves it); a drill starts its sandbox so, "
        "and refuses a running one (ODIN_SANDBOX_INFO) configured otherwise")


class AzureTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["azure"]
    subscription_id: str = Field(min_length=1)
    production: bool = Field(
        default=False, description="production targets need an explicit opt-in: --allow-production on the command "
                                    "line, allow_production=true on a deployment or UI run"
    )


class LocalTarget(BaseModel):
    """Plain HTTP services only (no Azure resources), e.g. the blue/green demo."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["local"] = "local"


class Service(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    endpoints: dict[str, HttpUrl] = Field(default_factory=dict)


_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
LOOK_BACK_KINDS = ("prometheus", "azure_monitor", "azure_monitor_metrics")
"""Metric sources that can read a past span (``read_window``): SLO budgets and shifted baselines need one."""


class Phases(BaseModel):
    """Extra steps per phase. T-1w, T+1h and T+24h also do their built-in work (baseline, gates)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    t_minus_1w: list[Step] = Field(default_factory=list, alias="t-1w")
    t0: list[Step] = Field(default_factory=list)
    t_plus_1h: list[Step] = Field(default_factory=list, alias="t+1h")
    t_plus_24h: list[Step] = Field(default_factory=list, alias="t+24h")

    def steps(self, phase: str) -> list[Step]:
        return {"t-1w": self.t_minus_1w, "t0": self.t0, "t+1h": self.t_plus_1h, "t+24h": self.t_plus_24h}[phase]


class Plan(BaseModel):
    """One migration: what runs, against what, judged how."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="lower-case letters, digits and dashes; names the state folder")
    description: str = ""
    environment: str = Field(description="lock name: two runs on one environment never overlap")
    target: SandboxTarget | AzureTarget | LocalTarget = Field(default_factory=LocalTarget, discriminator="kind")
    service: Service
    metrics: MetricSourceSpec
    alerts: AlertSourceSpec | None = Field(
        default=None, description="alerts firing at the end of each window, mapped to the ladder's signals "
                                  "(Sev 0 -> outage, Sev 1 -> sev1_alerts, new since the baseline -> new_alerts)")
    smoke: list[SmokeJourney] = Field(default_factory=list)
    canary: MigrationCanary | None = Field(
        default=None, description="writes through the service before each world-changing T-0 step, read back "
                                  "after it and at T+1h: a missing one is data loss, a changed one corruption "
                                  "(rollback now)")
    slo: ErrorBudgetPolicy | None = Field(
        default=None, description="availability SLO and the error-budget gate before T-0 (metrics.kind prometheus, azure_monitor or azure_monitor_metrics)")
    policy: Policy = Field(default_factory=Policy)
    change_window: ChangeWindow | None = None
    secrets: SecretSource | None = Field(
        default=None, description="where ${secret:NAME} references are looked up when a step runs")
    phases: Phases = Field(default_factory=Phases)
    readiness: ReadinessSpec = Field(
        default_factory=ReadinessSpec,
        description="the operational readiness review at T-1w: which checklist items block T-0, where the DR "
                    "evidence is read (odin readiness PLAN; odin attest PLAN ITEM --by NAME --evidence URL)")
    people: PeopleSpec = Field(
        default_factory=PeopleSpec,
        description="the people side of T-0: the on-call confirmation (an approval with a deadline) and the "
                    "stakeholder notice that the change window starts; both off unless declared")
    observe_only: bool = Field(
        default=False, description="the plan changes nothing on purpose: it only baselines and watches (T-0 runs its "
                                   "gate and smoke steps); without it a plan with no world-changing step is refused")

    @field_validator("name", "environment")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} must be lower-case letters, digits and dashes (max 63)")
        return value

    @model_validator(mode="after")
    def _slo_readable(self) -> "Plan":
        """The error budget is read over the SLO window, so the source must look back: the probe cannot."""
        if self.slo is not None and self.metrics.kind not in LOOK_BACK_KINDS:
            raise ValueError("slo: the error budget is read over the SLO window from a source that can look back: "
                             "needs metrics.kind prometheus, azure_monitor or azure_monitor_metrics")
        return self

    @model_validator(mode="after")
    def _vault_known(self) -> "Plan":
        """Outside the sandbox (which serves its own vault) a Key Vault source must say which vault."""
        if self.secrets is not None and self.secrets.kind == "keyvault" and not self.secrets.vault_url \
                and not isinstance(self.target, SandboxTarget):
            raise ValueError("secrets.vault_url: required unless the target is the sandbox")
        return self

    @model_validator(mode="after")
    def _shifted_baseline_readable(self) -> "Plan":
        """A baseline from the same hours earlier is read back from history: the probe has none, and a
        shift shorter than T+1h and T+24h together would compare the migration with itself."""
        policy = self.policy
        if policy.baseline_from != "shifted":
            return self
        if self.metrics.kind not in LOOK_BACK_KINDS:
            raise ValueError("policy.baseline_from: shifted reads the same hours back from a telemetry source: "
                             "needs metrics.kind prometheus, azure_monitor or azure_monitor_metrics (the synthetic "
                             "probe has no history)")
        span = policy.windows.validation + policy.windows.final
        if policy.baseline_shift < span:
            raise ValueError(f"policy.baseline_shift: {policy.baseline_shift:g} s is shorter than T+1h and T+24h together "
                             f"({span:g} s), so a watch would be compared with the migration itself; use 7d (the default) or 1d")
        return self

    @model_validator(mode="after")
    def _workspace_known(self) -> "Plan":
        """Outside the sandbox (which serves its own workspace) Application Insights needs the workspace id."""
        if self.metrics.kind == "azure_monitor" and not self.metrics.workspace_id \
                and not isinstance(self.target, SandboxTarget):
            raise ValueError("metrics.workspace_id: required unless the target is the sandbox")
        return self

    @model_validator(mode="after")
    def _metric_resources_known(self) -> "Plan":
        """Outside the sandbox (which names its own regional web apps) platform metrics need the resources."""
        if self.metrics.kind == "azure_monitor_metrics" and not self.metrics.resource_ids \
                and not isinstance(self.target, SandboxTarget):
            raise ValueError("metrics.resource_ids: required unless the target is the sandbox")
        return self

    @model_validator(mode="after")
    def _alert_subscription_known(self) -> "Plan":
        """Azure Monitor's alerts are read per subscription: the target's, unless the plan names one."""
        if self.alerts is not None and self.alerts.kind == "azure_monitor_alerts" \
                and not self.alerts.subscription_id and isinstance(self.target, LocalTarget):
            raise ValueError("alerts.subscription_id: required unless the target is azure or the sandbox")
        return self

    @model_validator(mode="after")
    def _undo_declared_and_names_unique(self) -> "Plan":
        journeys = [j.name for j in self.smoke]
        if len(set(journeys)) != len(journeys):
            raise ValueError("smoke journey names must be unique")
        for phase in PHASES:
            seen: set[str] = set()
            for step in self.phases.steps(phase):
                if step.name and step.name in seen:
                    raise ValueError(f"phases.{phase}: step name {step.name!r} is used twice")
                seen.add(step.name)
                if getattr(step, "journeys", None):
                    unknown = sorted(set(step.journeys) - set(journeys))  # type: ignore[attr-defined]
                    if unknown:
                        raise ValueError(f"phases.{phase}.{step.label}: unknown journeys {unknown}")
        if isinstance(self.target, LocalTarget) and any(step.kind.startswith("azure.") for phase in PHASES
                                                        for step in self.phases.steps(phase)):
            raise ValueError("target: Azure steps need target kind 'sandbox' or 'azure'")
        changing = [f"phases.{phase}[{i}] ({step.label})" for phase in PHASES
                    for i, step in enumerate(self.phases.steps(phase)) if step.changes_world]
        if self.observe_only and changing:
            raise ValueError(f"observe_only: the plan says it changes nothing, but {changing[0]} changes the world; "
                             "remove observe_only or the step")
        if not self.observe_only and not changing:
            raise ValueError("phases: no step changes anything, so this migration would migrate nothing; add the "
                             "steps that make the change, or say observe_only: true to only baseline and watch")
        return self

