"""The incident decision rule alone (``steps.dr.incident.weigh_outage``), on a ManualClock with what
Azure says scripted: the cases the end-to-end tests (``tests/test_incident_failover.py``) do not
reach cheaply — a partial outage waiting out a short ETA, Azure's silence about the region, and an
ETA within the limit that the outage outlasts (the threshold still fails over)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

from odin_drills.plan.drill import parse_drill
from odin_drills.steps.clock import ManualClock
from odin_drills.steps.dr.detection import DetectionResult, Probe, ProbeRound
from odin_drills.steps.dr.incident import weigh_outage
from odin_drills.steps.dr.run import Findings
from odin_drills.steps.dr.service_health import HealthReading

START = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
FG = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/sql-w/failoverGroups/fg"


class Journal:
    def __init__(self) -> None:
        self.entries: list[tuple[str, dict[str, Any]]] = []

    def append(self, kind: str, **data: Any) -> None:
        self.entries.append((kind, data))


def make_run(clock: ManualClock, rounds: list[ProbeRound], threshold: str = "30m") -> SimpleNamespace:
    plan = parse_drill({"name": "rule", "environment": "rule-env", "regions": {"primary": "eastus", "secondary": "westus"},
                        "detection": {"interval": "1m", "threshold": threshold},
                        "decision": {"mode": "incident", "fail_over_if_eta_beyond": "30m"},
                        "resources": {"failover_groups": [{"id": FG, "mode": "forced", "allow_data_loss": True}]}})
    journal = Journal()
    run = SimpleNamespace(plan=plan, primary="eastus", target=None, resources=plan.resources, clock=clock,
                          journal=journal, detector=SimpleNamespace(rounds=lambda: list(rounds)), found=Findings())
    run.note = lambda phase, message, **data: journal.append("note", phase=phase, message=message)
    return run


def confirmed() -> DetectionResult:
    return DetectionResult(region="eastus", confirmed=True, first_failure_at=START,
                           confirmed_at=START + timedelta(minutes=2), confirmation_seconds=120)


def probe_round(at: datetime, ok: bool) -> ProbeRound:
    return ProbeRound(at=at, probes={"eastus": Probe(target="eastus", at=at, ok=ok)})


def issue(eta_minutes: float | None, **extent: list[str]) -> HealthReading:
    return HealthReading(region="eastus", reachable=True, event_id="ABC-123", impact_started_at=START,
                         resolution_eta=START + timedelta(minutes=eta_minutes) if eta_minutes is not None else None,
                         **extent)


def test_a_partial_outage_with_a_short_eta_waits_and_ends_when_the_region_answers_again() -> None:
    clock = ManualClock(START + timedelta(minutes=2))
    rounds: list[ProbeRound] = []
    run = make_run(clock, rounds)
    partial = issue(10, unavailable=["app-eastus"], available=["sql-eastus", "orders"])

    def read(target: Any, region: str, groups: list[tuple[str, str]]) -> HealthReading:
        assert groups == [("s", "rg")]  # the plan's resource groups
        if clock.now() >= START + timedelta(minutes=6):  # the region is back from minute 6
            rounds.extend(probe_round(clock.now() + timedelta(seconds=i), True) for i in range(3))
        return partial

    verdict = weigh_outage(run, confirmed(), read=read)  # type: ignore[arg-type]
    assert verdict.action == "recovered"
    assert "within Azure's ETA (ABC-123 expected resolved 10 min after it began, limit 30 min; partial outage " \
           "(1 of 3 eastus resources unavailable))" in verdict.reason
    kinds = [k for k, _ in run.journal.entries]
    assert kinds == ["service_health", "decision"]  # journaled once: nothing Azure said changed
    decision = run.journal.entries[1][1]
    assert decision["action"] == "wait" and decision["evidence"]["scope"] == "partial"
    assert decision["evidence"]["expected_outage_seconds"] == 600 and decision["evidence"]["limit_seconds"] == 1800


def test_no_service_issue_for_the_region_leaves_it_to_the_threshold_and_says_so() -> None:
    clock = ManualClock(START + timedelta(minutes=2))
    run = make_run(clock, [], threshold="10m")
    quiet = HealthReading(region="eastus", reachable=True, available=["sql-eastus"])
    verdict = weigh_outage(run, confirmed(), read=lambda *a: quiet)  # type: ignore[arg-type]
    assert verdict.action == "fail_over" and clock.now() == START + timedelta(minutes=10)
    assert verdict.reason == ("the outage of eastus has lasted the 600 s threshold (Azure Service Health reports no "
                              "active service issue for eastus)")
    notes = [d["message"] for k, d in run.journal.entries if k == "note"]
    assert notes == ["Azure Service Health reports no active service issue for eastus: the threshold rule decides "
                     "(fail over once the outage has lasted 600 s)"]


def test_an_outage_that_outlasts_its_eta_fails_over_at_the_threshold() -> None:
    clock = ManualClock(START + timedelta(minutes=2))
    run = make_run(clock, [], threshold="20m")
    verdict = weigh_outage(run, confirmed(), read=lambda *a: issue(10, unavailable=["a"]))  # type: ignore[arg-type]
    assert verdict.action == "fail_over" and clock.now() == START + timedelta(minutes=20)
    assert verdict.reason.startswith("the outage of eastus has lasted the 1200 s threshold (Azure Service Health "
                                     "ABC-123: full region outage (1 of 1 eastus resources unavailable); resolution "
                                     "expected 10 min after the outage began")


def test_no_eta_or_an_eta_beyond_the_limit_fails_over_at_once() -> None:
    for reading, words in ((issue(None, unavailable=["a"]), "no ETA for resolution published: failing over"),
                           (issue(45, unavailable=["a"]), "resolution expected 45 min after the outage began "
                                                          "(10:45:00 UTC), beyond the 30 min limit")):
        clock = ManualClock(START + timedelta(minutes=2))
        verdict = weigh_outage(make_run(clock, []), confirmed(), read=lambda *a, r=reading: r)  # type: ignore[misc]
        assert verdict.action == "fail_over" and words in verdict.reason, verdict.reason
        assert clock.now() == START + timedelta(minutes=2)  # not a second waited


def test_the_latest_reading_is_kept_for_the_stakeholder_messages() -> None:
    clock = ManualClock(START + timedelta(minutes=2))
    run = make_run(clock, [], threshold="5m")
    said = [issue(10, unavailable=["a"]), issue(20, unavailable=["a"])]
    kept = []

    def read(*_: Any) -> HealthReading:
        kept.append(run.found.service_health)  # what a message rendered now would quote
        return said[min(len(kept) - 1, 1)]

    weigh_outage(run, confirmed(), read=read)  # type: ignore[arg-type]
    assert kept[:3] == [None, said[0], said[1]] and run.found.service_health is said[1]
