"""The region-failover drill end to end: the real CLI in a subprocess, a real Prefect server, the
Azure sandbox driven through the real SDK clients, checked against the sandbox's own ground truth.

The drill's promises:
  * an outage is injected, detected, failed over, validated and failed back, and the RTO it reports
    matches the moment the sandbox says it broke and the first write the DR region acknowledged;
  * a planned failover loses no write at all; a forced one loses exactly the canary writes the
    sandbox says it lost, and the report lists exactly those;
  * stakeholders hear at T+0/15/60/90 (plan minutes, scaled) and at the resolution, with the fields filled;
  * an invalid drill, or production without --allow-production, is refused before anything runs.

Every sandbox and webhook receiver a test starts is stopped by the test (``finally``/``with``);
the Prefect server is the session's (``tests/conftest.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ROOT, run_odin
from tests.webhook_receiver import WebhookReceiver

SCALE = 60.0  # a probe round every 0.5 s, a 2-minute confirmation in 2 s


def run_drill(plan: Path, env: dict[str, str], scale: float = SCALE, *args: str,
              timeout: float = 150) -> subprocess.CompletedProcess[str]:
    """``odin drill PLAN --time-scale N --json`` (through ``odin_drills.cli.drill`` until the CLI has ``drill``)."""
    from odin_drills.cli import main as cli

    if "drill" in cli.COMMANDS:
        return run_odin(["drill", str(plan), "--time-scale", str(scale), "--json", *args], env=env, timeout=timeout)
    code = ("import sys; from odin_drills.cli.drill import run_drill; "
            "sys.exit(run_drill(sys.argv[1], float(sys.argv[2]), True, '--allow-production' in sys.argv))")
    return subprocess.run([sys.executable, "-c", code, str(plan), str(scale), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture
def azure_sandbox(tmp_path: Path) -> Iterator[Any]:
    """A sandbox this test owns (and so can ask for the ground truth afterwards); stopped at the end."""
    from odin_drills.sandbox.azure import AzureSandbox

    sandbox = AzureSandbox(state_dir=tmp_path / "sandbox", seed=0, replication_lag_seconds=1.0, lro_retry_after=0,
                           probe_interval_seconds=0.1, probe_timeout_seconds=0.5)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def write_drill(tmp_path: Path, name: str, **sections: Any) -> Path:
    drill = {
        "name": name,
        "environment": f"{name}-env",
        "target": {"kind": "sandbox"},
        "regions": {"primary": "eastus", "secondary": "westus"},
        "detection": {"interval": "30s", "confirmation": "2m", "timeout": "2s",
                      "frontdoor_probe": {"method": "POST", "path": "/api/orders", "json": {"probe": "rto"}}},
        "smoke": [{"name": "health", "url": "http://frontdoor/health", "assert": [{"jsonpath": "$.status", "equals": "ok"}]},
                  {"name": "place-order", "method": "POST", "url": "http://frontdoor/api/orders",
                   "json": {"sku": "smoke"}, "expect_status": 201}],
        "targets": {"rto": "4h", "rpo": "15m"},
        "failback": {"enabled": True, "wait_healthy": "2m"},
        **sections,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(drill, sort_keys=False))
    return path


def sandbox_resources(info: dict[str, Any], sql_mode: str, allow_data_loss: bool) -> dict[str, Any]:
    res = info["resources"]
    return {"failover_groups": [{"id": res["failover_groups"][0], "mode": sql_mode, "allow_data_loss": allow_data_loss}],
            "frontdoor": {"origin_group": res["frontdoor_origin_groups"][0],
                          "origins": {"eastus": "app-eastus", "westus": "app-westus"}}}


def sandbox_env(odin_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**odin_env, "ODIN_SANDBOX_INFO": str(tmp_path / "sandbox" / "sandbox.json")}


def journal_of(report: str) -> list[dict[str, Any]]:
    lines = (Path(report).parent / "journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def only(entries: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [e for e in entries if e["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind} entries"
    return found[0]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def lost_ids_in_report(report: str) -> set[str]:
    """The write ids listed under "Lost canary writes" in report.md."""
    section = Path(report).read_text().split("## Lost canary writes", 1)[1].split("\n## ", 1)[0]
    return {line.split("`")[1] for line in section.splitlines() if line.startswith("| ") and "`" in line}


# ---------------------------------------------------------------- (a) + (b, forced)

def test_a_forced_drill_is_detected_failed_over_validated_and_failed_back_with_rto_and_rpo_matching_the_sandbox(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path, prefect_api: str) -> None:
    info = azure_sandbox.info()
    plan = write_drill(
        tmp_path, "forced-drill",
        resources={**sandbox_resources(info, "forced", True),
                   "storage_accounts": [{"id": info["resources"]["storage_accounts"][0], "mode": "unplanned",
                                         "allow_data_loss": True}]},
        canary={"rate_per_second": 10})
    result = run_drill(plan, sandbox_env(odin_env, tmp_path))
    assert result.returncode == 0, result.stderr[-4000:]
    card = json.loads(result.stdout)
    assert set(card) == {"rto_seconds", "rto_target_seconds", "rpo_seconds", "rpo_target_seconds", "canary_writes",
                         "lost_writes", "phases", "rto_exceeded", "criteria", "report"}
    assert set(card["phases"]) == {"detection", "decision", "failover", "validation"} and not card["rto_exceeded"]
    assert all(card["criteria"].values()), card
    assert (card["rto_target_seconds"], card["rpo_target_seconds"]) == (14400.0, 900.0)
    entries = journal_of(card["report"])
    scorecard = json.loads((Path(card["report"]).parent / "scorecard.json").read_text())

    # the outage: injected once by the drill, the RTO clock starts at the sandbox's own timestamp
    faults = httpx.get(f"{info['admin_url']}/faults", params={"include": "cleared"}).json()
    outages = [f for f in faults if f["kind"] == "region_outage"]
    assert len(outages) == 1 and outages[0]["region"] == "eastus" and outages[0]["cleared_at"], faults
    injected = only(entries, "outage_injected")["data"]
    assert injected["injected_at"] == outages[0]["injected_at"]
    assert at(scorecard["outage_started_at"]) == at(injected["outage_started_at"])

    # detected (after the confirmation), failed over, service back: the RTO against the first write
    # the DR region acknowledged after the outage (plan time = wall time x SCALE)
    assert only(entries, "outage_confirmed")["data"]["region"] == "eastus"
    assert scorecard["detect_seconds"] >= 120
    epoch = outages[0]["injected_at_epoch"]
    writes = azure_sandbox.writes()
    first_dr_write = min(w["acknowledged_at_epoch"] for w in writes
                         if w["committed_on"] == "odin-sql-westus" and w["acknowledged_at_epoch"] > epoch)
    truth = (first_dr_write - epoch) * SCALE
    slack = 0.5 * SCALE
    assert truth - slack <= card["rto_seconds"] <= truth + 30 + slack, (card["rto_seconds"], truth)
    assert card["rto_seconds"] == pytest.approx(
        scorecard["detect_seconds"] + scorecard["decide_seconds"] + scorecard["recover_seconds"], abs=0.01)

    # data loss: exactly the canary writes the sandbox no longer holds, listed in the report
    loss = [e for e in entries if e["kind"] == "data_loss"][0]["data"]
    canary_ids = set(loss["acknowledged_ids"])
    lost_truth = {w["id"]: w for w in writes if not w["survives"] and w["id"] in canary_ids}
    assert card["lost_writes"] == len(lost_truth) > 0
    assert set(loss["lost_ids"]) == set(lost_truth)
    assert lost_ids_in_report(card["report"]) == set(lost_truth)
    span = (max(w["acknowledged_at_epoch"] for w in lost_truth.values())
            - min(w["acknowledged_at_epoch"] for w in lost_truth.values())) * SCALE
    assert card["rpo_seconds"] == pytest.approx(span, abs=0.1 * SCALE)
    assert card["canary_writes"] == len(canary_ids)

    # failed back: the database and Front Door as before; storage left for a person (unplanned -> LRS)
    state = azure_sandbox.state()
    assert state["failover_groups"]["odin-fg"]["primary_region"] == "eastus"
    origins = state["frontdoor_origins"]
    assert (origins["app-eastus"]["enabledState"], origins["app-eastus"]["priority"]) == ("Enabled", 1)
    assert origins["app-westus"]["priority"] == 2
    assert [e["data"]["status"] for e in entries if e["kind"] == "undo_finished"] == ["ok", "ok"]
    assert len([e for e in entries if e["kind"] == "failback_deferred"]) == 1
    assert "re-enable geo-redundancy" in Path(card["report"]).read_text()

    # the reports and the Prefect artifacts
    html = (Path(card["report"]).parent / "report.html").read_text()
    assert "DR drill scorecard" in html and html.count('data-pass="true"') == 9
    retro = html.split('<section id="retrospective">', 1)[1].split("</section>", 1)[0]  # the retrospective, in HTML too
    assert "Gaps found in this drill" in retro and "<th>procedure updated</th>" in retro
    found = httpx.post(f"{prefect_api}/artifacts/filter",
                       json={"artifacts": {"key": {"any_": ["forced-drill-drill-report", "forced-drill-drill-criteria"]}}})
    assert {a["key"] for a in found.json()} == {"forced-drill-drill-report", "forced-drill-drill-criteria"}
    assert "odin: error" not in result.stderr and "outage injected in eastus" in result.stderr

    # the flow run ends in the outcome's state, the journal's run_finished keeps outcome and exit code
    assert flow_run_state(prefect_api, entries) == ("Passed", "COMPLETED")
    assert only(entries, "run_finished")["data"]["outcome"] == "passed"
    assert [e["phase"] for e in entries if e["kind"] == "phase_started"] == [
        "prepare", "detect", "decide", "failover", "validate", "communicate", "failback"]


def flow_run_state(prefect_api: str, entries: list[dict[str, Any]]) -> tuple[str, str]:
    flow_run_id = only(entries, "run_started")["data"]["flow_run_id"]
    state = httpx.get(f"{prefect_api}/flow_runs/{flow_run_id}").json()["state"]
    return state["name"], state["type"]


def test_a_missed_criterion_ends_in_a_failed_criteria_failed_state_and_the_cli_still_reports_the_scorecard(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path, prefect_api: str) -> None:
    """An RTO target below the confirmation time cannot be met: exit 3, the scorecard on stdout, and a
    red ``CriteriaFailed`` run in Prefect whose data the CLI read (``return_state=True``)."""
    info = azure_sandbox.info()
    plan = write_drill(tmp_path, "missed-drill", resources=sandbox_resources(info, "forced", True),
                       targets={"rto": "1m", "rpo": "15m"}, failback={"enabled": False})
    result = run_drill(plan, sandbox_env(odin_env, tmp_path))
    assert result.returncode == 3, result.stderr[-4000:]
    card = json.loads(result.stdout)
    assert not card["criteria"]["failover_within_rto"], card
    entries = journal_of(card["report"])
    finished = only(entries, "run_finished")["data"]
    assert (finished["outcome"], finished["exit_code"]) == ("criteria_failed", 3)
    assert flow_run_state(prefect_api, entries) == ("CriteriaFailed", "FAILED")
    assert "■ criteria_failed (exit 3)" in result.stderr


# ---------------------------------------------------------------- (b, planned)

def test_b_a_planned_failover_loses_no_write(azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:
    """East US's app fails (SQL stays up): the drill waits for that outage, fails over planned and back."""
    info = azure_sandbox.info()
    plan = write_drill(tmp_path, "planned-drill", resources=sandbox_resources(info, "planned", False),
                       outage={"inject": False}, targets={"rto": "1h", "rpo": "15m"})
    azure_sandbox.faults.add({"kind": "error_rate", "region": "eastus", "rate": 1.0})
    stop = threading.Event()

    def end_outage_once_failed_over() -> None:
        while not stop.wait(0.05):
            if azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "westus":
                azure_sandbox.faults.clear()
                return

    watcher = threading.Thread(target=end_outage_once_failed_over, daemon=True)
    watcher.start()
    try:
        result = run_drill(plan, sandbox_env(odin_env, tmp_path))
    finally:
        stop.set()
        watcher.join()
    assert result.returncode == 0, result.stderr[-4000:]
    card = json.loads(result.stdout)
    assert card["canary_writes"] > 0 and card["lost_writes"] == 0 and card["rpo_seconds"] == 0
    assert card["criteria"]["data_loss_within_rpo"] and card["criteria"]["failback_completed"]
    assert all(w["survives"] for w in azure_sandbox.writes())  # not one acknowledged write lost, canary or not
    failovers = [op for op in azure_sandbox.operations() if "/failovergroups/" in op["resource_id"].lower()]
    assert [(op["operation"], op["result"]) for op in failovers] == [("failover", "Succeeded")] * 2, failovers
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "eastus"
    assert lost_ids_in_report(card["report"]) == set()


# ---------------------------------------------------------------- (c)

def test_c_stakeholders_hear_at_the_scaled_t0_t15_t60_t90_and_at_the_resolution(
        odin_env: dict[str, str], tmp_path: Path) -> None:
    """No sandbox running: the drill starts its own, takes its resource ids, and stops it."""
    scale = 600.0  # T+15 comes 1.5 s after T+0, T+90 9 s after
    env = {k: v for k, v in odin_env.items() if k != "ODIN_SANDBOX_INFO"}
    with WebhookReceiver() as receiver:
        plan = write_drill(tmp_path, "comms-drill",
                           detection={"interval": "1m", "confirmation": "3m", "timeout": "2s",
                                      "frontdoor_probe": {"method": "POST", "path": "/api/orders", "json": {"p": 1}}},
                           failback={"enabled": True, "wait_healthy": "95m"},
                           comms={"channels": [{"name": "incident-room", "kind": "generic", "url": receiver.url("/hook")}],
                                  "minutes": [0, 15, 60, 90]})
        result = run_drill(plan, env, scale)
        assert result.returncode == 0, result.stderr[-4000:]
        messages = receiver.received("/hook")
    card = json.loads(result.stdout)
    bodies = [m.body for m in messages]
    assert [(b["template"], b["minute"]) for b in bodies[:4]] == [("initial", 0), ("update", 15), ("update", 60),
                                                                  ("update", 90)]
    assert [b["template"] for b in bodies] == ["initial", "update", "update", "update", "resolution"]
    t0 = messages[0].at
    for message, minute in zip(messages[1:4], (15, 60, 90)):
        assert message.at - t0 == pytest.approx(minute * 60 / scale, abs=0.6), (minute, message.at - t0)
    initial, *updates, resolution = bodies
    assert "comms-drill" in initial["headline"] and "[DR drill]" in initial["headline"]
    assert initial["fields"]["Regions"] == "eastus → westus (primary → DR)"
    assert initial["fields"]["Status"] and initial["fields"]["Impact"] and initial["fields"]["What we are doing"]
    assert all(u["fields"]["Progress"] and u["fields"]["Status"] for u in updates)
    assert resolution["fields"]["Status"] == "resolved"
    assert "target 4h, met" in resolution["fields"]["RTO"] and "target 15m, met" in resolution["fields"]["RPO"]
    entries = journal_of(card["report"])
    assert only(entries, "sandbox")["data"]["action"] == "started in-process"
    assert [e["data"]["status"] for e in entries if e["kind"] == "comms"] == ["sent"] * 5
    assert not (Path(card["report"]).parent / "sandbox" / "sandbox.json").exists()  # stopped, files removed


# ---------------------------------------------------------------- refusals

def refusing_env(tmp_path: Path) -> dict[str, str]:
    """A Prefect API nobody answers: a refusal must come before any server is needed."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "ODIN_HOME": str(tmp_path / "home"),
            "PREFECT_API_URL": "http://127.0.0.1:9/api", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def test_an_invalid_drill_is_refused_with_one_line_per_problem_and_nothing_runs(tmp_path: Path) -> None:
    plan = write_drill(tmp_path, "bad-drill", resources={"failover_groups": [{
        "id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Sql/servers/a/failoverGroups/fg",
        "mode": "try-planned"}]}, targets={"rto": "soon"})
    env = refusing_env(tmp_path)
    result = run_drill(plan, env, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    # both problems, one line each: try-planned may force (and lose data) without the opt-in
    assert len(lines) == 2, lines
    assert "resources.failover_groups[0].allow_data_loss: mode 'try-planned'" in lines[0]
    assert "targets.rto" in lines[1]
    fixed = write_drill(tmp_path, "bad-drill", resources={"failover_groups": [{
        "id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Sql/servers/a/failoverGroups/fg",
        "mode": "try-planned"}]})
    result = run_drill(fixed, env, timeout=60)
    assert result.returncode == 2 and "allow_data_loss: mode 'try-planned'" in result.stderr, result.stderr
    assert not (tmp_path / "home" / "drills").exists()


def test_production_needs_allow_production(tmp_path: Path) -> None:
    template = ROOT / "drills" / "region-failover-azure.template.yaml"
    env = {**refusing_env(tmp_path), "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000"}
    result = run_drill(template, env, timeout=60)
    assert result.returncode == 2 and "--allow-production" in result.stderr, result.stderr


def test_the_shipped_drill_files_validate() -> None:
    from odin_drills.flows.drill_target import drill_problems
    from odin_drills.plan.drill import load_drill

    for name, environ in (("quarterly-dr-test.yaml", {}), ("region-failover-sandbox.yaml", {}),
                          ("region-failover-azure.template.yaml",
                           {"AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000"})):
        path = ROOT / "drills" / name
        plan = load_drill(path, environ=environ)
        assert drill_problems(plan, str(path)) == [], name
    quarterly = load_drill(ROOT / "drills" / "quarterly-dr-test.yaml", environ={})
    assert quarterly.resources.failover_groups[0].mode == "forced" and quarterly.targets.rto == 4 * 3600
    assert load_drill(ROOT / "drills" / "region-failover-azure.template.yaml",
                      environ={"AZURE_SUBSCRIPTION_ID": "s"}).target.production is True
