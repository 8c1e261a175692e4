"""The people side of the runbook (``steps.people``): the on-call confirmation and stakeholder
notice before T-0's first step, the T+1h SLO check and log review, the T+24h incident count, and
the report's sections (lessons learned with its numbers pre-filled). Unit level: a real journal,
fake people (the flow's ``ask_person`` stand-in journals what it would) and mock HTTP."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from odin_drills.errors import UsageError
from odin_drills.plan.loader import parse_plan
from odin_drills.reports.markdown import render_markdown
from odin_drills.steps.clock import ManualClock
from odin_drills.steps.journal import Journal
from odin_drills.steps.people import NOTICE_STEP, ON_CALL_STEP, confirm_on_call, send_notice
from odin_drills.steps.people.incidents import alerts_started_since, count_incidents
from odin_drills.steps.people.log_review import read_prefect_logs, review_logs
from odin_drills.steps.people.slo_check import check_slo
from odin_drills.steps.snapshot import LatencyPercentiles, Snapshot
from tests.test_plan_validation import GOOD, bad

START = datetime(2026, 3, 2, 22, 0, tzinfo=timezone.utc)
HOOK = "https://hooks.example.test/services/T000/B000/XXXX"


def plan_with(people: dict | None = None, **extra: Any) -> Any:
    data = json.loads(json.dumps(GOOD))
    if people is not None:
        data["people"] = people
    data.update(extra)
    return parse_plan(data, "plan.yaml")


def make_run(tmp_path: Path, plan: Any, client: httpx.Client | None = None) -> SimpleNamespace:
    clock = ManualClock(START)
    return SimpleNamespace(plan=plan, plan_file="plan.yaml", migration="m1", clock=clock,
                           journal=Journal(tmp_path / "journal.jsonl", clock),
                           client=client or httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200))))


def person(action: str, by: str, reason: str = "ok") -> Any:
    """``ask_person`` as the flow runs it: journal the hold and the answer, return the action."""
    asked: list[dict] = []

    def ask(run: Any, *, phase: str, step: str, kind: str, deadline: float, default: str, reason: str,
            watch: bool) -> str:
        asked.append({"kind": kind, "deadline": deadline, "default": default, "watch": watch, "prompt": reason})
        run.journal.append("hold_started", phase=phase, step=step, hold=kind, reason=reason, default=default,
                           deadline=run.clock.now() + timedelta(seconds=deadline))
        taken = default if by == "odin (deadline)" else action
        run.journal.append("human_input", phase=phase, step=step, action=taken, reason=answer, by=by,
                           at=run.clock.now())
        return taken

    answer = reason
    ask.asked = asked  # type: ignore[attr-defined]
    return ask


def kinds(run: Any, kind: str) -> list[Any]:
    return [e for e in run.journal.entries() if e.kind == kind]


# ---------------------------------------------------------------- the plan

def test_people_is_off_unless_declared_and_defaults_are_safe() -> None:
    assert plan_with().people.on_call_confirmation is None and plan_with().people.stakeholder_notice is None
    spec = plan_with({"on_call_confirmation": {}, "stakeholder_notice": {"channels": [
        {"name": "ops", "kind": "slack", "url": HOOK}]}}).people
    assert spec.on_call_confirmation.required is True and spec.on_call_confirmation.timeout == 1800.0
    assert spec.stakeholder_notice.required is False


def test_bad_people_blocks_are_one_line_each(tmp_path: Path) -> None:
    lines = bad(tmp_path, lambda d: d.update(people={
        "on_call_confirmation": {"timeout": "0s", "reqired": True},
        "stakeholder_notice": {"channels": []}}))
    assert len(lines) == 3, lines
    text = "\n".join(lines)
    assert "people.on_call_confirmation.timeout" in text and "people.on_call_confirmation.reqired" in text
    assert "people.stakeholder_notice.channels" in text
    twice = bad(tmp_path, lambda d: d.update(people={"stakeholder_notice": {"channels": [
        {"name": "ops", "kind": "slack", "url": HOOK}, {"name": "ops", "kind": "teams", "url": HOOK}]}}))
    assert len(twice) == 1 and "ops used twice" in twice[0], twice


def test_odin_plan_lists_the_t0_people_items() -> None:
    from odin_drills.cli.main import _people_lines

    lines = _people_lines(notice_plan().people)
    assert lines == ["on-call confirmation: shop on-call within 30m (unconfirmed: T-0 is refused)",
                     "stakeholder notice: ops, biz"]
    assert _people_lines(plan_with().people) == []


def test_the_schema_shows_the_people_block() -> None:
    from odin_drills.plan import Plan

    schema = json.dumps(Plan.model_json_schema(by_alias=True))
    assert '"people"' in schema and "on_call_confirmation" in schema and "stakeholder_notice" in schema


# ---------------------------------------------------------------- T-0: on call

ON_CALL = {"on_call_confirmation": {"who": "shop on-call", "timeout": "30m"}}


def test_a_confirmed_on_call_lets_t0_start(tmp_path: Path) -> None:
    run = make_run(tmp_path, plan_with(ON_CALL))
    ask = person("proceed", "ann", "on standby")
    confirm_on_call(run, ask)
    assert ask.asked == [{"kind": "on-call", "deadline": 1800.0, "default": "rollback", "watch": False,
                          "prompt": ask.asked[0]["prompt"]}]
    assert "shop on-call" in ask.asked[0]["prompt"] and "no answer within 30m: T-0 does not start" in ask.asked[0]["prompt"]
    assert kinds(run, "note")[-1].data["message"] == "on-call (shop on-call) on standby: confirmed by ann"
    confirm_on_call(run, person("rollback", "bob"))  # a T-0 run again: not asked twice
    assert len(kinds(run, "hold_started")) == 1


def test_no_confirmation_by_the_deadline_refuses_t0(tmp_path: Path) -> None:
    run = make_run(tmp_path, plan_with(ON_CALL))
    with pytest.raises(UsageError) as refused:
        confirm_on_call(run, person("proceed", "odin (deadline)"))
    (line,) = refused.value.lines()
    assert line.startswith("plan.yaml: people.on_call_confirmation: shop on-call: not confirmed within 30m: "
                           "T-0 not started, nothing changed")


def test_an_on_call_who_is_not_available_refuses_t0_naming_them(tmp_path: Path) -> None:
    run = make_run(tmp_path, plan_with(ON_CALL))
    with pytest.raises(UsageError, match="carol answered not on standby \\(in another incident\\)"):
        confirm_on_call(run, person("rollback", "carol", "in another incident"))


def test_an_optional_confirmation_starts_t0_at_the_deadline_and_says_so(tmp_path: Path) -> None:
    run = make_run(tmp_path, plan_with({"on_call_confirmation": {"timeout": "10m", "required": False}}))
    ask = person("proceed", "odin (deadline)")
    confirm_on_call(run, ask)
    assert ask.asked[0]["default"] == "proceed"
    assert "T-0 starts without a confirmed standby" in kinds(run, "note")[-1].data["message"]


def test_nothing_is_asked_once_t0_began(tmp_path: Path) -> None:
    run = make_run(tmp_path, plan_with(ON_CALL))
    run.journal.append("step_intent", phase="t0", step="shift", attempt=1, step_kind="http", spec={}, observable=False)
    ask = person("proceed", "ann")
    confirm_on_call(run, ask)
    assert ask.asked == []


# ---------------------------------------------------------------- T-0: stakeholder notice

def notice_plan(required: bool = False) -> Any:
    return plan_with({**ON_CALL, "stakeholder_notice": {"required": required, "note": "checkout may be slow", "channels": [
        {"name": "ops", "kind": "slack", "url": HOOK}, {"name": "biz", "kind": "generic", "url": HOOK + "/2"}]}},
        change_window={"start": "22:00", "end": "04:00", "timezone": "Europe/Berlin"})


def test_the_notice_reaches_every_channel_once_with_what_changes(tmp_path: Path) -> None:
    posted: list[dict] = []

    def hook(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(200, text="ok")

    run = make_run(tmp_path, notice_plan(), httpx.Client(transport=httpx.MockTransport(hook)))
    confirm_on_call(run, person("proceed", "ann"))
    send_notice(run)
    send_notice(run)  # again (a T-0 run again): not sent twice
    comms = kinds(run, "comms")
    assert [(e.step, e.data["channel"], e.data["status"], e.data["template"]) for e in comms] == [
        (NOTICE_STEP, "ops", "sent", "notice"), (NOTICE_STEP, "biz", "sent", "notice")]
    text = comms[0].data["text"]
    assert text.startswith("Change window starting: shop-move (shop) at 2026-03-02 22:00 UTC")
    for line in ("Changes: shift", "On call: ann (confirmed)", "Note: checkout may be slow", "Migration: m1",
                 "Change window: 22:00–04:00 Europe/Berlin"):
        assert line in text, text
    assert len(posted) == 2 and HOOK not in json.dumps([e.data for e in comms])  # the webhook URL is a secret


def test_a_notice_nobody_took_refuses_t0_only_when_required(tmp_path: Path) -> None:
    down = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(404, text="no such hook")))
    run = make_run(tmp_path, notice_plan(required=False), down)
    send_notice(run)
    assert kinds(run, "note")[-1].data["message"] == "stakeholder notice sent to no channel (failed: ops, biz)"
    run = make_run(tmp_path / "required", notice_plan(required=True), down)
    (tmp_path / "required").mkdir(exist_ok=True)
    with pytest.raises(UsageError, match="people.stakeholder_notice: no channel took the notice .*ops: answered 404"):
        send_notice(run)


# ---------------------------------------------------------------- T+1h: the SLO check

def gate(run: Any, requests: int, errors: int, window: Any = 1, alerts: list | None = None, phase: str = "t0") -> None:
    run.journal.append("gate", phase=phase, step="s", window=window, decision={"decision": "proceed"},
                       snapshot={"requests": requests, "errors": errors, **({"alerts": alerts} if alerts is not None else {})})


def migration_so_far(run: Any) -> None:
    gate(run, 999, 0, phase="t-1w")  # before T-0: not the migration's
    run.journal.append("phase_started", phase="t0")
    gate(run, 1000, 1)
    gate(run, 1000, 3)
    gate(run, 5000, 5000, window="recheck")  # the re-check after a rollback is not a measured window
    run.clock.advance(3600)


class LookingBack:
    name = "prometheus http://prom:9090"

    def __init__(self, requests: int, errors: int) -> None:
        self.requests, self.errors, self.asked = requests, errors, []

    def read(self, at: float, seconds: float) -> Snapshot:
        self.asked.append((at, seconds))
        return Snapshot(requests=self.requests, errors=self.errors, latency_ms=LatencyPercentiles(p50=1, p95=2, p99=3))


def test_the_slo_over_the_migration_from_the_gates_windows(tmp_path: Path) -> None:
    run = make_run(tmp_path, plan_with())
    migration_so_far(run)
    slo = SimpleNamespace(availability=99.9)
    found = check_slo(slo, SimpleNamespace(name="synthetic probe"), run.journal.entries(), run.clock.now())
    assert found["windows"] == {"requests": 2000, "errors": 4, "availability": pytest.approx(99.8), "windows": 2}
    assert found["met"] is False and found["burn_rate"] == pytest.approx(2.0)
    assert found["span_seconds"] == 3600.0 and "cannot look back" in found["unavailable"]
    assert "MISSES the 99.9 % objective" in found["detail"] and "from the gates' windows" in found["detail"]
    run.journal.append("slo_check", phase="t+1h", **found)  # journals as its model says


def test_the_slo_from_a_source_that_looks_back_decides(tmp_path: Path) -> None:
    run = make_run(tmp_path, plan_with())
    migration_so_far(run)
    source = SimpleNamespace(inner=LookingBack(100_000, 20), name="wrapped")
    found = check_slo(SimpleNamespace(availability=99.9), source, run.journal.entries(), run.clock.now())
    assert found["met"] is True and found["decided_by"] == "the metric source"
    assert found["measured"]["availability"] == pytest.approx(99.98) and found["burn_rate"] == pytest.approx(0.2)
    ((at, seconds),) = source.inner.asked
    assert abs(at - time.time()) < 5 and seconds >= 1.0  # [T-0's wall time, now]


def test_without_an_slo_there_is_nothing_to_verify(tmp_path: Path) -> None:
    run = make_run(tmp_path, plan_with())
    migration_so_far(run)
    found = check_slo(None, None, run.journal.entries(), run.clock.now())
    assert found["objective"] is None and found["met"] is None and "declares no slo" in found["detail"]


# ---------------------------------------------------------------- T+1h: the log review

def test_the_log_review_counts_and_lists_errors_and_warnings_since_t0(tmp_path: Path) -> None:
    run = make_run(tmp_path, plan_with())
    j = run.journal
    j.append("step_finished", phase="t-1w", step="old", status="failed", detail="before T-0: not counted")
    j.append("phase_started", phase="t0")
    j.append("step_finished", phase="t0", step="shift", status="failed", detail="answered 500")
    j.append("decision", phase="t0", step="shift", action="hold", reason="p95 1.6x", by="odin")
    j.append("comms", phase="t0", step=NOTICE_STEP, channel="ops", template="notice", status="failed", attempts=3,
             detail="answered 503")
    j.append("decision", phase="t0", step="s2", action="proceed", reason="fine", by="odin")
    prefect = [{"source": "prefect", "level": "error", "time": "2026-03-02T22:10:00", "phase": None,
                "what": "prefect.flow_runs: boom"}]
    found = review_logs(j.entries(), prefect, None)
    assert (found["errors"], found["warnings"]) == (2, 2)
    assert (found["journal_errors"], found["journal_warnings"], found["prefect_errors"]) == (1, 2, 1)
    assert [i["level"] for i in found["items"]] == ["error", "error", "warning", "warning"]  # errors first
    assert found["items"][0]["what"] == "step shift failed: answered 500"
    assert found["detail"] == "2 error(s) and 2 warning(s) since T-0 in the journal and the Prefect logs"
    missing = review_logs(j.entries(), [], "the Prefect API did not answer within 5 s")
    assert missing["detail"].count("Prefect logs not read") == 1 and missing["prefect_unavailable"]
    j.append("log_review", phase="t+1h", **missing)


def test_prefect_logs_that_cannot_be_read_are_said_within_the_timeout() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    assert read_prefect_logs([], None) == ([], "no flow run recorded in the journal")
    began = time.monotonic()
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        logs, why = read_prefect_logs(["00000000-0000-0000-0000-000000000001"], START, timeout=3)
    assert logs == [] and why and time.monotonic() - began < 10


# ---------------------------------------------------------------- T+24h: the incident count

AM = SimpleNamespace(url="http://am:9093", filter=['service="shop"'], severity_label="severity", timeout=5.0,
                     severities=SimpleNamespace(sev0=["critical"], sev1=["high"]), security=['category="security"'])


def alert(name: str, fingerprint: str, level: str = "lower") -> dict:
    return {"fingerprint": fingerprint, "name": name, "severity": level, "level": level, "security": False}


def test_alerts_fired_since_t0_are_counted_once_and_baseline_ones_apart(tmp_path: Path) -> None:
    run = make_run(tmp_path, plan_with())
    run.journal.append("baseline", phase="t-1w", window_seconds=60.0,
                       snapshot={"requests": 1, "errors": 0, "alerts": [alert("Noisy", "n1")]})
    run.journal.append("phase_started", phase="t0")
    gate(run, 100, 0, alerts=[alert("Noisy", "n1"), alert("HighErrorRate", "h1", "sev1")])
    gate(run, 100, 0, window=2, alerts=[alert("HighErrorRate", "h1", "sev1")])
    now = [{**alert("DiskFull", "d1"), "level": "lower", "state": "suppressed", "started_at": "2026-03-03T10:00:00+00:00"},
           {**alert("HighErrorRate", "h1", "sev1"), "state": "active", "started_at": "2026-03-02T22:05:00+00:00"}]
    found = count_incidents(AM, run.journal.entries(), now, None)
    assert found["count"] == 2 and (found["sev1"], found["lower"], found["before"]) == (1, 1, 1)
    by_name = {a["name"]: a for a in found["alerts"]}
    assert by_name["HighErrorRate"]["windows"] == 2 and by_name["HighErrorRate"]["how"] == "journal and alert source"
    assert by_name["DiskFull"]["how"] == "alert source" and by_name["DiskFull"]["state"] == "suppressed"
    assert found["detail"].startswith("2 alert(s) fired since T-0: HighErrorRate (sev1), DiskFull (lower)")
    assert "1 already firing at the baseline not counted" in found["detail"]
    run.journal.append("incident_count", phase="t+24h", **found)
    assert count_incidents(None, run.journal.entries(), [], None)["count"] is None


def test_alertmanager_is_read_for_alerts_started_since_t0_in_any_state() -> None:
    seen: list[httpx.Request] = []

    def am(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[
            {"labels": {"alertname": "Old", "service": "shop"}, "startsAt": "2026-03-02T21:00:00Z", "status": {"state": "active"}},
            {"labels": {"alertname": "Silenced", "service": "shop", "severity": "critical"}, "fingerprint": "s1",
             "startsAt": "2026-03-02T22:30:00Z", "status": {"state": "suppressed"}},
            {"labels": {"alertname": "Other", "service": "cart"}, "startsAt": "2026-03-02T22:30:00Z"},
        ])

    spec = SimpleNamespace(**{**vars(AM), "url": "http://am:9093"})
    found, why = alerts_started_since(spec, START, httpx.Client(transport=httpx.MockTransport(am)))
    assert why is None and [(a["name"], a["level"], a["state"]) for a in found] == [("Silenced", "sev0", "suppressed")]
    assert ("silenced", "true") in seen[0].url.params.multi_items()
    broken = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    assert alerts_started_since(spec, START, broken)[1].startswith("alertmanager http://am:9093: HTTPStatusError")


# ---------------------------------------------------------------- the report

def test_the_report_shows_the_people_side_and_lessons_to_fill_in(tmp_path: Path) -> None:
    run = make_run(tmp_path, notice_plan())
    j = run.journal
    j.append("run_started", plan="shop-move", migration="m1", phases=["t0"])
    j.append("phase_started", phase="t0")
    confirm_on_call(run, person("proceed", "ann", "on standby"))
    send_notice(run)
    gate(run, 1000, 1)
    j.append("decision", phase="t0", step="shift", action="proceed", reason="fine", by="odin")
    j.append("slo_check", phase="t+1h", objective=99.9, met=True, detail="availability 99.950 % meets the 99.9 % objective")
    j.append("log_review", phase="t+1h", **review_logs(j.entries(), [], "Prefect is down"))
    j.append("phase_finished", phase="t+24h", outcome="ok")
    before_t24h = render_markdown(j.entries()[:-1])
    assert "## Lessons learned" not in before_t24h  # the migration is not over yet
    j.append("incident_count", phase="t+24h", **count_incidents(AM, j.entries(), [], None))
    report = render_markdown(j.entries())
    assert "On-call confirmation: asked 2026-03-02 22:00:00" in report and "**confirmed** by ann" in report
    assert "Stakeholder notice to ops at" in report and "**sent**" in report
    assert "SLO (met): availability 99.950 %" in report
    assert "Prefect logs not read: Prefect is down" in report
    assert "## T+24h: incident count\n\n0 alert(s) fired since T-0" in report
    lessons = report.split("## Lessons learned")[1]
    assert "**Gates:** 1 gate decision(s) over 1 measured window(s): 1 proceed" in lessons
    assert "**Holds:** 1 hold(s) (on-call); 1 answered by a person, 0 by odin" in lessons
    assert "**Rollbacks:** 0" in lessons and "**Alerts (incident count):** 0 alert(s)" in lessons
    assert "### What went well" in lessons and "| action | owner | due | documentation updated |" in lessons
    from odin_drills.reports.html import render_html

    assert "Lessons learned" in render_html(j.entries())
