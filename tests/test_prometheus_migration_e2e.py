"""The demo migration judged from Prometheus, with Alertmanager beside it: real CLI, real Prefect
server, real Prometheus and Alertmanager (Debian packages), real traffic to the demo service.

The plan says ``metrics: {kind: prometheus, ...}`` and ``alerts: {kind: alertmanager, ...}``; the
same breach as in ``test_migration_e2e`` (green at 30 % errors after the cut-over, 3x the 10 %
baseline) rolls it back at T+1h, judged from the service's own counters. Users' traffic comes
from background threads (a Prometheus source sends none of its own). Every process is stopped by
its PID.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.monitoring_servers import Load, alertmanager, prometheus, scraped, wait_until
from tests.test_migration_e2e import LATENCY_FLOOR_OFF_MS, journal, kinds, migrate

JOB = "shop"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[object, str, str]]:
    from odin_drills.sandbox.bluegreen import BlueGreenDemo

    demo = BlueGreenDemo(seed=11, port=0, error_rate=0.10, latency_median_ms=8).start()
    rules = [{"alert": "ShopErrorsElevated", "labels": {"severity": "warning", "service": "shop"},
              "expr": f'sum(rate(odin_demo_requests_total{{job="{JOB}",code=~"5.."}}[5s])) '
                      f'/ sum(rate(odin_demo_requests_total{{job="{JOB}"}}[5s])) > 0.2'}]
    try:
        with alertmanager(tmp_path / "alertmanager") as am, \
                prometheus(tmp_path / "prometheus", {JOB: {"target": f"127.0.0.1:{demo.port}", "path": "/_admin/metrics"}},
                           rules=rules, alertmanager=am) as prom, \
                Load(demo.router_url + "/api/orders/1"), Load(demo.router_url + "/api/orders/2"), \
                Load(demo.router_url + "/api/orders/3"):
            wait_until(lambda: scraped(prom, JOB), what="Prometheus to scrape the demo")
            yield demo, prom, am
    finally:
        demo.stop()


def write_plan(tmp_path: Path, url: str, prom: str, am: str, slo: dict | None = None) -> Path:
    weights = f"{url}/_admin/weights"

    def shift(step: str, to: dict, back: dict) -> dict:
        return {"name": step, "kind": "http", "method": "PUT", "url": weights, "json": to,
                "undo": {"kind": "http", "method": "PUT", "url": weights, "json": back}}

    plan = {
        "name": "shop-prom",
        "environment": "shop-prom",
        "service": {"name": "shop", "endpoints": {"router": url}},
        "metrics": {
            "kind": "prometheus", "url": prom, "query_delay": 1, "min_window_wall_seconds": 5,
            "requests": f'sum(increase(odin_demo_requests_total{{job="{JOB}"}}[$window]))',
            "errors": f'sum(increase(odin_demo_requests_total{{job="{JOB}",code=~"5.."}}[$window]))',
            "latency_buckets": f'sum by (le) (increase(odin_demo_request_duration_seconds_bucket{{job="{JOB}"}}[$window]))',
            "up": f'avg(avg_over_time(up{{job="{JOB}"}}[$window]))',
        },
        "alerts": {"kind": "alertmanager", "url": am, "filter": ['service="shop"']},
        "smoke": [{"name": "health", "url": f"{url}/health", "retries": 5, "retry_delay": 0.05,
                   "assert": [{"jsonpath": "$.status", "equals": "ok"}]}],
        "policy": {"windows": {"baseline": "1w", "step": "5m", "interval": "5m", "validation": "1h", "final": "23h"},
                   "floors": {"latency_ms": LATENCY_FLOOR_OFF_MS}, "absolute": {"p95_latency_ms": None}},
        "phases": {"t0": [
            shift("shift-10", {"blue": 90, "green": 10}, {"blue": 100, "green": 0}),
            shift("shift-100", {"blue": 0, "green": 100}, {"blue": 90, "green": 10}),
        ]},
    }
    if slo is not None:
        plan["slo"] = slo
    path = tmp_path / "shop-prom.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def test_the_demo_migration_judged_from_prometheus_rolls_back_on_the_breach(tmp_path: Path, odin_env: dict, stack) -> None:
    demo, prom, am = stack
    plan = write_plan(tmp_path, demo.router_url, prom, am)
    first = migrate(plan, odin_env, "--phase", "t-1w", scale=60000)
    assert first.returncode == 0, first.stderr[-3000:]
    t0 = migrate(plan, odin_env, "--phase", "t0", scale=60000)
    assert t0.returncode == 0, t0.stderr[-3000:]
    assert demo.weights() == {"blue": 0, "green": 100}

    demo.add_fault("green", error_rate=0.3)
    result = migrate(plan, odin_env, "--phase", "t+1h", scale=60000)
    assert result.returncode == 3, result.stderr[-3000:]
    assert demo.weights() == {"blue": 100, "green": 0}

    entries = journal(odin_env, "shop-prom")
    baseline = kinds(entries, "baseline")[0]["data"]["snapshot"]
    assert baseline["source"] == f"prometheus {prom}"
    assert baseline["alerts"] == [] and baseline["latency_histogram"] is not None
    assert 0.05 < baseline["errors"] / baseline["requests"] < 0.16  # the demo's 10 %, from its own counters
    gates = [g for g in kinds(entries, "gate") if g["phase"] == "t+1h" and isinstance(g["data"]["window"], int)]
    assert gates[-1]["data"]["decision"]["decision"] == "rollback", [g["data"]["snapshot"]["requests"] for g in gates]
    assert all(g["data"]["snapshot"]["alerts"] is not None for g in gates)  # Alertmanager answered every window
    decision = [d for d in kinds(entries, "decision") if d["phase"] == "t+1h"][-1]["data"]
    assert decision["action"] == "rollback", decision["reason"]
    assert "error rate" in decision["reason"] and "e-value" in decision["reason"]
    assert [e["step"] for e in kinds(entries, "undo_finished")] == ["shift-100", "shift-10"]


def test_an_exhausted_error_budget_refuses_t0_unless_an_emergency_says_why(tmp_path: Path, odin_env: dict, stack) -> None:
    demo, prom, am = stack
    slo = {"availability": 99.0, "window": "30d"}  # the demo fails 10 %: ten times the budget
    plan = write_plan(tmp_path, demo.router_url, prom, am, slo=slo)
    first = migrate(plan, odin_env, "--phase", "t-1w", scale=60000)
    assert first.returncode == 0, first.stderr[-3000:]
    refused = migrate(plan, odin_env, "--phase", "t0", scale=60000)
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert "slo: error budget" in refused.stderr and "no changes except emergency fixes" in refused.stderr
    assert demo.weights() == {"blue": 100, "green": 0}  # nothing changed

    write_plan(tmp_path, demo.router_url, prom, am,
               slo={**slo, "emergency": {"reason": "hotfix for INC-42", "by": "alice"}})
    t0 = migrate(plan, odin_env, "--phase", "t0", scale=60000)
    assert t0.returncode == 0, t0.stderr[-3000:]
    assert demo.weights() == {"blue": 0, "green": 100}

    notes = [e for e in kinds(journal(odin_env, "shop-prom"), "note") if e.get("step") == "error-budget"]
    assert [(n["phase"], n["data"]["error_budget"]["tier"], n["data"]["error_budget"]["allowed"]) for n in notes] == [
        ("t-1w", "exhausted", False), ("t0", "exhausted", False), ("t0", "exhausted", True)]
    assert notes[0]["data"]["message"].endswith(": would be refused at T-0")
    assert notes[-1]["data"]["error_budget"]["emergency"] == {"reason": "hotfix for INC-42", "by": "alice"}
    assert "EMERGENCY override by alice: hotfix for INC-42" in notes[-1]["data"]["message"]
    budget = notes[-1]["data"]["error_budget"]
    assert budget["requests"] > 0 and 0.05 < budget["errors"] / budget["requests"] < 0.16
