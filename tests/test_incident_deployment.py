"""Incident mode from the Prefect deployment (issue 12): ``region-failover-incident`` as the UI runs
it — `prefect deploy --all`, a real process worker, a run started with the deployment's own
parameters (drill off, a person's confirmation on, no failback, nothing injected) — against the
Azure sandbox with a region outage for which Azure publishes no ETA: the run holds for a person,
fails over once `odin decide` says proceed, and leaves the service in the DR region.

The CLI entry point's cases (ETA within the limit, an ETA that slips, Service Health unreachable)
are ``tests/test_incident_failover.py``; this file proves the deployment reaches the same runbook.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import run_odin
from tests.deploy_helpers import deploy_all, run_deployment, wait_for_runs, worker
from tests.test_drill_e2e import SCALE, azure_sandbox, only, sandbox_env  # noqa: F401  (a fixture)
from tests.test_incident_failover import decisions, entries_of, incident_plan, primary_of


def test_the_incident_deployment_holds_for_a_person_fails_over_and_never_fails_back(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    odin_env["ODIN_PLAN_ROOT"] = str(tmp_path)  # deployments read plans only from under the plan root
    plan = incident_plan(tmp_path, azure_sandbox.info(), "from-the-ui")
    env = sandbox_env(odin_env, tmp_path)
    deploy_all(env)
    ours = azure_sandbox.faults.add({"kind": "region_outage", "region": "eastus"})  # no ETA published
    with worker(env):
        run_id = run_deployment("region-failover/region-failover-incident",
                                {"plan_file": str(plan), "time_scale": SCALE}, env)
        deadline = time.monotonic() + 180
        hold: dict[str, Any] | None = None
        while hold is None:
            assert time.monotonic() < deadline, f"no confirmation hold: {entries_of(env, 'from-the-ui')[-5:]}"
            hold = next((e for e in entries_of(env, "from-the-ui") if e["kind"] == "hold_started"), None)
            time.sleep(0.2)
        assert hold["data"]["flow_run_id"] == run_id
        assert "no ETA for resolution published" in hold["data"]["reason"], hold["data"]
        while httpx.get(f"{env['PREFECT_API_URL']}/flow_runs/{run_id}", timeout=10).json()["state"]["type"] != "PAUSED":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        decided = run_odin(["decide", run_id, "proceed", "--reason", "no ETA from Azure", "--by", "erin"], env=env)
        assert decided.returncode == 0, decided.stderr[-2000:]
        states = wait_for_runs(env, [run_id])
    entries = entries_of(env, "from-the-ui")
    started = only(entries, "run_started")["data"]
    assert started["mode"] == "incident" and started["flow_run_id"] == run_id
    assert not any(e["kind"] in ("outage_injecting", "outage_injected") for e in entries)
    final = decisions(entries)[-1]
    assert (final["action"], final["by"]) == ("fail_over", "erin") and final["evidence"]["resolution_eta"] is None
    assert not any(e["kind"] in ("undo_started", "undo_finished") for e in entries)  # no failback by itself
    assert only(entries, "run_finished")["data"]["outcome"] != "no_failover_needed"
    assert states[run_id] in ("COMPLETED", "FAILED")  # the outcome's state: every criterion met, or one missed
    assert primary_of(azure_sandbox) == "westus"  # still in the DR region
    assert [f["id"] for f in azure_sandbox.faults.list()] == [ours["id"]]  # the outage was never odin's
