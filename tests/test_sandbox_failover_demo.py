"""The documented sandbox drill: `odin migrate drills/sandbox-failover.yaml` with nothing else running.

odin starts the embedded Azure sandbox itself, fails the failover group and Front Door over to
westus through the real SDK clients, watches, and fails back at T+1h.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import ROOT, run_odin


def test_sandbox_failover_plan_runs_with_one_command(odin_env: dict) -> None:
    result = run_odin(["migrate", str(ROOT / "drills" / "sandbox-failover.yaml"), "--time-scale", "60000"],
                      env=odin_env, timeout=300)
    assert "embedded Azure sandbox" in result.stderr
    root = Path(odin_env["ODIN_HOME"]) / "migrations" / "sandbox-failover"
    entries = [json.loads(l) for l in (root / (root / "current").read_text().strip() / "journal.jsonl").read_text().splitlines()]
    steps = {e["step"]: e["data"] for e in entries if e["kind"] == "step_finished"}
    assert "frontdoor-to-westus" in steps, result.stderr[-4000:]
    assert steps["orders-db-to-westus"]["status"] == "ok"
    assert "from eastus to westus" in steps["orders-db-to-westus"]["detail"]
    assert steps["frontdoor-to-westus"]["status"] == "ok"
    # each automatic undo was computed from the state read before the change, and journaled
    assert steps["orders-db-to-westus"]["undo"]["kind"] == "azure.sql.failover"
    assert result.returncode == 0, result.stderr[-3000:]
    assert steps["orders-db-back-to-eastus"]["status"] == "ok"
    assert "from westus to eastus" in steps["orders-db-back-to-eastus"]["detail"]
    # the embedded sandbox was stopped with the run
    assert "ODIN_SANDBOX_INFO" not in odin_env
