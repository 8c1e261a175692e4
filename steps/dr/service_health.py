"""What Azure says about an outage of the primary region: Service Health and Resource Health.

The handbook's DR runbook decides a real outage on two questions (Decision: "Is this a full region
outage or partial?", "Azure Service Health ETA for resolution"). Both are read here, read-only,
through the real ``azure-mgmt-resourcehealth`` client (``steps.azure.clients``, so the sandbox and
Azure take the same path):

* ``events.list_by_subscription_id``: the newest *Active* ``ServiceIssue`` whose impact names the
  region (Service Health spells regions by display name, ``East US``; compared without case and
  spaces) — its tracking id, title, services, ``impactStartTime``;
* ``availability_statuses.list_by_resource_group`` for each resource group the plan's resources
  live in, kept to the resources located in the region: **full** when every one is Unavailable,
  **partial** when some are (or are Degraded), **none** when none is.

The expected resolution is Resource Health's ``resolutionETA`` on those Unavailable resources (the
event model of Service Health carries no ETA field; its text does): the latest one, since the
outage lasts until the last resource is back. None when Azure publishes none.

Reading never raises: Azure unreachable (connection refused, an HTTP error, no permission) is a
:class:`HealthReading` with ``reachable=False`` and the reason, so the caller says so and falls
back instead of deciding as if an ETA were known. The client retries little (one retry): a
decision cannot wait out a retry policy meant for background work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from odin_drills.plan.durations import human_duration

Scope = Literal["full", "partial", "none", "unknown"]
_STATUS_SUFFIX = "/providers/microsoft.resourcehealth/availabilitystatuses/current"
_SCOPE_WORDS = {"full": "full region outage", "partial": "partial outage", "none": "no resource unavailable",
                "unknown": "extent unknown"}


@dataclass(frozen=True)
class HealthReading:
    """One look at Azure's view of the region; ``reachable=False`` carries only ``error``."""

    region: str
    reachable: bool
    error: str | None = None
    event_id: str | None = None
    title: str | None = None
    services: list[str] = field(default_factory=list)
    impact_started_at: datetime | None = None
    resolution_eta: datetime | None = None
    unavailable: list[str] = field(default_factory=list)
    degraded: list[str] = field(default_factory=list)
    available: list[str] = field(default_factory=list)

    @property
    def scope(self) -> Scope:
        """Full or partial outage of the region's resources, by their availability."""
        if not self.reachable:
            return "unknown"
        total = len(self.unavailable) + len(self.degraded) + len(self.available)
        if self.unavailable and len(self.unavailable) == total:
            return "full"
        return "partial" if self.unavailable or self.degraded else "none"

    def scope_text(self) -> str:
        total = len(self.unavailable) + len(self.degraded) + len(self.available)
        words = _SCOPE_WORDS[self.scope]
        if not self.reachable:
            return words
        return (f"{words} ({len(self.unavailable)} of {total} {self.region} resources unavailable"
                + (f", {len(self.degraded)} degraded" if self.degraded else "") + ")")

    def expected_outage_seconds(self, scale: float = 1.0) -> float | None:
        """How long Azure expects the outage to last from its start, in plan seconds (Azure's times
        are wall-clock: under a rehearsal's scaled clock one wall second is ``scale`` plan seconds)."""
        if self.resolution_eta is None or self.impact_started_at is None:
            return None
        return max(0.0, (self.resolution_eta - self.impact_started_at).total_seconds()) * scale

    def journal_fields(self) -> dict[str, Any]:
        return {"region": self.region, "reachable": self.reachable, "error": self.error, "event_id": self.event_id,
                "title": self.title, "services": self.services, "impact_started_at": self.impact_started_at,
                "resolution_eta": self.resolution_eta, "scope": self.scope, "unavailable": self.unavailable,
                "degraded": self.degraded, "available": self.available}


def stakeholder_line(reading: HealthReading, scale: float = 1.0) -> str:
    """What Azure says, in the one line a stakeholder message quotes (incident mode): the event
    (title, tracking id), full or partial, and Azure's ETA exactly as Azure gave it. Never an ETA of
    ours: an outage without a published ETA says so, and an unreachable Service Health says that,
    because people plan their next hours on this line."""
    if not reading.reachable:
        return f"unreachable ({reading.error}): what Azure says of the outage and its ETA is not known"
    if reading.event_id:
        event = f"{reading.title} (tracking id {reading.event_id})" if reading.title else \
            f"tracking id {reading.event_id}"
    else:
        event = f"no active service issue reported for {reading.region}"
    return f"{event}; {_SCOPE_WORDS[reading.scope]}; {_eta_words(reading, scale)}"


def _eta_words(reading: HealthReading, scale: float) -> str:
    eta = reading.resolution_eta
    if eta is None:
        return "no ETA given by Azure"
    start = reading.impact_started_at
    when = eta.astimezone(timezone.utc)
    shown = f"{when:%H:%M} UTC" if start is None or start.astimezone(timezone.utc).date() == when.date() \
        else f"{when:%Y-%m-%d %H:%M} UTC"
    expected = reading.expected_outage_seconds(scale)
    return f"Azure's ETA {shown}" + (f" ({human_duration(expected)} after it began)" if expected is not None else "")


def same_region(name: str | None, region: str) -> bool:
    """``East US`` and ``eastus`` are one region."""
    return (name or "").replace(" ", "").lower() == region.replace(" ", "").lower()


def resource_groups(ids: list[str]) -> list[tuple[str, str]]:
    """(subscription, resource group) of each ARM id, in order, once each."""
    found: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for arm_id in ids:
        parts = arm_id.strip("/").split("/")
        if len(parts) >= 4 and parts[0].lower() == "subscriptions" and parts[2].lower() == "resourcegroups":
            if (parts[1].lower(), parts[3].lower()) not in seen:
                seen.add((parts[1].lower(), parts[3].lower()))
                found.append((parts[1], parts[3]))
    return found


def read_health(target: Any, region: str, groups: list[tuple[str, str]], *, now: datetime | None = None,
                **client_kwargs: Any) -> HealthReading:
    """Azure's view of ``region`` now; never raises (see the module)."""
    from odin_drills.steps.azure.clients import AzureSession

    try:
        with AzureSession(target, **{"retry_total": 1, "retry_backoff_factor": 0.2, **client_kwargs}) as session:
            return _read(session, region, groups, now or datetime.now(timezone.utc))
    except Exception as exc:  # noqa: BLE001 - unreachable is an answer: the caller falls back and says why
        return HealthReading(region=region, reachable=False, error=_failure(exc))


def _read(session: Any, region: str, groups: list[tuple[str, str]], now: datetime) -> HealthReading:
    day = now - timedelta(days=1)
    since = f"{day.month}/{day.day}/{day.year}"  # Service Health's queryStartTime: MM/DD/YYYY
    event = None
    for candidate in session.client("health").events.list_by_subscription_id(query_start_time=since):
        props = candidate.properties
        if props is None or _text(props.status) != "active" or _text(props.event_type) != "serviceissue":
            continue
        if any(same_region(r.impacted_region, region) for i in props.impact or [] for r in i.impacted_regions or []):
            if event is None or (props.impact_start_time or now) > (event.properties.impact_start_time or now):
                event = candidate
    unavailable, degraded, available, etas = [], [], [], []
    for subscription, group in groups or [(session.subscription_id, "")]:
        if not group:
            continue
        for status in session.client("health", subscription).availability_statuses.list_by_resource_group(group):
            if not same_region(status.location, region) or status.properties is None:
                continue
            name = _resource_name(status.id or "")
            state = _text(status.properties.availability_state)
            if state == "unavailable":
                unavailable.append(name)
                if status.properties.resolution_eta is not None:
                    etas.append(status.properties.resolution_eta)
            elif state == "degraded":
                degraded.append(name)
            else:
                available.append(name)
    props = event.properties if event is not None else None
    return HealthReading(
        region=region, reachable=True, event_id=event.name if event is not None else None,
        title=props.title if props else None,
        services=sorted({i.impacted_service for i in (props.impact or []) if i.impacted_service}) if props else [],
        impact_started_at=props.impact_start_time if props else None,
        resolution_eta=max(etas) if etas else None,
        unavailable=sorted(unavailable), degraded=sorted(degraded), available=sorted(available))


def _text(value: Any) -> str:
    """An SDK enum member or a plain string, lower-case (``str()`` of an enum member names the member)."""
    return str(getattr(value, "value", value) or "").lower()


def _resource_name(status_id: str) -> str:
    resource = status_id[:-len(_STATUS_SUFFIX)] if status_id.lower().endswith(_STATUS_SUFFIX) else status_id
    return resource.rstrip("/").rsplit("/", 1)[-1]


def _failure(exc: Exception) -> str:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    message = str(getattr(exc, "message", None) or exc).splitlines()[0][:200]
    return f"{exc.__class__.__name__}" + (f" (HTTP {status})" if status else "") + f": {message}"
