"""The DR test programme (SRE handbook, DR Testing): quarterly planned, semi-annual disaster, annual
exercise — their drill files, their schedules in prefect.yaml, and the first two run on the sandbox.

The runs are the real CLI in a subprocess against a sandbox this test owns (seed 0, whose ids the
templates carry), so the sandbox's operation log says which failover really happened.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import ROOT, run_odin

PROGRAMME = {
    "quarterly-dr-test": ("drills/dr-programme-quarterly.yaml", "0 6 1 1,4,7,10 *"),
    "semiannual-dr-drill": ("drills/dr-programme-semiannual.yaml", "0 6 15 3,9 *"),
    "annual-dr-exercise": ("drills/dr-programme-annual.yaml", "0 14 15 11 *"),
}


def deployments() -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}


def test_the_programme_is_scheduled_in_prefect_yaml() -> None:
    found = deployments()
    for name, (plan, cron) in PROGRAMME.items():
        d = found[name]
        assert d["parameters"]["plan_file"] == plan, name
        assert d["schedules"] == [{"cron": cron, "timezone": "UTC", "active": True}], name
        module, function = d["entrypoint"].split(":")
        flow = getattr(importlib.import_module("odin_drills.flows." + Path(module).stem), function)
        assert flow.name == "dr-test" and (ROOT / module).is_file()
    crons = [PROGRAMME[n][1] for n in PROGRAMME]
    assert len(set(crons)) == 3  # three different days: the programme's tests never collide
    restore = found["restore-drill"]
    assert restore["entrypoint"] == "flows/restore_drill.py:restore_drill"
    assert (ROOT / restore["parameters"]["plan_file"]).is_file()


def test_the_templates_say_planned_forced_and_communicated() -> None:
    from odin_drills.flows.drill_target import drill_problems
    from odin_drills.plan.drill import load_drill

    plans = {name: load_drill(ROOT / plan, environ={}) for name, (plan, _) in PROGRAMME.items()}
    for name, plan in plans.items():
        assert drill_problems(plan, name) == [], name
    quarterly = plans["quarterly-dr-test"]
    assert [g.mode for g in quarterly.resources.failover_groups] == ["planned"]
    assert [s.mode for s in quarterly.resources.storage_accounts] == ["planned"]
    assert not any(g.allow_data_loss for g in quarterly.resources.failover_groups + quarterly.resources.storage_accounts)
    assert quarterly.outage.kind == "app" and quarterly.targets.rpo == 0
    semi = plans["semiannual-dr-drill"]
    assert [(g.mode, g.allow_data_loss) for g in semi.resources.failover_groups] == [("forced", True)]
    assert semi.outage.kind == "region"
    annual = plans["annual-dr-exercise"]
    assert {c.kind for c in annual.comms.channels} == {"slack", "teams"} and annual.comms.minutes == [0, 15, 60, 90]
    assert annual.decision.human_confirm and annual.decision.on_confirm_timeout == "fail-over"


def test_a_forced_mode_without_the_opt_in_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / PROGRAMME["semiannual-dr-drill"][0]).read_text())
    del data["resources"]["failover_groups"][0]["allow_data_loss"]
    path = tmp_path / "no-opt-in.yaml"
    path.write_text(yaml.safe_dump(data))
    done = run_odin(["validate", str(path)])
    assert done.returncode == 2 and "allow_data_loss" in done.stderr, done.stderr


@pytest.fixture
def seed0_sandbox(tmp_path: Path) -> Iterator[Any]:
    from odin_drills.sandbox.azure import AzureSandbox

    sandbox = AzureSandbox(state_dir=tmp_path / "sandbox", seed=0, replication_lag_seconds=1.0, lro_retry_after=0,
                           probe_interval_seconds=0.1, probe_timeout_seconds=0.5)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def run_programme_drill(name: str, sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    env = {**odin_env, "ODIN_SANDBOX_INFO": str(tmp_path / "sandbox" / "sandbox.json")}
    done = run_odin(["drill", PROGRAMME[name][0], "--time-scale", "60", "--json"], env=env, timeout=300)
    assert done.returncode in (0, 3), done.stderr[-3000:]
    return {"exit": done.returncode, **json.loads(done.stdout)}


def faults_injected(sandbox: Any) -> list[dict[str, Any]]:
    return httpx.get(f"{sandbox.info()['admin_url']}/faults", params={"include": "cleared"}).json()


def test_the_quarterly_template_runs_a_planned_failover_that_loses_nothing(seed0_sandbox: Any, odin_env: dict[str, str],
                                                                           tmp_path: Path) -> None:
    card = run_programme_drill("quarterly-dr-test", seed0_sandbox, odin_env, tmp_path)
    assert card["exit"] == 0 and all(card["criteria"].values()), card
    assert card["canary_writes"] > 0 and card["lost_writes"] == 0 and card["rpo_seconds"] == 0
    sql = [o for o in seed0_sandbox.operations() if o["resource_id"].lower().endswith("/failovergroups/odin-fg")]
    assert [o["operation"] for o in sql] == ["failover", "failover"]  # over, and back: both planned
    assert all(o["details"]["performed"] == "planned" and o["details"]["lost_writes"] == 0 for o in sql)
    storage = [o for o in seed0_sandbox.operations() if "storageaccounts" in o["resource_id"].lower()]
    assert storage and all(o["result"] == "Succeeded" for o in storage)
    assert all(w["survives"] for w in seed0_sandbox.writes())
    kinds = {f["kind"] for f in faults_injected(seed0_sandbox)}
    assert kinds == {"error_rate"}, "the app only: the data tier never went down"


def test_the_semiannual_template_runs_a_forced_failover(seed0_sandbox: Any, odin_env: dict[str, str],
                                                        tmp_path: Path) -> None:
    card = run_programme_drill("semiannual-dr-drill", seed0_sandbox, odin_env, tmp_path)
    sql = [o for o in seed0_sandbox.operations() if o["resource_id"].lower().endswith("/failovergroups/odin-fg")]
    assert sql[0]["operation"] == "forceFailoverAllowDataLoss" and sql[0]["details"]["performed"] == "forced"
    assert {f["kind"] for f in faults_injected(seed0_sandbox)} == {"region_outage"}
    lost_truth = sum(not w["survives"] for w in seed0_sandbox.writes())
    assert card["lost_writes"] <= lost_truth  # canary losses are a subset of all lost acknowledged writes
    assert card["criteria"]["failover_within_rto"] is True


def test_an_app_outage_killed_mid_injection_is_still_removed_by_rollback(tmp_path: Path) -> None:
    """outage.kind app injects an error_rate 1.0 fault; a drill killed between ``outage_injecting``
    and ``outage_injected`` (no fault id journaled) still has it found and removed — and only it."""
    from odin_drills.flows.drill_target import SandboxLink
    from odin_drills.sandbox.azure import AzureSandbox
    from odin_drills.steps.clock import ScaledClock
    from odin_drills.steps.dr.cleanup import remove_faults
    from odin_drills.steps.journal import Journal

    with AzureSandbox(lro_retry_after=0) as sandbox:
        journal = Journal(tmp_path / "journal.jsonl", ScaledClock(1.0))
        journal.append("outage_injecting", phase="detect", region="eastus",
                       how="sandbox error_rate 1.0 fault (the app only; the data tier answers)")
        ours = sandbox.faults.add({"kind": "error_rate", "region": "eastus", "rate": 1.0})
        other = sandbox.faults.add({"kind": "error_rate", "region": "eastus", "rate": 0.5})
        link = SandboxLink(sandbox.info())
        try:
            assert remove_faults(journal, link, "rollback") == [ours["id"]]
            assert [f["id"] for f in link.active_faults()] == [other["id"]]
        finally:
            link.close()


def test_a_drill_killed_before_its_fault_was_asked_for_is_settled_by_one_rollback(tmp_path: Path) -> None:
    """Killed right after ``outage_injecting``, before the sandbox was asked: the rollback's sweep finds
    nothing; once it finished, nothing is left to undo, and a later outage in the region (not the
    drill's) is never taken for the drill's by another rollback."""
    from odin_drills.flows.drill_target import SandboxLink
    from odin_drills.sandbox.azure import AzureSandbox
    from odin_drills.steps.clock import ScaledClock
    from odin_drills.steps.dr.cleanup import nothing_to_undo, remove_faults
    from odin_drills.steps.journal import Journal

    with AzureSandbox(lro_retry_after=0) as sandbox:
        journal = Journal(tmp_path / "journal.jsonl", ScaledClock(1.0))
        journal.append("outage_injecting", phase="detect", region="eastus", how="sandbox region_outage fault")
        assert not nothing_to_undo(journal.entries())  # the fault may exist: the rollback must look
        link = SandboxLink(sandbox.info())
        try:
            assert remove_faults(journal, link, "rollback") == []
            journal.append("rollback_finished", phase="rollback", healthy=True, detail="0 injected fault(s) removed")
            assert nothing_to_undo(journal.entries())
            someone_elses = sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
            assert remove_faults(journal, link, "rollback") == []
            assert [f["id"] for f in link.active_faults()] == [someone_elses["id"]]
        finally:
            link.close()
