"""Injected faults: what breaks, since when, and how many more times.

A drill needs to break Azure on cue — a region goes dark, ARM throttles, a failover operation
fails — and then needs to know *when* it broke, because the injection time is the ground truth
the measured RTO is checked against. Every fault is validated at the boundary (pydantic; an
invalid body is a 400 with the reason), stamped with its injection time and kept in a history
that survives ``clear()`` (a cleared or used-up fault keeps ``cleared_at``).

Kinds (``kind`` selects the model):

- ``region_outage`` {region}: the region's app refuses connections, its SQL server answers ARM
  with 503, its storage copy stops; replication to or from it stops.
- ``error_rate`` {region, rate}: the region's app answers 500 with that probability.
- ``latency`` {region, ms}: the region's app answers that much later.
- ``arm_throttle`` {count, retry_after}: the next *count* ARM requests get 429 + Retry-After.
- ``arm_error`` {status, count, retry_after?}: the next *count* ARM requests get that status.
- ``operation_failure`` {operation, code?, message?, count?}: matching long-running operations
  end Failed (all of them until cleared, or the next *count*).
- ``slow_operations`` {seconds, operation?}: long-running operations take that long.
- ``dns_stale`` {zone?}: the DNS responder keeps answering the zone (or every zone) as it was when
  the fault was injected: a change that never propagates. ARM shows the changes as usual.

``arm_throttle`` and ``arm_error`` take an optional ``method`` (e.g. ``"POST"``) and
``path_contains`` so a test can throttle only the mutation it is watching.

The registry shares the world's lock (one lock, no ordering to get wrong) and calls hooks around
every change: the world advances replication to the instant before and after, so an outage
stops replication exactly when it was injected.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .clock import Clock, iso

Region = Literal["eastus", "westus"]

OperationName = Literal[
    "failover",
    "forceFailoverAllowDataLoss",
    "tryPlannedBeforeForcedFailover",
    "failoverGroupCreateOrUpdate",
    "storage_failover",
    "origin_update",
    "origin_group_update",
    "blobRangesRestore",
]
"""Names of the sandbox's long-running operations, as the operations log shows them."""


class _Fault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionOutage(_Fault):
    kind: Literal["region_outage"]
    region: Region


class ErrorRate(_Fault):
    kind: Literal["error_rate"]
    region: Region
    rate: float = Field(ge=0.0, le=1.0)


class Latency(_Fault):
    kind: Literal["latency"]
    region: Region
    ms: int = Field(ge=0, le=120_000)


class ArmThrottle(_Fault):
    kind: Literal["arm_throttle"]
    count: int = Field(1, ge=1, le=1000)
    retry_after: int = Field(1, ge=0, le=3600, description="seconds, sent as Retry-After")
    method: str | None = Field(None, description="only requests with this HTTP method")
    path_contains: str | None = Field(None, description="only requests whose path contains this")


class ArmFailure(_Fault):
    kind: Literal["arm_error"]
    status: int = Field(ge=400, le=599)
    count: int = Field(1, ge=1, le=1000)
    retry_after: int | None = Field(None, ge=0, le=3600)
    method: str | None = None
    path_contains: str | None = None


class OperationFailure(_Fault):
    kind: Literal["operation_failure"]
    operation: OperationName
    code: str = Field("OperationFailed", min_length=1)
    message: str | None = None
    count: int | None = Field(None, ge=1, description="None: every matching operation until cleared")


class SlowOperations(_Fault):
    kind: Literal["slow_operations"]
    seconds: float = Field(ge=0.0, le=3600.0)
    operation: OperationName | None = None


class DnsStale(_Fault):
    kind: Literal["dns_stale"]
    zone: str | None = Field(None, description="None: every zone")


FaultSpec = Annotated[
    Union[RegionOutage, ErrorRate, Latency, ArmThrottle, ArmFailure, OperationFailure, SlowOperations, DnsStale],
    Field(discriminator="kind"),
]
_SPEC = TypeAdapter(FaultSpec)


class InvalidFault(ValueError):
    """A fault body that does not describe a fault; the message says why (admin API: 400)."""


def parse_fault(body: Any) -> FaultSpec:
    """Validate a fault body (a mapping or an already-built model)."""
    if isinstance(body, _Fault):
        return body  # type: ignore[return-value]
    if not isinstance(body, Mapping):
        raise InvalidFault("a fault is a JSON object with a 'kind'")
    try:
        return _SPEC.validate_python(dict(body))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors())
        raise InvalidFault(f"invalid fault: {problems}") from None


@dataclass
class ArmRejection:
    """What the ARM front door answers instead of the request."""

    status: int
    code: str
    message: str
    retry_after: int | None


@dataclass
class _Active:
    id: str
    spec: FaultSpec
    injected_at: float
    remaining: int | None
    cleared_at: float | None = None
    cleared_because: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.spec.model_dump(),
            "injected_at": iso(self.injected_at),
            "injected_at_epoch": self.injected_at,
            "remaining": self.remaining,
            "active": self.cleared_at is None,
            "cleared_at": iso(self.cleared_at) if self.cleared_at is not None else None,
            "cleared_at_epoch": self.cleared_at,
            "cleared_because": self.cleared_because,
        }


_STATUS_CODES = {500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable",
                 504: "GatewayTimeout", 400: "BadRequest", 404: "NotFound", 409: "Conflict"}


class FaultRegistry:
    """The faults in force, the history of all faults, and the questions the servers ask."""

    def __init__(self, lock: threading.RLock, clock: Clock) -> None:
        self._lock = lock
        self._clock = clock
        self._faults: list[_Active] = []
        self._counter = 0
        self._around_change: list[Callable[[], None]] = []
        self._after_change: list[Callable[[], None]] = []

    def on_change(self, around: Callable[[], None] | None = None,
                  after: Callable[[], None] | None = None) -> None:
        """``around`` runs under the lock just before and just after a change; ``after`` once
        the change is done, outside the lock (it must not block: it should only signal)."""
        if around is not None:
            self._around_change.append(around)
        if after is not None:
            self._after_change.append(after)

    # --- changes ---------------------------------------------------------------------------
    def add(self, body: Any) -> dict[str, Any]:
        """Inject a fault now; returns it as ``GET /faults`` shows it (with ``injected_at``)."""
        spec = parse_fault(body)
        with self._lock:
            self._run_around()
            self._counter += 1
            remaining = getattr(spec, "count", None)
            fault = _Active(f"fault-{self._counter}", spec, self._clock(), remaining)
            self._faults.append(fault)
            self._run_around()
            shown = fault.to_dict()
        self._run_after()
        return shown

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            found = next((f for f in self._faults if f.id == fault_id and f.cleared_at is None), None)
            if found is not None:
                self._run_around()
                found.cleared_at, found.cleared_because = self._clock(), "removed"
                self._run_around()
        if found is not None:
            self._run_after()
        return found is not None

    def clear(self) -> int:
        """End every active fault (history is kept); returns how many were active."""
        with self._lock:
            active = [f for f in self._faults if f.cleared_at is None]
            if active:
                self._run_around()
                now = self._clock()
                for fault in active:
                    fault.cleared_at, fault.cleared_because = now, "cleared"
                self._run_around()
        if active:
            self._run_after()
        return len(active)

    def forget(self) -> None:
        """Drop faults and history alike (``POST /reset``)."""
        with self._lock:
            self._run_around()
            self._faults.clear()
            self._run_around()
        self._run_after()

    def list(self, include_cleared: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults if include_cleared or f.cleared_at is None]

    # --- questions -------------------------------------------------------------------------
    def _active(self, kind: type) -> list[_Active]:
        return [f for f in self._faults if f.cleared_at is None and isinstance(f.spec, kind)]

    def region_down(self, region: str) -> bool:
        with self._lock:
            return any(f.spec.region == region for f in self._active(RegionOutage))

    def error_rate(self, region: str) -> float:
        """Several error-rate faults combine as independent failures: 1 - Π(1 - rate)."""
        with self._lock:
            ok = 1.0
            for fault in self._active(ErrorRate):
                if fault.spec.region == region:
                    ok *= 1.0 - fault.spec.rate
            return 1.0 - ok

    def latency_ms(self, region: str) -> int:
        with self._lock:
            return sum(f.spec.ms for f in self._active(Latency) if f.spec.region == region)

    def take_arm_rejection(self, method: str, path: str) -> ArmRejection | None:
        """Consume one count of the oldest matching throttle/error fault, if any."""
        with self._lock:
            for fault in self._faults:
                spec = fault.spec
                if fault.cleared_at is not None or not isinstance(spec, (ArmThrottle, ArmFailure)):
                    continue
                if spec.method and spec.method.upper() != method.upper():
                    continue
                if spec.path_contains and spec.path_contains.lower() not in path.lower():
                    continue
                self._use_one(fault)
                if isinstance(spec, ArmThrottle):
                    return ArmRejection(429, "TooManyRequests",
                                        "The request was throttled (injected arm_throttle fault).",
                                        spec.retry_after)
                code = _STATUS_CODES.get(spec.status, "InjectedError")
                return ArmRejection(spec.status, code,
                                    f"Injected arm_error fault: HTTP {spec.status}.", spec.retry_after)
            return None

    def take_operation_failure(self, operation: str) -> tuple[str, str] | None:
        """Should this operation end Failed? Consumes a count when the fault has one."""
        with self._lock:
            for fault in self._active(OperationFailure):
                if fault.spec.operation == operation:
                    self._use_one(fault)
                    message = fault.spec.message or (
                        f"The operation '{operation}' failed (injected operation_failure fault).")
                    return fault.spec.code, message
            return None

    def operation_seconds(self, operation: str) -> float | None:
        """The longest ``slow_operations`` duration that applies, if any."""
        with self._lock:
            seconds = [f.spec.seconds for f in self._active(SlowOperations)
                       if f.spec.operation in (None, operation)]
            return max(seconds) if seconds else None

    def dns_frozen_at(self, zone: str) -> float | None:
        """When the oldest ``dns_stale`` fault on ``zone`` was injected (its answers stay as then)."""
        with self._lock:
            times = [f.injected_at for f in self._active(DnsStale)
                     if f.spec.zone is None or f.spec.zone.rstrip(".").lower() == zone.lower()]
            return min(times) if times else None

    # --- internals ---------------------------------------------------------------------------
    def _use_one(self, fault: _Active) -> None:
        if fault.remaining is None:
            return
        fault.remaining -= 1
        if fault.remaining <= 0:
            fault.cleared_at, fault.cleared_because = self._clock(), "used up"

    def _run_around(self) -> None:
        for hook in self._around_change:
            hook()

    def _run_after(self) -> None:
        for hook in self._after_change:
            hook()
