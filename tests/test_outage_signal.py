"""The outage rung is detected from the metric source, over real HTTP on 127.0.0.1 (issue 10).

A step that takes the service down (the demo stopped: every connection refused; or every request
answered 500) must get ``rollback_now`` in its first window, with the numbers, not a ``rollback``
that waits for evidence or a confirming window. The probe, the demo service, the judge and the
ladder are the real ones; only plan time is scaled (300x: a 5-minute window is 1 real second).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from odin_drills.plan.journeys import SyntheticProbe
from odin_drills.plan.policy import Policy
from odin_drills.sandbox.bluegreen import BlueGreenDemo
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.judge import Judge, MemoryJournal
from odin_drills.steps.probes import SyntheticProbeSource
from odin_drills.steps.snapshot import Snapshot

OUTAGE_HEAD = "outage: "


@pytest.fixture
def demo() -> Iterator[BlueGreenDemo]:
    demo = BlueGreenDemo(seed=11, port=0, error_rate=0.01)
    try:
        yield demo.start()
    finally:
        demo.stop()


def probe(url: str, clock: ScaledClock) -> SyntheticProbeSource:
    spec = SyntheticProbe(url=url, rate_per_second=200, timeout=2.0, min_window_wall_seconds=1.0)
    return SyntheticProbeSource(spec, clock)


def baseline_and_source(demo: BlueGreenDemo) -> tuple[Snapshot, SyntheticProbeSource, ScaledClock]:
    clock = ScaledClock(scale=300)
    source = probe(demo.router_url + "/api/orders/1", clock)
    baseline = source.measure(600)  # 2 real seconds, ~400 requests at 1 %
    assert baseline.requests >= 350 and baseline.errors < baseline.requests * 0.1
    return baseline, source, clock


@pytest.mark.parametrize("judge_kind", ["sequential", "fixed"])
def test_a_step_that_takes_the_service_down_rolls_back_now_in_its_first_window(demo, judge_kind):
    baseline, source, clock = baseline_and_source(demo)
    try:
        demo.stop()  # the "step": the service is gone, every connection is refused
        journal = MemoryJournal()
        judge = Judge(source=source, baseline=baseline, policy=Policy(judge=judge_kind), journal=journal, clock=clock)
        verdict = judge.watch(900, phase="t0", step="cut-over", interval=300)
    finally:
        source.close()
    assert verdict.action == "rollback_now"
    assert verdict.windows == 1, "acted on the first window, no confirmation"
    first = verdict.reason.split("; ")[0]
    assert first.startswith(OUTAGE_HEAD) and "requests failed in the window (100.00% >= 99.00%" in first
    gate = [fields for kind, fields in journal.entries if kind == "gate"][0]
    n = gate["snapshot"]["requests"]
    assert n >= 150 and gate["snapshot"]["errors"] == n and f"{n:,} of {n:,} requests failed" in first


def test_every_request_answered_500_is_an_outage_too(demo):
    baseline, source, clock = baseline_and_source(demo)
    try:
        demo.add_fault("blue", error_rate=1.0)
        journal = MemoryJournal()
        verdict = Judge(source=source, baseline=baseline, policy=Policy(), journal=journal,
                        clock=clock).watch(300, phase="t0", step="cut-over")
    finally:
        source.close()
    assert verdict.action == "rollback_now" and verdict.windows == 1
    assert verdict.reason.startswith(OUTAGE_HEAD)


def test_with_the_outage_rule_off_the_same_breach_is_an_ordinary_rollback(demo):
    # The policy field is real: switched off, only the 2x rung fires (on the e-detector's evidence).
    baseline, source, clock = baseline_and_source(demo)
    try:
        demo.stop()
        policy = Policy.model_validate({"outage": {"enabled": False}})
        verdict = Judge(source=source, baseline=baseline, policy=policy, journal=MemoryJournal(),
                        clock=clock).watch(300, phase="t0", step="cut-over")
    finally:
        source.close()
    assert verdict.action == "rollback"
    assert not verdict.reason.split("; ")[0].removeprefix("conclusive after window 1: ").startswith(OUTAGE_HEAD)
    assert "error rate 100.00%" in verdict.reason


def test_a_partial_failure_below_the_rule_is_not_an_outage(demo):
    # 50 % of requests failing: a conclusive rollback, but the service is up for half its users.
    baseline, source, clock = baseline_and_source(demo)
    try:
        demo.add_fault("blue", error_rate=0.5)
        verdict = Judge(source=source, baseline=baseline, policy=Policy(), journal=MemoryJournal(),
                        clock=clock).watch(300, phase="t0", step="cut-over")
    finally:
        source.close()
    assert verdict.action == "rollback"
    assert OUTAGE_HEAD not in verdict.reason
