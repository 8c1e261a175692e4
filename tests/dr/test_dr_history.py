"""Earlier drills of a plan are kept, and their RTO/RPO/pass trend feeds the report."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from odin_drills.plan.drill import Targets
from odin_drills.steps.dr.canary import CanaryResult
from odin_drills.steps.dr.history import DrillHistory
from odin_drills.steps.dr.scorecard import DrillTimeline, Scorecard, score

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def drill(drill_id: str, rto: float | None, quarter: int, plan: str = "shop-dr") -> Scorecard:
    start = T0 + timedelta(days=91 * quarter)
    timeline = DrillTimeline(outage_started_at=start, recovered_at=None if rto is None else start + timedelta(seconds=rto),
                             failback_completed_at=start + timedelta(hours=5))
    result = CanaryResult(attempted=10, acknowledged=10, failed_writes=0, verified=10)
    return score(timeline, result, Targets(), plan=plan, drill_id=drill_id, scored_at=start + timedelta(hours=6))


def test_the_trend_lists_earlier_drills_oldest_first_without_the_current_one(tmp_path: Path) -> None:
    history = DrillHistory(tmp_path / "history")
    for card in (drill("q1", 600, 0), drill("q2", None, 1), drill("q3", 900, 2)):
        history.record(card)
    history.record(drill("other", 60, 0, plan="billing-dr"))
    trend = history.trend("shop-dr", exclude="q3")
    assert [(p.drill_id, p.rto_seconds, p.rpo_seconds) for p in trend] == [("q1", 600, 0), ("q2", None, 0)]
    assert "failover_within_rto" in trend[1].failed_criteria and "failover_within_rto" not in trend[0].failed_criteria
    assert trend[0].rto_target_seconds == 14400 and not trend[0].passed  # no smoke ran: not every criterion holds
    assert [p.drill_id for p in history.trend("shop-dr", limit=2)] == ["q2", "q3"]
    assert history.trend("nobody-dr") == []


def test_a_rescored_drill_replaces_its_earlier_line_and_a_torn_line_is_skipped(tmp_path: Path) -> None:
    history = DrillHistory(tmp_path)
    history.record(drill("q1", 600, 0))
    history.record(drill("q2", 700, 1))
    history.record(drill("q1", 650, 0))
    with history.path("shop-dr").open("a") as handle:
        handle.write('{"plan": "shop-dr", "drill_id": "q3", "rto_sec')  # a crash mid-write
    assert [(c.drill_id, c.rto_seconds) for c in history.scorecards("shop-dr")] == [("q1", 650), ("q2", 700)]


def test_plan_names_cannot_escape_the_history_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a plan name"):
        DrillHistory(tmp_path).path("../etc/passwd")
