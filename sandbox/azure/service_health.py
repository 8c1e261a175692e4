"""Azure Service Health and Resource Health of the sandbox, derived from its faults.

Why derived, not canned: an incident runbook asks two questions of Azure before failing over
(SRE handbook, "DR Runbook", Decision): is this a full region outage or a partial one, and when
does Azure expect it resolved? The answers are only worth testing if they follow what the
sandbox really broke, so:

- every ``region_outage`` fault is a Service Health **event** (``Microsoft.ResourceHealth/events``,
  ``eventType: ServiceIssue``): Active while the fault stands, Resolved (with
  ``impactMitigationTime``) once it is cleared; its ``impact`` lists the region's services (SQL
  Database, Storage, App Service) with that region, and its ``impactStartTime`` is the injection;
- each resource's **availability status** (``Microsoft.ResourceHealth/availabilityStatuses``):
  Unavailable while its region is out (``reasonType: Unplanned``, ``healthEventId`` the event's
  tracking id), a web app Unavailable / Degraded under an ``error_rate`` fault of 1.0 / less (its
  data tier still Available: a partial outage), Available otherwise.

The expected resolution: Service Health's event model has no ETA field (Azure writes it in the
update text); Resource Health's availability status has one, ``resolutionETA`` ("when the issue
is expected to be resolved"), on resources Unavailable for a platform reason. So the sandbox puts
the ETA there (and says it in the event's summary, as Azure's text does). A test sets it per
region (:meth:`ServiceHealth.set_eta`, admin ``PUT /service-health/{region}``): seconds after the
outage's start, or None for no ETA published (the default); changing it while the outage lasts is
an ETA that slips. ``clear`` (the sandbox's reset) forgets the ETAs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from .clock import Clock, iso
from .faults import FaultRegistry
from .topology import DISPLAY_NAMES, REGIONS

SERVICES = ("SQL Database", "Storage", "App Service")
"""What a region outage of the sandbox takes down, as Service Health names the services."""


@dataclass(frozen=True)
class HealthEvent:
    """One service issue: a ``region_outage`` fault, as Service Health reports it."""

    tracking_id: str
    region: str
    started_at: float
    resolved_at: float | None
    eta: float | None  # expected resolution (epoch seconds); None: no ETA published

    @property
    def active(self) -> bool:
        return self.resolved_at is None


@dataclass(frozen=True)
class ResourceHealth:
    """One resource's availability: Available, Unavailable or Degraded, and why."""

    resource_id: str
    location: str
    state: str
    summary: str
    event: HealthEvent | None = None


class ServiceHealth:
    """The events and availability statuses the sandbox's ARM endpoint serves."""

    def __init__(self, faults: FaultRegistry, clock: Clock) -> None:
        self.faults = faults
        self.clock = clock
        self._lock = threading.Lock()
        self._eta: dict[str, float | None] = {}

    def set_eta(self, region: str, seconds: float | None) -> None:
        """Azure's expected resolution of ``region``'s outage: ``seconds`` after it started (None: none)."""
        if region not in REGIONS:
            raise ValueError(f"region {region!r}: one of {', '.join(REGIONS)}")
        if seconds is not None and not 0 < seconds <= 30 * 86400:
            raise ValueError("eta_seconds must be positive and at most 30 days (or null: no ETA)")
        with self._lock:
            self._eta[region] = seconds

    def clear(self) -> None:
        with self._lock:
            self._eta.clear()

    def events(self) -> list[HealthEvent]:
        """Every region outage so far (active and resolved), newest first."""
        with self._lock:
            etas = dict(self._eta)
        found = []
        for fault in self.faults.list(include_cleared=True):
            if fault["kind"] != "region_outage":
                continue
            started, eta = fault["injected_at_epoch"], etas.get(fault["region"])
            number = fault["id"].rsplit("-", 1)[-1]
            found.append(HealthEvent(tracking_id=f"SB_{number}-{fault['region'][:4].upper()}", region=fault["region"],
                                     started_at=started, resolved_at=fault["cleared_at_epoch"],
                                     eta=None if eta is None else started + eta))
        return sorted(found, key=lambda e: e.started_at, reverse=True)

    def active_event(self, region: str) -> HealthEvent | None:
        return next((e for e in self.events() if e.active and e.region == region), None)

    def availability(self, resource_id: str, location: str, *, app: bool = False) -> ResourceHealth:
        """The resource's availability now; ``app``: a web app (``error_rate`` faults count)."""
        event = self.active_event(location)
        if event is not None:
            return ResourceHealth(resource_id, location, "Unavailable",
                                  f"An Azure service issue in {DISPLAY_NAMES.get(location, location)} "
                                  "is affecting this resource", event)
        rate = self.faults.error_rate(location) if app else 0.0
        if rate >= 1.0:
            return ResourceHealth(resource_id, location, "Unavailable", "The app answers every request with an error")
        if rate > 0.0:
            return ResourceHealth(resource_id, location, "Degraded", f"The app fails {rate:.0%} of its requests")
        return ResourceHealth(resource_id, location, "Available", "There aren't any known Azure platform problems "
                              "affecting this resource")

    def summary(self) -> dict[str, Any]:
        """For the admin API: the events and the ETAs set."""
        with self._lock:
            etas = dict(self._eta)
        return {"eta_seconds": etas, "events": [{"tracking_id": e.tracking_id, "region": e.region,
                                                 "status": "Active" if e.active else "Resolved",
                                                 "impact_start": iso(e.started_at),
                                                 "resolution_eta": iso(e.eta) if e.eta is not None else None}
                                                for e in self.events()]}
