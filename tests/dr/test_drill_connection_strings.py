"""Prove it: in a sandbox whose apps name their database *server* (``connection_mode: per_server``),
writes in the DR region keep working after a failover only because the drill moved the DR app's
connection string; the same drill without that step fails its criteria.

The drill is the shipped sample (``drills/region-failover-appservice.yaml``: DNS, App Service scale
and settings steps after SQL and Front Door), run by the real CLI in a subprocess on the session's
Prefect server, against a sandbox this module starts and stops (``finally``). Ground truth comes
from the sandbox: its name server over real UDP, the web app's connection string and the plan's
capacity (watched every 20 ms on a thread that is always stopped), and the acknowledged writes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from odin_drills.sandbox.azure import AzureSandbox
from odin_drills.sandbox.azure.db_target import resolve
from odin_drills.sandbox.azure.world_web import orders_connection_string
from tests.conftest import ROOT
from tests.test_drill_custom_steps import dns_now
from tests.test_drill_e2e import journal_of, only, run_drill, sandbox_env

SAMPLE = ROOT / "drills" / "region-failover-appservice.yaml"
EAST_DNS, WEST_DNS = "app-eastus.odin-demo.example", "app-westus.odin-demo.example"
EAST, WEST = "odin-sql-eastus", "odin-sql-westus"
SCALE = 60.0  # a 15 s probe round in 0.25 s, the 1-minute confirmation in 1 s
FAST_FAILBACK = {"enabled": True, "wait_healthy": "30s"}  # the sample's 2m is 2 wall seconds of waiting


@pytest.fixture
def per_server_sandbox(tmp_path: Path) -> Iterator[AzureSandbox]:
    """The sample's sandbox (seed 0: its ARM ids), apps naming the primary's server; stopped at the end."""
    sandbox = AzureSandbox(state_dir=tmp_path / "sandbox", seed=0, replication_lag_seconds=1.0, lro_retry_after=0,
                           probe_interval_seconds=0.1, probe_timeout_seconds=0.5, connection_mode="per_server")
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def sample_plan(tmp_path: Path, name: str, *, keep_settings_step: bool = True, **overrides: Any) -> Path:
    """The shipped sample under another name (its own environment lock), optionally without its
    connection-string step."""
    plan = yaml.safe_load(SAMPLE.read_text())
    plan.update(name=name, environment=f"{name}-env", **overrides)
    if not keep_settings_step:
        plan["steps"]["failover"] = [s for s in plan["steps"]["failover"] if s["kind"] != "azure.appservice.settings"]
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def dr_app_server(sandbox: AzureSandbox) -> str:
    """The server the DR region's app writes to now, from its ``orders`` connection string."""
    assert sandbox.world is not None
    value = sandbox.world.web_apps["app-westus"].connection_strings["orders"][0]
    return resolve(value, failover_groups=["odin-fg"], servers=[EAST, WEST]).name


@contextmanager
def watched(sandbox: AzureSandbox) -> Iterator[dict[str, list[Any]]]:
    """Every change of the DNS answer for app., the DR app's database server and the DR plan's
    capacity, while the drill runs."""
    seen: dict[str, list[Any]] = {"dns": [], "db": [], "capacity": []}
    info = sandbox.info()
    stop = threading.Event()

    def note(key: str, value: Any) -> None:
        if not seen[key] or seen[key][-1] != value:
            seen[key].append(value)

    def watch() -> None:
        while not stop.wait(0.02):
            assert sandbox.world is not None
            note("db", dr_app_server(sandbox))
            note("capacity", sandbox.world.app_service_plans["odin-plan-westus"].capacity)
            note("dns", ",".join(dns_now(info)))

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(timeout=5)


def dr_writes_during_outage(sandbox: AzureSandbox) -> list[str]:
    """The servers that committed each write the DR region's app acknowledged while East US was out
    (after it, the failback's SQL undo makes East US the primary again before the app's string moves back)."""
    outages = [f for f in sandbox.faults.list(include_cleared=True) if f["kind"] == "region_outage"]
    assert len(outages) == 1 and outages[0]["cleared_at_epoch"] is not None, outages
    start, end = outages[0]["injected_at_epoch"], outages[0]["cleared_at_epoch"]
    return [w["committed_on"] for w in sandbox.writes()
            if w["region"] == "westus" and start < w["acknowledged_at_epoch"] < end]


def test_the_shipped_appservice_drill_validates() -> None:
    from odin_drills.flows.drill_target import drill_problems
    from odin_drills.plan.drill import load_drill

    plan = load_drill(SAMPLE, environ={})
    assert drill_problems(plan, str(SAMPLE)) == []
    assert plan.target.connection_mode == "per_server"
    assert [s.kind for s in plan.steps.failover] == ["azure.dns.records", "azure.appservice.scale",
                                                       "azure.appservice.settings"]


def test_a_per_server_plan_refuses_a_running_listener_sandbox() -> None:
    """The drill would otherwise prove nothing: against a listener sandbox writes follow the failover anyway."""
    from odin_drills.flows.drill_target import sandbox_resources
    from odin_drills.plan.drill import load_drill

    plan = load_drill(SAMPLE, environ={})
    info = {"subscription_id": "4540a7e5-cc6c-468b-8baa-a0a1b0307023", "connection_mode": "listener"}
    problems = sandbox_resources(plan, info)[2]
    assert problems == [f"{plan.name}: target.connection_mode: the plan wants a per_server sandbox, and the running "
                        "one (ODIN_SANDBOX_INFO) is listener: start it with `python -m odin_drills.sandbox.azure "
                        "--connection-mode per_server`, or unset "
                        "ODIN_SANDBOX_INFO so the drill starts its own"]
    assert sandbox_resources(plan, {**info, "connection_mode": "per_server"})[2] == []


def test_dr_writes_work_only_because_the_drill_moved_the_connection_string_and_everything_comes_back(
        per_server_sandbox: AzureSandbox, odin_env: dict[str, str], tmp_path: Path) -> None:
    sandbox = per_server_sandbox
    info = sandbox.info()
    assert (info["connection_mode"], dr_app_server(sandbox)) == ("per_server", EAST)
    plan = sample_plan(tmp_path, "appservice-drill", failback=FAST_FAILBACK)
    with watched(sandbox) as seen:
        result = run_drill(plan, sandbox_env(odin_env, tmp_path), SCALE)
    assert result.returncode == 0, result.stderr[-4000:]
    card = json.loads(result.stdout)
    assert all(card["criteria"].values()), card["criteria"]

    # the DR app wrote to the new primary, and could only because its connection string named it
    # (a per_server app commits exactly where its string points: tests/sandbox/azure)
    assert seen["db"] == [EAST, WEST, EAST]
    dr_servers = dr_writes_during_outage(sandbox)
    assert dr_servers and set(dr_servers) == {WEST}, dr_servers
    # DNS answered the DR host after the failover and the primary's after the failback; the DR plan scaled and back
    assert seen["dns"] == [EAST_DNS, WEST_DNS, EAST_DNS] and dns_now(info) == [EAST_DNS]
    assert seen["capacity"] == [1, 3, 1]

    # failed back: the app's settings exactly as before, the data tier home, each undo once, data first
    assert sandbox.world is not None
    app = sandbox.world.web_apps["app-westus"]
    assert app.connection_strings == {"orders": (orders_connection_string(EAST, "orders"), "SQLAzure")}
    assert app.app_settings == {"DB_TARGET": EAST}
    assert sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "eastus"
    entries = journal_of(card["report"])
    undone = [(e["phase"], e["step"].split()[0]) for e in entries
              if e["kind"] == "undo_finished" and e["data"]["status"] == "ok"]
    assert undone == [("failback", "sql"), ("failback", "dr-orders-db"), ("failback", "scale-dr"),
                      ("failback", "app-dns"), ("failback", "frontdoor")], undone
    # a connection string is a secret: its values never reach the journal, only the references
    text = (Path(card["report"]).parent / "journal.jsonl").read_text()
    assert orders_connection_string(WEST, "orders") not in text and "odin-sql-westus.database.windows.net" not in text
    assert "${secret:orders-db-eastus}" in text


def test_the_same_drill_without_the_connection_string_step_fails_its_criteria_on_dr_writes(
        per_server_sandbox: AzureSandbox, odin_env: dict[str, str], tmp_path: Path) -> None:
    """The RTO target is short only so that validation stops waiting for a service that cannot come back
    (it waits up to the RTO left), and a DR region worse than before fails back at once instead of holding
    for a person. No canary write survives to be compared either (``no_data_corruption``
    fails too): the few acknowledged before the outage were within the replication lag, lost by the forced
    failover, and the DR region acknowledged none."""
    sandbox = per_server_sandbox
    plan = sample_plan(tmp_path, "forgot-settings", keep_settings_step=False, targets={"rto": "5m", "rpo": "15m"},
                       failback=FAST_FAILBACK, decision={"on_worse_after_failover": "fail_back"})
    with watched(sandbox) as seen:
        result = run_drill(plan, sandbox_env(odin_env, tmp_path), SCALE)
    assert result.returncode == 3, result.stderr[-4000:]
    card = json.loads(result.stdout)
    criteria = card["criteria"]
    assert not criteria["critical_journeys_in_dr_region"] and not criteria["failover_within_rto"], criteria
    assert card["rto_seconds"] is None  # the service never answered a write through Front Door again
    assert criteria["failback_completed"], criteria

    # why: every write the DR app attempted after the failover went to the old primary, which is down
    assert seen["db"] == [EAST] and dr_writes_during_outage(sandbox) == []
    scorecard = json.loads((Path(card["report"]).parent / "scorecard.json").read_text())
    evidence = scorecard["criteria"]["critical_journeys_in_dr_region"]["evidence"]
    assert "failed in westus: place-order: attempt 1: expected status 201, got 503" in evidence, evidence
    assert scorecard["failed_writes"] > 0  # the canary's writes through Front Door, refused
    entries = journal_of(card["report"])
    assert only(entries, "run_finished")["data"]["outcome"] == "criteria_failed"
    canary = [e["data"] for e in entries if e["kind"] == "canary_state"]
    assert canary[-1]["state"] == "failing", canary  # from the outage on, never acknowledging again
    # the other steps did their part and were undone: DNS moved and came back
    assert seen["dns"] == [EAST_DNS, WEST_DNS, EAST_DNS] and seen["capacity"] == [1, 3, 1]
