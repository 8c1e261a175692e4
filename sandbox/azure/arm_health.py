"""ARM routes for Microsoft.ResourceHealth: Service Health events and resources' availability, in
the shape of Microsoft's examples (``Events_ListBySubscriptionId.json``,
``AvailabilityStatuses_ListByResourceGroup.json``, api-version 2025-05-01, what
``azure-mgmt-resourcehealth`` 1.0.0 sends).

- ``GET /subscriptions/{sub}/providers/Microsoft.ResourceHealth/events``: the service issues
  (``service_health.ServiceHealth.events``), newest first; ``queryStartTime`` (``M/D/YYYY``, UTC)
  keeps the events still active or started on or after that day; one page;
- ``GET /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ResourceHealth/availabilityStatuses``:
  the current availability of each resource of the group (SQL servers and databases, storage
  accounts, App Service plans and web apps);
- ``GET {resourceId}/providers/Microsoft.ResourceHealth/availabilityStatuses/current``: one of them.

Kept beside ``arm_app`` like ``arm_alerts``: it shares only the front door (auth, faults, scope).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .clock import iso
from .errors import ArmError
from .service_health import SERVICES, HealthEvent, ResourceHealth, ServiceHealth
from .topology import DISPLAY_NAMES

if TYPE_CHECKING:
    from .arm_app import Call, Result
    from .world import World

Handler = Callable[["Call"], "Result"]

_PROVIDER = r"/providers/Microsoft\.ResourceHealth"
_EVENTS = r"^/subscriptions/(?P<sub>[^/]+)" + _PROVIDER + r"/events$"
_BY_GROUP = r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)" + _PROVIDER + r"/availabilityStatuses$"
_ONE = (r"^(?P<resource>/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/.+?)"
        + _PROVIDER + r"/availabilityStatuses/current$")


def health_routes(health: ServiceHealth, world: World) -> list[tuple[str, str, Handler]]:
    """``(method, path pattern, handler)`` for ``ArmApi``'s table."""
    subscription = world.topology.subscription_id

    def list_events(call: Call) -> Result:
        since = _query_start(next((v for k, v in call.query.items() if k.lower() == "querystarttime"), None))
        found = [e for e in health.events() if e.active or since is None or e.started_at >= since]
        return 200, {"value": [event_shape(e, subscription, health.clock()) for e in found]}, {}

    def list_by_group(call: Call) -> Result:
        return 200, {"value": [status_shape(r, health.clock()) for r in resources(health, world)]}, {}

    def get_one(call: Call) -> Result:
        wanted = call.params["resource"].rstrip("/").lower()
        found = next((r for r in resources(health, world) if r.resource_id.lower() == wanted), None)
        if found is None:
            raise ArmError(404, "ResourceNotFound", f"The resource '{call.params['resource']}' was not found.")
        return 200, status_shape(found, health.clock()), {}

    return [("GET", _EVENTS, list_events), ("GET", _BY_GROUP, list_by_group), ("GET", _ONE, get_one)]


def resources(health: ServiceHealth, world: World) -> list[ResourceHealth]:
    """Every resource of the sandbox's group with its region, as Resource Health sees it now."""
    t = world.topology
    found = []
    for region, server in t.sql_servers.items():
        found.append(health.availability(t.sql_server_id(server), region))
        found.append(health.availability(t.database_id(server, t.database), region))
    for account in world.storage_accounts.values():
        found.append(health.availability(t.storage_account_id(account.name), account.primary_region))
    for region, plan in t.app_service_plans.items():
        found.append(health.availability(t.app_service_plan_id(plan), region))
    for region, app in t.web_apps.items():
        found.append(health.availability(t.web_app_id(app), region, app=True))
    return found


def _query_start(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, "%m/%d/%Y").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise ArmError(400, "InvalidQueryStartTime",
                       f"queryStartTime '{text}' is not a date in the format MM/DD/YYYY.") from None


def event_shape(event: HealthEvent, subscription_id: str, now: float) -> dict[str, Any]:
    """One service issue in the published example's shape (the fields a reader decides on)."""
    region = DISPLAY_NAMES.get(event.region, event.region)
    status = "Active" if event.active else "Resolved"
    changed = event.resolved_at if event.resolved_at is not None else event.started_at
    if event.active:
        summary = (f"Starting at {iso(event.started_at)}, customers in {region} may experience failures connecting to "
                   "SQL Database, Storage and App Service. "
                   + (f"We expect to mitigate the issue by {iso(event.eta)}." if event.eta is not None else
                      "Engineers are investigating; an estimated time of resolution is not yet available."))
    else:
        summary = f"The service issue in {region} was mitigated at {iso(changed)}."
    update = {"summary": summary, "updateDateTime": iso(changed)}
    properties: dict[str, Any] = {
        "eventType": "ServiceIssue", "eventSource": "ServiceHealth", "status": status,
        "title": f"{status.upper()}: Multiple services in {region}", "summary": summary,
        "header": "Your service might have been impacted by an Azure service issue",
        "level": "Critical", "eventLevel": "Critical", "isHIR": False, "priority": 1 if event.active else 20,
        "impactStartTime": iso(event.started_at), "lastUpdateTime": iso(changed),
        "impact": [{"impactedService": service,
                    "impactedRegions": [{"impactedRegion": region, "status": status,
                                         "impactedSubscriptions": [subscription_id], "impactedTenants": [],
                                         "lastUpdateTime": iso(changed), "updates": [update]}]}
                   for service in SERVICES],
    }
    if event.resolved_at is not None:
        properties["impactMitigationTime"] = iso(event.resolved_at)
    return {"name": event.tracking_id, "type": "/providers/Microsoft.ResourceHealth/events",
            "id": f"/providers/Microsoft.ResourceHealth/events/{event.tracking_id}", "properties": properties}


def status_shape(health: ResourceHealth, now: float) -> dict[str, Any]:
    """One availability status in the published example's shape; an outage's carries its event and ETA."""
    properties: dict[str, Any] = {
        "availabilityState": health.state, "title": health.state, "summary": health.summary,
        "reasonType": "Unplanned", "reasonChronicity": "Persistent", "detailedStatus": health.summary,
        "occuredTime": iso(health.event.started_at if health.event else now), "reportedTime": iso(now),
    }
    event = health.event
    if event is not None:
        properties.update(context="Platform Initiated", category="Unplanned", healthEventId=event.tracking_id,
                          rootCauseAttributionTime=iso(event.started_at),
                          serviceImpactingEvents=[{
                              "eventStartTime": iso(event.started_at), "eventStatusLastModifiedTime": iso(event.started_at),
                              "correlationId": event.tracking_id, "status": {"value": "Active"},
                              "incidentProperties": {"title": f"Multiple services in {DISPLAY_NAMES.get(event.region)}",
                                                     "service": ", ".join(SERVICES),
                                                     "region": DISPLAY_NAMES.get(event.region, event.region),
                                                     "incidentType": "Outage"}}])
        if event.eta is not None:
            properties["resolutionETA"] = iso(event.eta)
    return {"id": f"{health.resource_id}/providers/Microsoft.ResourceHealth/availabilityStatuses/current",
            "name": "current", "type": "Microsoft.ResourceHealth/AvailabilityStatuses",
            "location": health.location, "properties": properties}
