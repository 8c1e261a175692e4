"""azure.sql.failover: the runbook's promises for the SQL failover group, against the sandbox."""

from __future__ import annotations

import time
from typing import Any

import httpx

from odin_drills.steps.azure import describe_azure_step

Drill = Any  # tests/azure/conftest.py: the drill fixture


def sql_step(drill: Drill, to: str = "odin-sql-westus", **extra: object):
    return drill.step({"kind": "azure.sql.failover", "failover_group": "odin-fg", "to_server": to,
                       "resource_group": drill.rg, **extra})


def primary_region(drill: Drill) -> str:
    return drill.state()["failover_groups"]["odin-fg"]["primary_region"]


def test_planned_failover_moves_the_primary_and_its_undo_moves_it_back(drill: Drill):
    outcome = drill.run(sql_step(drill))
    assert outcome.status == "ok", outcome.detail
    assert outcome.detail == "failed over odin-fg from eastus to westus (planned)"
    assert primary_region(drill) == "westus"
    assert outcome.undo["kind"] == "azure.sql.failover" and outcome.undo["mode"] == "planned"
    assert outcome.undo["to_server"].lower().endswith("/servers/odin-sql-eastus")

    back = drill.undo(outcome)
    assert back.status == "ok", back.detail
    assert back.detail == "failed over odin-fg from westus to eastus (planned)"
    assert back.undo is None  # an undo has no undo of its own
    assert primary_region(drill) == "eastus"
    assert [(m["operation"], m["result"]) for m in drill.mutations()] == [("failover", "Succeeded")] * 2


def test_the_failover_group_can_be_named_by_arm_ids(drill: Drill):
    step = drill.step({"kind": "azure.sql.failover", "failover_group": drill.id["failover_groups"][0],
                       "to_server": drill.id["sql_servers"]["westus"], "undo": "auto"})
    assert drill.run(step).status == "ok"
    assert primary_region(drill) == "westus"


def test_a_second_run_is_a_noop_and_makes_no_arm_mutation(drill: Drill):
    step = sql_step(drill)
    assert drill.run(step).status == "ok"
    before = drill.mutations()
    again = drill.run(step)
    assert again.status == "noop"
    assert again.detail == "no change: odin-fg already primary in westus (odin-sql-westus)"
    assert again.undo is None  # nothing changed, nothing to undo
    assert drill.mutations() == before


def test_planned_failover_during_a_region_outage_fails_with_azures_reason(drill: Drill):
    drill.sb.faults.add({"kind": "region_outage", "region": "eastus"})
    outcome = drill.run(sql_step(drill))
    assert outcome.status == "failed"
    assert outcome.detail.startswith("azure.sql.failover odin-fg: FailoverGroupPrimaryUnreachable: ")
    assert "\n" not in outcome.detail
    assert outcome.output["error"]["code"] == "FailoverGroupPrimaryUnreachable"
    assert outcome.undo is None
    assert primary_region(drill) == "eastus"


def test_try_planned_falls_back_to_forced_during_an_outage_and_records_the_risk_first(drill: Drill):
    drill.sb.faults.add({"kind": "region_outage", "region": "eastus"})
    outcome = drill.run(sql_step(drill, mode="try-planned", allow_data_loss=True))
    assert outcome.status == "ok", outcome.detail
    assert primary_region(drill) == "westus"
    risk = outcome.output["data_at_risk"]
    assert risk["replication_state"] == "SUSPENDED"
    assert risk["links"][0]["database"] == "orders" and risk["links"][0]["partner_role"] == "Primary"
    assert "since the link stopped is lost" in outcome.detail
    # The risk was reported before the failover was sent.
    assert drill.progress and "allows data loss" in drill.progress[0][0]
    performed = [m for m in drill.mutations() if m["operation"] == "tryPlannedBeforeForcedFailover"]
    assert performed[0]["details"]["performed"] == "forced"


def test_forced_failover_loses_exactly_the_unreplicated_writes(drill: Drill):
    east = drill.info["regions"]["eastus"]
    with httpx.Client(timeout=5) as http:
        for n in range(15):
            assert http.post(f"{east}/api/orders", json={"n": n}).status_code == 201
            time.sleep(0.1)
    outage = drill.sb.faults.add({"kind": "region_outage", "region": "eastus"})
    outcome = drill.run(sql_step(drill, mode="forced", allow_data_loss=True))
    assert outcome.status == "ok", outcome.detail
    assert outcome.output["data_at_risk"]["replication_state"] == "SUSPENDED"

    watermark = outage["injected_at_epoch"] - 1.0  # replication lag of the sandbox
    orders = [w for w in drill.sb.writes() if w["kind"] == "order"]
    lost = {w["id"] for w in orders if not w["survives"]}
    unreplicated = {w["id"] for w in orders if w["acknowledged_at_epoch"] >= watermark}
    assert lost == unreplicated and 0 < len(lost) < len(orders)


def test_an_operation_that_ends_failed_is_one_line_with_the_azure_code(drill: Drill):
    drill.sb.faults.add({"kind": "operation_failure", "operation": "failover", "code": "FailoverOperationFailed",
                         "message": "The failover could not complete.\nTry again later."})
    outcome = drill.run(sql_step(drill))
    assert outcome.status == "failed"
    assert outcome.detail == ("azure.sql.failover odin-fg: FailoverOperationFailed: "
                              "The failover could not complete. Try again later.")
    assert outcome.output["error"]["type"] == "AzureOperationFailed"


def test_throttling_with_retry_after_and_transient_5xx_are_retried_and_run_once(drill: Drill):
    drill.sb.faults.add({"kind": "arm_throttle", "count": 1, "retry_after": 1, "method": "POST"})
    drill.sb.faults.add({"kind": "arm_error", "status": 503, "count": 2, "method": "POST"})
    drill.sb.faults.add({"kind": "arm_error", "status": 500, "count": 1, "method": "GET"})
    started = time.monotonic()
    outcome = drill.run(sql_step(drill))
    assert outcome.status == "ok", outcome.detail
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured
    assert [m["operation"] for m in drill.mutations()] == ["failover"]
    assert drill.sb.faults.list() == []  # every injected rejection was used up by a retry


def test_a_step_that_outlives_its_timeout_fails_and_says_azure_may_still_finish(drill: Drill):
    drill.sb.faults.add({"kind": "slow_operations", "seconds": 30, "operation": "failover"})
    outcome = drill.run(sql_step(drill, timeout="1s"))
    assert outcome.status == "failed"
    assert outcome.detail.startswith("azure.sql.failover odin-fg: Timeout: the operation was still running after 1 s")
    assert outcome.output["continuation_token"]


def test_describe_says_what_would_change_given_the_real_state(drill: Drill):
    step = sql_step(drill)
    assert describe_azure_step(step, drill.session) == \
        "would fail over odin-fg from eastus to westus (planned; replication CATCH_UP)"
    assert drill.mutations() == []  # describing changes nothing
    drill.run(step)
    assert describe_azure_step(step, drill.session) == "no change: odin-fg already primary in westus (odin-sql-westus)"

    drill.sb.faults.add({"kind": "region_outage", "region": "westus"})
    back = sql_step(drill, to="odin-sql-eastus", mode="forced", allow_data_loss=True)
    line = describe_azure_step(back, drill.session)
    assert line.startswith("would fail over odin-fg from westus to eastus (forced, allowing data loss; "
                           "replication SUSPENDED")
