"""prefect.yaml for real: deploy, a process worker, runs triggered like the UI does, schedules.

Uses the session's Prefect server (SQLite). The PostgreSQL variant lives in test_deployments_pg.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.deploy_helpers import deploy_all, run_deployment, wait_for_runs, worker
from tests.test_migration_e2e import journal, kinds, shop, write_plan  # noqa: F401  (fixture)


@pytest.fixture
def deployed(odin_env: dict, tmp_path: Path) -> dict:
    odin_env["ODIN_PLAN_ROOT"] = str(tmp_path)  # deployments read plans only from under the plan root
    deploy_all(odin_env)
    return odin_env


def test_quarterly_schedule_is_present_with_the_right_cron(deployed: dict) -> None:
    code = (
        "import json\n"
        "from prefect.client.orchestration import get_client\n"
        "with get_client(sync_client=True) as c:\n"
        "    d = c.read_deployment_by_name('dr-test/quarterly-dr-test')\n"
        "    print(json.dumps([{'cron': s.schedule.cron, 'tz': s.schedule.timezone, 'active': s.active} for s in d.schedules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=deployed, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [{"cron": "0 6 1 1,4,7,10 *", "tz": "UTC", "active": True}]


def test_migration_deployment_runs_each_phase_as_its_own_future_run(tmp_path: Path, deployed: dict, shop) -> None:
    plan = write_plan(tmp_path, shop.router_url)
    with worker(deployed):
        first = run_deployment("migration/migration", {"plan_file": str(plan), "time_scale": 200000}, deployed)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:  # `current` is written before the journal it points at: between the two, not started yet
                finished = kinds(journal(deployed, "shop-move"), "run_finished")
            except FileNotFoundError:
                finished = []
            if len(finished) >= 4 or any(f["data"]["outcome"] != "completed" for f in finished):
                break
            time.sleep(1)
        # the last run journals run_finished before its flow run reaches its final state: keep the worker
        # (its process group holds that run) until every run is final
        states = wait_for_runs(deployed, [r["data"]["flow_run_id"] for r in kinds(journal(deployed, "shop-move"),
                                                                                "run_started")])
    entries = journal(deployed, "shop-move")
    runs = kinds(entries, "run_started")
    assert [r["data"]["phases"] for r in runs] == [["t-1w"], ["t0"], ["t+1h"], ["t+24h"]]
    assert runs[0]["data"]["flow_run_id"] == first
    assert len({r["data"]["flow_run_id"] for r in runs}) == 4  # four separate flow runs, no worker held
    # each chained run was handed the migration id (never the mutable `current` pointer), and the
    # environment stayed reserved for it from T-0 until T+24h finished
    assert len({r["data"]["migration"] for r in runs}) == 1
    reservation = [(e["data"]["action"], e.get("phase")) for e in kinds(entries, "lock") if e["data"]["action"] in ("reserved", "freed")]
    assert [a for a, _ in reservation] == ["reserved", "freed"]
    assert [f["data"]["outcome"] for f in kinds(entries, "run_finished")] == ["completed"] * 4
    scheduled = [n for n in kinds(entries, "note") if "scheduled" in n["data"].get("message", "")]
    assert len(scheduled) == 3
    assert set(states.values()) == {"COMPLETED"} and len(states) == 4
    assert shop.weights() == {"blue": 0, "green": 100}
