"""Production needs an explicit opt-in at every entry point; deployments read plans only from the plan root.

* the rules themselves (``odin_drills.plan.safety``): what lies under the root after ``..`` and
  symlinks are resolved;
* every flow has an ``allow_production`` parameter, default false, described in the UI form;
* the flows, called in-process as the CLI calls them, refuse a production plan without it;
* through real deployments on the test Prefect server and a process worker (as the UI and a
  schedule start them): a plan outside the root (absolute path, ``..``, a symlink out of it) and a
  production plan or drill without the opt-in end ``Refused``, the state's message naming the rule,
  with nothing run: no connection reaches the server every plan points at, no state is written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import ROOT, run_odin
from tests.deploy_helpers import deploy_all, run_deployment, wait_for_runs, worker
from tests.recording_server import RecordingServer


def migration_plan(url: str, *, name: str = "prod-move", production: bool = True) -> dict:
    return {
        "name": name, "environment": name,
        "target": {"kind": "azure", "subscription_id": "00000000-0000-0000-0000-000000000000", "production": production},
        "service": {"name": "shop"},
        "metrics": {"kind": "synthetic_probe", "url": f"{url}/api", "min_window_wall_seconds": 0.1},
        "smoke": [{"name": "health", "url": f"{url}/health"}],
        "phases": {"t0": [{"name": "shift", "kind": "http", "method": "PUT", "url": f"{url}/w", "json": {"green": 100},
                           "undo": {"kind": "http", "method": "PUT", "url": f"{url}/w", "json": {"green": 0}}}]},
    }


def drill_plan(url: str) -> dict:
    drill = yaml.safe_load((ROOT / "drills" / "region-failover-sandbox.yaml").read_text())
    drill.update(name="prod-drill", environment="prod-drill",
                 target={"kind": "azure", "subscription_id": "00000000-0000-0000-0000-000000000000", "production": True},
                 endpoints={"frontdoor": url, "regions": {"eastus": f"{url}/east", "westus": f"{url}/west"}})
    return drill


def write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# ------------------------------------------------------------------ the rules

def test_plan_root_resolves_dotdot_and_symlinks_before_deciding(tmp_path: Path) -> None:
    from odin_drills.plan.safety import PlanPathRefused, plan_root, plan_under_root

    root, outside = tmp_path / "plans", tmp_path / "elsewhere"
    inside = write(root / "team" / "ok.yaml", {})
    stray = write(outside / "plan.yaml", {})
    (root / "out.yaml").symlink_to(stray)
    (root / "in.yaml").symlink_to(inside)
    assert plan_under_root(str(inside), root) == str(inside)
    assert plan_under_root(str(root / "in.yaml"), root) == str(inside)  # a link within the root is fine
    for given in (str(stray), str(root / ".." / "elsewhere" / "plan.yaml"), str(root / "out.yaml"), "/etc/passwd"):
        with pytest.raises(PlanPathRefused) as refused:
            plan_under_root(given, root)
        assert refused.value.message.startswith(f"{given}: plan_file: resolves to ")
        assert "rule plan-root" in refused.value.message and str(root) in refused.value.message
    assert plan_root() == (ROOT / "drills").resolve()  # default: the project's drills/ folder


@pytest.mark.parametrize("entrypoint", ["flows/migration.py:migration", "flows/dr_test.py:dr_test",
                                        "flows/dr_test.py:region_failover_drill",
                                        "flows/region_failover.py:region_failover"])
def test_every_flow_shows_allow_production_in_the_ui_form(entrypoint: str) -> None:
    from prefect.utilities.callables import parameter_schema_from_entrypoint

    prop = parameter_schema_from_entrypoint(str(ROOT / entrypoint)).model_dump()["properties"]["allow_production"]
    assert prop["default"] is False and prop["type"] == "boolean"
    assert "production" in prop["description"] and "refused" in prop["description"]


def test_the_cli_still_takes_any_path_and_asks_for_its_flag(tmp_path: Path) -> None:
    plan = write(tmp_path / "anywhere" / "prod.yaml", migration_plan("http://127.0.0.1:9"))
    assert run_odin(["validate", str(plan)]).returncode == 0
    refused = run_odin(["migrate", str(plan)], env={"ODIN_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin",
                                                    "PYTHONPATH": str(ROOT)})
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip() == (f"odin: error: {plan}: target.production: this plan targets production and rule "
                                      "production-opt-in needs an explicit opt-in; pass --allow-production to run it")


# ------------------------------------------------------------------ the flows, in-process

IN_PROCESS = """
import json, sys
from odin_drills.flows.migration import run_migration
from odin_drills.flows.dr_test import dr_test, DrillSummary
from odin_drills.flows.final_state import summary_of
migration = run_migration(plan_file=sys.argv[1], time_scale=1e6)
state = dr_test(plan_file=sys.argv[2], time_scale=60, return_state=True)
drill = summary_of(state, DrillSummary)
print(json.dumps({"migration": [migration.outcome, migration.detail], "drill": [drill.outcome, drill.detail, state.name]}))
"""


def test_the_flows_refuse_production_without_the_parameter(tmp_path: Path, odin_env: dict) -> None:
    with RecordingServer() as recorder:
        plan = write(tmp_path / "prod.yaml", migration_plan(recorder.url))
        drill = write(tmp_path / "prod-drill.yaml", drill_plan(recorder.url))
        done = subprocess.run([sys.executable, "-c", IN_PROCESS, str(plan), str(drill)], cwd=ROOT, env=odin_env,
                              capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert recorder.connections() == []
    rule = "rule production-opt-in needs an explicit opt-in; set the run's allow_production parameter to true"
    assert result["migration"][0] == "refused" and rule in result["migration"][1]
    assert result["migration"][1].startswith(f"{plan}: target.production: this plan targets production")
    assert result["drill"][0] == "refused" and rule in result["drill"][1] and result["drill"][2] == "Refused"
    assert not (Path(odin_env["ODIN_HOME"]) / "migrations").exists()
    assert not (Path(odin_env["ODIN_HOME"]) / "drills").exists()


# ------------------------------------------------------------------ through deployments, as the UI starts them

def _state(api: str, flow_run_id: str) -> dict:
    return httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=10).json()["state"]


def test_deployments_refuse_plans_outside_the_root_and_production_without_opt_in(tmp_path: Path,
                                                                                 odin_env: dict) -> None:
    root, outside = tmp_path / "plans", tmp_path / "elsewhere"
    env = {**odin_env, "ODIN_PLAN_ROOT": str(root)}
    with RecordingServer() as recorder:
        stray = write(outside / "move.yaml", migration_plan(recorder.url, name="stray-move", production=False))
        write(root / "placeholder.yaml", {})
        (root / "link.yaml").symlink_to(stray)
        prod = write(root / "prod.yaml", migration_plan(recorder.url))
        prod_drill = write(root / "prod-drill.yaml", drill_plan(recorder.url))
        deploy_all(env)
        cases = {
            "absolute path outside": ("migration/migration", {"plan_file": str(stray)}, "rule plan-root"),
            "dot-dot out of the root": ("migration/migration", {"plan_file": f"{root}/../elsewhere/move.yaml"},
                                        "rule plan-root"),
            "symlink out of the root": ("migration/migration", {"plan_file": str(root / "link.yaml")}, "rule plan-root"),
            "drill outside, on the schedule's deployment": ("dr-test/quarterly-dr-test",
                                                            {"plan_file": str(ROOT / "drills" / "quarterly-dr-test.yaml")},
                                                            "rule plan-root"),
            "production migration": ("migration/migration", {"plan_file": str(prod)}, "rule production-opt-in"),
            "production drill from the UI": ("region-failover-drill/region-failover-drill",
                                             {"plan_file": str(prod_drill)}, "rule production-opt-in"),
        }
        with worker(env):
            runs = {case: run_deployment(name, {**params, "time_scale": 1000}, env)
                    for case, (name, params, _) in cases.items()}
            wait_for_runs(env, list(runs.values()), timeout=300)
        assert recorder.connections() == []
    for case, (_, _, rule) in cases.items():
        state = _state(env["PREFECT_API_URL"], runs[case])
        assert (state["type"], state["name"]) == ("FAILED", "Refused"), (case, state)
        assert rule in state["message"] and "\n" not in state["message"], (case, state["message"])
    assert not (Path(env["ODIN_HOME"]) / "migrations").exists()
    assert not (Path(env["ODIN_HOME"]) / "drills").exists()
