"""Contract tests: the sandbox answers in the shapes of Microsoft's published REST examples.

Every ``.json`` file under ``tests/contract/azure-rest-examples/`` (Microsoft's examples, copied
unmodified with their MIT notice and source commits in that folder) has a contract below: the same operation is sent to the sandbox over raw HTTPS, and
each of the example's documented responses is compared with the sandbox's — status code, the
set of top-level keys and of ``properties`` keys, and the JSON type of each of those values
(``null`` in an example says nothing about the type). Both bodies are also deserialized with the
SDK's model classes and their typed attributes compared, recursively. Values are not compared.

Nothing is skipped silently: a missing folder fails, an example without a contract fails, a
contract without an example fails, and the few documented differences (``ALLOWANCES``) must
each still be needed.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from azure.mgmt.cdn import models as cdn_models
from azure.mgmt.dns import models as dns_models
from azure.mgmt.sql import models as sql_models
from azure.mgmt.storage import models as storage_models
from azure.mgmt.web import models as web_models

from odin_drills.sandbox.azure import AzureSandbox

from conftest import FAST

EXAMPLES = Path(__file__).resolve().parents[2] / "contract" / "azure-rest-examples"
ROOT = Path(__file__).resolve().parents[3]
NOT_EXAMPLES = {"README.md", "LICENSE"}

ALLOWANCES: dict[str, dict[str, Any]] = {
    "storage/StorageAccountGetProperties.json": {
        "missing": {"properties.geoReplicationStats"},
        "why": "the upstream example shows geoReplicationStats on a GET without $expand; ARM (and the "
               "sandbox) return it only with $expand=geoReplicationStats, whose two examples match exactly",
    },
    "cdn/AFDOriginGroups_Get.json": {
        "missing": {"properties.authentication"},
        "why": "authentication appears only on an origin group that has one configured; the sandbox's "
               "has none until a PATCH sets it (the AFDOriginGroups_Update contract has no allowance)",
    },
    "sql/ReplicationLinkListByDatabase.json": {
        "extra": {"properties.partnerDatabaseId"},
        "why": "the same ReplicationLink model's Get example carries partnerDatabaseId; the sandbox "
               "returns it in lists as well",
    },
    "sql/ReplicationLinkListByServer.json": {
        "extra": {"properties.partnerDatabaseId"},
        "why": "as for ReplicationLinkListByDatabase.json",
    },
    "web/CreateOrUpdateAppServicePlan.json": {
        "extra": {"properties.numberOfWorkers", "properties.isSpot"},
        "missing": {"properties.asyncScalingEnabled"},
        "why": "the upstream examples of one AppServicePlan resource differ among themselves (the GET example "
               "has numberOfWorkers and isSpot, this 200 neither but asyncScalingEnabled); the sandbox answers "
               "every operation with the GET example's shape, which matches exactly",
    },
    "web/PatchAppServicePlan.json": {
        "extra": {"properties.numberOfWorkers", "properties.isSpot"},
        "why": "as for CreateOrUpdateAppServicePlan.json (this example's 202 body has isSpot, its 200 not)",
    },
}

EAST, WEST, FG, DB = "odin-sql-eastus", "odin-sql-westus", "odin-fg", "orders"
ACCOUNT, PROFILE, GROUP, ORIGIN = "odindrillsdata", "odin-frontdoor", "app-origins", "app-eastus"
ZONE = "odin-demo.example"
PLAN, SITE = "odin-plan-westus", "app-westus"


# --- talking to the sandbox over raw HTTPS ---------------------------------------------------
class RawArm:
    """ARM over httpx: the sandbox's JSON exactly as it is on the wire."""

    def __init__(self, sandbox: AzureSandbox) -> None:
        self.sandbox = sandbox
        info = sandbox.info()
        self.rg_path = f"/subscriptions/{info['subscription_id']}/resourceGroups/{info['resource_group']}"
        self.client = httpx.Client(base_url=info["arm_url"], timeout=10,
                                   verify=ssl.create_default_context(cafile=info["ca_cert"]),
                                   headers={"Authorization": "Bearer contract-test"})

    def call(self, method: str, path: str, body: Any = None, **query: str) -> httpx.Response:
        url = path if path.startswith("https://") else self.rg_path + path
        params = {"api-version": "2023-08-01", **query} if "api-version=" not in url else None
        if params is not None and "/Microsoft.Network/dnsZones/" in url:
            params["api-version"] = "2018-05-01"  # what azure-mgmt-dns 9.0.0 sends
        if params is not None and "/Microsoft.Web/" in url:
            params["api-version"] = "2025-05-01"  # what azure-mgmt-web 11.0.1 sends
        return self.client.request(method, url, params=params, json=body)

    def finish(self, initial: httpx.Response) -> httpx.Response:
        """Follow a long-running operation the way ARMPolling does; return the final response."""
        assert initial.status_code in (200, 201, 202), initial.text
        monitor = initial.headers.get("azure-asyncoperation")
        location = initial.headers.get("location")
        deadline = time.monotonic() + 10
        if monitor:
            while (status := self.client.get(monitor).json()["status"]) == "InProgress":
                assert time.monotonic() < deadline, "operation did not finish"
                time.sleep(0.02)
            assert status == "Succeeded", status
            if initial.request.method in ("PUT", "PATCH"):
                return self.client.get(initial.request.url)
            assert location, "a POST with Azure-AsyncOperation needs a Location for its result"
        assert location
        while (final := self.client.get(location)).status_code == 202:
            assert time.monotonic() < deadline, "operation did not finish"
            time.sleep(0.02)
        return final


@dataclass
class Observation:
    """The sandbox's answer to compare with the example's response for ``status``."""

    status: str
    response: httpx.Response
    model: type | None = None
    notes: list[str] = field(default_factory=list)
    http_status: int | None = None  # None: 202 for "202", else 200 (a 201 example is met by the final GET)


Contract = Callable[[RawArm, dict[str, Any]], list[Observation]]


def _fd(path: str = "") -> str:
    return f"/providers/Microsoft.Cdn/profiles/{PROFILE}{path}"


def _sql(path: str = "") -> str:
    return f"/providers/Microsoft.Sql/servers/{path}"


def _storage(path: str = "") -> str:
    return f"/providers/Microsoft.Storage/storageAccounts/{ACCOUNT}{path}"


def _link_name(arm: RawArm) -> str:
    return arm.call("GET", _sql(f"{EAST}/databases/{DB}/replicationLinks")).json()["value"][0]["name"]


def _sql_post(action: str) -> Contract:
    def contract(arm: RawArm, example: dict[str, Any]) -> list[Observation]:
        accepted = arm.call("POST", _sql(f"{WEST}/failoverGroups/{FG}/{action}"))
        return [Observation("202", accepted), Observation("200", arm.finish(accepted), sql_models.FailoverGroup)]
    return contract


def _fg_put(arm: RawArm, example: dict[str, Any]) -> list[Observation]:
    body = example["parameters"]["parameters"]
    body["properties"]["partnerServers"] = [{"id": arm.rg_path + _sql(WEST)}]
    body["properties"]["databases"] = [arm.rg_path + _sql(f"{EAST}/databases/{DB}")]
    accepted = arm.call("PUT", _sql(f"{EAST}/failoverGroups/{FG}"), body)
    final = arm.finish(accepted)
    return [Observation("202", accepted), Observation("200", final, sql_models.FailoverGroup),
            Observation("201", final, sql_models.FailoverGroup)]


def _pitr_restore(arm: RawArm, example: dict[str, Any]) -> list[Observation]:
    """The example's body with the sandbox's source database and a point inside its window."""
    body = example["parameters"]["parameters"]
    body["properties"]["sourceDatabaseId"] = arm.rg_path + _sql(f"{EAST}/databases/{DB}")
    body["properties"]["restorePointInTime"] = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    accepted = arm.call("PUT", _sql(f"{EAST}/databases/dbpitr"), body)
    final = arm.finish(accepted)
    return [Observation("202", accepted), Observation("200", final, sql_models.Database),
            Observation("201", arm.call("GET", _sql(f"{EAST}/databases/dbpitr")), sql_models.Database)]


def _database_delete(arm: RawArm, example: dict[str, Any]) -> list[Observation]:
    _pitr_restore(arm, load_example("sql/CreateDatabasePITRMode.json"))
    accepted = arm.call("DELETE", _sql(f"{EAST}/databases/dbpitr"))
    final = arm.finish(accepted)
    again = arm.call("DELETE", _sql(f"{EAST}/databases/dbpitr"))
    assert again.status_code == 204, again.text  # the example's 204: nothing (left) to delete
    return [Observation("202", accepted), Observation("200", final)]


def _storage_failover(planned: bool) -> Contract:
    def contract(arm: RawArm, example: dict[str, Any]) -> list[Observation]:
        accepted = arm.call("POST", _storage("/failover"), **({"failoverType": "Planned"} if planned else {}))
        return [Observation("202", accepted), Observation("200", arm.finish(accepted))]
    return contract


def _blob_ranges_restore(arm: RawArm, example: dict[str, Any]) -> list[Observation]:
    """The example's ranges with a point inside the sandbox's restore window (the account's life)."""
    body = example["parameters"]["parameters"]
    body["timeToRestore"] = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    accepted = arm.call("POST", _storage("/restoreBlobRanges"), body)
    final = arm.finish(accepted)
    assert final.json()["status"] == "Complete", final.text  # the SDK's documented value; the example says Succeeded
    return [Observation("202", accepted, storage_models.BlobRestoreStatus),
            Observation("200", final, storage_models.BlobRestoreStatus)]


def _dns(path: str = "") -> str:
    return f"/providers/Microsoft.Network/dnsZones/{ZONE}{path}"


def _record_set_put(record_type: str) -> Contract:
    """The example's body PUT twice to a new name: 201 when created, 200 when replaced, as ARM answers."""
    def contract(arm: RawArm, example: dict[str, Any]) -> list[Observation]:
        body = example["parameters"]["parameters"]
        created = arm.call("PUT", _dns(f"/{record_type}/record1"), body)
        replaced = arm.call("PUT", _dns(f"/{record_type}/record1"), body)
        return [Observation("201", created, dns_models.RecordSet, http_status=201),
                Observation("200", replaced, dns_models.RecordSet)]
    return contract


def _web(path: str) -> str:
    return f"/providers/Microsoft.Web/{path}"


def _plan_update(method: str) -> Contract:
    """The example's body sent to the sandbox's West US plan (the sandbox creates no plans)."""
    def contract(arm: RawArm, example: dict[str, Any]) -> list[Observation]:
        body = example["parameters"]["appServicePlan"]
        return [Observation("200", arm.call(method, _web(f"serverfarms/{PLAN}"), body), web_models.AppServicePlan)]
    return contract


def _list_app_settings(arm: RawArm, example: dict[str, Any]) -> list[Observation]:
    """The example's settings put first, so the listed keys can be the example's."""
    settings = example["responses"]["200"]["body"]["properties"]
    arm.call("PUT", _web(f"sites/{SITE}/config/appsettings"), {"properties": settings})
    return [Observation("200", arm.call("POST", _web(f"sites/{SITE}/config/appsettings/list")),
                        web_models.StringDictionary)]


def _update_app_settings(arm: RawArm, example: dict[str, Any]) -> list[Observation]:
    return [Observation("200", arm.call("PUT", _web(f"sites/{SITE}/config/appsettings"),
                                        example["parameters"]["appSettings"]), web_models.StringDictionary)]


def _geo_stats_without_failover(arm: RawArm, example: dict[str, Any]) -> list[Observation]:
    arm.sandbox.faults.add({"kind": "region_outage", "region": "westus"})  # canFailover: false
    response = arm.call("GET", _storage(), **{"$expand": "geoReplicationStats"})
    assert response.json()["properties"]["geoReplicationStats"]["canFailover"] is False
    return [Observation("200", response, storage_models.StorageAccount)]


def _patch(path: str, model: type, keep_values: bool) -> Contract:
    def contract(arm: RawArm, example: dict[str, Any]) -> list[Observation]:
        body_key = next(k for k in example["parameters"] if k.endswith("UpdateProperties"))
        body = example["parameters"][body_key]
        if not keep_values:  # same keys, the sandbox's own values (it only proxies to 127.0.0.1)
            current = arm.call("GET", path).json()["properties"]
            body = {"properties": {k: current[k] for k in body["properties"]}}
        accepted = arm.call("PATCH", path, body)
        return [Observation("202", accepted, model), Observation("200", arm.finish(accepted), model)]
    return contract


def _get(path: str, model: type | None, **query: str) -> Contract:
    return lambda arm, example: [Observation("200", arm.call("GET", path, **query), model)]


CONTRACTS: dict[str, Contract] = {
    "sql/FailoverGroupGet.json": _get(_sql(f"{EAST}/failoverGroups/{FG}"), sql_models.FailoverGroup),
    "sql/FailoverGroupList.json": _get(_sql(f"{EAST}/failoverGroups"), sql_models.FailoverGroup),
    "sql/FailoverGroupCreateOrUpdate.json": _fg_put,
    "sql/FailoverGroupFailover.json": _sql_post("failover"),
    "sql/FailoverGroupForceFailoverAllowDataLoss.json": _sql_post("forceFailoverAllowDataLoss"),
    "sql/FailoverGroupTryPlannedBeforeForcedFailover.json": _sql_post("tryPlannedBeforeForcedFailover"),
    "sql/ReplicationLinkGet.json": lambda arm, ex: [Observation("200", arm.call(
        "GET", _sql(f"{EAST}/databases/{DB}/replicationLinks/{_link_name(arm)}")), sql_models.ReplicationLink)],
    "sql/ReplicationLinkListByDatabase.json": _get(_sql(f"{EAST}/databases/{DB}/replicationLinks"),
                                                   sql_models.ReplicationLink),
    "sql/ReplicationLinkListByServer.json": _get(_sql(f"{EAST}/replicationLinks"), sql_models.ReplicationLink),
    "sql/CreateDatabasePITRMode.json": _pitr_restore,
    "sql/DeleteDatabase.json": _database_delete,
    "storage/StorageAccountGetProperties.json": _get(_storage(), storage_models.StorageAccount),
    "storage/StorageAccountGetPropertiesGeoReplicationStatscanFailoverTrue.json": _get(
        _storage(), storage_models.StorageAccount, **{"$expand": "geoReplicationStats"}),
    "storage/StorageAccountGetPropertiesGeoReplicationStatscanFailoverFalse.json": _geo_stats_without_failover,
    "storage/StorageAccountFailover.json": _storage_failover(planned=False),
    "storage/StorageAccountFailoverPlanned.json": _storage_failover(planned=True),
    "storage/BlobRangesRestore.json": _blob_ranges_restore,
    "dns/GetZone.json": _get(_dns(), dns_models.Zone),
    "dns/GetARecordset.json": _get(_dns("/A/app-eastus"), dns_models.RecordSet),
    "dns/GetCNAMERecordset.json": _get(_dns("/CNAME/app"), dns_models.RecordSet),
    "dns/CreateOrUpdateARecordset.json": _record_set_put("A"),
    "dns/CreateOrUpdateCNAMERecordset.json": _record_set_put("CNAME"),
    "web/GetAppServicePlan.json": _get(_web(f"serverfarms/{PLAN}"), web_models.AppServicePlan),
    "web/CreateOrUpdateAppServicePlan.json": _plan_update("PUT"),
    "web/PatchAppServicePlan.json": _plan_update("PATCH"),
    "web/ListAppSettings.json": _list_app_settings,
    "web/UpdateAppSettings.json": _update_app_settings,
    "cdn/Profiles_Get.json": _get(_fd(), cdn_models.Profile),
    "cdn/AFDEndpoints_Get.json": _get(_fd("/afdEndpoints/odin-edge"), cdn_models.AFDEndpoint),
    "cdn/Routes_Get.json": _get(_fd("/afdEndpoints/odin-edge/routes/default-route"), cdn_models.Route),
    "cdn/AFDOriginGroups_Get.json": _get(_fd(f"/originGroups/{GROUP}"), cdn_models.AFDOriginGroup),
    "cdn/AFDOriginGroups_Update.json": _patch(_fd(f"/originGroups/{GROUP}"), cdn_models.AFDOriginGroup,
                                              keep_values=True),
    "cdn/AFDOrigins_Get.json": _get(_fd(f"/originGroups/{GROUP}/origins/{ORIGIN}"), cdn_models.AFDOrigin),
    "cdn/AFDOrigins_ListByOriginGroup.json": _get(_fd(f"/originGroups/{GROUP}/origins"), cdn_models.AFDOrigin),
    "cdn/AFDOrigins_Update.json": _patch(_fd(f"/originGroups/{GROUP}/origins/{ORIGIN}"), cdn_models.AFDOrigin,
                                         keep_values=False),
}


DATA_PLANE_CONTRACTS = {
    # Not ARM resources: their contracts live beside their own data planes' tests.
    "loganalytics/oms-post-example.json": "tests/sandbox/azure/test_log_analytics_contract.py",
    "metrics/MetricBatchExample2.json": "tests/sandbox/azure/test_platform_metrics_contract.py",
}

LIST_CONTRACTS = {
    # ARM lists paged with a nextLink (their bodies are {"nextLink", "value"}, not one resource): their
    # contracts, down to the items' essentials and the SDK model, live beside their readers' tests.
    "alertsmanagement/Alerts_List.json": "tests/test_azure_monitor_alerts.py",
    "resourcehealth/Events_ListBySubscriptionId.json": "tests/sandbox/azure/test_resource_health.py",
    "resourcehealth/AvailabilityStatuses_ListByResourceGroup.json": "tests/sandbox/azure/test_resource_health.py",
}


# --- comparing shapes ---------------------------------------------------------------------------
def json_kind(value: Any) -> str | None:
    return None if value is None else type(value).__name__


def compare_level(example: dict, ours: dict, where: str, problems: list[str], seen: set[str]) -> None:
    """Same keys, same JSON types (``null`` in the example matches anything)."""
    for key in sorted(set(example) | set(ours)):
        name = f"{where}{key}"
        if key not in ours:
            seen.add(f"missing:{name}")
            continue
        if key not in example:
            seen.add(f"extra:{name}")
            continue
        kinds = json_kind(example[key]), json_kind(ours[key])
        if kinds[0] is not None and kinds[0] != kinds[1]:
            problems.append(f"{name}: example has {kinds[0]}, sandbox has {kinds[1]}")


def compare_resource(example: dict, ours: dict, problems: list[str], seen: set[str]) -> None:
    compare_level(example, ours, "", problems, seen)
    if isinstance(example.get("properties"), dict) and isinstance(ours.get("properties"), dict):
        compare_level(example["properties"], ours["properties"], "properties.", problems, seen)


def sdk_shape(model: Any) -> dict[str, Any]:
    """The SDK's typed view of a deserialized body: rest name → type (or nested shape)."""
    shape: dict[str, Any] = {}
    for attr, rest_field in model._attr_to_rest_field.items():  # the SDK's own attribute map
        rest = rest_field._rest_name
        if rest not in model:
            continue
        value = getattr(model, attr)
        if hasattr(value, "_attr_to_rest_field"):
            shape[rest] = sdk_shape(value)
        elif value is None:
            shape[rest] = None
        elif isinstance(value, str):
            shape[rest] = "str"  # enum members and plain strings alike
        elif isinstance(value, datetime):
            shape[rest] = "datetime"
        else:
            shape[rest] = type(value).__name__
    return shape


def typed_shape(model: Any, body: dict) -> dict[str, Any]:
    """The SDK's typed view of ``body``: TypeSpec-generated models take the body as it is; the
    msrest-style ones (azure-mgmt-dns 9.0.0) are deserialized through their ``_attribute_map``."""
    if hasattr(model, "_attribute_map"):
        return attribute_map_shape(model.deserialize(body))
    return sdk_shape(model(body))


def attribute_map_shape(model: Any) -> dict[str, Any]:
    shape: dict[str, Any] = {}
    for attr, spec in model._attribute_map.items():
        value = getattr(model, attr, None)
        if isinstance(value, list) and value and hasattr(value[0], "_attribute_map"):
            value = value[0]  # a list of sub-models: the first one's shape stands for all
        if value is None:
            continue
        shape[spec["key"]] = attribute_map_shape(value) if hasattr(value, "_attribute_map") else type(value).__name__
    return shape


def compare_sdk(example: Any, ours: Any, where: str, problems: list[str]) -> None:
    if isinstance(example, dict) and isinstance(ours, dict):
        for key in set(example) & set(ours):
            compare_sdk(example[key], ours[key], f"{where}{key}.", problems)
    elif example is not None and example != ours:
        problems.append(f"SDK model {where.rstrip('.')}: example deserializes to {example}, sandbox to {ours}")


def items(body: Any) -> list[dict]:
    return body["value"] if isinstance(body, dict) and set(body) == {"value"} else [body]


def location_template(url: str) -> tuple[str, tuple[str, ...]]:
    """A monitor URL's path with ids blanked, and its query keys."""
    parts = urlsplit(url)
    segments = parts.path.strip("/").split("/")
    blank_after = {"subscriptions", "resourcegroups", "locations", "failovergroupoperationresults",
                   "asyncoperations", "operationresults", "databaseoperationresults"}
    shape = [("{}" if i and segments[i - 1].lower() in blank_after else s.lower())
             for i, s in enumerate(segments)]
    return "/".join(shape), tuple(sorted(parse_qs(parts.query)))


# --- the tests --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def contract_sandbox() -> Iterator[AzureSandbox]:
    sandbox = AzureSandbox(seed=7, **FAST)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def raw_arm(contract_sandbox: AzureSandbox) -> Iterator[RawArm]:
    contract_sandbox.reset()
    arm = RawArm(contract_sandbox)
    try:
        yield arm
    finally:
        arm.client.close()


def load_example(name: str) -> dict[str, Any]:
    path = EXAMPLES / name
    assert EXAMPLES.is_dir(), (
        f"the REST examples folder {EXAMPLES} is missing: it is part of the repository "
        "(tests/contract/azure-rest-examples), and the contract tests need it")
    assert path.is_file(), f"example {name} is missing from {EXAMPLES.resolve()}"
    return json.loads(path.read_text())


def test_every_example_has_a_contract_and_every_contract_an_example():
    assert EXAMPLES.is_dir(), (
        f"the REST examples folder {EXAMPLES} is missing: it is part of the repository "
        "(tests/contract/azure-rest-examples), and the contract tests need it")
    files = {p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*") if p.is_file()}
    examples = {f for f in files if f.endswith(".json")}
    assert files - examples == NOT_EXAMPLES, f"unexpected non-example files: {files - examples - NOT_EXAMPLES}"
    assert sorted(examples - set(CONTRACTS) - set(DATA_PLANE_CONTRACTS) - set(LIST_CONTRACTS)) == [], \
        "examples without a contract in this test"
    assert all((ROOT / path).is_file() for path in LIST_CONTRACTS.values()), "a list contract's test file is gone"
    assert sorted(set(CONTRACTS) - examples) == [], "contracts whose example file is gone"
    assert set(ALLOWANCES) <= set(CONTRACTS)


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_the_sandbox_answers_in_the_examples_shape(name: str, raw_arm: RawArm):
    example = load_example(name)
    allowance = ALLOWANCES.get(name, {})
    problems: list[str] = []
    seen: set[str] = set()
    observations = CONTRACTS[name](raw_arm, example)
    assert {o.status for o in observations} <= set(example["responses"])
    for observation in observations:
        documented = example["responses"][observation.status]
        response = observation.response
        label = f"{observation.status} ({response.request.method} {response.request.url.path})"
        expected_status = observation.http_status or (202 if observation.status == "202" else 200)
        if response.status_code != expected_status:
            problems.append(f"{label}: status {response.status_code}, expected {expected_status}: {response.text}")
            continue
        for header in documented.get("headers", {}):
            if header not in response.headers:
                problems.append(f"{label}: header {header} missing")
            elif header.lower() == "location":
                want = location_template(documented["headers"][header])
                got = location_template(response.headers[header])
                if want[0] != got[0] or not set(want[1]) <= set(got[1]):
                    problems.append(f"{label}: Location shape {got}, example {want}")
        if "body" not in documented:
            if response.content and observation.status != "202":
                problems.append(f"{label}: the example has no body, the sandbox sent {response.text[:200]}")
            continue
        ours = response.json()
        if set(documented["body"]) == {"value"}:
            if set(ours) != {"value"} or not ours["value"]:
                problems.append(f"{label}: expected a non-empty list body, got keys {sorted(ours)}")
                continue
        example_item = items(documented["body"])[0]
        for item in items(ours):
            compare_resource(example_item, item, problems, seen)
            if observation.model is not None:
                compare_sdk(typed_shape(observation.model, example_item), typed_shape(observation.model, item),
                            "", problems)
    differences = {s.split(":", 1)[1] for s in seen}
    allowed = allowance.get("missing", set()) | allowance.get("extra", set())
    unexplained = sorted(s for s in seen if s.split(":", 1)[1] not in allowed)
    assert not problems, "\n".join(problems)
    assert not unexplained, f"key sets differ from the example: {unexplained}"
    assert allowed <= differences, f"allowance no longer needed for {name}: {sorted(allowed - differences)}"
