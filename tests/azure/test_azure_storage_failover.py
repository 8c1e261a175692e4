"""azure.storage.failover: the runbook's promises for the geo-redundant storage account."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import httpx

from odin_drills.steps.azure import describe_azure_step

Drill = Any  # tests/azure/conftest.py: the drill fixture


def storage_step(drill: Drill, to: str = "westus", **extra: object):
    return drill.step({"kind": "azure.storage.failover", "account": "odindrillsdata", "resource_group": drill.rg,
                       "to_region": to, **extra})


def account(drill: Drill) -> dict[str, Any]:
    return drill.state()["storage_accounts"]["odindrillsdata"]


def test_planned_failover_swaps_regions_stays_geo_redundant_and_its_undo_swaps_back(drill: Drill):
    outcome = drill.run(storage_step(drill, to="West US"))
    assert outcome.status == "ok", outcome.detail
    assert outcome.detail == "failed over odindrillsdata from eastus to westus (planned; now Standard_GRS)"
    assert account(drill)["primary_region"] == "westus" and account(drill)["sku"] == "Standard_GRS"
    assert outcome.undo["to_region"] == "eastus" and outcome.undo["mode"] == "planned"

    back = drill.undo(outcome)
    assert back.status == "ok", back.detail
    assert account(drill)["primary_region"] == "eastus"
    assert [m["details"]["failoverType"] for m in drill.mutations()] == ["Planned", "Planned"]


def test_a_second_run_is_a_noop_and_makes_no_arm_mutation(drill: Drill):
    step = storage_step(drill)
    assert drill.run(step).status == "ok"
    before = drill.mutations()
    again = drill.run(step)
    assert again.status == "noop"
    assert again.detail == "no change: odindrillsdata already primary in westus (Standard_GRS)"
    assert drill.mutations() == before


def test_unplanned_failover_loses_the_writes_after_the_last_sync_and_leaves_lrs(drill: Drill):
    east = drill.info["regions"]["eastus"]
    with httpx.Client(timeout=5) as http:
        for n in range(12):
            assert http.put(f"{east}/api/blobs/report-{n}.txt", content=f"report {n}".encode()).status_code == 201
            time.sleep(0.1)
    drill.sb.faults.add({"kind": "region_outage", "region": "eastus"})  # the primary region is gone

    planned = drill.run(storage_step(drill))
    assert planned.status == "failed"
    assert planned.detail.startswith("azure.storage.failover odindrillsdata: FailoverNotPossible: a planned failover "
                                     "is not possible now")
    assert "mode: unplanned, allow_data_loss: true" in planned.detail
    assert drill.mutations() == []  # refused before asking Azure

    outcome = drill.run(storage_step(drill, mode="unplanned", allow_data_loss=True))
    assert outcome.status == "ok", outcome.detail
    assert account(drill)["sku"] == "Standard_LRS" and account(drill)["primary_region"] == "westus"
    risk = outcome.output["data_at_risk"]
    assert risk["post_failover_redundancy"] == "Standard_LRS"
    assert drill.progress[0][1]["data_at_risk"] == risk  # reported before the failover was sent

    last_sync = datetime.fromisoformat(risk["last_sync_time"].replace("Z", "+00:00")).timestamp()
    blobs = [w for w in drill.sb.writes() if w["kind"] == "blob"]
    lost = {w["key"] for w in blobs if not w["survives"]}
    after_sync = {w["key"] for w in blobs if w["acknowledged_at_epoch"] >= last_sync - 1e-5}
    assert lost == after_sync and 0 < len(lost) < len(blobs)

    # Failing back needs geo-redundancy again: the undo says so instead of pretending.
    back = drill.undo(outcome)
    assert back.status == "failed"
    assert "has no secondary region (Standard_LRS): re-enable geo-redundancy" in back.detail


def test_an_operation_that_ends_failed_is_one_line_with_the_azure_code(drill: Drill):
    drill.sb.faults.add({"kind": "operation_failure", "operation": "storage_failover", "code": "FailoverFailed",
                         "message": "Storage failover failed."})
    outcome = drill.run(storage_step(drill))
    assert outcome.status == "failed"
    assert outcome.detail == "azure.storage.failover odindrillsdata: FailoverFailed: Storage failover failed."
    assert account(drill)["primary_region"] == "eastus"


def test_describe_reports_the_last_sync_and_what_an_unplanned_failover_would_lose(drill: Drill):
    planned = describe_azure_step(storage_step(drill), drill.session)
    assert planned.startswith("would fail over odindrillsdata from eastus to westus (planned; geo-replication Live, "
                              "last sync ")
    unplanned = describe_azure_step(storage_step(drill, mode="unplanned", allow_data_loss=True), drill.session)
    assert "unplanned, allowing data loss; writes after the last sync" in unplanned
    assert unplanned.endswith("the account becomes Standard_LRS in westus)")
    assert describe_azure_step(storage_step(drill, to="eastus"), drill.session) == \
        "no change: odindrillsdata already primary in eastus (Standard_GRS)"
    assert drill.mutations() == []
