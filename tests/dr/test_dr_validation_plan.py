"""A drill file's ``metrics:``, ``alerts:``, ``policy:`` and ``validation:``: checked at load, and
the criteria validation measures judged from what Azure reported (``steps.dr.replication_lag``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from odin_drills.errors import PlanInvalid
from odin_drills.plan.drill import parse_drill
from odin_drills.steps.dr.replication_lag import judge_lags
from tests.conftest import run_odin

BASE = {"name": "measured", "environment": "measured-env", "regions": {"primary": "eastus", "secondary": "westus"}}


def drill(**sections: Any) -> Any:
    return parse_drill({**BASE, **sections})


def test_the_defaults_fit_the_runbooks_validation_budget() -> None:
    plan = drill()
    assert (plan.metrics, plan.alerts) == (None, None)
    assert plan.validation.watch == 600.0 <= plan.targets.budgets.validation == 900.0
    assert plan.validation.interval == 60.0 and plan.validation.max_replication_lag == 5.0
    assert plan.policy.judge == "sequential"
    assert "max_replication_lag" not in plan.validation.model_fields_set  # not judged unless the file sets it


def test_metrics_alerts_and_policy_take_the_migration_sources() -> None:
    plan = drill(metrics={"kind": "synthetic_probe", "url": "https://app-westus.example/health"},
                 alerts={"kind": "azure_monitor_alerts", "target_resource_group": "rg-shop"},
                 policy={"floors": {"error_rate_pp": 1.0}}, validation={"watch": "12m", "interval": "90s"})
    assert plan.metrics.kind == "synthetic_probe" and plan.alerts.kind == "azure_monitor_alerts"
    assert plan.policy.floors.error_rate_pp == 1.0 and plan.validation.watch == 720.0


def test_a_watch_longer_than_the_validation_budget_is_refused_naming_both_fields() -> None:
    with pytest.raises(PlanInvalid) as caught:
        drill(validation={"watch": "20m"})
    (line,) = caught.value.problems
    assert "validation.watch (20m)" in line and "targets.budgets.validation (15m)" in line
    assert drill(validation={"watch": "20m"}, targets={"budgets": {"validation": "30m"}}).validation.watch == 1200.0


def test_odin_validate_refuses_it_with_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "long-watch.yaml"
    bad.write_text("name: w\nenvironment: w-env\nregions: {primary: eastus, secondary: westus}\n"
                   "validation: {watch: 20m}\n")
    done = run_odin(["validate", str(bad)])
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert str(bad) in lines[0] and "validation.watch" in lines[0] and "targets.budgets.validation" in lines[0]


def test_lags_are_judged_on_what_azure_reported_and_unknown_is_not_a_pass() -> None:
    ok = judge_lags({"storage acc": {"lag_seconds": 2.0},
                     "sql fg": {"links": [{"database": "orders", "state": "CATCH_UP", "percent_complete": 100}]}}, 5.0)
    assert ok.passed and "storage acc lag 2s" in ok.evidence and "ARM reports no lag figure for SQL" in ok.evidence
    over = judge_lags({"storage acc": {"lag_seconds": 60.0}}, 5.0)
    assert not over.passed and "trails by 1m" in over.evidence
    seeding = judge_lags({"sql fg": {"links": [{"database": "orders", "state": "SEEDING", "percent_complete": 40}]}}, 5.0)
    assert not seeding.passed and "not caught up" in seeding.evidence
    unread = judge_lags({"storage acc": {"error": "ServiceRequestError: refused"}}, 5.0)
    assert not unread.passed and "could not be measured" in unread.evidence
    nothing = judge_lags({"storage acc": {"note": "no geo-secondary any more (sku Standard_LRS)"}}, 5.0)
    assert not nothing.passed and "not measured" in nothing.evidence


def sandbox_steps(info: dict[str, Any]) -> tuple[Any, Any]:
    """The sandbox's failover group and storage account as failover steps (SQL, storage)."""
    from odin_drills.steps.dr.failover import STEPS

    fg = info["resources"]["failover_groups"][0]
    sql = STEPS.validate_python({"kind": "azure.sql.failover", "name": "sql", "failover_group": fg,
                                 "to_server": fg.split("/failoverGroups/")[0], "mode": "planned"})
    storage = STEPS.validate_python({"kind": "azure.storage.failover", "name": "storage", "mode": "planned",
                                     "account": info["resources"]["storage_accounts"][0], "to_region": "westus"})
    return sql, storage


def write_orders(info: dict[str, Any], count: int = 5) -> None:
    """Writes keep the storage watermark trailing them."""
    import httpx

    for n in range(count):
        httpx.post(f"{info['frontdoor_url']}/api/orders", json={"n": n}, verify=False, timeout=5)


def test_the_lag_is_read_from_the_sandbox_through_the_real_sdk_clients(start_sandbox: Any) -> None:
    """Storage: ``lastSyncTime`` trails writes by the sandbox's lag (1 wall s; x60 under a 60x clock);
    SQL: each database's link state from ``replication_links.list_by_database`` (no lag figure in ARM);
    an ARM endpoint that does not answer leaves every lag unknown."""
    from types import SimpleNamespace

    from odin_drills.steps.dr.azure_reads import read_replication
    from odin_drills.steps.dr.replication_lag import read_lags

    sandbox = start_sandbox(replication_lag_seconds=1.0)
    info = sandbox.info()
    target = SimpleNamespace(kind="sandbox", arm_url=info["arm_url"], ca_cert=info["ca_cert"],
                             subscription_id=info["subscription_id"])
    write_orders(info)
    sql, storage = sandbox_steps(info)
    steps = [("sql", sql), ("storage", storage)]
    found = read_lags(steps, read_replication(steps, target), target, scale=60.0)
    assert [link["state"] for link in found["sql"]["links"]] == ["CATCH_UP"], found
    assert 0 <= found["storage"]["lag_seconds"] <= 60.0 * 10, found
    assert judge_lags(found, 3600.0).passed
    away = SimpleNamespace(**{**vars(target), "arm_url": "https://127.0.0.1:9"})
    down = read_lags([("storage", storage)], read_replication([("storage", storage)], away), away)
    assert "error" in down["storage"] and not judge_lags(down, 5.0).passed


def test_validation_reads_each_storage_account_once_and_judges_the_lag_of_that_read(
        start_sandbox: Any, tmp_path: Path) -> None:
    """Validation's ``replication`` read is the only GET of the account's geo-replication stats: the
    criterion judges ``read_at - lastSyncTime`` of that answer (x60 plan time), not a second look taken
    later — the half second slept between them would show as 30 plan seconds more lag."""
    import time
    from types import SimpleNamespace

    from odin_drills.flows.drill_tasks import replication_state
    from odin_drills.plan.models import SandboxTarget
    from odin_drills.steps.actions import StepOutcome
    from odin_drills.steps.clock import ScaledClock
    from odin_drills.steps.dr.replication_lag import NAME, judge_replication_lag
    from odin_drills.steps.dr.run import Action, Findings
    from odin_drills.steps.dr.scorecard import ReplicationEvidence
    from odin_drills.steps.journal import Journal

    sandbox = start_sandbox(replication_lag_seconds=1.0)
    info = sandbox.info()
    write_orders(info)
    _, storage = sandbox_steps(info)
    clock = ScaledClock(60.0)
    run = SimpleNamespace(
        plan=drill(validation={"max_replication_lag": "1h"}), clock=clock,
        journal=Journal(tmp_path / "journal.jsonl", clock), found=Findings(),
        target=SandboxTarget(arm_url=info["arm_url"], ca_cert=info["ca_cert"], subscription_id=info["subscription_id"]),
        waves=[[Action("storage", storage)]])
    run.found.outcomes = [(run.waves[0][0], StepOutcome(status="ok", detail="failed over"))]
    run.found.replication = ReplicationEvidence()
    geo_gets = {"method": "GET", "path_contains": "storageAccounts/odindrillsdata", "expand": "geoReplicationStats"}
    before = sandbox.arm_requests(**geo_gets)

    state = replication_state.fn(run, "validate")
    time.sleep(0.5)
    criterion = judge_replication_lag(run)

    assert sandbox.arm_requests(**geo_gets) - before == 1
    read = run.found.replication_read.storage["storage"]
    assert read.last_sync_time is not None and read.error is None
    lag = run.journal.entries("validation_criterion")[-1].data["measured"]["resources"]["storage"]["lag_seconds"]
    assert lag == round((read.read_at - read.last_sync_time).total_seconds() * 60.0, 3)
    assert run.found.replication.replication_lag_seconds == lag and criterion is not None and criterion.passed
    assert run.found.validation[NAME] is criterion
    (entry,) = run.journal.entries("replication")  # journaled as before: no stamp in it
    assert set(entry.data["storage_accounts"]["odindrillsdata"]) == {"primary_region", "sku", "geo_replication",
                                                                     "last_sync_time"}
    assert entry.data["storage_accounts"] == state["storage_accounts"]


def test_the_default_watch_is_held_to_a_shorter_budget_only_when_it_runs() -> None:
    short = {"targets": {"budgets": {"validation": "5m"}}}
    assert drill(**short).validation.watch == 600.0  # no metrics: nothing is watched, nothing to refuse
    with pytest.raises(PlanInvalid, match=r"validation.watch \(10m\) is longer than targets.budgets.validation \(5m\)"):
        drill(metrics={"kind": "synthetic_probe", "url": "https://app-westus.example/health"}, **short)
