"""`odin gate` prints the decision with every number as JSON, or exits 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_odin


def snap(requests: int, errors: int, p95: float = 20.0, **signals: object) -> dict:
    return {"requests": requests, "errors": errors, "latency_ms": {"p50": p95 / 2, "p95": p95, "p99": p95 * 1.5},
            "signals": signals}


def gate(tmp_path: Path, baseline: dict, current: dict, policy: str | None = None):
    b, c = tmp_path / "b.json", tmp_path / "c.json"
    b.write_text(json.dumps(baseline))
    c.write_text(json.dumps(current))
    args = ["gate", "--baseline", str(b), "--current", str(c)]
    if policy is not None:
        (tmp_path / "p.yaml").write_text(policy)
        args += ["--policy", str(tmp_path / "p.yaml")]
    return run_odin(args)


def test_a_clear_breach_rolls_back_and_shows_its_evidence(tmp_path: Path) -> None:
    """By default ``odin gate`` judges as a run does: the sequential judge, with its e-values."""
    result = gate(tmp_path, snap(10000, 100), snap(5000, 250))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["decision"] == "rollback" and out["judge"] == "sequential"
    err = out["metrics"]["error_rate"]
    assert err["baseline"] == 0.01 and err["current"] == 0.05 and abs(err["ratio"] - 5.0) < 1e-9
    evidence = out["evidence"]["error_rate"]
    assert evidence["rungs"]["rollback"]["fired"] and evidence["rungs"]["rollback"]["e_value"] >= evidence["e_threshold"]
    assert "e-value" in out["reasons"][0] and "latency_p95_ms" in out["metrics"]


def test_the_fixed_judge_shows_p_values(tmp_path: Path) -> None:
    out = json.loads(gate(tmp_path, snap(10000, 100), snap(5000, 250), "judge: fixed\n").stdout)
    assert out["decision"] == "rollback" and "evidence" not in out
    err = out["metrics"]["error_rate"]
    assert err["threshold"] == 2.0 and err["p_value"] < 0.01
    for key in ("floor", "min_detectable_ratio"):
        assert key in err


def test_a_healthy_window_proceeds(tmp_path: Path) -> None:
    out = json.loads(gate(tmp_path, snap(10000, 100), snap(5000, 50)).stdout)
    assert out["decision"] == "proceed"


def test_an_outage_signal_rolls_back_now(tmp_path: Path) -> None:
    out = json.loads(gate(tmp_path, snap(10000, 100), snap(5000, 50, outage=True)).stdout)
    assert out["decision"] == "rollback_now"


def test_a_policy_file_changes_the_thresholds(tmp_path: Path) -> None:
    # 2x the baseline (1.85x its upper bound) is a hold by default; with the hold multiplier at 2.2
    # (rollback 3) it is only watched.
    base, cur = snap(100000, 1000), snap(50000, 1000)
    assert json.loads(gate(tmp_path, base, cur).stdout)["decision"] == "hold"
    out = json.loads(gate(tmp_path, base, cur, "multipliers: {hold: 2.2, rollback: 3.0}\n").stdout)
    assert out["decision"] == "watch"


def test_invalid_snapshot_is_a_usage_error(tmp_path: Path) -> None:
    result = gate(tmp_path, snap(100, 200), snap(100, 1))
    assert result.returncode == 2 and "b.json" in result.stderr and "errors (200) cannot exceed requests" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_signal_is_named(tmp_path: Path) -> None:
    result = gate(tmp_path, snap(100, 1), snap(100, 1, outtage=True))
    assert result.returncode == 2 and "c.json: signals.outtage: unknown field" in result.stderr


def test_bad_policy_is_named(tmp_path: Path) -> None:
    result = gate(tmp_path, snap(100, 1), snap(100, 1), "confidence: 3\n")
    assert result.returncode == 2 and "p.yaml: confidence:" in result.stderr


def test_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_odin(["gate", "--baseline", str(tmp_path / "none.json"), "--current", str(tmp_path / "none.json")])
    assert result.returncode == 2 and "cannot read baseline snapshot" in result.stderr
