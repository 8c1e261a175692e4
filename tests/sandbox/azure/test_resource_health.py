"""The sandbox's Service Health and Resource Health (issue 12), through the real
``azure-mgmt-resourcehealth`` client over HTTPS, and odin's reading of them (``steps.dr.service_health``):

  * contract: both endpoints answer in the shape of Microsoft's examples (``resourcehealth/``) and
    parse with the SDK's models;
  * a region outage is an Active service issue for that region with the services it takes down, its
    resources Unavailable with the ETA the admin API set (none by default), the other region's
    Available; ending the outage resolves the event;
  * an app-only outage (``error_rate`` 1.0) is partial: the web app Unavailable, the data tier Available;
  * Azure unreachable is a reading that says so, never an exception.
"""

from __future__ import annotations

import json
import ssl
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from odin_drills.sandbox.azure import AzureSandbox
from odin_drills.steps.dr.service_health import read_health

EXAMPLES = Path(__file__).resolve().parents[2] / "contract" / "azure-rest-examples" / "resourcehealth"
GROUP = "rg-odin-drills"


def target(sandbox: AzureSandbox) -> SimpleNamespace:
    info = sandbox.info()
    return SimpleNamespace(kind="sandbox", arm_url=info["arm_url"], ca_cert=info["ca_cert"],
                           subscription_id=info["subscription_id"])


def arm_get(sandbox: AzureSandbox, path: str, **params: Any) -> dict[str, Any]:
    info = sandbox.info()
    with httpx.Client(base_url=info["arm_url"], verify=ssl.create_default_context(cafile=info["ca_cert"]),
                      trust_env=False, timeout=10, headers={"Authorization": "Bearer contract-test"}) as client:
        response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def read(sandbox: AzureSandbox, region: str = "eastus") -> Any:
    return read_health(target(sandbox), region, [(sandbox.info()["subscription_id"], GROUP)])


def test_the_answers_have_the_shape_of_microsofts_examples_and_parse_with_the_sdk_models(sandbox: AzureSandbox) -> None:
    from azure.mgmt.resourcehealth.models import AvailabilityStatus, Event

    events_example = json.loads((EXAMPLES / "Events_ListBySubscriptionId.json").read_text())
    statuses_example = json.loads((EXAMPLES / "AvailabilityStatuses_ListByResourceGroup.json").read_text())
    sub = sandbox.info()["subscription_id"]
    sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
    sandbox.set_resolution_eta("eastus", 900)
    events = arm_get(sandbox, f"/subscriptions/{sub}/providers/Microsoft.ResourceHealth/events",
                     **{"api-version": events_example["parameters"]["api-version"],
                        "queryStartTime": events_example["parameters"]["queryStartTime"]})
    statuses = arm_get(sandbox, f"/subscriptions/{sub}/resourceGroups/{GROUP}/providers/Microsoft.ResourceHealth/"
                       "availabilityStatuses", **{"api-version": statuses_example["parameters"]["api-version"]})

    theirs = events_example["responses"]["200"]["body"]["value"][0]
    ours = events["value"][0]
    assert set(ours) == set(theirs)
    optional = {"article", "links", "faqs", "recommendedActions", "eventTags", "hirStage", "isEventSensitive",
                "enableChatWithUs", "enableMicrosoftSupport", "impactMitigationTime"}
    assert set(theirs["properties"]) - optional <= set(ours["properties"]) <= set(theirs["properties"])
    for key, value in ours["properties"].items():
        assert type(value) is type(theirs["properties"][key]), key
    region, their_region = ours["properties"]["impact"][0]["impactedRegions"][0], \
        theirs["properties"]["impact"][0]["impactedRegions"][0]
    assert set(region) == set(their_region) and set(region["updates"][0]) <= set(their_region["updates"][0])

    documented = statuses_example["responses"]["200"]["body"]["value"]
    for status in statuses["value"]:
        assert set(status) == set(documented[0])
        their_props = documented[1]["properties"] if status["properties"]["availabilityState"] == "Unavailable" \
            else documented[0]["properties"]
        shared = set(status["properties"]) & set(their_props)
        assert {"availabilityState", "title", "summary", "reasonType", "occuredTime", "reportedTime"} <= shared
        assert all(type(status["properties"][k]) is type(their_props[k]) for k in shared)
    unavailable = [s for s in statuses["value"] if s["properties"]["availabilityState"] == "Unavailable"]
    assert unavailable and all("resolutionETA" in s["properties"] for s in unavailable)

    parsed = [Event(e) for e in events_example["responses"]["200"]["body"]["value"] + events["value"]]
    assert [e.properties.status for e in parsed] == ["Active", "Active"]
    assert all(e.properties.impact_start_time is not None and e.properties.impact for e in parsed)
    parsed_statuses = [AvailabilityStatus(s) for s in documented + statuses["value"]]
    assert {s.properties.availability_state for s in parsed_statuses} == {"Available", "Unavailable"}
    assert parsed_statuses[1].properties.resolution_eta is not None  # the example's ETA field, parsed


def test_a_region_outage_is_an_active_event_with_the_eta_and_its_end_resolves_it(sandbox: AzureSandbox) -> None:
    assert read(sandbox).event_id is None and read(sandbox).scope == "none"
    fault = sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
    seen = read(sandbox)
    assert seen.reachable and seen.event_id and seen.resolution_eta is None  # no ETA published by default
    assert seen.services == ["App Service", "SQL Database", "Storage"] and seen.scope == "full"
    assert seen.unavailable == sorted(["odin-sql-eastus", "orders", "odindrillsdata", "odin-plan-eastus", "app-eastus"])
    assert read(sandbox, "westus").event_id is None and read(sandbox, "westus").scope == "none"

    sandbox.set_resolution_eta("eastus", 600)  # through the admin API the same
    httpx.put(f"{sandbox.info()['admin_url']}/service-health/eastus", json={"eta_seconds": 600}).raise_for_status()
    ten = read(sandbox)
    assert ten.resolution_eta - ten.impact_started_at == timedelta(seconds=600)
    assert ten.expected_outage_seconds() == 600 and ten.expected_outage_seconds(scale=60) == 36000
    assert abs(ten.impact_started_at.timestamp() - fault["injected_at_epoch"]) < 1e-3
    slipped = httpx.put(f"{sandbox.info()['admin_url']}/service-health/eastus", json={"eta_seconds": 3600}).json()
    assert slipped["eta_seconds"] == {"eastus": 3600} and slipped["events"][0]["status"] == "Active"
    assert read(sandbox).expected_outage_seconds() == 3600
    bad = httpx.put(f"{sandbox.info()['admin_url']}/service-health/eastus", json={"eta": 5})
    assert bad.status_code == 400 and "eta_seconds" in bad.json()["error"]["message"]

    sandbox.faults.clear()
    after = read(sandbox)
    assert after.event_id is None and after.scope == "none"  # resolved: no longer an active issue
    summary = httpx.get(f"{sandbox.info()['admin_url']}/service-health").json()
    assert [e["status"] for e in summary["events"]] == ["Resolved"]


def test_an_app_only_outage_is_partial(sandbox: AzureSandbox) -> None:
    sandbox.faults.add({"kind": "error_rate", "region": "eastus", "rate": 1.0})
    seen = read(sandbox)
    assert seen.event_id is None and seen.scope == "partial" and seen.unavailable == ["app-eastus"]
    assert "partial outage (1 of 5 eastus resources unavailable)" == seen.scope_text()


def test_azure_unreachable_is_a_reading_that_says_why(sandbox: AzureSandbox) -> None:
    sandbox.faults.add({"kind": "arm_error", "status": 503, "count": 50, "path_contains": "ResourceHealth"})
    seen = read(sandbox)
    assert not seen.reachable and seen.scope == "unknown" and "HTTP 503" in (seen.error or ""), seen.error
    sandbox.faults.clear()
    gone = read_health(SimpleNamespace(kind="sandbox", arm_url="https://127.0.0.1:9", ca_cert=sandbox.info()["ca_cert"],
                                       subscription_id="x"), "eastus", [("x", GROUP)])
    assert not gone.reachable and gone.error
