"""The Front Door profile: endpoint, route, origin group, two origins, and what the edge sees.

Every origin and origin group keeps two sets of routing settings, because Azure shows two: what
ARM returns at once after a PATCH (``provisioningState: Updating``), and what the edge routes
by, which changes only when the update's operation has *deployed* it. A drill that disables an
origin and immediately probes the endpoint must see the old routing until then; a failed update
rolls ARM's view back and leaves ``provisioningState: Failed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import ArmError
from .operations import Operation
from .topology import seeded_uuid
from .world_base import WorldBase

# ARM property → ``Origin`` attribute: the origin settings the sandbox models (and routes by).
ROUTING_FIELDS = {"enabledState": "enabled_state", "priority": "priority", "weight": "weight",
                  "hostName": "host_name", "httpPort": "http_port", "httpsPort": "https_port",
                  "originHostHeader": "origin_host_header",
                  "enforceCertificateNameCheck": "enforce_certificate_name_check"}


@dataclass
class Origin:
    name: str
    region: str
    host_name: str
    http_port: int
    priority: int
    weight: int
    enabled_state: str = "Enabled"
    https_port: int = 443
    origin_host_header: str = "127.0.0.1"
    enforce_certificate_name_check: bool = True
    provisioning_state: str = "Succeeded"
    busy_with: str | None = None
    deployed: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        return {attr: getattr(self, attr) for attr in ROUTING_FIELDS.values()}


@dataclass
class OriginGroup:
    name: str
    origins: dict[str, Origin]
    health_probe: dict[str, Any]
    load_balancing: dict[str, Any]
    restoration_minutes: int = 10
    authentication: dict[str, Any] | None = None
    provisioning_state: str = "Succeeded"
    busy_with: str | None = None
    deployed: dict[str, Any] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        return {"health_probe": dict(self.health_probe), "load_balancing": dict(self.load_balancing)}


@dataclass
class FrontDoor:
    profile: str
    front_door_id: str
    endpoint: str
    endpoint_host: str
    route: str
    route_origin_group: str
    origin_groups: dict[str, OriginGroup]
    sku: str = "Standard_AzureFrontDoor"


@dataclass(frozen=True)
class EdgeTarget:
    """One origin as the edge routes to it: the *deployed* settings."""

    name: str
    region: str
    url: str
    priority: int
    weight: int
    enabled: bool


@dataclass(frozen=True)
class EdgeView:
    """What the edge needs to route and probe, read in one go."""

    targets: tuple[EdgeTarget, ...]
    probe_path: str
    probe_method: str
    sample_size: int
    successful_samples_required: int


class FrontDoorRules(WorldBase):
    """The profile, its origin group and origins, their updates, and the edge's view of them."""

    frontdoor: FrontDoor

    # ===================================================================== estate
    def _reset_frontdoor(self) -> None:
        """Both regions' demo apps as origins, the primary region at priority 1; all deployed."""
        t = self.topology
        origins = {}
        for priority, region in enumerate((t.primary_region, t.secondary_region), start=1):
            host, port = self.app_endpoints[region]
            origin = Origin(name=t.origins[region], region=region, host_name=host,
                            http_port=port, priority=priority, weight=1000, origin_host_header=host)
            origin.deployed = origin.settings()
            origins[origin.name] = origin
        group = OriginGroup(
            name=t.origin_group, origins=origins,
            health_probe={"probePath": "/health", "probeRequestType": "HEAD",
                          "probeProtocol": "Http",
                          "probeIntervalInSeconds": max(1, round(self.probe_interval_seconds))},
            load_balancing={"sampleSize": 4, "successfulSamplesRequired": 3,
                            "additionalLatencyInMilliseconds": 50})
        group.deployed = group.settings()
        self.frontdoor = FrontDoor(
            profile=t.frontdoor_profile, front_door_id=seeded_uuid(self.seed, "frontdoor"),
            endpoint=t.frontdoor_endpoint,
            endpoint_host=f"{t.frontdoor_endpoint}-{seeded_uuid(self.seed, 'edge')[:13].replace('-', '')}.z01.azurefd.net",
            route=t.frontdoor_route, route_origin_group=t.origin_group,
            origin_groups={group.name: group})

    def _frontdoor_summary(self) -> dict[str, Any]:
        og = self.frontdoor.origin_groups[self.frontdoor.route_origin_group]
        return {o.name: {"region": o.region, "enabledState": o.deployed["enabled_state"],
                         "priority": o.deployed["priority"], "weight": o.deployed["weight"],
                         "provisioningState": o.provisioning_state} for o in og.origins.values()}

    # ===================================================================== reading
    def cdn_profile(self, name: str) -> FrontDoor:
        with self.lock:
            self.advance()
            if self.frontdoor.profile.lower() != name.lower():
                raise ArmError(404, "ResourceNotFound", f"Profile '{name}' was not found.")
            return self.frontdoor

    def origin_group(self, profile: str, name: str) -> OriginGroup:
        with self.lock:
            group = self._find(self.cdn_profile(profile).origin_groups, name)
            if group is None:
                raise ArmError(404, "ResourceNotFound", f"Origin group '{name}' was not found.")
            return group

    def origin(self, profile: str, group: str, name: str) -> Origin:
        with self.lock:
            origin = self._find(self.origin_group(profile, group).origins, name)
            if origin is None:
                raise ArmError(404, "ResourceNotFound", f"Origin '{name}' was not found.")
            return origin

    def edge_view(self) -> EdgeView:
        """The deployed routing of the endpoint's route, for the edge proxy and its probes."""
        with self.lock:
            self.advance()
            og = self.frontdoor.origin_groups[self.frontdoor.route_origin_group]
            probe = og.deployed["health_probe"]
            lb = og.deployed["load_balancing"]
            method = str(probe.get("probeRequestType") or "HEAD").upper()
            targets = tuple(
                EdgeTarget(name=o.name, region=o.region,
                           url=f"http://{o.deployed['host_name']}:{o.deployed['http_port']}",
                           priority=int(o.deployed["priority"]), weight=int(o.deployed["weight"]),
                           enabled=o.deployed["enabled_state"] == "Enabled")
                for o in og.origins.values())
            return EdgeView(targets=targets, probe_path=str(probe.get("probePath") or "/"),
                            probe_method="GET" if method == "GET" else "HEAD",
                            sample_size=int(lb.get("sampleSize") or 4),
                            successful_samples_required=int(lb.get("successfulSamplesRequired") or 3))

    # ===================================================================== updates
    def begin_origin_update(self, profile: str, group: str, name: str, body: Any) -> Operation:
        """PATCH an origin: the new values show at once in ARM (provisioningState Updating);
        the edge routes by them once the operation has deployed them."""
        op_name = "origin_update"
        with self.lock:
            og = self.origin_group(profile, group)
            origin = self.origin(profile, group, name)
            changes = _origin_changes(body)
            resource_id = self.topology.origin_id(self.frontdoor.profile, og.name, origin.name)
            if origin.busy_with is not None:
                self._refuse(op_name, resource_id, 409, "Conflict",
                             f"Another update ({origin.busy_with}) of origin '{origin.name}' is in progress.",
                             {"changes": changes})
            before = origin.settings()
            for key, value in changes.items():
                setattr(origin, ROUTING_FIELDS[key], value)
            origin.provisioning_state = "Updating"

            def apply(at: float) -> None:
                origin.deployed = origin.settings()
                origin.provisioning_state = "Succeeded"

            def release() -> None:
                origin.busy_with = None
                if op.status != "Succeeded":
                    for attr, value in before.items():
                        setattr(origin, attr, value)
                    origin.provisioning_state = "Failed"

            op = self.operations.start(
                name=op_name, resource_id=resource_id, location="global", provider="Microsoft.Cdn",
                now=self.clock(), seconds=self._seconds(op_name), apply=apply, release=release,
                details={"changes": changes})
            origin.busy_with = op.id
            return op

    def begin_origin_group_update(self, profile: str, group: str, body: Any) -> Operation:
        """PATCH an origin group's probe and load-balancing settings; deployed like an origin's."""
        op_name = "origin_group_update"
        with self.lock:
            og = self.origin_group(profile, group)
            changes = _origin_group_changes(body)
            resource_id = self.topology.origin_group_id(self.frontdoor.profile, og.name)
            if og.busy_with is not None:
                self._refuse(op_name, resource_id, 409, "Conflict",
                             f"Another update ({og.busy_with}) of origin group '{og.name}' is in progress.")
            before = (dict(og.health_probe), dict(og.load_balancing), og.restoration_minutes, og.authentication)
            if "healthProbeSettings" in changes:
                og.health_probe.update(changes["healthProbeSettings"] or {})
            if "loadBalancingSettings" in changes:
                og.load_balancing.update(changes["loadBalancingSettings"] or {})
            lb = og.load_balancing
            if lb["successfulSamplesRequired"] > lb["sampleSize"]:
                og.health_probe, og.load_balancing, og.restoration_minutes, og.authentication = before
                raise ArmError(400, "BadRequest",
                               "successfulSamplesRequired cannot exceed sampleSize.")
            if "trafficRestorationTimeToHealedOrNewEndpointsInMinutes" in changes:
                og.restoration_minutes = changes["trafficRestorationTimeToHealedOrNewEndpointsInMinutes"]
            if "authentication" in changes:
                og.authentication = changes["authentication"]
            og.provisioning_state = "Updating"

            def apply(at: float) -> None:
                og.deployed = og.settings()
                og.provisioning_state = "Succeeded"

            def release() -> None:
                og.busy_with = None
                if op.status != "Succeeded":
                    og.health_probe, og.load_balancing, og.restoration_minutes, og.authentication = before
                    og.provisioning_state = "Failed"

            op = self.operations.start(
                name=op_name, resource_id=resource_id, location="global", provider="Microsoft.Cdn",
                now=self.clock(), seconds=self._seconds(op_name), apply=apply, release=release,
                details={"changes": changes})
            og.busy_with = op.id
            return op


def _origin_changes(body: Any) -> dict[str, Any]:
    """The modelled properties of an origin PATCH, validated as ARM does; the rest is ignored."""
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict) or not props:
        raise ArmError(400, "BadRequest", "The request body must hold the changed 'properties'.")
    changes: dict[str, Any] = {}
    for key, value in props.items():
        if key not in ROUTING_FIELDS:
            continue  # ARM ignores properties this sandbox does not model (e.g. azureOrigin)
        if key == "enabledState" and value not in ("Enabled", "Disabled"):
            raise ArmError(400, "BadRequest", "enabledState must be 'Enabled' or 'Disabled'.")
        if key == "priority" and not (isinstance(value, int) and 1 <= value <= 5):
            raise ArmError(400, "BadRequest", "priority must be an integer from 1 to 5.")
        if key == "weight" and not (isinstance(value, int) and 1 <= value <= 1000):
            raise ArmError(400, "BadRequest", "weight must be an integer from 1 to 1000.")
        if key in ("httpPort", "httpsPort") and not (isinstance(value, int) and 1 <= value <= 65535):
            raise ArmError(400, "BadRequest", f"{key} must be a port number.")
        if key in ("hostName", "originHostHeader") and not (isinstance(value, str) and value):
            raise ArmError(400, "BadRequest", f"{key} must be a non-empty string.")
        if key == "enforceCertificateNameCheck" and not isinstance(value, bool):
            raise ArmError(400, "BadRequest", "enforceCertificateNameCheck must be a boolean.")
        changes[key] = value
    if not changes:
        raise ArmError(400, "BadRequest",
                       f"Nothing to update: the sandbox models {sorted(ROUTING_FIELDS)} of an origin.")
    return changes


def _origin_group_changes(body: Any) -> dict[str, Any]:
    """The properties of an origin group PATCH, validated; ``None`` values leave a setting be."""
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict) or not props:
        raise ArmError(400, "BadRequest", "The request body must hold the changed 'properties'.")
    changes: dict[str, Any] = {}
    probe = props.get("healthProbeSettings")
    if "healthProbeSettings" in props:
        if probe is not None and not isinstance(probe, dict):
            raise ArmError(400, "BadRequest", "healthProbeSettings must be an object.")
        changes["healthProbeSettings"] = {k: v for k, v in (probe or {}).items() if v is not None}
    lb = props.get("loadBalancingSettings")
    if lb is not None:
        if not isinstance(lb, dict) or any(not isinstance(lb.get(k, 1), int) or lb.get(k, 1) < 0 for k in
                                           ("sampleSize", "successfulSamplesRequired",
                                            "additionalLatencyInMilliseconds")):
            raise ArmError(400, "BadRequest", "loadBalancingSettings holds non-negative integers.")
        if lb.get("sampleSize", 1) < 1 or lb.get("successfulSamplesRequired", 1) < 1:
            raise ArmError(400, "BadRequest", "sampleSize and successfulSamplesRequired must be >= 1.")
        changes["loadBalancingSettings"] = {k: v for k, v in lb.items() if v is not None}
    minutes = props.get("trafficRestorationTimeToHealedOrNewEndpointsInMinutes")
    if minutes is not None:
        if not isinstance(minutes, int) or not 0 <= minutes <= 50:
            raise ArmError(400, "BadRequest",
                           "trafficRestorationTimeToHealedOrNewEndpointsInMinutes must be 0..50.")
        changes["trafficRestorationTimeToHealedOrNewEndpointsInMinutes"] = minutes
    if "authentication" in props:
        changes["authentication"] = props["authentication"]
    if not changes:
        raise ArmError(400, "BadRequest", "Nothing to update in the origin group.")
    return changes
