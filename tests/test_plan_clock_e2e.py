"""The demo migration under ``--time-scale 20000`` keeps to the plan's own timeline.

Each gate window lasts at least ``min_window_wall_seconds`` (6 s) of real time; that must count as
the window's configured 5 plan minutes, not 6 s × 20000 = 33 plan hours. Real CLI, real Prefect
server, real HTTP to the blue/green demo service.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, run_odin

PLAN = ROOT / "drills" / "migration-demo.yaml"
SCALE = 20000.0
# Outside its windows and waits the migration's clock runs at real time (idle_rate=1): each step's
# PUT and the Prefect bookkeeping of its tasks cost their real 0.05-0.5 s, not 15-150 plan minutes
# at N = 20000. Allowed: 2 plan minutes of such work per step, so T-0 reads as minutes.
WORK_MARGIN_PER_STEP_SECONDS = 2 * 60


@pytest.fixture
def shop() -> Iterator[object]:
    from odin_drills.sandbox.bluegreen import BlueGreenDemo

    with BlueGreenDemo(seed=11, port=0, error_rate=0.10, latency_median_ms=30) as demo:
        yield demo


def _time(entry: dict) -> datetime:
    return datetime.fromisoformat(entry["time"])


def _timeline(entries: list[dict], first: dict, last: dict) -> str:
    """Plan seconds from ``first`` and since the previous entry, one line per entry (for failures)."""
    lines, previous = [], _time(first)
    for entry in entries[entries.index(first):entries.index(last) + 1]:
        at = _time(entry)
        lines.append(f"{(at - _time(first)).total_seconds():10.0f} +{(at - previous).total_seconds():8.0f} "
                     f"{entry['kind']} {entry.get('step') or ''}")
        previous = at
    return "\n".join(lines)


def _seconds(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return float(text[:-1]) * units[text[-1]]


def test_demo_migration_t0_spans_plan_minutes_not_days(odin_env: dict, shop) -> None:
    env = dict(odin_env, ODIN_DEMO_URL=shop.router_url)
    result = run_odin(["migrate", str(PLAN), "--time-scale", str(SCALE), "--force"], env=env, timeout=400)
    assert result.returncode in (0, 3), result.stderr[-3000:]

    root = Path(env["ODIN_HOME"]) / "migrations" / "migration-demo"
    folder = root / (root / "current").read_text().strip()
    entries = [json.loads(line) for line in (folder / "journal.jsonl").read_text().splitlines() if line.strip()]
    plan = yaml.safe_load(PLAN.read_text())
    step_window = _seconds(plan["policy"]["windows"]["step"])  # 5 m

    started = next(e for e in entries if e["kind"] == "phase_started" and e["phase"] == "t0")
    finished = next(e for e in entries if e["kind"] == "phase_finished" and e["phase"] == "t0")
    t0_span = (_time(finished) - _time(started)).total_seconds()

    # Every window measured in T-0 spans its configured plan length, however long it really took
    # (an inconclusive window merged into the next one spans both).
    windows = [e for e in entries if e["kind"] == "gate" and e["phase"] == "t0" and isinstance(e["data"]["window"], int)]
    assert len(windows) >= len(plan["phases"]["t0"])  # at least one gate per world-changing step
    lengths = []
    for gate in windows:
        snap = gate["data"]["snapshot"]
        lengths.append((datetime.fromisoformat(snap["ended_at"]) - datetime.fromisoformat(snap["started_at"])).total_seconds())
    assert min(lengths) == pytest.approx(step_window, abs=0.01)
    assert all(length == pytest.approx(step_window, abs=0.01) or length > step_window for length in lengths)

    configured = len(windows) * step_window  # 3 gates × 5 plan minutes on a clean run
    margin = len(plan["phases"]["t0"]) * WORK_MARGIN_PER_STEP_SECONDS
    print(f"T-0: {t0_span:.0f} plan s for {len(windows)} windows of {step_window:.0f} s")
    assert configured <= t0_span < configured + margin, (
        f"T-0 took {t0_span / 3600:.1f} plan hours for {len(windows)} windows of {step_window:.0f} s:\n"
        + _timeline(entries, started, finished))

    # The baseline window is its configured day, not 6 s × N, and the later phases start on time.
    baseline = next(e for e in entries if e["kind"] == "baseline")
    snap = baseline["data"]["snapshot"]
    assert (datetime.fromisoformat(snap["ended_at"]) - datetime.fromisoformat(snap["started_at"])).total_seconds() == \
        pytest.approx(_seconds(plan["policy"]["windows"]["baseline"]), abs=0.01)
    if result.returncode == 0:  # T+24h starts on time, 1 w + 24 h after the run began (T-0 was due at 1 w)
        run_started = _time(next(e for e in entries if e["kind"] == "run_started"))
        t24 = _time(next(e for e in entries if e["kind"] == "phase_started" and e["phase"] == "t+24h"))
        assert 0 <= (t24 - run_started).total_seconds() - (7 + 1) * 86400 < 600
