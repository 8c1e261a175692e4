"""A sandbox region shift judged from Azure Monitor platform metrics: real CLI, real Prefect server,
the Azure sandbox with its regional web apps, and the real ``MetricsClient`` reading their
``Requests``/``Http5xx`` through ``metrics:getBatch``.

T-0 moves Front Door to the westus app (``azure.frontdoor.origins``, undo auto); the westus app then
fails 30 % of its requests; T+1h judges that from the platform metrics and rolls the origins back
(exit 3). Users' traffic comes from background threads through Front Door (the source sends none).
The sandbox and the load threads are stopped in a ``finally``/``with``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from odin_drills.sandbox.azure import AzureSandbox
from tests.monitoring_servers import Load
from tests.test_migration_e2e import LATENCY_FLOOR_OFF_MS, journal, kinds, migrate


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[AzureSandbox]:
    sb = AzureSandbox(state_dir=tmp_path / "sandbox", seed=5, probe_interval_seconds=0.5).start()
    try:
        with Load(sb.info()["frontdoor_url"] + "/health"), Load(sb.info()["frontdoor_url"] + "/health"):
            yield sb
    finally:
        sb.stop()


def write_plan(tmp_path: Path, frontdoor: str) -> Path:
    def origins(first: str, second: str) -> dict:
        return {"kind": "azure.frontdoor.origins", "origin_group": "app-origins", "profile": "odin-frontdoor",
                "resource_group": "rg-odin-drills", "origins": {first: {"priority": 1}, second: {"priority": 2}}}

    plan = {
        "name": "shop-platform-metrics",
        "environment": "shop-platform-metrics",
        "target": {"kind": "sandbox"},
        "service": {"name": "shop", "endpoints": {"frontdoor": frontdoor}},
        "metrics": {"kind": "azure_monitor_metrics", "query_delay": 0, "min_window_wall_seconds": 4},
        "smoke": [{"name": "health", "url": f"{frontdoor}/health", "retries": 5, "retry_delay": 0.05}],
        "policy": {"windows": {"baseline": "1w", "step": "5m", "interval": "5m", "validation": "1h", "final": "23h"},
                   "floors": {"error_rate_pp": 2.0, "latency_ms": LATENCY_FLOOR_OFF_MS},
                   "absolute": {"p95_latency_ms": None}},
        "phases": {"t0": [{"name": "frontdoor-to-westus", **origins("app-westus", "app-eastus"), "undo": "auto"}]},
    }
    path = tmp_path / "shop-platform-metrics.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def priorities(sandbox: AzureSandbox) -> dict[str, int]:
    assert sandbox.world is not None
    return {name: sandbox.world.origin("odin-frontdoor", "app-origins", name).priority
            for name in ("app-eastus", "app-westus")}


def test_a_region_shift_judged_from_platform_metrics_rolls_back_on_the_breach(
        tmp_path: Path, odin_env: dict, sandbox: AzureSandbox) -> None:
    env = {**odin_env, "ODIN_SANDBOX_INFO": str(tmp_path / "sandbox" / "sandbox.json")}
    plan = write_plan(tmp_path, sandbox.info()["frontdoor_url"])
    first = migrate(plan, env, "--phase", "t-1w", scale=60000)
    assert first.returncode == 0, first.stderr[-3000:]
    t0 = migrate(plan, env, "--phase", "t0", scale=60000)
    assert t0.returncode == 0, t0.stderr[-3000:]
    assert priorities(sandbox) == {"app-eastus": 2, "app-westus": 1}

    sandbox.faults.add({"kind": "error_rate", "region": "westus", "rate": 0.3})
    result = migrate(plan, env, "--phase", "t+1h", scale=60000)
    assert result.returncode == 3, result.stderr[-3000:]
    assert priorities(sandbox) == {"app-eastus": 1, "app-westus": 2}

    entries = journal(env, "shop-platform-metrics")
    baseline = kinds(entries, "baseline")[0]["data"]["snapshot"]
    assert baseline["source"].startswith("azure_monitor_metrics Microsoft.Web/sites (2 resources in eastus, westus")
    assert baseline["requests"] > 100 and baseline["errors"] == 0 and baseline["latency_histogram"] is None
    decision = [d for d in kinds(entries, "decision") if d["phase"] == "t+1h"][-1]["data"]
    assert decision["action"] == "rollback", decision["reason"]
    assert "error rate" in decision["reason"]
    assert [e["step"] for e in kinds(entries, "undo_finished")] == ["frontdoor-to-westus"]
