"""The plan file as a pydantic model: one migration, its service, policy and four phases."""

from __future__ import annotations

import re
from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from odin_drills.plan.journeys import MetricSourceSpec, SmokeJourney
from odin_drills.plan.steps import Step
from odin_drills.plan.policy import Policy

PHASES = ("t-1w", "t0", "t+1h", "t+24h")
"""Phase names in order. Their offsets from the cut-over (T-0) are fixed by the names."""

PHASE_OFFSETS = {"t-1w": -7 * 86400.0, "t0": 0.0, "t+1h": 3600.0, "t+24h": 86400.0}

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


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
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)") from None
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
        return self

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (aware) falls in the window; daily windows may cross midnight."""
        if isinstance(self.start, datetime) and isinstance(self.end, datetime):
            return self.start <= moment < self.end
        local = moment.astimezone(ZoneInfo(self.timezone))
        names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        t = local.time().replace(tzinfo=None)
        start, end = self.start, self.end
        assert isinstance(start, time) and isinstance(end, time)
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


class AzureTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["azure"]
    subscription_id: str = Field(min_length=1)
    production: bool = Field(
        default=False, description="production targets need --allow-production on the command line"
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
    smoke: list[SmokeJourney] = Field(default_factory=list)
    policy: Policy = Field(default_factory=Policy)
    change_window: ChangeWindow | None = None
    phases: Phases = Field(default_factory=Phases)

    @field_validator("name", "environment")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} must be lower-case letters, digits and dashes (max 63)")
        return value

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
        return self

