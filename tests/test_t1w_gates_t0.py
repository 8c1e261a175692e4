"""T-1w gates T-0, the baseline case: a T-1w whose baseline window could not describe the service
(every request failed: the metric source points at nothing that answers) writes no baseline, ends
``unusable`` with the reason, and T-0 refuses with that reason before touching anything. (The undo
check and critical smoke cases: ``tests/test_fragile_corners.py``.)

Real CLI, real Prefect server, the demo service and a real refusing port on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from odin_drills.steps.baseline import unusable_baseline
from odin_drills.steps.snapshot import LatencyPercentiles, Signals, Snapshot
from tests.http_servers import refusing_url
from tests.test_migration_e2e import journal, kinds, migrate, shop, write_plan  # noqa: F401 - shop is a fixture


def test_a_baseline_where_every_request_failed_is_unusable_and_t0_refuses(tmp_path: Path, odin_env: dict,
                                                                        shop) -> None:
    with refusing_url("/api/orders/1") as dead:
        plan = write_plan(tmp_path, shop.router_url)
        data = yaml.safe_load(plan.read_text())
        data["metrics"]["url"] = dead  # smoke passes (the service is up), the metric source sees nothing
        plan.write_text(yaml.safe_dump(data, sort_keys=False))
        week = migrate(plan, odin_env, "--phase", "t-1w")
        assert week.returncode == 2, week.stderr[-2000:]
        assert "every request of the baseline window failed" in week.stderr and "metrics" in week.stderr
        assert "Traceback" not in week.stderr
        folder = next((Path(odin_env["ODIN_HOME"]) / "migrations" / "shop-move").glob("2*"))
        assert not (folder / "baseline.json").exists()
        finished = [e for e in kinds(journal(odin_env, "shop-move"), "phase_finished") if e["phase"] == "t-1w"]
        assert finished[-1]["data"]["outcome"] == "unusable"
        refused = migrate(plan, odin_env, "--phase", "t0")
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "left no usable baseline" in refused.stderr and "every request of the baseline window failed" in refused.stderr
    assert shop.weights() == {"blue": 100, "green": 0}  # refused before touching anything
    entries = journal(odin_env, "shop-move")
    assert not kinds(entries, "step_intent") and not kinds(entries, "lock")


def test_a_baseline_above_an_absolute_limit_is_a_t1w_warning_naming_the_field(tmp_path: Path, odin_env: dict,
                                                                            shop) -> None:
    """The limit would be judged but never applied for the whole migration; T-1w says so, once."""
    plan = write_plan(tmp_path, shop.router_url, policy={"absolute": {"p95_latency_ms": 0.001}})
    week = migrate(plan, odin_env, "--phase", "t-1w")
    assert week.returncode == 0, week.stderr[-2000:]
    warnings = [e["data"]["message"] for e in kinds(journal(odin_env, "shop-move"), "note")
                if e["data"].get("message", "").startswith("warning: absolute limits:")]
    # the demo shop fails about 10 % by design (above the default 5 %), and no p95 is under 1 µs
    assert len(warnings) == 2, warnings
    assert "is above policy.absolute.error_rate_pct (5.00%)" in warnings[0]
    assert "policy.absolute.p95_latency_ms (0.001 ms)" in warnings[1]
    assert all("will not be applied" in line for line in warnings)


def test_a_step_over_its_budget_misses_its_rto_and_rolls_back_now_without_a_gate(tmp_path: Path, odin_env: dict,
                                                                               shop) -> None:
    """``budget:`` is a step's RTO: a step that takes longer rolls back at once, before its gate
    watches a single window. (The migration's clock counts engine work at its real length, so the
    1.5 s command is 1.5 s of plan time at any scale.)"""
    plan = write_plan(tmp_path, shop.router_url)
    data = yaml.safe_load(plan.read_text())
    data["phases"]["t0"].insert(0, {"name": "slow-prep", "kind": "command", "argv": ["sleep", "1.5"], "budget": "1s",
                                    "undo": {"kind": "command", "argv": ["true"]}})
    data["phases"]["t0"][1]["budget"] = "1d"  # never reached
    plan.write_text(yaml.safe_dump(data, sort_keys=False))
    assert migrate(plan, odin_env, "--phase", "t-1w").returncode == 0
    t0 = migrate(plan, odin_env, "--phase", "t0")
    assert t0.returncode == 3, t0.stderr[-2000:]  # rolled back, healthy
    entries = journal(odin_env, "shop-move")
    decisions = kinds(entries, "decision")
    assert [(d["step"], d["data"]["action"]) for d in decisions] == [("slow-prep", "rollback_now")]
    assert decisions[0]["data"]["reason"].startswith("RTO exceeded: step slow-prep took 2 s of plan time, over its "
                                                     "budget of 1 s (budget:)"), decisions[0]["data"]["reason"]
    assert not [e for e in entries if e["kind"] == "gate" and e["step"] == "slow-prep"]  # no gate window watched
    assert [e["step"] for e in kinds(entries, "step_started") if e["phase"] == "t0"] == ["slow-prep"]
    assert [e["step"] for e in kinds(entries, "undo_finished")] == ["slow-prep"]
    assert shop.weights() == {"blue": 100, "green": 0}


def test_what_makes_a_baseline_unusable() -> None:
    def snap(requests: int, errors: int, **details: str) -> Snapshot:
        return Snapshot(requests=requests, errors=errors, latency_ms=LatencyPercentiles(p50=1, p95=2, p99=3),
                        signals=Signals(details=details))

    assert unusable_baseline(snap(100, 10), "p.yaml: metrics") is None
    assert "no request at all" in unusable_baseline(snap(0, 0), "p.yaml: metrics")
    assert "every request" in unusable_baseline(snap(5, 5), "p.yaml: metrics")
    assert "could not be read (prom down)" in unusable_baseline(snap(100, 0, unavailable="prom down"), "p.yaml: metrics")
