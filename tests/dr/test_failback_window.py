"""The failback's low-traffic window and the approval budget rule, without a sandbox (issue 12):

  * ``failback.window`` loads as a migration's ``change_window`` does; when it opens next (days,
    midnight, UTC offsets, fixed spans) is one function (``plan.windows.opens_at``);
  * a drill's failback waits for it under the plan clock, journaled before the wait, or — when it
    does not open within ``failback.window_wait`` — does not fail back and says so in the journal
    and the scorecard (``steps.dr.failback_window``, on a real ``DrillRun`` and ``ScaledClock``);
  * ``odin rollback`` outside it is refused with one line naming the field and the next start;
  * an approval whose timeout fills its phase's budget is one line at load, through ``odin validate``.

The end-to-end runs against the sandbox are ``tests/test_drill_failback_window.py``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from odin_drills.errors import PlanInvalid
from odin_drills.plan.drill import ResolvedEndpoints, parse_drill
from odin_drills.plan.models import ChangeWindow
from odin_drills.plan.windows import at_utc, describe, opens_at
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.dr.failback_window import await_window, outside_window
from odin_drills.steps.dr.run import DrillOptions, DrillRun
from odin_drills.steps.journal import Journal
from tests.conftest import run_odin

BASE = {"name": "dr", "environment": "staging", "regions": {"primary": "eastus", "secondary": "westus"}}
MON_0100 = datetime(2026, 11, 30, 1, 0, tzinfo=timezone.utc)  # a Monday


def window(**fields: Any) -> ChangeWindow:
    return ChangeWindow.model_validate({"start": "02:00", "end": "05:00", **fields})


# ---------------------------------------------------------------- when it opens

def test_the_next_start_of_a_daily_window_respects_days_midnight_and_offsets() -> None:
    assert opens_at(window(), MON_0100) == MON_0100.replace(hour=2)
    assert opens_at(window(), MON_0100.replace(hour=3)) == MON_0100.replace(hour=3)  # inside: now
    assert opens_at(window(), MON_0100.replace(hour=6)) == MON_0100.replace(day=1, month=12, hour=2)
    assert opens_at(window(days=["sat"]), MON_0100) == datetime(2026, 12, 5, 2, 0, tzinfo=timezone.utc)
    # 22:00–02:00 at UTC+02:00 is 20:00–00:00 UTC; Monday 01:00 UTC is 03:00 local, after it
    night = window(start="22:00", end="02:00", timezone="+02:00")
    assert opens_at(night, MON_0100) == datetime(2026, 11, 30, 20, 0, tzinfo=timezone.utc)
    assert opens_at(night, MON_0100.replace(hour=23)) == MON_0100.replace(hour=23)  # 01:00 local: inside
    assert describe(night) == "22:00–02:00 +02:00 (every day)"
    assert describe(window(days=["sat", "sun"])) == "02:00–05:00 UTC (sat, sun)"


def test_a_fixed_window_opens_once() -> None:
    span = ChangeWindow.model_validate({"start": "2026-12-05T02:00:00Z", "end": "2026-12-05T05:00:00Z"})
    assert opens_at(span, MON_0100) == datetime(2026, 12, 5, 2, 0, tzinfo=timezone.utc)
    assert opens_at(span, datetime(2026, 12, 6, tzinfo=timezone.utc)) is None


def test_failback_window_loads_like_a_change_window_and_is_named_when_wrong() -> None:
    plan = parse_drill({**BASE, "failback": {"window": {"start": "02:00", "end": "05:00", "days": ["sat", "sun"],
                                                        "timezone": "Europe/Berlin"}, "window_wait": "12h"}})
    assert plan.failback.window is not None and plan.failback.window.days == ["sat", "sun"]
    assert plan.failback.window_wait == 43200
    assert parse_drill(BASE).failback.window is None and parse_drill(BASE).failback.window_wait == 86400
    with pytest.raises(PlanInvalid) as caught:
        parse_drill({**BASE, "failback": {"window": {"start": "02:00", "end": "05:00", "timezone": "Mars/Base"}}},
                    "d.yaml")
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("d.yaml: failback.window.timezone: ")


def test_a_rollback_outside_the_window_is_one_line_naming_the_field_and_the_next_start() -> None:
    plan = parse_drill({**BASE, "failback": {"window": {"start": "02:00", "end": "05:00"}}})
    assert outside_window(plan, MON_0100.replace(hour=4)) is None
    assert outside_window(parse_drill(BASE), MON_0100) is None
    assert outside_window(plan, MON_0100) == ("failback.window: 2026-11-30 01:00 UTC is outside the low-traffic "
                                              "window (02:00–05:00 UTC (every day)); it opens next at "
                                              "2026-11-30 02:00 UTC")


# ---------------------------------------------------------------- a drill's failback against it

def drill_run(tmp_path: Path, failback: dict[str, Any], start: datetime, scale: float) -> DrillRun:
    plan = parse_drill({**BASE, "failback": failback})
    clock = ScaledClock(scale, start=start)
    return DrillRun(plan=plan, drill_id="d1", mode="drill", options=DrillOptions(), clock=clock,
                    journal=Journal(tmp_path / "journal.jsonl", clock), target=plan.target, resources=plan.resources,
                    endpoints=ResolvedEndpoints(frontdoor="http://127.0.0.1:9", regions={}))


def test_a_window_an_hour_away_is_waited_for_under_the_plan_clock_and_journaled_before(tmp_path: Path) -> None:
    run = drill_run(tmp_path, {"window": {"start": "02:00", "end": "05:00"}}, MON_0100, scale=7200.0)
    try:
        waited = await_window(run)
    finally:
        run.close()
    entries = run.journal.entries()
    wait = [e for e in entries if e.kind == "failback_window"]
    assert [e.data["action"] for e in wait] == ["wait"]
    assert wait[0].time < MON_0100.replace(hour=2) <= run.clock.now()  # journaled before; over after the start
    assert datetime.fromisoformat(wait[0].data["opens_at"]) == MON_0100.replace(hour=2)
    left = (MON_0100.replace(hour=2) - wait[0].time).total_seconds()
    assert wait[0].data["wait_seconds"] == pytest.approx(left, abs=60) and left > 1800
    # the wait ends at the window's start, give or take a wall second of a loaded CI worker (7,200 plan s
    # here; seen: 1,172 plan s late = 0.16 wall s) — still well inside the 3-hour window
    assert waited is not None and left - 60 <= waited < left + 7200
    assert run.found.failback_window is not None and run.found.failback_window.passed
    assert run.found.failback_window.evidence.startswith("waited ")
    assert "for failback.window (02:00–05:00 UTC (every day)): the failback started at 2026-11-30 02:" in (
        run.found.failback_window.evidence)


def test_a_window_beyond_window_wait_is_not_waited_for_and_the_scorecard_says_the_service_stays(
        tmp_path: Path) -> None:
    from odin_drills.steps.dr.run import score_run

    run = drill_run(tmp_path, {"window": {"start": "02:00", "end": "05:00", "days": ["sat"]}, "window_wait": "24h"},
                    MON_0100, scale=1.0)
    try:
        assert await_window(run) is None
        card = score_run(run)
    finally:
        run.close()
    entry = next(e for e in run.journal.entries() if e.kind == "failback_window")
    assert entry.data["action"] == "no_failback"
    assert datetime.fromisoformat(entry.data["opens_at"]) == datetime(2026, 12, 5, 2, tzinfo=timezone.utc)
    why = ("failback.window (02:00–05:00 UTC (sat)) opens next at 2026-12-05 02:00 UTC, in 5d 1h, beyond "
           "failback.window_wait (1d): no failback, the service stays in westus")
    assert entry.data["reason"] == why
    assert not card.criteria["failback_in_window"].passed and card.criteria["failback_in_window"].evidence == why
    assert card.criteria["failback_completed"].evidence == f"failback did not complete: {why}"


def test_inside_the_window_the_failback_goes_on_at_once(tmp_path: Path) -> None:
    run = drill_run(tmp_path, {"window": {"start": "00:30", "end": "05:00"}}, MON_0100, scale=1.0)
    try:
        assert await_window(run) == 0.0
    finally:
        run.close()
    entry = next(e for e in run.journal.entries() if e.kind == "failback_window")
    assert entry.data["action"] == "in_window"
    assert run.found.failback_window is not None and run.found.failback_window.passed


def test_no_window_no_entry_no_criterion(tmp_path: Path) -> None:
    from odin_drills.steps.dr.run import score_run

    run = drill_run(tmp_path, {}, MON_0100, scale=1.0)
    try:
        assert await_window(run) == 0.0
        assert "failback_in_window" not in score_run(run).criteria
    finally:
        run.close()
    assert not [e for e in run.journal.entries() if e.kind == "failback_window"]


def test_at_utc_reads_as_people_write_times() -> None:
    assert at_utc(MON_0100) == "2026-11-30 01:00 UTC"
    assert at_utc(MON_0100 + timedelta(seconds=5)) == "2026-11-30 01:00:05 UTC"


# ---------------------------------------------------------------- approvals against the phase budgets

@pytest.mark.parametrize(("steps", "budgets", "expected"), [
    ({"failover": [{"kind": "approval", "name": "cab"}]}, {},
     "steps.failover[0].timeout: approval 'cab' waits up to 1h, which fills targets.budgets.failover (1h)"),
    ({"validation": [{"kind": "approval", "name": "a", "timeout": "10m"},
                     {"kind": "approval", "name": "b", "timeout": "5m"}]}, {},
     "steps.validation[1].timeout: approval 'b' waits up to 5m (15m with the approvals before it), which fills "
     "targets.budgets.validation (15m)"),
])
def test_an_approval_that_fills_its_phase_budget_is_refused_naming_step_timeout_and_budget(
        steps: dict, budgets: dict, expected: str) -> None:
    with pytest.raises(PlanInvalid) as caught:
        parse_drill({**BASE, "steps": steps, "targets": {"budgets": budgets}}, "d.yaml")
    assert len(caught.value.problems) == 1, caught.value.problems
    assert caught.value.problems[0].startswith(f"d.yaml: {expected}: an unanswered approval misses the budget")


def test_approvals_that_leave_time_in_the_budget_and_failback_approvals_load() -> None:
    plan = parse_drill({**BASE, "steps": {"failover": [{"kind": "approval", "name": "cab", "timeout": "30m"}],
                                          "failback": [{"kind": "approval", "name": "home", "timeout": "8h"}]},
                        "targets": {"budgets": {"validation": "2h"}}})
    assert [s.label for s in plan.steps.failover] == ["cab"]
    longer = parse_drill({**BASE, "steps": {"failover": [{"kind": "approval", "name": "cab"}]},
                          "targets": {"budgets": {"failover": "90m"}}})
    assert longer.steps.failover[0].timeout == 3600


def test_odin_validate_refuses_the_approval_in_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "dr.yaml"
    path.write_text(yaml.safe_dump({**BASE, "steps": {"failover": [{"kind": "approval", "name": "cab-ok",
                                                                     "prompt": "CAB approved the failover?"}]}}))
    result = run_odin(["validate", str(path)])
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert result.stderr.splitlines() == [
        f"odin: error: {path}: steps.failover[0].timeout: approval 'cab-ok' waits up to 1h, which fills "
        "targets.budgets.failover (1h): an unanswered approval misses the budget by construction; make the timeout "
        "shorter or the budget longer"]


def test_a_stop_request_ends_the_wait_and_the_drill_fails_back_at_once_outside_the_window(tmp_path: Path) -> None:
    """A stopping drill puts the world back: a signal during the wait is not a reason to stay in DR."""
    import threading

    from odin_drills.steps import stop

    run = drill_run(tmp_path, {"window": {"start": "02:00", "end": "05:00"}}, MON_0100, scale=1.0)
    timer = threading.Timer(0.3, stop.request, args=("SIGTERM",))
    timer.start()
    try:
        waited = await_window(run)
    finally:
        timer.cancel()
        stop.reset()
        run.close()
    assert waited is not None and waited < 60  # an hour away at real time: the signal ended it
    actions = [e.data["action"] for e in run.journal.entries() if e.kind == "failback_window"]
    assert actions == ["wait", "stopped"]
    assert run.found.failback_window is not None and not run.found.failback_window.passed
    assert run.found.failback_window.evidence.startswith("SIGTERM ended the wait for failback.window")


def test_the_failback_steps_owed_are_those_not_done_once_a_failback_began(tmp_path: Path) -> None:
    from odin_drills.steps.clock import ManualClock
    from odin_drills.steps.dr.drill_steps import owed_failback_steps

    plan = parse_drill({**BASE, "smoke": [{"name": "health", "url": "http://frontdoor/health"}], "steps": {"failback": [
        {"kind": "wait", "name": "settle", "duration": "1m"}, {"kind": "smoke", "name": "home-smoke"},
        {"kind": "approval", "name": "home-ok", "timeout": "1h"}]}})
    steps = plan.steps.failback
    journal = Journal(tmp_path / "journal.jsonl", ManualClock(MON_0100))
    labels = lambda owed: [s.label for s in owed]  # noqa: E731
    assert owed_failback_steps(steps, journal.entries(), undos_pending=False) == []  # no failback: nothing owed
    assert labels(owed_failback_steps(steps, journal.entries(), undos_pending=True)) == ["settle", "home-smoke",
                                                                                        "home-ok"]
    journal.append("rollback_started", phase="rollback", reason="odin rollback by erin: back")
    journal.append("step_finished", phase="failback", step="settle", status="ok", detail="waited", undo=None,
                   undo_reason=None, output={})
    journal.append("smoke", phase="failback", step="home-smoke", report={"results": []}, critical_failed=1,
                   noncritical_failed=0)
    assert labels(owed_failback_steps(steps, journal.entries(), undos_pending=False)) == ["home-smoke", "home-ok"]
    journal.append("smoke", phase="failback", step="home-smoke", report={"results": []}, critical_failed=0,
                   noncritical_failed=0)
    journal.append("hold_started", phase="failback", hold="approval home-ok", reason="home?", default="rollback",
                   deadline=MON_0100)
    journal.append("human_input", phase="failback", action="proceed", reason="yes", by="erin", at=MON_0100)
    assert owed_failback_steps(steps, journal.entries(), undos_pending=False) == []
