"""The failback runs the failovers back in batches, as they failed over: the real CLI, a real
Prefect server and the Azure sandbox with three failover groups and half-second operations.

A 200-group estate failing back one undo at a time took 111 s at 0.2 s operations and seven plan
hours at a minute each (``bench/results/drill_scale.md``); now the data tier's undos run
``resources.max_parallel`` at once, and Front Door's only after every one of them finished.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_drill_e2e import journal_of, run_drill, sandbox_env, write_drill


@pytest.fixture
def three_group_sandbox(tmp_path: Path) -> Iterator[Any]:
    from odin_drills.sandbox.azure import AzureSandbox

    sandbox = AzureSandbox(state_dir=tmp_path / "sandbox", seed=0, replication_lag_seconds=1.0, lro_retry_after=0,
                           probe_interval_seconds=0.1, probe_timeout_seconds=0.5, scale="fg=2",
                           operation_seconds=0.5)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def test_the_data_tier_fails_back_at_once_and_traffic_only_after_it(
        three_group_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:
    info = three_group_sandbox.info()
    groups = info["resources"]["failover_groups"][:1] + info["scaled_resources"]["failover_groups"][:2]
    resources = {"failover_groups": [{"id": g, "mode": "forced", "allow_data_loss": True} for g in groups],
                 "frontdoor": {"origin_group": info["resources"]["frontdoor_origin_groups"][0],
                               "origins": {"eastus": "app-eastus", "westus": "app-westus"}},
                 "max_parallel": 4}
    plan = write_drill(tmp_path, "batched-failback", resources=resources, targets={"rto": "4h", "rpo": "4h"})
    result = run_drill(plan, sandbox_env(odin_env, tmp_path), timeout=240)
    card = json.loads(result.stdout)
    assert result.returncode == 0, (card.get("criteria"), result.stderr[-3000:])
    entries = [e for e in journal_of(card["report"]) if e.get("phase") == "failback"]
    started = {e["step"]: e["seq"] for e in entries if e["kind"] == "undo_started"}
    finished = {e["step"]: e for e in entries if e["kind"] == "undo_finished"}
    sql = [label for label in started if label.startswith("sql ")]
    front_door = [label for label in started if label.startswith("frontdoor ")]
    assert len(sql) == 3 and len(front_door) == 1, sorted(started)
    assert all(finished[label]["data"]["status"] == "ok" for label in started)
    # the three SQL failovers back overlapped: each started before any of them finished
    assert max(started[label] for label in sql) < min(finished[label]["seq"] for label in sql), entries
    # traffic moved home only after the data: Front Door's undo started after every SQL undo finished
    assert started[front_door[0]] > max(finished[label]["seq"] for label in sql)
    state = three_group_sandbox.state()["failover_groups"]
    assert all(group["primary_region"] == "eastus" for group in state.values()), state
