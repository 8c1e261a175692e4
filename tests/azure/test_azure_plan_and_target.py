"""Azure steps in plan files, the target they reach Azure through, undo checks and rollback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from odin_drills.errors import PlanInvalid, UsageError
from odin_drills.plan.loader import parse_plan
from odin_drills.plan.models import AzureTarget, LocalTarget, Plan, SandboxTarget
from odin_drills.steps.actions import describe_action, run_action
from odin_drills.steps.azure import describe_azure_step
from odin_drills.steps.azure.clients import SANDBOX_INFO_ENV, AzureSession, LazyDefaultCredential
from odin_drills.steps.journal import Journal
from odin_drills.steps.reachability import undo_target_problem
from odin_drills.steps.rollback import undo_completed

Drill = Any  # tests/azure/conftest.py: the drill fixture
ROOT = Path(__file__).resolve().parents[2]
SQL = {"kind": "azure.sql.failover", "failover_group": "odin-fg", "to_server": "odin-sql-westus",
       "resource_group": "rg-odin-drills"}
STORAGE = {"kind": "azure.storage.failover", "account": "odindrillsdata", "resource_group": "rg-odin-drills",
           "to_region": "westus"}
FRONTDOOR = {"kind": "azure.frontdoor.origins", "profile": "odin-frontdoor", "origin_group": "app-origins",
             "resource_group": "rg-odin-drills", "origins": {"app-eastus": {"enabled": False}}}


def plan(*steps: dict[str, Any], target: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": "region-drill", "environment": "sandbox", "target": target or {"kind": "sandbox"},
            "service": {"name": "shop"},
            "metrics": {"kind": "synthetic_probe", "url": "http://127.0.0.1:9/api", "rate_per_second": 5},
            "phases": {"t0": list(steps)}}


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(PlanInvalid) as caught:
        parse_plan(data, "drill.yaml")
    return caught.value.problems


# ------------------------------------------------------------------ plan load
def test_azure_steps_declare_their_undo_automatically():
    loaded = parse_plan(plan(SQL, {**STORAGE, "undo": "auto"}, FRONTDOOR,
                             {**SQL, "name": "no-way-back", "undo": "none", "undo_reason": "drill ends in westus"},
                             {**FRONTDOOR, "name": "explicit", "undo": {**FRONTDOOR, "origins": {"app-eastus": {"enabled": True}}}}),
                        "drill.yaml")
    steps = loaded.phases.t0
    assert [s.undo for s in steps[:3]] == [None, None, None] and all(s.changes_world for s in steps)
    assert steps[3].undo == "none"
    assert steps[4].undo.is_undo and steps[4].undo.origins["app-eastus"].enabled is True
    assert describe_action(steps[0].undo) == "automatic: put back what the step read before changing it"


@pytest.mark.parametrize("step, mode", [(SQL, "forced"), (SQL, "try-planned"), (STORAGE, "unplanned")])
def test_a_failover_that_can_lose_data_is_refused_without_allow_data_loss(step, mode, drill: Drill):
    lines = problems(plan({**step, "mode": mode}))
    assert lines == [f"drill.yaml: phases.t0[0].allow_data_loss: mode {mode!r} may lose writes that were not yet "
                     "replicated: set allow_data_loss: true to opt in (or use mode: planned)"]
    assert drill.mutations() == []  # nothing was called
    parse_plan(plan({**step, "mode": mode, "allow_data_loss": True}), "drill.yaml")


def test_odin_validate_refuses_it_in_one_line_with_exit_2(tmp_path: Path):
    path = tmp_path / "drill.yaml"
    path.write_text(yaml.safe_dump(plan({**SQL, "mode": "forced"})))
    result = subprocess.run([sys.executable, "-m", "odin_drills.cli", "validate", str(path)], cwd=ROOT, text=True,
                            capture_output=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"odin: error: {path}: phases.t0[0].allow_data_loss: mode 'forced' may lose writes that were not yet "
        "replicated: set allow_data_loss: true to opt in (or use mode: planned)"]


def test_plan_errors_name_the_field():
    assert problems(plan({k: v for k, v in SQL.items() if k != "resource_group"})) == [
        "drill.yaml: phases.t0[0]: resource_group: required unless the resource is given as an ARM id"]
    assert problems(plan({**FRONTDOOR, "origins": {"app-eastus": {"weight": 5000}}})) == [
        "drill.yaml: phases.t0[0].origins.app-eastus.weight: Input should be less than or equal to 1000"]
    assert problems(plan({**SQL, "undo": "none"})) == [
        "drill.yaml: phases.t0[0]: 'undo: none' needs 'undo_reason:' saying why nothing can be undone"]
    http = {"kind": "http", "method": "POST", "url": "http://127.0.0.1:9/x", "undo": "auto"}
    assert problems(plan(http)) == ["drill.yaml: phases.t0[0]: 'undo: auto' is only for azure.* steps; "
                                    "a http step names its undo"]
    assert problems(plan({**SQL, "failover_group": "/subscriptions/s/resourceGroups/rg/providers/"
                                                   "Microsoft.Storage/storageAccounts/x"})) == [
        "drill.yaml: phases.t0[0]: failover_group: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/"
        "storageAccounts/x' is not a Microsoft.Sql/servers/failoverGroups id"]


def test_the_schema_lists_the_azure_kinds():
    kinds = json.dumps(Plan.model_json_schema())
    assert all(kind in kinds for kind in ("azure.sql.failover", "azure.storage.failover", "azure.frontdoor.origins"))


def test_fast_commands_import_no_azure_sdk_and_no_prefect(tmp_path: Path):
    path = tmp_path / "drill.yaml"
    path.write_text(yaml.safe_dump(plan(SQL, STORAGE, FRONTDOOR)))
    code = ("import sys; from odin_drills.plan import load_plan; import odin_drills.cli.main; from odin_drills.steps.actions import describe_action; "
            f"p = load_plan({str(path)!r}); [describe_action(s) for s in p.phases.t0]; "
            "bad = sorted(m for m in sys.modules if m.startswith(('azure.mgmt', 'azure.identity', 'prefect'))); "
            "print(bad)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, text=True, capture_output=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# ------------------------------------------------------------------ target
def test_a_sandbox_target_without_its_endpoint_is_a_one_line_usage_error(monkeypatch: pytest.MonkeyPatch,
                                                                         drill: Drill):
    monkeypatch.delenv(SANDBOX_INFO_ENV, raising=False)
    step = drill.step(SQL)
    with pytest.raises(UsageError) as caught:
        run_action(step, client=httpx.Client(), clock=drill.clock, target=SandboxTarget())
    message = caught.value.message
    assert message.startswith("target: the sandbox target has no arm_url, ca_cert, subscription_id and "
                              "ODIN_SANDBOX_INFO is not set")
    assert "\n" not in message
    assert describe_azure_step(step, SandboxTarget()).startswith(
        "would fail over odin-fg to odin-sql-westus (planned); current state unknown: target: the sandbox target")
    with pytest.raises(UsageError, match=r"^target: kind 'local' has no Azure resources"):
        run_action(step, client=httpx.Client(), clock=drill.clock, target=LocalTarget())
    with pytest.raises(UsageError, match=r"^target: azure.\* steps need the plan's target"):
        run_action(step, client=httpx.Client(), clock=drill.clock)
    assert drill.mutations() == []


def test_a_sandbox_target_finds_a_running_sandbox_through_odin_sandbox_info(monkeypatch: pytest.MonkeyPatch,
                                                                            drill: Drill, sandbox_info_file: Path):
    monkeypatch.setenv(SANDBOX_INFO_ENV, str(sandbox_info_file))
    step = drill.step(SQL)
    assert describe_azure_step(step, SandboxTarget()) == \
        "would fail over odin-fg from eastus to westus (planned; replication CATCH_UP)"
    assert run_action(step, client=httpx.Client(), clock=drill.clock, target=SandboxTarget()).status == "ok"
    monkeypatch.setenv(SANDBOX_INFO_ENV, str(sandbox_info_file.parent / "missing.json"))
    with pytest.raises(UsageError, match=r"^target: ODIN_SANDBOX_INFO=.*missing.json: cannot read"):
        run_action(step, client=httpx.Client(), clock=drill.clock, target=SandboxTarget())


def test_an_azure_target_uses_the_public_cloud_and_builds_no_credential_until_a_token_is_needed():
    with AzureSession(AzureTarget(kind="azure", subscription_id="00000000-0000-0000-0000-000000000001")) as session:
        assert session.client_kwargs() == {}  # SDK defaults: management.azure.com, system CA, 30 s polling
        client = session.sql()
        assert client._config.subscription_id == "00000000-0000-0000-0000-000000000001"
        assert isinstance(session.credential, LazyDefaultCredential)
        assert session.credential._credential is None  # DefaultAzureCredential not built


# ------------------------------------------------------------------ undo checks and rollback
def test_undo_reachability_gets_the_resources_the_undo_will_act_on(drill: Drill):
    client = httpx.Client()
    sql, storage, frontdoor = drill.step(SQL), drill.step(STORAGE), drill.step(FRONTDOOR)
    for step in (sql, storage, frontdoor):
        assert undo_target_problem(step.undo, client, step=step, target=drill.session) is None
    explicit = drill.step({**FRONTDOOR, "undo": {**FRONTDOOR, "origins": {"app-centralus": {"enabled": True}}}})
    assert undo_target_problem(explicit.undo, client, step=explicit, target=drill.session).startswith(
        "azure.frontdoor.origins app-origins: OriginNotFound: app-centralus not in origin group")

    drill.sb.faults.add({"kind": "region_outage", "region": "eastus"})
    problem = undo_target_problem(sql.undo, client, step=sql, target=drill.session)
    assert problem.startswith("azure.sql.failover odin-fg: ServiceUnavailable: The server 'odin-sql-eastus'")
    assert drill.mutations() == []


def test_rollback_runs_the_journaled_azure_undo_through_the_target(drill: Drill, tmp_path: Path):
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)
    outcome = drill.run(drill.step({**SQL, "name": "fail-over-orders"}))
    journal.append("step_finished", phase="t0", step="fail-over-orders", status=outcome.status,
                   detail=outcome.detail, undo=outcome.undo, output=outcome.output)
    assert drill.state()["failover_groups"]["odin-fg"]["primary_region"] == "westus"

    result = undo_completed(journal, client=httpx.Client(), clock=drill.clock, target=drill.session,
                            backoff_seconds=0)
    assert result.all_undone, result
    assert result.undone[0].detail == "failed over odin-fg from westus to eastus (planned)"
    assert drill.state()["failover_groups"]["odin-fg"]["primary_region"] == "eastus"


def test_describe_action_looks_at_azure_only_when_given_the_target(drill: Drill):
    step = drill.step(STORAGE)
    assert describe_action(step) == "would fail over odindrillsdata to westus (planned)"
    assert describe_action(step, drill.session).startswith(
        "would fail over odindrillsdata from eastus to westus (planned; geo-replication Live")
