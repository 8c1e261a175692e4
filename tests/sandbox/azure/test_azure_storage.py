"""The geo-redundant storage account, through the real azure-mgmt-storage client."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from odin_drills.sandbox.azure import AzureSandbox

from conftest import Arm, wait_until

ACCOUNT = "odindrillsdata"


def put_blobs(http: httpx.Client, url: str, names: list[str]) -> list[dict]:
    acks = []
    for name in names:
        response = http.put(f"{url}/api/blobs/{name}", content=name.encode())
        assert response.status_code == 201, response.text
        acks.append(response.json())
    return acks


def synced(sandbox: AzureSandbox) -> bool:
    return sandbox.state()["storage_accounts"][ACCOUNT]["pending_writes"] == 0


def test_account_is_geo_redundant_and_last_sync_time_trails_writes(arm: Arm, sandbox: AzureSandbox,
                                                                   http: httpx.Client):
    plain = arm.storage.storage_accounts.get_properties(arm.rg, ACCOUNT)
    assert plain.id == sandbox.info()["resources"]["storage_accounts"][0]
    assert (plain.sku.name, plain.primary_location, plain.secondary_location) == ("Standard_GRS", "eastus", "westus")
    assert plain.geo_replication_stats is None  # only with $expand, as in Azure

    (ack,) = put_blobs(http, sandbox.info()["regions"]["westus"], ["trailing"])
    stats = arm.storage.storage_accounts.get_properties(
        arm.rg, ACCOUNT, expand="geoReplicationStats").geo_replication_stats
    assert (stats.status, stats.can_failover, stats.can_planned_failover) == ("Live", True, True)
    assert stats.last_sync_time.timestamp() < ack["acknowledged_at_epoch"]
    wait_until(lambda: synced(sandbox))
    stats = arm.storage.storage_accounts.get_properties(
        arm.rg, ACCOUNT, expand="geoReplicationStats").geo_replication_stats
    assert stats.last_sync_time.timestamp() >= ack["acknowledged_at_epoch"]
    with pytest.raises(ResourceNotFoundError):
        arm.storage.storage_accounts.get_properties(arm.rg, "nosuchaccount")


def test_planned_failover_swaps_regions_stays_geo_redundant_and_loses_nothing(
        arm: Arm, sandbox: AzureSandbox, http: httpx.Client):
    put_blobs(http, sandbox.info()["frontdoor_url"], ["a", "b", "c"])
    assert not synced(sandbox)
    assert arm.storage.storage_accounts.begin_failover(arm.rg, ACCOUNT).result() is None
    account = arm.storage.storage_accounts.get_properties(arm.rg, ACCOUNT, expand="geoReplicationStats")
    assert (account.sku.name, account.primary_location, account.secondary_location) == (
        "Standard_GRS", "westus", "eastus")
    assert account.location == "westus" and account.last_geo_failover_time is not None
    assert all(w["survives"] for w in sandbox.writes())
    (op,) = sandbox.operations()
    # azure-mgmt-storage 25.3.0 asks for a planned failover unless told otherwise
    assert (op["operation"], op["result"], op["details"]["failoverType"]) == ("storage_failover", "Succeeded",
                                                                             "Planned")
    # and back
    arm.storage.storage_accounts.begin_failover(arm.rg, ACCOUNT).result()
    account = arm.storage.storage_accounts.get_properties(arm.rg, ACCOUNT)
    assert (account.primary_location, account.secondary_location) == ("eastus", "westus")


def test_planned_failover_is_refused_while_the_primary_region_is_down(arm: Arm, sandbox: AzureSandbox):
    sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
    account = arm.storage.storage_accounts.get_properties(arm.rg, ACCOUNT, expand="geoReplicationStats")
    assert account.status_of_primary == "unavailable"
    assert (account.geo_replication_stats.can_failover, account.geo_replication_stats.can_planned_failover) == (
        True, False)
    with pytest.raises(HttpResponseError) as failure:
        arm.storage.storage_accounts.begin_failover(arm.rg, ACCOUNT).result()
    assert failure.value.error.code == "PlannedFailoverNotAllowed"
    assert arm.storage.storage_accounts.get_properties(arm.rg, ACCOUNT).primary_location == "eastus"


def test_unplanned_failover_loses_writes_after_last_sync_and_leaves_an_lrs_account(
        arm: Arm, sandbox: AzureSandbox, http: httpx.Client):
    edge = sandbox.info()["frontdoor_url"]
    put_blobs(http, edge, ["early-1", "early-2"])
    wait_until(lambda: synced(sandbox))
    put_blobs(http, edge, ["late-1", "late-2", "late-3"])
    sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
    stats = arm.storage.storage_accounts.get_properties(
        arm.rg, ACCOUNT, expand="geoReplicationStats").geo_replication_stats
    last_sync: datetime = stats.last_sync_time

    arm.storage.storage_accounts.begin_failover(arm.rg, ACCOUNT, failover_type=None).result()
    (op,) = sandbox.operations()
    assert op["details"]["failoverType"] is None  # failover_type=None sends no failoverType at all
    account = arm.storage.storage_accounts.get_properties(arm.rg, ACCOUNT, expand="geoReplicationStats")
    assert (account.sku.name, account.primary_location, account.secondary_location) == (
        "Standard_LRS", "westus", None)
    assert account.geo_replication_stats is None

    writes = sandbox.writes()
    lost = sorted(w["key"] for w in writes if not w["survives"])
    assert lost == ["late-1", "late-2", "late-3"] == sorted(
        w["key"] for w in writes if w["acknowledged_at_epoch"] > last_sync.timestamp())
    assert op["details"]["lost_writes"] == 3
    # the surviving data is readable from the new primary
    west = sandbox.info()["regions"]["westus"]
    assert http.get(f"{west}/api/blobs/early-1").content == b"early-1"
    assert http.get(f"{west}/api/blobs/late-1").status_code == 404

    # an LRS account has nowhere to fail over to
    with pytest.raises(HttpResponseError) as again:
        arm.storage.storage_accounts.begin_failover(arm.rg, ACCOUNT, failover_type=None).result()
    assert again.value.error.code == "FailoverNotSupported"
