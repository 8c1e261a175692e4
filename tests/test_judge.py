"""The judge turns window decisions into one verdict: confirmation, extensions, merging, aggregates.

The metric source here is a scripted implementation of the MetricSource interface (windows given
in advance), like httpx's MockTransport: the judge, the ladder and the journal are the real ones.
"""

from __future__ import annotations

import random
from pathlib import Path

from odin_drills.steps.clock import ManualClock
from odin_drills.steps.journal import Journal
from odin_drills.steps.judge import Judge
from odin_drills.plan.policy import Policy
from odin_drills.steps.snapshot import LatencyPercentiles, Snapshot


def window(requests: int, errors: int, p95: float = 20.0, **signals: object) -> Snapshot:
    rng = random.Random(requests * 31 + errors)
    samples = [rng.lognormvariate(2.3, 0.3) * p95 / 16.5 for _ in range(requests)]
    return Snapshot(requests=requests, errors=errors, latency_ms=LatencyPercentiles(p50=p95 / 2, p95=p95, p99=p95 * 1.4),
                    latency_samples_ms=samples, signals=signals)


class ScriptedSource:
    name = "scripted"

    def __init__(self, windows: list[Snapshot], clock: ManualClock, floor: float = 0.0) -> None:
        self.windows = list(windows)
        self.clock = clock
        self.floor = floor
        self.asked: list[float] = []

    def measure(self, plan_seconds: float) -> Snapshot:
        self.asked.append(plan_seconds)
        self.clock.sleep(plan_seconds)
        return self.windows.pop(0)

    def wall_seconds(self, plan_seconds: float) -> float:
        return max(plan_seconds / 1000.0, self.floor)

    def close(self) -> None:
        pass


BASELINE = window(20000, 200)  # 1 % errors
HEALTHY = window(5000, 50)
BROKEN = window(5000, 400)  # 8 %: far beyond 2x, significant


def judge(tmp_path: Path, windows: list[Snapshot], policy: Policy | None = None, floor: float = 0.0):
    clock = ManualClock()
    source = ScriptedSource(windows, clock, floor)
    journal = Journal(tmp_path / "journal.jsonl", clock)
    return Judge(source=source, baseline=BASELINE, policy=policy or Policy(), journal=journal), source, journal


def test_a_healthy_window_proceeds(tmp_path: Path) -> None:
    j, source, journal = judge(tmp_path, [HEALTHY])
    verdict = j.watch(300, phase="t0", step="s")
    assert verdict.action == "proceed" and len(journal.entries("gate")) == 1


def test_rollback_needs_two_consecutive_windows(tmp_path: Path) -> None:
    j, source, _ = judge(tmp_path, [BROKEN, BROKEN])
    verdict = j.watch(300, phase="t0")
    assert verdict.action == "rollback" and verdict.windows == 2 and "confirmed over 2" in verdict.reason


def test_one_bad_window_then_a_good_one_does_not_roll_back(tmp_path: Path) -> None:
    j, _, _ = judge(tmp_path, [BROKEN, HEALTHY])
    assert j.watch(300, phase="t0").action == "proceed"


def test_outage_rolls_back_at_once(tmp_path: Path) -> None:
    j, source, _ = judge(tmp_path, [window(5000, 50, outage=True), HEALTHY])
    verdict = j.watch(300, phase="t0")
    assert verdict.action == "rollback_now" and len(source.windows) == 1


def test_a_hold_acts_at_once(tmp_path: Path) -> None:
    j, _, _ = judge(tmp_path, [window(5000, 50, sev1_alerts=1)])
    assert j.watch(300, phase="t0").action == "hold"


def test_inconclusive_windows_are_merged_until_they_decide(tmp_path: Path) -> None:
    small = window(30, 0)  # below min_requests
    j, source, journal = judge(tmp_path, [small, HEALTHY])
    verdict = j.watch(300, phase="t0")
    assert verdict.action == "proceed"
    gates = journal.entries("gate")
    assert gates[0].data["decision"]["decision"] == "inconclusive"
    assert gates[1].data["snapshot"]["requests"] == 30 + 5000  # merged with the short window


def test_never_conclusive_becomes_a_hold_after_the_extensions(tmp_path: Path) -> None:
    small = [window(10, 0) for _ in range(4)]
    j, source, _ = judge(tmp_path, small, Policy.model_validate({"windows": {"max_extensions": 3}}))
    verdict = j.watch(300, phase="t0")
    assert verdict.action == "hold" and "still inconclusive after 3 extra windows" in verdict.reason
    assert source.windows == []


def test_a_long_watch_judges_all_windows_together(tmp_path: Path) -> None:
    # 3 planned windows: the first is bad (unconfirmed), the later ones fine; together they still breach
    j, _, journal = judge(tmp_path, [window(5000, 700), HEALTHY, HEALTHY])
    verdict = j.watch(900, phase="t+24h", interval=300)
    assert verdict.action == "hold" and "all 3 windows together" in verdict.reason
    assert journal.entries("gate")[-1].data["window"] == "all"


def test_a_scaled_watch_uses_as_many_floor_length_windows_as_fit(tmp_path: Path) -> None:
    # 23 h in 5 min windows at 1000x with a 10 s floor: 82.8 s of wall time fits 8 windows, not 276
    j, source, _ = judge(tmp_path, [HEALTHY] * 8, floor=10.0)
    assert j.watch(82800, phase="t+24h", interval=300).action == "proceed"
    assert len(source.asked) == 8 and abs(source.asked[0] - 82800 / 8) < 1e-6
