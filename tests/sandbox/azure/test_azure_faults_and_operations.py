"""Fault injection, long-running-operation semantics, the operations log and the admin API."""

from __future__ import annotations

import time

import httpx
import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.sql import SqlManagementClient

from odin_drills.sandbox.azure import AzureSandbox, InvalidFault

from conftest import Arm, FakeCredential, make_arm, sdk_kwargs, trust

EAST, WEST, FG = "odin-sql-eastus", "odin-sql-westus", "odin-fg"


def failovers(sandbox: AzureSandbox) -> list[dict]:
    return [op for op in sandbox.operations() if op["operation"] == "failover"]


# --- ARM throttling and errors ---------------------------------------------------------------
def test_throttled_failover_is_retried_after_retry_after_and_runs_exactly_once(arm: Arm, sandbox: AzureSandbox):
    sandbox.faults.add({"kind": "arm_throttle", "count": 2, "retry_after": 1, "method": "POST"})
    started = time.monotonic()
    result = arm.sql.failover_groups.begin_failover(arm.rg, WEST, FG).result()
    assert time.monotonic() - started >= 2.0  # the SDK waited Retry-After twice
    assert result.properties.replication_role == "Primary"
    assert [op["result"] for op in failovers(sandbox)] == ["Succeeded"]
    (fault,) = sandbox.faults.list(include_cleared=True)
    assert (fault["remaining"], fault["cleared_because"]) == (0, "used up")


def test_server_errors_on_reads_and_polls_are_retried_by_the_sdk(arm: Arm, sandbox: AzureSandbox):
    sandbox.faults.add({"kind": "arm_error", "status": 503, "count": 3})
    assert arm.sql.failover_groups.get(arm.rg, EAST, FG).properties.replication_role == "Primary"
    sandbox.faults.add({"kind": "arm_error", "status": 500, "count": 1, "path_contains": "/locations/"})
    arm.storage.storage_accounts.begin_failover(arm.rg, "odindrillsdata").result()
    assert [op["result"] for op in sandbox.operations()] == ["Succeeded"]
    assert sandbox.faults.list() == []


def test_persistent_server_errors_surface_after_the_retries(sandbox: AzureSandbox):
    arm = make_arm(sandbox, retry_total=2)
    try:
        sandbox.faults.add({"kind": "arm_error", "status": 502, "count": 10})
        with pytest.raises(HttpResponseError) as failure:
            arm.sql.failover_groups.get(arm.rg, EAST, FG)
        assert failure.value.status_code == 502
        assert sandbox.faults.list()[0]["remaining"] == 7  # first try + 2 retries
    finally:
        arm.close()


# --- operations that fail or take long ---------------------------------------------------------
def test_operation_failure_makes_the_poller_raise_with_the_error_code(arm: Arm, sandbox: AzureSandbox):
    sandbox.faults.add({"kind": "operation_failure", "operation": "failover", "code": "FailoverAborted"})
    with pytest.raises(HttpResponseError) as failure:
        arm.sql.failover_groups.begin_failover(arm.rg, WEST, FG).result()
    assert failure.value.error.code == "FailoverAborted"
    assert arm.sql.failover_groups.get(arm.rg, WEST, FG).properties.replication_role == "Secondary"
    assert [(op["result"], op["error"]["code"]) for op in failovers(sandbox)] == [("Failed", "FailoverAborted")]


@pytest.mark.parametrize("operation", ["storage_failover", "origin_update", "forceFailoverAllowDataLoss"])
def test_operation_failure_fails_every_kind_of_operation(arm: Arm, sandbox: AzureSandbox, operation: str):
    sandbox.faults.add({"kind": "operation_failure", "operation": operation, "count": 1})
    start = {
        "storage_failover": lambda: arm.storage.storage_accounts.begin_failover(arm.rg, "odindrillsdata"),
        "origin_update": lambda: arm.cdn.afd_origins.begin_update(
            arm.rg, "odin-frontdoor", "app-origins", "app-eastus", {"properties": {"weight": 7}}),
        "forceFailoverAllowDataLoss": lambda: arm.sql.failover_groups.begin_force_failover_allow_data_loss(
            arm.rg, WEST, FG),
    }[operation]
    unchanged = {
        "storage_failover": lambda: arm.storage.storage_accounts.get_properties(
            arm.rg, "odindrillsdata").primary_location == "eastus",
        "origin_update": lambda: arm.cdn.afd_origins.get(
            arm.rg, "odin-frontdoor", "app-origins", "app-eastus").properties.weight == 1000,
        "forceFailoverAllowDataLoss": lambda: arm.sql.failover_groups.get(
            arm.rg, WEST, FG).properties.replication_role == "Secondary",
    }[operation]
    with pytest.raises(HttpResponseError) as failure:
        start().result()
    assert failure.value.error.code == "OperationFailed"
    assert unchanged()
    start().result()  # count 1: the next one goes through
    assert not unchanged()
    assert [op["result"] for op in sandbox.operations()] == ["Failed", "Succeeded"]


def test_slow_operations_stay_in_progress_until_done(arm: Arm, sandbox: AzureSandbox):
    sandbox.faults.add({"kind": "slow_operations", "seconds": 0.6})
    started = time.monotonic()
    poller = arm.sql.failover_groups.begin_force_failover_allow_data_loss(arm.rg, WEST, FG)
    assert poller.status() == "InProgress" and not poller.done()
    assert arm.sql.failover_groups.get(arm.rg, WEST, FG).properties.replication_role == "Secondary"
    assert poller.result().properties.replication_role == "Primary"
    assert time.monotonic() - started >= 0.6
    back = arm.sql.failover_groups.begin_failover(arm.rg, EAST, FG)
    with pytest.raises(HttpResponseError) as busy:  # one operation at a time on a failover group
        arm.sql.failover_groups.begin_force_failover_allow_data_loss(arm.rg, EAST, FG)
    assert (busy.value.status_code, busy.value.error.code) == (409, "FailoverGroupOperationInProgress")
    assert back.result().properties.replication_role == "Primary"


def test_a_continuation_token_resumes_the_operation_from_another_client(arm: Arm, sandbox: AzureSandbox):
    sandbox.faults.add({"kind": "slow_operations", "seconds": 0.5})
    token = arm.sql.failover_groups.begin_failover(arm.rg, WEST, FG).continuation_token()
    other = SqlManagementClient(FakeCredential(), sandbox.info()["subscription_id"], **sdk_kwargs(sandbox.info()))
    try:
        resumed = other.failover_groups.begin_failover(arm.rg, WEST, FG, continuation_token=token)
        assert resumed.result().properties.replication_role == "Primary"
    finally:
        other.close()
    assert [op["result"] for op in failovers(sandbox)] == ["Succeeded"]


def test_the_operations_log_records_each_mutation_once_and_no_reads(arm: Arm, sandbox: AzureSandbox):
    arm.sql.failover_groups.get(arm.rg, EAST, FG)
    arm.sql.failover_groups.begin_failover(arm.rg, WEST, FG).result()
    arm.storage.storage_accounts.begin_failover(arm.rg, "odindrillsdata").result()
    arm.cdn.afd_origins.begin_update(arm.rg, "odin-frontdoor", "app-origins", "app-westus",
                                     {"properties": {"priority": 1}}).result()
    arm.storage.storage_accounts.get_properties(arm.rg, "odindrillsdata")
    log = sandbox.operations()
    assert [(op["operation"], op["result"]) for op in log] == [
        ("failover", "Succeeded"), ("storage_failover", "Succeeded"), ("origin_update", "Succeeded")]
    assert log[0]["resource_id"].endswith(f"/servers/{WEST}/failoverGroups/{FG}")
    assert all(op["time_epoch"] <= op["finished_at_epoch"] for op in log)
    assert httpx.get(f"{sandbox.info()['admin_url']}/operations").json() == log


# --- the demo apps' faults ---------------------------------------------------------------------
def test_error_rate_and_latency_faults_hit_the_region_app(sandbox: AzureSandbox, http: httpx.Client):
    east = sandbox.info()["regions"]["eastus"]
    sandbox.faults.add({"kind": "error_rate", "region": "eastus", "rate": 1.0})
    response = http.get(f"{east}/health")
    assert (response.status_code, response.headers["x-odin-region"]) == (500, "eastus")
    sandbox.faults.clear()
    sandbox.faults.add({"kind": "latency", "region": "eastus", "ms": 300})
    started = time.monotonic()
    assert http.get(f"{east}/health").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_writes_fail_while_the_primary_database_region_is_down(sandbox: AzureSandbox, http: httpx.Client):
    west = sandbox.info()["regions"]["westus"]
    sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
    response = http.post(f"{west}/api/orders", json={"n": 1})
    assert (response.status_code, response.json()["error"]) == (503, "DatabaseUnavailable")
    assert http.get(f"{west}/health").status_code == 200  # the app itself is fine
    assert sandbox.writes() == []


# --- the admin API ----------------------------------------------------------------------------
@pytest.mark.parametrize("body, reason", [
    ({"kind": "volcano"}, "kind"),
    ({"kind": "region_outage"}, "region"),
    ({"kind": "region_outage", "region": "mars"}, "region"),
    ({"kind": "error_rate", "region": "eastus", "rate": 2}, "rate"),
    ({"kind": "arm_error", "status": 200}, "status"),
    ({"kind": "operation_failure", "operation": "reboot"}, "operation"),
    ({"kind": "latency", "region": "eastus", "ms": 5, "jitter": 1}, "jitter"),
    ([1, 2], "JSON object"),
])
def test_invalid_fault_bodies_are_refused_with_the_reason(sandbox: AzureSandbox, http: httpx.Client,
                                                          body: object, reason: str):
    response = http.post(f"{sandbox.info()['admin_url']}/faults", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidFault"
    assert reason in response.json()["error"]["message"]
    with pytest.raises(InvalidFault):
        sandbox.faults.add(body)
    assert sandbox.faults.list() == []


def test_admin_api_injects_lists_and_clears_faults_with_injection_times(sandbox: AzureSandbox,
                                                                       http: httpx.Client):
    admin = sandbox.info()["admin_url"]
    assert http.post(f"{admin}/faults", content=b"not json").status_code == 400
    before = time.time()
    created = http.post(f"{admin}/faults", json={"kind": "region_outage", "region": "westus"})
    assert created.status_code == 201
    fault = created.json()
    assert before <= fault["injected_at_epoch"] <= time.time() and fault["injected_at"].endswith("Z")
    assert [f["id"] for f in http.get(f"{admin}/faults").json()] == [fault["id"]]
    assert sandbox.state()["regions_down"] == ["westus"]
    assert http.delete(f"{admin}/faults").json() == {"cleared": 1}
    assert http.get(f"{admin}/faults").json() == []
    (history,) = http.get(f"{admin}/faults", params={"include": "cleared"}).json()
    assert (history["id"], history["active"], history["cleared_because"]) == (fault["id"], False, "cleared")
    second = http.post(f"{admin}/faults", json={"kind": "latency", "region": "eastus", "ms": 1}).json()
    assert http.delete(f"{admin}/faults/{second['id']}").status_code == 204
    assert http.delete(f"{admin}/faults/{second['id']}").status_code == 404


def test_reset_restores_the_initial_world(arm: Arm, sandbox: AzureSandbox, http: httpx.Client):
    http.post(f"{sandbox.info()['regions']['eastus']}/api/orders", json={"n": 1})
    arm.sql.failover_groups.begin_force_failover_allow_data_loss(arm.rg, WEST, FG).result()
    sandbox.faults.add({"kind": "latency", "region": "eastus", "ms": 1})
    assert http.post(f"{sandbox.info()['admin_url']}/reset").json() == {"reset": True}
    assert arm.sql.failover_groups.get(arm.rg, EAST, FG).properties.replication_role == "Primary"
    assert sandbox.operations() == [] and sandbox.writes() == []
    assert sandbox.faults.list(include_cleared=True) == []


def test_arm_speaks_arm_errors_for_auth_api_version_and_unknown_things(sandbox: AzureSandbox):
    info = sandbox.info()
    rg_path = f"/subscriptions/{info['subscription_id']}/resourceGroups/{info['resource_group']}"
    with httpx.Client(base_url=info["arm_url"], verify=trust(info)) as client:
        auth = {"Authorization": "Bearer anything-goes"}
        fg = f"{rg_path}/providers/Microsoft.Sql/servers/{EAST}/failoverGroups/{FG}"
        assert client.get(fg, params={"api-version": "1999-01-01"}, headers=auth).status_code == 200
        checks = [
            (client.get(fg, params={"api-version": "x"}), 401, "AuthenticationFailed"),
            (client.get(fg, headers=auth), 400, "MissingApiVersionParameter"),
            (client.get(fg.replace(info["subscription_id"], "nope"), params={"api-version": "x"}, headers=auth),
             404, "SubscriptionNotFound"),
            (client.get(fg.replace(info["resource_group"], "other-rg"), params={"api-version": "x"},
                        headers=auth), 404, "ResourceGroupNotFound"),
            (client.get(f"{rg_path}/providers/Microsoft.Web/sites/x", params={"api-version": "x"}, headers=auth),
             404, "InvalidResourceType"),
            (client.delete(f"{fg}/failover", params={"api-version": "x"}, headers=auth), 405, "MethodNotAllowed"),
        ]
        for response, status, code in checks:
            assert (response.status_code, response.json()["error"]["code"]) == (status, code)
        assert sandbox.operations() == []


def test_paths_and_names_are_case_insensitive_like_arm(sandbox: AzureSandbox):
    info = sandbox.info()
    path = (f"/SUBSCRIPTIONS/{info['subscription_id'].upper()}/resourcegroups/RG-ODIN-DRILLS/providers/"
            f"microsoft.sql/Servers/ODIN-SQL-EASTUS/FailoverGroups/ODIN-FG")
    response = httpx.get(info["arm_url"] + path, params={"api-version": "x"},
                         headers={"Authorization": "Bearer t"}, verify=trust(info))
    assert response.status_code == 200
    assert response.json()["properties"]["replicationRole"] == "Primary"


def test_sandbox_threads_and_ports_are_released_on_stop(start_sandbox):
    sandbox = start_sandbox()
    info = sandbox.info()
    sandbox.stop()
    for url in (info["admin_url"], info["frontdoor_url"], *info["regions"].values()):
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/health", timeout=2)
    with pytest.raises(RuntimeError):
        sandbox.info()
