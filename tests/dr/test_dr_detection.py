"""Detection: an outage is confirmed only after the confirmation period, a glitch never is, and
the service counts as back at the first of N successes in a row through Front Door."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from odin_drills.plan.drill import ProbeRequest, parse_drill
from odin_drills.sandbox.azure import AzureSandbox
from odin_drills.steps.clock import ManualClock, ScaledClock
from odin_drills.steps.dr.detection import FRONTDOOR, OutageDetector, failover_due_at
from odin_drills.steps.journal import Journal
from tests.dr.conftest import fail_over

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
URLS = {"eastus": "http://eastus.test", "westus": "http://westus.test"}


def fake_estate(clock: ManualClock, eastus_down: Callable[[float], bool],
                frontdoor_region: Callable[[float], str | None] = lambda t: "eastus") -> httpx.Client:
    """Region apps and a Front Door whose health follows plan time (seconds since START)."""

    def handle(request: httpx.Request) -> httpx.Response:
        t = (clock.now() - START).total_seconds()
        host = request.url.host
        if host == "eastus.test" and eastus_down(t):
            raise httpx.ConnectError("connection refused")
        if host == "fd.test":
            region = frontdoor_region(t)
            if region is None:
                return httpx.Response(503, json={"error": "OriginConnectionError"})
            return httpx.Response(200, json={"status": "ok"}, headers={"x-odin-region": region})
        return httpx.Response(200, json={"status": "ok"}, headers={"x-odin-region": host.split(".")[0]})

    return httpx.Client(transport=httpx.MockTransport(handle))


def manual_detector(clock: ManualClock, client: httpx.Client, journal: Journal | None = None) -> OutageDetector:
    return OutageDetector("http://fd.test", URLS, "eastus", clock, interval=30, confirmation=120, path="/health",
                          timeout=1, journal=journal, client=client, summary_every=300)


# --- exact timing, inline probing on a ManualClock ---------------------------------------------
def test_an_outage_is_confirmed_when_the_primary_has_failed_for_the_whole_confirmation_period(tmp_path: Path) -> None:
    clock = ManualClock(START)
    journal = Journal(tmp_path / "journal.jsonl", clock)
    detector = manual_detector(clock, fake_estate(clock, lambda t: t >= 60), journal)
    result = detector.wait_for_outage(max_wait=3600)
    assert result.confirmed
    assert result.first_failure_at == START + timedelta(seconds=60)
    assert result.confirmed_at == START + timedelta(seconds=180)  # probes at 60, 90, 120, 150, 180
    assert result.failed_probes == 5 and "connection refused" in (result.last_error or "")
    assert result.glitches == []
    with pytest.raises(ValueError, match="probe inline"):
        detector.start()  # a ManualClock takes no wall time: background probing would spin
    kinds = [(e.kind, e.data.get("target"), e.data.get("state")) for e in journal.entries()]
    assert kinds == [("probe_state", "eastus", "ok"), ("probe_state", "westus", "ok"),
                     ("probe_state", FRONTDOOR, "ok"), ("probe_state", "eastus", "failing"),
                     ("outage_confirmed", None, None)]
    detector.close()


def test_failures_shorter_than_the_confirmation_period_are_a_glitch_not_an_outage(tmp_path: Path) -> None:
    clock = ManualClock(START)
    journal = Journal(tmp_path / "journal.jsonl", clock)
    detector = manual_detector(clock, fake_estate(clock, lambda t: 60 <= t < 100), journal)
    result = detector.wait_for_outage(max_wait=300)
    assert not result.confirmed and result.confirmed_at is None
    assert len(result.glitches) == 1
    glitch = result.glitches[0]
    assert (glitch.started_at, glitch.ended_at, glitch.failed_probes) == (
        START + timedelta(seconds=60), START + timedelta(seconds=120), 2)
    states = [(e.data["target"], e.data["state"], e.data.get("previous_probes"))
              for e in journal.entries("probe_state")]
    assert states[3:] == [("eastus", "failing", 2), ("eastus", "ok", 2)]  # one entry per change, not per probe
    [summary] = journal.entries("probe_summary")  # rounds 0..300: one summary after 5 minutes
    assert summary.data["targets"]["eastus"] == {"ok": 9, "failed": 2, "state": "ok"}
    assert journal.entries("outage_not_confirmed")[0].data["glitches"] == 1
    detector.close()


def test_incident_mode_fails_over_at_the_threshold_only_if_the_primary_is_still_down() -> None:
    clock = ManualClock(START)
    detector = manual_detector(clock, fake_estate(clock, lambda t: t >= 60))
    result = detector.wait_for_outage(max_wait=3600)
    assert failover_due_at(result, "drill", 1800) == result.confirmed_at
    assert failover_due_at(result, "incident", 1800) == START + timedelta(seconds=1860)
    assert detector.wait_for_threshold(result, threshold=1800, max_wait=7200)
    assert clock.now() >= START + timedelta(seconds=1860)

    clock = ManualClock(START)
    detector = manual_detector(clock, fake_estate(clock, lambda t: 60 <= t < 600))
    result = detector.wait_for_outage(max_wait=3600)
    assert not detector.wait_for_threshold(result, threshold=1800, max_wait=7200, consecutive=3)
    assert clock.now() == START + timedelta(seconds=660)  # 600, 630, 660: back, three in a row


def test_recovery_is_the_first_of_n_successes_in_a_row_served_by_the_dr_region() -> None:
    clock = ManualClock(START)

    def frontdoor(t: float) -> str | None:
        if t < 60:
            return "eastus"
        if t in (150, 210, 240):
            return "westus"  # a lone success, then a run of two: neither is recovery
        return "westus" if t >= 300 else None

    detector = manual_detector(clock, fake_estate(clock, lambda t: t >= 60, frontdoor))
    assert detector.wait_for_recovery(region="westus", consecutive=3, max_wait=3600) == START + timedelta(seconds=300)
    assert clock.now() == START + timedelta(seconds=360)


def test_failback_waits_until_the_old_primary_has_been_healthy_long_enough() -> None:
    clock = ManualClock(START)
    detector = manual_detector(clock, fake_estate(clock, lambda t: t < 90 or 150 <= t < 180))
    healthy = detector.wait_for_region_healthy("eastus", consecutive=2, healthy_for=120, max_wait=3600)
    assert healthy == START + timedelta(seconds=180)
    assert clock.now() == START + timedelta(seconds=300)
    assert detector.wait_for_region_healthy("eastus", consecutive=1, max_wait=0, since=START + timedelta(hours=1)) is None


def test_the_detector_is_built_from_the_plan() -> None:
    plan = parse_drill({"name": "dr", "environment": "staging", "regions": {"primary": "eastus", "secondary": "westus"},
                        "detection": {"interval": "10s", "confirmation": "1m",
                                      "frontdoor_probe": {"method": "POST", "path": "/api/orders", "json": {"p": 1}}}})
    endpoints = plan.resolve_endpoints({"frontdoor_url": "http://fd.test", "regions": URLS})
    seen: list[tuple[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, str(request.url)))
        return httpx.Response(200)

    clock = ManualClock(START)
    with httpx.Client(transport=httpx.MockTransport(handle)) as client:
        detector = OutageDetector.from_plan(plan, endpoints, clock, client=client)
        detector.probe_round()
        detector.close()
    assert sorted(seen) == [("GET", "http://eastus.test/health"), ("GET", "http://westus.test/health"),
                            ("POST", "http://fd.test/api/orders")]
    assert (detector.interval, detector.confirmation) == (10, 60)


# --- against the sandbox, probing in the background on a scaled clock -------------------------
SCALE = 20.0  # interval 2 s plan = 0.1 s wall; confirmation 20 s plan = 1 s wall


def sandbox_detector(sandbox: AzureSandbox, clock: ScaledClock, journal: Journal | None = None,
                     **options: object) -> OutageDetector:
    info = sandbox.info()
    return OutageDetector(info["frontdoor_url"], info["regions"], "eastus", clock, interval=2, confirmation=20,
                          timeout=1, journal=journal, **options)  # type: ignore[arg-type]


def test_an_injected_region_outage_is_confirmed_after_the_confirmation_period(
        start_sandbox: Callable[..., AzureSandbox], tmp_path: Path) -> None:
    sandbox = start_sandbox()
    clock = ScaledClock(SCALE)
    journal = Journal(tmp_path / "journal.jsonl", clock)
    with sandbox_detector(sandbox, clock, journal) as detector:
        time.sleep(0.3)
        injected = clock.now()
        sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
        result = detector.wait_for_outage(max_wait=300)
    assert result.confirmed and result.first_failure_at and result.confirmed_at
    assert result.first_failure_at >= injected - timedelta(seconds=2)
    assert (result.confirmed_at - result.first_failure_at).total_seconds() >= 20
    assert (result.confirmed_at - injected).total_seconds() <= 20 + 3 * 2 + 10
    assert result.frontdoor_served_by == "westus"  # Front Door had already moved traffic away
    assert journal.entries("outage_confirmed")


@pytest.mark.parametrize("fault", [{"kind": "error_rate", "region": "eastus", "rate": 1.0},
                                   {"kind": "region_outage", "region": "eastus"}])
def test_a_brief_fault_cleared_before_confirmation_is_not_an_outage(
        start_sandbox: Callable[..., AzureSandbox], fault: dict) -> None:
    sandbox = start_sandbox()
    clock = ScaledClock(SCALE)
    with sandbox_detector(sandbox, clock) as detector:
        time.sleep(0.3)
        fault_id = sandbox.faults.add(fault)["id"]
        time.sleep(0.4)  # 8 s of plan time: well short of the 20 s confirmation
        sandbox.faults.remove(fault_id)
        result = detector.wait_for_outage(max_wait=30)
    assert not result.confirmed
    assert result.glitches and all(g.failed_probes >= 1 for g in result.glitches)


def test_recovery_through_front_door_comes_after_the_failover_and_failback_health_after_the_outage(
        start_sandbox: Callable[..., AzureSandbox]) -> None:
    sandbox = start_sandbox()
    clock = ScaledClock(SCALE)
    writes_work = ProbeRequest(method="POST", path="/api/orders", json={"probe": "rto"})
    with sandbox_detector(sandbox, clock, frontdoor_probe=writes_work) as detector:
        assert detector.wait_for_recovery(region="westus", consecutive=3, max_wait=4) is None  # eastus serves
        injected = clock.now()
        outage = sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
        result = detector.wait_for_outage(max_wait=300)
        assert result.confirmed
        failover_started = clock.now()
        fail_over(sandbox, forced=True)
        failover_done = clock.now()
        recovered = detector.wait_for_recovery(region="westus", consecutive=3, max_wait=60, since=injected)
        assert recovered is not None
        assert failover_started - timedelta(seconds=2) <= recovered <= failover_done + timedelta(seconds=2 * 2 + 10)

        sandbox.faults.remove(outage["id"])
        cleared = clock.now()
        healthy = detector.wait_for_region_healthy("eastus", consecutive=3, healthy_for=4, max_wait=60)
        assert healthy is not None and healthy >= cleared - timedelta(seconds=2)
