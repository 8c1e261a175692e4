"""The judge turns window decisions into one verdict: confirmation, extensions, merging, aggregates.

The metric source here is a scripted implementation of the MetricSource interface (windows given
in advance), like httpx's MockTransport: the judge, the ladder and the journal are the real ones.

Since issue 11 the default judge is sequential (anytime-valid evidence, no confirmation window, no
merging); the tests of the fixed-window rule's own mechanics (confirmation over two windows,
merging inconclusive windows, the all-windows aggregate) select it with ``judge: fixed``, which
keeps it as it was. The sequential judge's own tests follow them.
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


FIXED = Policy(judge="fixed")


def test_rollback_needs_two_consecutive_windows(tmp_path: Path) -> None:
    j, source, _ = judge(tmp_path, [BROKEN, BROKEN], FIXED)
    verdict = j.watch(300, phase="t0")
    assert verdict.action == "rollback" and verdict.windows == 2 and "confirmed over 2" in verdict.reason


def test_one_bad_window_then_a_good_one_does_not_roll_back(tmp_path: Path) -> None:
    j, _, _ = judge(tmp_path, [BROKEN, HEALTHY], FIXED)
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
    j, source, journal = judge(tmp_path, [small, HEALTHY], FIXED)
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
    j, _, journal = judge(tmp_path, [window(5000, 700), HEALTHY, HEALTHY], FIXED)
    verdict = j.watch(900, phase="t+24h", interval=300)
    assert verdict.action == "hold" and "all 3 windows together" in verdict.reason
    assert journal.entries("gate")[-1].data["window"] == "all"


def test_a_scaled_watch_uses_as_many_floor_length_windows_as_fit(tmp_path: Path) -> None:
    # 23 h in 5 min windows at 1000x with a 10 s floor: 82.8 s of wall time fits 8 windows, not 276
    j, source, _ = judge(tmp_path, [HEALTHY] * 8, floor=10.0)
    assert j.watch(82800, phase="t+24h", interval=300).action == "proceed"
    assert len(source.asked) == 8 and abs(source.asked[0] - 82800 / 8) < 1e-6


# --- the sequential judge (the default) ----------------------------------------------------------


def test_sequential_a_clear_breach_rolls_back_in_its_first_window(tmp_path: Path) -> None:
    j, source, journal = judge(tmp_path, [BROKEN, BROKEN])
    verdict = j.watch(300, phase="t0")
    assert verdict.action == "rollback" and verdict.windows == 1 and len(source.windows) == 1
    assert verdict.reason.startswith("conclusive after window 1: error rate 8.00% since window 1")
    assert "e-value" in verdict.reason and ">= 1/alpha" in verdict.reason
    evidence = journal.entries("gate")[0].data["decision"]["evidence"]["error_rate"]
    assert evidence["tier"] == "rollback" and evidence["rungs"]["rollback"]["e_value"] >= evidence["e_threshold"]


def test_sequential_confirm_windows_is_an_explicit_opt_in(tmp_path: Path) -> None:
    j, _, _ = judge(tmp_path, [BROKEN, BROKEN], Policy(confirm_windows=2))
    verdict = j.watch(300, phase="t0")
    assert verdict.action == "rollback" and verdict.windows == 2 and "confirmed over 2" in verdict.reason


def test_sequential_a_failing_critical_journey_still_needs_two_windows(tmp_path: Path) -> None:
    # hard signals are not covered by the sequential evidence: their rule is unchanged
    failing = window(5000, 50, critical_failed=1)
    j, _, _ = judge(tmp_path, [failing, HEALTHY])
    assert j.watch(300, phase="t0").action == "proceed"
    (tmp_path / "again").mkdir()
    j, _, _ = judge(tmp_path / "again", [failing, failing])
    verdict = j.watch(300, phase="t0")
    assert verdict.action == "rollback" and verdict.windows == 2 and "1 critical journey failing" in verdict.reason


def test_sequential_a_breach_mid_watch_is_judged_from_where_it_began(tmp_path: Path) -> None:
    # 20 healthy windows do not dilute a breach in window 21: the detector restarts at every window
    j, source, _ = judge(tmp_path, [HEALTHY] * 20 + [BROKEN] * 10)
    verdict = j.watch(30 * 300, phase="t+24h", interval=300)
    assert verdict.action == "rollback" and verdict.windows == 21
    assert "since window 21" in verdict.reason


def test_sequential_windows_are_never_merged(tmp_path: Path) -> None:
    j, _, journal = judge(tmp_path, [window(30, 0), HEALTHY])
    assert j.watch(600, phase="t+1h", interval=300).action == "proceed"
    gates = journal.entries("gate")
    assert [g.data["snapshot"]["requests"] for g in gates] == [30, 5000]
    assert [g.data["merged_windows"] for g in gates] == [1, 1]


def test_sequential_conclusive_mild_degradation_holds_once_the_watch_rung_is_conclusive(tmp_path: Path) -> None:
    # 1.6 % against a 1 % baseline in windows of 20,000 requests: conclusively above 1.1x the
    # baseline's bound within a few windows, never conclusively above 1.5x it; the estimate, 1.6x the
    # baseline, is past the hold's 1.5x: a hold during the watch (a person decides), never a rollback
    mild = [window(20000, 320) for _ in range(10)]
    j, _, journal = judge(tmp_path, mild)
    verdict = j.watch(3000, phase="t+24h", interval=300)
    assert verdict.action == "hold" and 1 < verdict.windows < 10
    assert "1.60x the baseline >= 1.5x, and conclusively above 1.1x that bound" in verdict.reason
    decisions = [g.data["decision"] for g in journal.entries("gate")]
    assert decisions[-1]["decision"] == "hold"
    assert decisions[-1]["evidence"]["error_rate"]["rungs"]["hold"]["fired_on"] == "estimate"
    assert decisions[-1]["evidence"]["error_rate"]["rungs"]["hold"]["e_value"] < decisions[-1]["evidence"]["error_rate"]["e_threshold"]
    assert all(d["decision"] in ("watch", "inconclusive", "proceed") for d in decisions[:-1])


def test_sequential_too_little_traffic_says_how_much_more_it_needs(tmp_path: Path) -> None:
    j, source, _ = judge(tmp_path, [window(300, 3) for _ in range(4)])
    verdict = j.watch(300, phase="t0")
    assert verdict.action == "hold" and source.windows == []
    assert "cannot yet rule out a 2.0x error breach" in verdict.reason
    assert "requests in all would" in verdict.reason


def test_a_gate_entry_keeps_the_window_latencies_as_a_histogram(tmp_path: Path) -> None:
    j, _, journal = judge(tmp_path, [HEALTHY])
    j.watch(300, phase="t0")
    snapshot = journal.entries("gate")[0].data["snapshot"]
    assert "latency_samples_ms" not in snapshot
    assert snapshot["latency_histogram"]["counts"][-1] == len(HEALTHY.latency_samples_ms or [])
