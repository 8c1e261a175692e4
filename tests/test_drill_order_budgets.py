"""The region-failover drill's phase budgets and its order and safety, against the Azure sandbox's
own ground truth (``/operations``, ``/state``, ``/faults``), through the real CLI, the real Prefect
server and the real azure-mgmt SDK clients:

  * a ``slow_operations`` fault makes the failover take longer than its budget: that criterion
    fails and only it; the failback then moves the data tier back before Front Door;
  * a SQL failover that fails: Front Door is never touched (the traffic wave journaled as skipped,
    with the reason), and what did fail over (storage) is failed back: rolled back, healthy;
  * the DR region worse after the failover than the primary before it: failed back as the plan's
    ``decision.on_worse_after_failover`` says, even with failback off;
  * a plan whose ``decision.mode`` is incident is run as an incident from ``odin drill``: no outage
    caused, failover after the threshold, no automatic failback (``odin rollback`` is that run).

Every sandbox is the test's own and is stopped at the end (``azure_sandbox``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_odin
from tests.test_drill_e2e import (SCALE, azure_sandbox, journal_of, only, run_drill, sandbox_env,  # noqa: F401
                                  sandbox_resources, write_drill)

SQL_OPERATIONS = ("failover", "forceFailoverAllowDataLoss", "tryPlannedBeforeForcedFailover")


def operations(sandbox: Any, *names: str) -> list[dict[str, Any]]:
    return [op for op in sandbox.operations() if op["operation"] in names]


def test_a_failover_slower_than_its_budget_fails_that_criterion_and_only_that_one(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:
    info = azure_sandbox.info()
    plan = write_drill(tmp_path, "slow-failover", resources=sandbox_resources(info, "forced", True),
                       targets={"rto": "4h", "rpo": "15m", "budgets": {"failover": "1m"}})
    azure_sandbox.faults.add({"kind": "slow_operations", "seconds": 2.5, "operation": "forceFailoverAllowDataLoss"})
    result = run_drill(plan, sandbox_env(odin_env, tmp_path))
    assert result.returncode == 3, result.stderr[-4000:]
    card = json.loads(result.stdout)
    failed = sorted(name for name, ok in card["criteria"].items() if not ok)
    assert failed == ["failover_within_budget"], card["criteria"]

    # the measured failover covers the operation the sandbox says was slow (wall seconds x SCALE)
    forced = operations(azure_sandbox, "forceFailoverAllowDataLoss")
    assert len(forced) == 1 and forced[0]["result"] == "Succeeded"
    slow = (forced[0]["finished_at_epoch"] - forced[0]["time_epoch"]) * SCALE
    phases = card["phases"]
    assert phases["failover"]["budget_seconds"] == 60 and phases["failover"]["within"] is False
    assert phases["failover"]["seconds"] >= slow >= 2.5 * SCALE, (phases, slow)
    assert all(phases[p]["within"] for p in ("detection", "decision", "validation")), phases
    assert phases["detection"]["budget_seconds"] == 300 and phases["validation"]["budget_seconds"] == 900
    assert card["rto_exceeded"] is False

    entries = journal_of(card["report"])
    budgets = {e["data"]["budget_phase"]: e["data"] for e in entries if e["kind"] == "phase_budget"}
    assert list(budgets) == ["detection", "decision", "failover", "validation"]
    assert budgets["failover"]["within"] is False and budgets["failover"]["seconds"] == phases["failover"]["seconds"]
    report = Path(card["report"]).read_text()
    assert "| phase budget: failover |" in report and "✗ missed" in report.split("| phase budget: failover |")[1]
    assert "✗ **failover_within_budget** — failover took" in report

    # the failback: the failover group back before Front Door, in the journal and in the sandbox's log
    undone = [e["step"] for e in entries if e["kind"] == "undo_finished" and e["data"]["status"] == "ok"]
    assert [u.split()[0] for u in undone] == ["sql", "frontdoor"], undone
    back_sql = [op for op in operations(azure_sandbox, *SQL_OPERATIONS) if op["details"].get("server") == "odin-sql-eastus"]
    back_fd = operations(azure_sandbox, "origin_update")[-2:]
    assert len(back_sql) == 1 and back_sql[0]["finished_at_epoch"] <= min(op["time_epoch"] for op in back_fd)
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "eastus"


def test_a_failed_sql_failover_skips_front_door_and_rolls_back_the_storage_failover(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:
    """An app outage (the data tier answers): SQL and storage fail over planned, in parallel; SQL's
    operation fails (an ``operation_failure`` fault), so Front Door must not move, and storage,
    which did move, is failed back."""
    info = azure_sandbox.info()
    resources = {**sandbox_resources(info, "planned", False),
                 "storage_accounts": [{"id": info["resources"]["storage_accounts"][0], "mode": "planned"}]}
    plan = write_drill(tmp_path, "sql-fails", resources=resources, outage={"kind": "app"}, canary={"enabled": False})
    azure_sandbox.faults.add({"kind": "operation_failure", "operation": "failover", "code": "FailoverFailed"})
    result = run_drill(plan, sandbox_env(odin_env, tmp_path))
    assert result.returncode == 3, result.stderr[-4000:]
    entries = journal_of(json.loads(result.stdout)["report"])
    finished = only(entries, "run_finished")["data"]
    assert (finished["outcome"], finished["exit_code"]) == ("rolled_back_healthy", 3), finished
    assert "the data tier did not fail over (sql odin-fg -> westus)" in finished["detail"]

    skipped = only(entries, "step_skipped")
    assert skipped["step"].startswith("frontdoor ") and skipped["phase"] == "failover"
    assert skipped["data"]["step_kind"] == "azure.frontdoor.origins"
    assert "traffic is not moved to westus without its data" in skipped["data"]["reason"]
    assert not any(e["kind"] == "step_started" and e["step"].startswith("frontdoor") for e in entries)

    # the sandbox's ground truth: Front Door never touched, SQL never moved, storage over and back
    assert operations(azure_sandbox, "origin_update", "origin_group_update") == []
    assert [op["result"] for op in operations(azure_sandbox, "failover")] == ["Failed"]
    storage = operations(azure_sandbox, "storage_failover")
    assert [op["result"] for op in storage] == ["Succeeded", "Succeeded"], storage
    state = azure_sandbox.state()
    assert state["storage_accounts"]["odindrillsdata"]["primary_region"] == "eastus"
    assert state["failover_groups"]["odin-fg"]["primary_region"] == "eastus"
    undone = [(e["phase"], e["step"], e["data"]["status"]) for e in entries if e["kind"] == "undo_finished"]
    assert [(p, s.split()[0], ok) for p, s, ok in undone] == [("cleanup", "storage", "ok")], undone
    smoke_after = [e for e in entries if e["kind"] == "smoke" and e["phase"] == "cleanup"]
    assert len(smoke_after) == 1 and smoke_after[0]["data"]["critical_failed"] == 0
    active = [f for f in azure_sandbox.faults.list() if f["kind"] != "operation_failure"]
    assert active == []  # the drill's own app outage was ended
    assert "| skipped |" in Path(json.loads(result.stdout)["report"]).read_text()


@pytest.mark.parametrize("on_worse", ["fail_back", "escalate"])
def test_a_dr_region_worse_than_before_is_failed_back_as_the_plan_says(
        on_worse: str, azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:
    """A critical journey that only East US can pass (it asserts the serving region) passes through
    Front Door before the outage and fails after the failover: worse. Failback is off in the plan,
    yet the drill fails back — at once (``fail_back``), or when nobody answers the hold (``escalate``)."""
    info = azure_sandbox.info()
    name = f"worse-{on_worse.replace('_', '-')}"
    smoke = [{"name": "place-order", "method": "POST", "url": "http://frontdoor/api/orders", "json": {"sku": "s"},
              "expect_status": 201},
             {"name": "served-from-eastus", "url": "http://frontdoor/health",
              "assert": [{"jsonpath": "$.region", "equals": "eastus"}]}]
    plan = write_drill(tmp_path, name, resources=sandbox_resources(info, "forced", True), smoke=smoke,
                       canary={"enabled": False}, failback={"enabled": False, "wait_healthy": "1m"},
                       decision={"on_worse_after_failover": on_worse, "confirm_timeout": "1m"})
    result = run_drill(plan, sandbox_env(odin_env, tmp_path))
    assert result.returncode == 3, result.stderr[-4000:]
    card = json.loads(result.stdout)
    entries = journal_of(card["report"])
    assert only(entries, "failover_check")["data"]["verdict"] == "worse"
    decisions = [(e["data"]["action"], e["data"]["by"]) for e in entries if e["kind"] == "decision"]
    holds = [e["data"] for e in entries if e["kind"] == "hold_started"]
    if on_worse == "fail_back":
        assert decisions == [("fail_over", "odin"), ("fail_back", "odin")] and holds == []
    else:
        assert [(h["hold"], h["default"]) for h in holds] == [("worse-after-failover", "rollback")]
        assert [d[0] for d in decisions] == ["fail_over", "fail_back"]
        assert only(entries, "human_input")["data"]["action"] == "rollback"
    assert card["criteria"]["failback_completed"] is True  # failback was off: failed back only because worse
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "eastus"
    assert not any(e["kind"] == "note" and "failback disabled" in e["data"]["message"] for e in entries)


def test_a_plan_in_incident_mode_fails_over_after_the_threshold_and_never_fails_back_by_itself(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:
    info = azure_sandbox.info()
    resources = sandbox_resources(info, "forced", True)  # in an incident: the group named through the DR server
    group = resources["failover_groups"][0]
    group["id"] = group["id"].replace("/servers/odin-sql-eastus/", "/servers/odin-sql-westus/")
    plan = write_drill(tmp_path, "incident-plan", resources=resources,
                       canary={"enabled": False}, decision={"mode": "incident", "service_health": False},
                       detection={"interval": "30s", "confirmation": "1m", "threshold": "3m", "timeout": "2s"})
    ours = azure_sandbox.faults.add({"kind": "region_outage", "region": "eastus"})  # the real outage: not odin's
    env = sandbox_env(odin_env, tmp_path)
    result = run_drill(plan, env)
    assert result.returncode in (0, 3), result.stderr[-4000:]
    card = json.loads(result.stdout)
    assert "failback_completed" not in card["criteria"]  # not this run's job
    entries = journal_of(card["report"])
    assert only(entries, "run_started")["data"]["mode"] == "incident"
    assert not any(e["kind"] in ("outage_injecting", "outage_injected") for e in entries)
    decided = only(entries, "decision")
    outage_since = only(entries, "outage_confirmed")["data"]
    assert decided["data"]["action"] == "fail_over" and "lasting the 180 s threshold" in decided["data"]["reason"]
    assert not any(e["kind"] in ("undo_started", "undo_finished") for e in entries)
    assert any(e["kind"] == "note" and e["data"]["message"].startswith("incident mode: the service stays in westus")
               for e in entries), [e["data"] for e in entries if e["kind"] == "note"]
    assert outage_since["region"] == "eastus"
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "westus"  # still in the DR region
    assert [f["id"] for f in azure_sandbox.faults.list()] == [ours["id"]]

    azure_sandbox.faults.clear()  # East US is back; a person fails back in a separate, confirmed run
    back = run_odin(["rollback", str(plan), "--reason", "east us healthy", "--by", "erin", "--time-scale", str(SCALE)],
                    env=env)
    assert back.returncode == 3 and "rolled back, healthy" in back.stdout, back.stdout[-2000:] + back.stderr[-3000:]
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "eastus"
