"""Phase budgets: each runbook phase against its budget (the handbook's by default), a missed budget
a failed criterion, the RTO outlook after each phase, and the failback's data-first order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from odin_drills.errors import PlanInvalid
from odin_drills.plan.drill import PhaseBudgets, ResolvedEndpoints, Targets, parse_drill
from odin_drills.steps.clock import ManualClock
from odin_drills.steps.dr.budgets import check_phase, phase_times, rto_outlook
from odin_drills.steps.dr.canary import CanaryResult, CanaryWrite
from odin_drills.steps.dr.order import data_first, tier, undo_batches
from odin_drills.steps.dr.run import DrillOptions, DrillRun
from odin_drills.steps.dr.scorecard import DrillTimeline, score
from odin_drills.steps.journal import Journal
from odin_drills.steps.probes.smoke import JourneyResult, SmokeReport

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)
BUDGETS = ("detection_within_budget", "decision_within_budget", "failover_within_budget", "validation_within_budget")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def canary() -> CanaryResult:
    w = CanaryWrite(seq=1, write_id="w1", sha256="0" * 64, sent_at=at(1), acked_at=at(1), acked_wall=at(1))
    return CanaryResult(attempted=10, acknowledged=10, failed_writes=0, verified=10, lost=[], oldest_lost_ack=None,
                        newest_lost_ack=None, newest_ack_before_failover=w.acked_at, newest_surviving_ack=at(5000))


def smoke() -> SmokeReport:
    return SmokeReport.of([JourneyResult(name="home", critical=True, passed=True, status=200, latency_ms=5, failures=[])])


def scored(failover_done: float | None, validated: float | None = None, recovered: float | None = 900.0,
           targets: Targets | None = None, scored_after: float = 7200.0):
    timeline = DrillTimeline(outage_started_at=T0, detected_at=at(150), decided_at=at(200),
                             failover_completed_at=None if failover_done is None else at(failover_done),
                             recovered_at=None if recovered is None else at(recovered),
                             validated_at=None if validated is None else at(validated),
                             failback_completed_at=at(7000))
    return score(timeline, canary(), targets or Targets(), plan="p", smoke=smoke(), failback_smoke=smoke(),
                 scored_at=at(scored_after))


def test_the_handbook_budgets_are_the_defaults_and_a_plan_can_change_them() -> None:
    assert PhaseBudgets().model_dump() == {"detection": 300.0, "decision": 900.0, "failover": 3600.0,
                                           "validation": 900.0}
    plan = parse_drill({"name": "p", "environment": "e", "regions": {"primary": "eastus", "secondary": "westus"},
                        "targets": {"budgets": {"failover": "30m"}}})
    assert plan.targets.budgets.failover == 1800 and plan.targets.budgets.detection == 300


@pytest.mark.parametrize(("value", "problem"), [("soon", "targets.budgets.failover"), ("0s", "targets.budgets.failover")])
def test_a_bad_budget_is_refused_naming_the_field(value: str, problem: str) -> None:
    with pytest.raises(PlanInvalid) as raised:
        parse_drill({"name": "p", "environment": "e", "regions": {"primary": "eastus", "secondary": "westus"},
                     "targets": {"budgets": {"failover": value}}})
    lines = raised.value.lines()
    assert len(lines) == 1 and problem in lines[0], lines


def test_a_failover_over_its_budget_fails_that_criterion_only() -> None:
    card = scored(failover_done=200 + 3700, validated=4000, recovered=3950)
    failed = [name for name, c in card.criteria.items() if not c.passed]
    assert failed == ["failover_within_budget"], card.criteria
    assert card.criteria["failover_within_budget"].evidence.startswith("failover took 1h 2m > budget 1h (")
    assert "detection took 2m 30s ≤ budget 5m" in card.criteria["detection_within_budget"].evidence
    assert card.to_json("r")["phases"]["failover"] == {"seconds": 3700.0, "budget_seconds": 3600.0, "within": False}
    assert not card.passed and not card.rto_exceeded


def test_a_phase_that_never_ended_is_not_within_its_budget() -> None:
    card = scored(failover_done=None, recovered=None)
    assert not card.criteria["failover_within_budget"].passed
    assert "not measured (started at" in card.criteria["failover_within_budget"].evidence
    assert "never started" in card.criteria["validation_within_budget"].evidence
    assert card.to_json("r")["phases"]["validation"]["seconds"] is None


def test_rto_exceeded_is_the_target_passed_without_the_service_back() -> None:
    short = Targets(rto="10m")
    assert scored(failover_done=500, validated=950, recovered=900, targets=short).rto_exceeded  # 15m > 10m
    assert not scored(failover_done=500, validated=550, recovered=540, targets=short).rto_exceeded
    assert scored(failover_done=None, recovered=None, targets=short, scored_after=700).rto_exceeded  # never back
    assert not scored(failover_done=None, recovered=None, targets=short, scored_after=500).rto_exceeded


def test_the_rto_outlook_adds_the_budgets_still_to_come() -> None:
    budgets = PhaseBudgets(detection=300, decision=900, failover=3600, validation=900)
    after_detect = rto_outlook("detection", budgets, 4 * 3600, outage_started_at=T0, now=at(200), recovered_at=None)
    assert (after_detect.remaining_budget_seconds, after_detect.projected_seconds) == (5400, 5600)
    assert not after_detect.at_risk and not after_detect.exceeded
    tight = rto_outlook("detection", budgets, 3600, outage_started_at=T0, now=at(200), recovered_at=None)
    assert tight.at_risk and not tight.exceeded
    late = rto_outlook("failover", budgets, 3600, outage_started_at=T0, now=at(3700), recovered_at=None)
    assert late.at_risk and late.exceeded and late.remaining_budget_seconds == 900
    measured = rto_outlook("validation", budgets, 3600, outage_started_at=T0, now=at(5000), recovered_at=at(1000))
    assert measured.projected_seconds == 1000 and not measured.at_risk  # once back, the RTO is measured


def test_phase_times_are_contiguous_from_outage_start_to_validated() -> None:
    times = phase_times(PhaseBudgets(), outage_started_at=T0, detected_at=at(100), decided_at=at(130),
                        failover_completed_at=at(1000), validated_at=at(1300))
    assert [(t.phase, t.seconds) for t in times] == [("detection", 100), ("decision", 30), ("failover", 870),
                                                      ("validation", 300)]
    assert sum(t.seconds or 0 for t in times) == 1300


def test_after_each_phase_the_run_journals_its_budget_and_escalates_an_rto_at_risk_once(tmp_path: Path) -> None:
    plan = parse_drill({"name": "p", "environment": "e", "regions": {"primary": "eastus", "secondary": "westus"},
                        "targets": {"rto": "30m", "budgets": {"detection": "5m", "decision": "5m", "failover": "10m",
                                                              "validation": "5m"}}})
    clock = ManualClock(T0)
    journal = Journal(tmp_path / "journal.jsonl", clock)
    run = DrillRun(plan=plan, drill_id="d1", mode="drill", options=DrillOptions(), clock=clock, journal=journal,
                   endpoints=ResolvedEndpoints(frontdoor="http://127.0.0.1:9",
                                               regions={"eastus": "http://127.0.0.1:9", "westus": "http://127.0.0.1:9"}),
                   target=plan.target, resources=plan.resources)
    try:
        run.moments.outage_started_at = T0
        clock.advance(240)
        run.moments.detected_at = clock.now()
        check_phase(run, "detect")  # 4m + 5m + 10m + 5m = 24m ≤ 30m
        clock.advance(60)
        run.moments.decided_at = clock.now()
        check_phase(run, "decide")  # 5m + 10m + 5m = 20m ≤ 30m
        clock.advance(20 * 60)  # the failover takes 20 minutes: 25m + 5m > ... = 30m met exactly; not at risk
        run.moments.failover_completed_at = clock.now()
        check_phase(run, "failover")
        clock.advance(6 * 60)
        run.moments.validated_at = clock.now()
        check_phase(run, "validate")
        check_phase(run, "communicate")  # not a budgeted phase: nothing journaled
    finally:
        run.close()
    budgets = [e for e in journal.entries() if e.kind == "phase_budget"]
    assert [(e.phase, e.data["within"], e.data["rto_at_risk"], e.data["rto_exceeded"]) for e in budgets] == [
        ("detect", True, False, False), ("decide", True, False, False), ("failover", False, False, False),
        ("validate", False, True, True)]
    assert budgets[2].data["seconds"] == 1200 and budgets[2].data["projected_seconds"] == 1800
    notes = [e.data["message"] for e in journal.entries() if e.kind == "note"]
    assert notes == ["RTO exceeded after validation (6m, budget 5m): 31m > target 30m"]
    assert run.found.rto_at_risk == notes[0] and run.stakeholders.progress == notes[0]


def test_the_failback_moves_the_data_tier_before_traffic() -> None:
    newest_first = [("frontdoor", "azure.frontdoor.origins"), ("storage", "azure.storage.failover"),
                    ("sql", "azure.sql.failover"), ("outage", "azure.frontdoor.origins"), ("cmd", "command")]
    assert data_first(newest_first) == ["storage", "sql", "frontdoor", "outage", "cmd"]
    assert (tier("azure.sql.failover"), tier("azure.dns.records"), tier("http")) == ("data", "traffic", "other")


def test_the_failback_runs_the_failovers_back_in_batches_data_first_and_never_one_resource_twice_at_once() -> None:
    sql, afd = "azure.sql.failover", "azure.frontdoor.origins"
    newest_first = [("og-2", afd, "og-2"), ("og-1", afd, "og-1"), ("settings", "azure.appservice.settings", "app"),
                    ("app-origins", afd, "app-origins"), ("fg-2", sql, "fg-2"), ("fg-1", sql, "fg-1"),
                    ("st-1", "azure.storage.failover", "st-1"), ("outage", afd, "app-origins"), ("cmd", "command", None),
                    ("fg-0", sql, None)]
    assert undo_batches(newest_first) == [
        ["fg-2", "fg-1", "st-1"], ["fg-0"],  # the data tier first, together; an undo naming no resource alone
        ["og-2", "og-1"], ["settings"], ["app-origins"],  # a drill file's own step keeps its place, alone
        ["outage"],  # the same origin group as the failover's undo: after it, never beside it
        ["cmd"]]
    assert [u for batch in undo_batches(newest_first) for u in batch] == data_first([(u, k) for u, k, _ in newest_first])


def test_incident_mode_comes_from_the_plan_and_drops_the_failback_criterion() -> None:
    from odin_drills.flows.drill_run import run_mode

    base = {"name": "p", "environment": "e", "regions": {"primary": "eastus", "secondary": "westus"}}
    incident = parse_drill({**base, "decision": {"mode": "incident"}})
    assert run_mode(incident, "drill") == "incident"
    assert run_mode(parse_drill(base), "drill") == "drill" and run_mode(parse_drill(base), "incident") == "incident"
    timeline = DrillTimeline(outage_started_at=T0, detected_at=at(60), decided_at=at(90), failover_completed_at=at(300),
                             recovered_at=at(320), validated_at=at(400))
    card = score(timeline, canary(), Targets(), plan="p", smoke=smoke(), failback_expected=False)
    assert "failback_completed" not in card.criteria and card.passed
    assert not score(timeline, canary(), Targets(), plan="p", smoke=smoke()).criteria["failback_completed"].passed
