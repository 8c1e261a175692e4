"""Front Door: the ARM resources through azure-mgmt-cdn, and the edge that routes real HTTP."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from odin_drills.sandbox.azure import AzureSandbox

from conftest import Arm, wait_until

PROFILE, GROUP, ENDPOINT, ROUTE = "odin-frontdoor", "app-origins", "odin-edge", "default-route"
EAST, WEST = "app-eastus", "app-westus"


def regions_served(http: httpx.Client, edge: str, count: int = 20) -> Counter:
    served = Counter()
    for _ in range(count):
        response = http.get(f"{edge}/health")
        served[(response.status_code, response.headers.get("x-odin-region"))] += 1
    return served


def patch_origin(arm: Arm, origin: str, **properties: object):
    return arm.cdn.afd_origins.begin_update(arm.rg, PROFILE, GROUP, origin, {"properties": properties}).result()


def test_profile_endpoint_route_origin_group_and_origins_are_readable(arm: Arm, sandbox: AzureSandbox):
    resources = sandbox.info()["resources"]
    profile = arm.cdn.profiles.get(arm.rg, PROFILE)
    assert (profile.kind, profile.sku.name, profile.location) == ("frontdoor", "Standard_AzureFrontDoor", "global")
    assert arm.cdn.afd_endpoints.get(arm.rg, PROFILE, ENDPOINT).properties.enabled_state == "Enabled"
    route = arm.cdn.routes.get(arm.rg, PROFILE, ENDPOINT, ROUTE)
    assert route.properties.origin_group.id.lower().endswith(f"/origingroups/{GROUP}")
    group = arm.cdn.afd_origin_groups.get(arm.rg, PROFILE, GROUP)
    assert group.id == resources["frontdoor_origin_groups"][0]
    assert group.properties.health_probe_settings.probe_path == "/health"
    assert [g.name for g in arm.cdn.afd_origin_groups.list_by_profile(arm.rg, PROFILE)] == [GROUP]
    origins = {o.name: o.properties for o in arm.cdn.afd_origins.list_by_origin_group(arm.rg, PROFILE, GROUP)}
    assert {n: (p.priority, p.weight, p.enabled_state) for n, p in origins.items()} == {
        EAST: (1, 1000, "Enabled"), WEST: (2, 1000, "Enabled")}
    east = arm.cdn.afd_origins.get(arm.rg, PROFILE, GROUP, EAST)
    assert f"http://{east.properties.host_name}:{east.properties.http_port}" == sandbox.info()["regions"]["eastus"]
    with pytest.raises(ResourceNotFoundError):
        arm.cdn.afd_origins.get(arm.rg, PROFILE, GROUP, "nope")


def test_disabling_the_primary_origin_moves_edge_traffic_to_the_other_region(
        arm: Arm, sandbox: AzureSandbox, http: httpx.Client):
    edge = sandbox.info()["frontdoor_url"]
    assert regions_served(http, edge) == {(200, "eastus"): 20}

    updated = patch_origin(arm, EAST, enabledState="Disabled")
    assert (updated.properties.enabled_state, updated.properties.provisioning_state) == ("Disabled", "Succeeded")
    assert arm.cdn.afd_origins.get(arm.rg, PROFILE, GROUP, EAST).properties.enabled_state == "Disabled"
    assert regions_served(http, edge) == {(200, "westus"): 20}
    response = http.get(f"{edge}/health")
    assert response.headers["x-odin-origin"] == WEST

    patch_origin(arm, EAST, enabledState="Enabled")
    assert regions_served(http, edge) == {(200, "eastus"): 20}
    assert [op["operation"] for op in sandbox.operations()] == ["origin_update", "origin_update"]
    assert sandbox.operations()[0]["details"]["changes"] == {"enabledState": "Disabled"}


def test_priority_and_weight_patches_route_by_priority_then_weight(arm: Arm, sandbox: AzureSandbox,
                                                                  http: httpx.Client):
    edge = sandbox.info()["frontdoor_url"]
    patch_origin(arm, WEST, priority=1)  # same priority, equal weights: both regions serve
    both = regions_served(http, edge, 60)
    assert both[(200, "eastus")] > 10 and both[(200, "westus")] > 10
    patch_origin(arm, EAST, weight=1)  # 1 : 1000
    skewed = regions_served(http, edge, 60)
    assert skewed[(200, "westus")] >= 55
    patch_origin(arm, EAST, priority=3)  # priority wins over weight
    assert regions_served(http, edge) == {(200, "westus"): 20}
    with pytest.raises(HttpResponseError) as bad:
        patch_origin(arm, EAST, priority=9)
    assert bad.value.status_code == 400


def test_edge_fails_over_by_itself_when_the_primary_region_app_is_down(sandbox: AzureSandbox,
                                                                      http: httpx.Client):
    edge = sandbox.info()["frontdoor_url"]
    sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
    # the region's listener is closed: connections are refused, as from a dead region
    wait_until(lambda: _refuses(http, sandbox.info()["regions"]["eastus"]), timeout=5)
    wait_until(lambda: http.get(f"{edge}/health").headers.get("x-odin-region") == "westus", timeout=5)
    assert regions_served(http, edge) == {(200, "westus"): 20}
    assert sandbox.edge_health()[EAST]["healthy"] is False

    sandbox.faults.clear()
    wait_until(lambda: http.get(f"{edge}/health").headers.get("x-odin-region") == "eastus", timeout=5)
    assert regions_served(http, edge) == {(200, "eastus"): 20}


def test_edge_leaves_an_origin_whose_health_probe_fails(sandbox: AzureSandbox, http: httpx.Client):
    edge = sandbox.info()["frontdoor_url"]
    sandbox.faults.add({"kind": "error_rate", "region": "eastus", "rate": 1.0})
    wait_until(lambda: http.get(f"{edge}/health").headers.get("x-odin-region") == "westus", timeout=5)
    assert sandbox.edge_health()[EAST]["last_probe"] == {"ok": False, "status": 500}


def test_edge_answers_503_when_every_origin_is_disabled(arm: Arm, sandbox: AzureSandbox, http: httpx.Client):
    patch_origin(arm, EAST, enabledState="Disabled")
    patch_origin(arm, WEST, enabledState="Disabled")
    response = http.get(f"{sandbox.info()['frontdoor_url']}/health")
    assert response.status_code == 503 and response.json()["error"] == "NoEnabledOrigin"


def _refuses(http: httpx.Client, url: str) -> bool:
    try:
        http.get(f"{url}/health")
    except httpx.ConnectError:
        return True
    return False
