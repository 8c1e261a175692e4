"""Injected faults: extra error rate and added latency on one version, from a given time.

A drill needs to break the new version on cue - "green starts failing 30 s into the canary" -
to prove the gate notices and the rollback runs. A fault is added to the ``FaultBook``; every
request a version serves asks the book for the combined effect of the faults active on it now.
Several faults on one version combine as independent failures (error rates: 1 - Π(1 - e)) and
additive delays (latencies add up). A fault can start later (``start_after_seconds`` or an
ISO-8601 ``start_at``) and end by itself (``duration_seconds``). Times are kept on the loop's
monotonic clock so a wall-clock jump cannot start or stop a fault.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InvalidFault

VERSIONS: tuple[str, str] = ("blue", "green")
VersionName = Literal["blue", "green"]


class FaultSpec(BaseModel):
    """What a caller asks for: the payload of ``POST /_admin/faults``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: VersionName
    error_rate: float = Field(0.0, ge=0.0, le=1.0, description="extra probability of a 500")
    latency_ms: float = Field(0.0, ge=0.0, le=60_000.0, description="added to every response")
    start_after_seconds: float | None = Field(None, ge=0.0)
    start_at: datetime | None = Field(None, description="ISO-8601; a naive time is taken as UTC")
    duration_seconds: float | None = Field(None, gt=0.0, description="ends by itself; None: until cleared")

    @model_validator(mode="after")
    def _is_meaningful(self) -> FaultSpec:
        if self.error_rate == 0.0 and self.latency_ms == 0.0:
            raise ValueError("a fault needs error_rate > 0 or latency_ms > 0")
        if self.start_after_seconds is not None and self.start_at is not None:
            raise ValueError("give start_after_seconds or start_at, not both")
        return self


def parse_fault(payload: object) -> FaultSpec:
    """Validate a fault payload; raises ``InvalidFault`` naming every problem."""
    if not isinstance(payload, dict):
        raise InvalidFault([f"the body must be a JSON object, got {type(payload).__name__}"])
    try:
        return FaultSpec.model_validate(payload)
    except ValidationError as exc:
        raise InvalidFault.from_validation_error(exc) from None


@dataclass(frozen=True, slots=True)
class FaultEffect:
    """The combined effect of the faults active on one version at one moment."""

    error_rate: float = 0.0
    latency_ms: float = 0.0


NO_EFFECT = FaultEffect()


@dataclass(frozen=True, slots=True)
class Fault:
    id: str
    spec: FaultSpec
    starts: float  # loop clock
    ends: float | None  # loop clock
    starts_at: datetime  # UTC, for people
    ends_at: datetime | None

    def state(self, now: float) -> Literal["pending", "active", "expired"]:
        if now < self.starts:
            return "pending"
        if self.ends is not None and now >= self.ends:
            return "expired"
        return "active"

    def as_json(self, now: float) -> dict[str, object]:
        return {
            "id": self.id,
            "version": self.spec.version,
            "error_rate": self.spec.error_rate,
            "latency_ms": self.spec.latency_ms,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "state": self.state(now),
        }


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class FaultBook:
    """The faults in force, per version. Used from the demo's event loop thread only."""

    def __init__(self, clock: Callable[[], float], wall_clock: Callable[[], datetime] = _utcnow) -> None:
        self._clock = clock
        self._wall_clock = wall_clock
        self._faults: dict[str, list[Fault]] = {version: [] for version in VERSIONS}
        self._ids = itertools.count(1)

    def add(self, spec: FaultSpec) -> Fault:
        now, wall = self._clock(), self._wall_clock()
        if spec.start_at is not None:
            start_at = spec.start_at if spec.start_at.tzinfo else spec.start_at.replace(tzinfo=timezone.utc)
            delay = (start_at - wall).total_seconds()  # may be negative: already started
        else:
            delay = spec.start_after_seconds or 0.0
        starts_at = wall + timedelta(seconds=delay)
        ends_at = None if spec.duration_seconds is None else starts_at + timedelta(seconds=spec.duration_seconds)
        fault = Fault(
            id=f"fault-{next(self._ids)}",
            spec=spec,
            starts=now + delay,
            ends=None if spec.duration_seconds is None else now + delay + spec.duration_seconds,
            starts_at=starts_at,
            ends_at=ends_at,
        )
        self._faults[spec.version].append(fault)
        return fault

    def remove(self, fault_id: str) -> bool:
        for faults in self._faults.values():
            for fault in faults:
                if fault.id == fault_id:
                    faults.remove(fault)
                    return True
        return False

    def clear(self) -> int:
        cleared = sum(len(faults) for faults in self._faults.values())
        for faults in self._faults.values():
            faults.clear()
        return cleared

    def all(self) -> list[Fault]:
        return sorted((f for faults in self._faults.values() for f in faults), key=lambda f: int(f.id.split("-")[1]))

    def describe(self, fault: Fault) -> dict[str, object]:
        return fault.as_json(self._clock())

    def as_json(self) -> list[dict[str, object]]:
        now = self._clock()
        return [fault.as_json(now) for fault in self.all()]

    def effect(self, version: str, now: float) -> FaultEffect:
        faults = self._faults.get(version)
        if not faults:
            return NO_EFFECT
        survive, latency = 1.0, 0.0
        for fault in faults:
            if fault.starts <= now and (fault.ends is None or now < fault.ends):
                survive *= 1.0 - fault.spec.error_rate
                latency += fault.spec.latency_ms
        if survive == 1.0 and latency == 0.0:
            return NO_EFFECT
        return FaultEffect(error_rate=1.0 - survive, latency_ms=latency)
