"""Validation that measures, end to end: the real CLI in a subprocess, a real Prefect server, the
Azure sandbox over HTTPS through the real SDK clients (``tests/test_drill_e2e.py``'s harness).

  * the DR region's error rate and latency, watched by the rollback ladder against the baseline
    prepare captured: healthy passes with its numbers; an injected error rate fails it and the plan's
    ``on_worse_after_failover: fail_back`` fails back;
  * the replication lag Azure reports (storage ``lastSyncTime``) above the plan's limit fails
    ``replication_lag_within_limit``;
  * a Sev 1 alert firing on the DR region's app fails ``alerts_green`` (the real alerts client).
"""

from __future__ import annotations

import json
import threading

import httpx
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from odin_drills.plan.telemetry import AzureMonitorAlerts
from odin_drills.steps.dr.scorecard import Criterion
from tests.test_drill_e2e import (azure_sandbox, journal_of, only, run_drill, sandbox_env,  # noqa: F401 (a fixture)
                                  sandbox_resources, write_drill)

VALIDATION = {"watch": "8m", "interval": "1m"}
ERRORS_ONLY = {"floors": {"latency_ms": 10_000}, "absolute": {"p95_latency_ms": None}}
"""These tests are about errors and the wiring: on two cores shared with parallel test workers a
CPU stall is a real p95 rise to the ladder, which would hold a healthy DR region (the migration
e2e tests switch latency off for the same reason); latency judging is the ladder's own tests'."""


def probe(info: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "synthetic_probe", "url": info["regions"]["westus"] + "/health", "rate_per_second": 200,
            "timeout": "2s", "min_window_wall_seconds": 1.0}


def criteria_entries(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["data"]["criterion"]: e["data"] for e in entries if e["kind"] == "validation_criterion"}


def test_a_healthy_dr_region_is_within_its_baseline_with_the_numbers(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    info = azure_sandbox.info()
    plan = write_drill(tmp_path, "measured-drill", resources=sandbox_resources(info, "forced", True),
                       metrics=probe(info), validation=VALIDATION, policy=ERRORS_ONLY)
    result = run_drill(plan, sandbox_env(odin_env, tmp_path))
    card = json.loads(result.stdout)
    assert card["criteria"]["dr_region_within_baseline"], result.stderr[-3000:]
    entries = journal_of(card["report"])
    baseline = [e for e in entries if e["kind"] == "baseline"]
    assert len(baseline) == 1 and baseline[0]["phase"] == "prepare" and baseline[0]["data"]["snapshot"]["requests"] > 0
    gates = [e for e in entries if e["kind"] == "gate" and e["phase"] == "validate"]
    assert gates and all(g["data"]["snapshot"]["requests"] > 0 for g in gates)
    measured = criteria_entries(entries)["dr_region_within_baseline"]
    assert measured["passed"] and measured["measured"]["action"] == "proceed"
    assert "errors" in measured["evidence"] and "p95" in measured["evidence"] and "baseline" in measured["evidence"]
    assert "replication_lag_within_limit" not in card["criteria"] and "alerts_green" not in card["criteria"]
    # the baseline and the watch are task runs of their own in the Prefect UI, under the drill's flow run
    names = task_run_names(odin_env["PREFECT_API_URL"], only(entries, "run_started")["data"]["flow_run_id"])
    assert {"capture-dr-baseline", "watch-dr-region"} <= names, sorted(names)
    assert "judge-replication-lag" not in names and "alerts-green" not in names  # not asked for by the file


def task_run_names(prefect_api: str, flow_run_id: str) -> set[str]:
    found = httpx.post(f"{prefect_api}/task_runs/filter",
                       json={"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 200}).json()
    return {run["name"] for run in found}


def test_a_dr_baseline_nobody_answers_refuses_the_drill_in_one_line_before_anything_breaks(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    info = azure_sandbox.info()
    dead = {**probe(info), "url": "http://127.0.0.1:9/health", "timeout": "200ms"}  # discard port: nothing listens
    plan = write_drill(tmp_path, "blind-drill", resources=sandbox_resources(info, "forced", True),
                       metrics=dead, validation=VALIDATION, policy=ERRORS_ONLY)
    result = run_drill(plan, sandbox_env(odin_env, tmp_path))
    assert result.returncode == 2, (result.stdout[-2000:], result.stderr[-3000:])
    errors = [line for line in result.stderr.splitlines() if line.startswith("odin: error:")]
    assert len(errors) == 1 and "the DR region cannot be judged against it; nothing was injected" in errors[0], errors
    assert "Traceback" not in result.stderr + result.stdout
    state = azure_sandbox.state()
    assert state["failover_groups"]["odin-fg"]["primary_region"] == "eastus"  # nothing failed over
    assert azure_sandbox.faults.list(include_cleared=True) == [], "an outage was injected"


def test_an_error_rate_in_the_dr_region_fails_the_criterion_and_fails_back(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    info = azure_sandbox.info()
    plan = write_drill(tmp_path, "worse-drill", resources=sandbox_resources(info, "forced", True),
                       metrics=probe(info), validation=VALIDATION, policy=ERRORS_ONLY,
                       decision={"on_worse_after_failover": "fail_back"},
                       failback={"enabled": False, "wait_healthy": "2m"})
    stop = threading.Event()

    def break_dr_region_once_failed_over() -> None:
        while not stop.wait(0.05):
            if azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "westus":
                azure_sandbox.faults.add({"kind": "error_rate", "region": "westus", "rate": 0.3})
                return

    watcher = threading.Thread(target=break_dr_region_once_failed_over, daemon=True)
    watcher.start()
    try:
        result = run_drill(plan, sandbox_env(odin_env, tmp_path))
    finally:
        stop.set()
        watcher.join()
    card = json.loads(result.stdout)
    assert result.returncode == 3 and not card["criteria"]["dr_region_within_baseline"], result.stderr[-3000:]
    entries = journal_of(card["report"])
    measured = criteria_entries(entries)["dr_region_within_baseline"]
    assert measured["measured"]["action"] in ("rollback", "rollback_now")
    assert measured["measured"]["watched"]["error_rate"] > 0.1
    decisions = [e["data"] for e in entries if e["kind"] == "decision" and e["phase"] == "validate"]
    assert [d["action"] for d in decisions] == ["fail_back"], decisions
    assert "rollback ladder finds westus worse" in decisions[0]["reason"]
    # failback off in the plan, yet the worse DR region was left: the failback phase ran its undos
    assert any(e["kind"] == "undo_finished" for e in entries)


def test_a_replication_lag_above_the_limit_fails_the_criterion(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    """East US's app fails, the data tier answers: planned failovers, both regions replicate again,
    and the storage account trails by the sandbox's lag (1 wall s = 60 plan s) > the 5 s limit."""
    info = azure_sandbox.info()
    resources = {**sandbox_resources(info, "planned", False),
                 "storage_accounts": [{"id": info["resources"]["storage_accounts"][0], "mode": "planned"}]}
    plan = write_drill(tmp_path, "lag-drill", resources=resources, outage={"kind": "app"},
                       validation={"max_replication_lag": "5s"}, failback={"enabled": False})
    result = run_drill(plan, sandbox_env(odin_env, tmp_path))
    card = json.loads(result.stdout)
    assert not card["criteria"]["replication_lag_within_limit"], result.stderr[-3000:]
    measured = criteria_entries(journal_of(card["report"]))["replication_lag_within_limit"]
    lags = [r["lag_seconds"] for r in measured["measured"]["resources"].values() if "lag_seconds" in r]
    assert lags and max(lags) > 5, measured
    assert "trails by" in measured["evidence"] and "limit 5s" in measured["evidence"]
    scorecard = json.loads((Path(card["report"]).parent / "scorecard.json").read_text())
    assert scorecard["replication"]["replication_lag_seconds"] == max(lags)
    flow_run_id = only(journal_of(card["report"]), "run_started")["data"]["flow_run_id"]
    assert "judge-replication-lag" in task_run_names(odin_env["PREFECT_API_URL"], flow_run_id)


def test_a_sev1_alert_in_the_dr_region_fails_alerts_green_and_an_unreadable_source_is_not_green(
        azure_sandbox: Any) -> None:  # noqa: F811
    from odin_drills.steps.dr.validation import alerts_green

    info = azure_sandbox.info()
    westus_app = info["resources"]["web_apps"]["westus"]
    target = SimpleNamespace(kind="sandbox", arm_url=info["arm_url"], ca_cert=info["ca_cert"],
                             subscription_id=info["subscription_id"])

    def run_with(**overrides: Any) -> Any:
        spec = AzureMonitorAlerts.model_validate({"kind": "azure_monitor_alerts", "timeout": 5,
                                                  "target_resource_group": info["resource_group"],
                                                  "target_resource": westus_app})
        plan = SimpleNamespace(alerts=spec, target=SimpleNamespace(**{**vars(target), **overrides}))
        journal = SimpleNamespace(entries=[], append=lambda kind, **data: journal.entries.append((kind, data)))
        return SimpleNamespace(plan=plan, journal=journal, found=SimpleNamespace(validation={}))

    green = run_with()
    assert alerts_green(green) == Criterion(passed=True, evidence=green.found.validation["alerts_green"].evidence)
    azure_sandbox.fire_alert("HighErrorRate", "Sev1", target_resource=westus_app)
    azure_sandbox.fire_alert("CertificateExpiring", "Sev3", target_resource=westus_app)
    red = run_with()
    criterion = alerts_green(red)
    assert criterion is not None and not criterion.passed
    assert "HighErrorRate on app-westus (Sev1)" in criterion.evidence and "Certificate" not in criterion.evidence
    assert red.journal.entries[0][0] == "validation_criterion" and not red.journal.entries[0][1]["passed"]
    unreadable = alerts_green(run_with(arm_url="https://127.0.0.1:9"))
    assert unreadable is not None and not unreadable.passed and "could not be read" in unreadable.evidence
