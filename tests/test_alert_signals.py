"""Alerts and detected signals on the ladder, as pure functions and through the judge (issue 10).

The windows are scripted (a MetricSource given its windows in advance, as in ``test_judge``); the
ladder, the sequential judge and the journal are the real ones. The same mapping against a real
Alertmanager is in ``test_alertmanager_source``.
"""

from __future__ import annotations

from pathlib import Path

from odin_drills.plan.policy import Policy
from odin_drills.steps.clock import ManualClock
from odin_drills.steps.gates import evaluate
from odin_drills.steps.journal import Journal
from odin_drills.steps.judge import Judge
from odin_drills.steps.outage import detected_signals, outage_reason
from odin_drills.steps.snapshot import FiringAlert, Snapshot, merge_snapshots
from tests.test_judge import BASELINE, HEALTHY, ScriptedSource


def alert(name: str, level: str = "lower", severity: str = "warning", security: bool = False) -> FiringAlert:
    return FiringAlert(fingerprint=f"fp-{name}", name=name, severity=severity, level=level, security=security)


def with_alerts(window: Snapshot, *alerts: FiringAlert) -> Snapshot:
    return window.model_copy(update={"alerts": list(alerts)})


A1 = alert("HighErrorRate", "sev1", "high")
A2 = alert("BudgetBurn", "sev1", "sev1")
OLD = alert("CertExpiring", "lower", "sev3")
BASE = with_alerts(BASELINE, OLD)


def run(tmp_path: Path, windows: list[Snapshot], baseline: Snapshot = BASE):
    clock = ManualClock()
    journal = Journal(tmp_path / "journal.jsonl", clock)
    judge = Judge(source=ScriptedSource(windows, clock), baseline=baseline, policy=Policy(), journal=journal)
    return judge.watch(900, phase="t0", interval=300), journal


def test_two_sev1_alerts_from_the_alert_source_act_in_the_first_window(tmp_path: Path) -> None:
    verdict, journal = run(tmp_path, [with_alerts(HEALTHY, OLD, A1, A2), HEALTHY, HEALTHY])
    assert verdict.action == "rollback" and verdict.windows == 1
    assert "2 Sev 1 alerts firing: HighErrorRate (high), BudgetBurn (sev1)" in verdict.reason
    assert journal.entries("gate")[0].data["decision"]["alert_tier"] == "rollback"


def test_a_hand_written_sev1_count_keeps_the_confirming_window(tmp_path: Path) -> None:
    hand = HEALTHY.model_copy(update={"signals": HEALTHY.signals.model_copy(update={"sev1_alerts": 2})})
    verdict, _ = run(tmp_path, [hand, hand, HEALTHY])
    assert verdict.action == "rollback" and verdict.windows == 2 and "confirmed over 2" in verdict.reason


def test_the_ladder_order_for_alerts_sev0_security_sev1_new() -> None:
    policy = Policy()
    sev0 = evaluate(BASE, with_alerts(HEALTHY, OLD, alert("AppDown", "sev0", "critical")), policy)
    assert sev0.decision == "rollback_now" and sev0.reasons[0] == "outage: 1 Sev 0 alert firing: AppDown (critical)"
    breach = evaluate(BASE, with_alerts(HEALTHY, OLD, alert("Logins", security=True)), policy)
    assert breach.decision == "rollback_now"
    assert breach.reasons[0] == "security breach: 1 security alert(s) firing: Logins (warning)"
    one = evaluate(BASE, with_alerts(HEALTHY, OLD, A1), policy)
    assert one.decision == "hold" and "1 Sev 1 alert firing: HighErrorRate (high)" in one.reasons
    new = evaluate(BASE, with_alerts(HEALTHY, OLD, alert("Slow")), policy)
    assert new.decision == "watch"
    assert "1 new alert firing since the baseline (1 were firing then): Slow (warning)" in new.reasons
    assert evaluate(BASE, with_alerts(HEALTHY, OLD), policy).decision == "proceed"


def test_alerts_win_over_a_thin_window() -> None:
    thin = with_alerts(Snapshot(requests=5, errors=0, latency_ms={"p50": 8, "p95": 14, "p99": 20}), OLD, A1, A2)
    decision = evaluate(BASE, thin, Policy())
    assert decision.decision == "rollback"
    assert "only 5 requests in the window (< 50 minimum)" in decision.reasons


def test_a_baseline_without_an_alert_source_makes_every_firing_alert_new_and_says_so() -> None:
    signals = detected_signals(with_alerts(HEALTHY, OLD), Policy(), BASELINE)
    assert signals.new_alerts == 1
    assert signals.details["new_alerts"].endswith("(the baseline recorded no alerts: every firing alert counts as new)")


def test_detection_only_raises_signals() -> None:
    hand = HEALTHY.model_copy(update={"signals": HEALTHY.signals.model_copy(update={"sev1_alerts": 3, "outage": True})})
    signals = detected_signals(with_alerts(hand, A1), Policy(), BASE)
    assert signals.sev1_alerts == 3 and signals.outage and "outage" not in signals.details


def test_the_outage_rule_boundaries() -> None:
    rule = Policy().outage
    snap = lambda n, e: Snapshot(requests=n, errors=e, latency_ms={"p50": 1, "p95": 1, "p99": 1})  # noqa: E731
    assert outage_reason(snap(100, 99), rule) is not None  # exactly 99 %
    assert outage_reason(snap(100, 98), rule) is None
    assert outage_reason(snap(19, 19), rule) is None  # below min_requests
    assert outage_reason(snap(20, 20), rule) == ("outage: 20 of 20 requests failed in the window (100.00% >= "
                                                 "99.00% with >= 20 requests: policy.outage)")
    strict = Policy.model_validate({"outage": {"error_rate": 0.9, "min_requests": 5}}).outage
    assert outage_reason(snap(10, 9), strict) is not None
    assert outage_reason(snap(1000, 1000), Policy.model_validate({"outage": {"enabled": False}}).outage) is None


def test_merging_windows_keeps_every_alert_once() -> None:
    merged = merge_snapshots([with_alerts(HEALTHY, OLD, A1), with_alerts(HEALTHY, A1, A2), HEALTHY])
    assert sorted(a.name for a in merged.alerts or []) == ["BudgetBurn", "CertExpiring", "HighErrorRate"]
    assert merge_snapshots([HEALTHY, HEALTHY]).alerts is None
