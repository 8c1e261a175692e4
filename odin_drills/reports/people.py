"""The people side in the migration report (``steps.people``): T-0's on-call confirmation and
stakeholder notice, T+1h's SLO check and log review, T+24h's incident count, and — once the
migration is over (T+24h finished, or rolled back) — a lessons-learned section to fill in, its
numbers pre-filled from the journal: gates, holds, rollbacks, alerts, SLO results, log findings.

Shared by the Markdown and HTML reports; the journal is the only input. Lessons themselves are
never guessed: the prompts and the action table are left blank for the review meeting.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from odin_drills.reports.formatting import HOLD_COLOUR, as_dict, as_list, text, verified_as
from odin_drills.reports.templating import Cell, badge
from odin_drills.steps.journal import Entry
from odin_drills.steps.people import NOTICE_STEP, ON_CALL_STEP

PROMPTS = ("What went well", "What went wrong, or nearly did", "What surprised us (the plan, the numbers, the tools)",
           "What to change in the plan, the runbook or the policy", "Documentation to update")


def _last(entries: list[Entry], kind: str) -> Entry | None:
    return next((e for e in reversed(entries) if e.kind == kind), None)


def _cell(value: Any, limit: int = 300) -> str:
    return text(value, limit).replace("|", "/").replace("\n", " ")


def _on_call(entries: list[Entry]) -> dict[str, Any] | None:
    asked = [e for e in entries if e.kind == "hold_started" and e.step == ON_CALL_STEP]
    if not asked:
        return None
    answer = next((e for e in reversed(entries) if e.kind == "human_input" and e.step == ON_CALL_STEP), None)
    result = "waiting" if answer is None else ("confirmed" if answer.data.get("action") == "proceed" else "not confirmed")
    if answer is not None and str(answer.data.get("by")) == "odin (deadline)":
        result = f"deadline reached ({'T-0 started unconfirmed' if result == 'confirmed' else 'T-0 refused'})"
    return {"asked": f"{asked[-1].time:%Y-%m-%d %H:%M:%S}", "deadline": str(asked[-1].data.get("deadline", ""))[:19].replace("T", " "),
            "result": result, "by": "" if answer is None else _cell(answer.data.get("by"), 80),
            "verified": "" if answer is None else verified_as(answer),
            "reason": "" if answer is None else _cell(answer.data.get("reason"))}


def _notice(entries: list[Entry]) -> list[dict[str, Any]]:
    return [{"time": f"{e.time:%Y-%m-%d %H:%M:%S}", "channel": _cell(e.data.get("channel"), 80),
             "status": e.data.get("status"), "detail": _cell(e.data.get("detail"))}
            for e in entries if e.kind == "comms" and e.step == NOTICE_STEP]


def _lessons(entries: list[Entry], slo: Entry | None, logs: Entry | None, incidents: Entry | None) -> dict[str, Any] | None:
    over = any(e.kind == "rollback_finished" or (e.kind == "phase_finished" and e.phase == "t+24h") for e in entries)
    if not over:
        return None
    decisions = [e for e in entries if e.kind == "decision" and e.data.get("by", "odin") == "odin"]
    windows = sum(1 for e in entries if e.kind == "gate" and isinstance(e.data.get("window"), int))
    by_action = Counter(str(e.data.get("action")) for e in decisions)
    holds = [e for e in entries if e.kind == "hold_started"]
    answers = [e for e in entries if e.kind == "human_input"]
    people = sum(1 for e in answers if not str(e.data.get("by", "")).startswith("odin ("))
    rollbacks = [e for e in entries if e.kind == "rollback_started"]
    healthy = [e for e in entries if e.kind == "rollback_finished" and e.data.get("healthy")]
    numbers = [
        ("Gates", f"{len(decisions)} gate decision(s) over {windows} measured window(s): "
                  + (", ".join(f"{n} {a}" for a, n in sorted(by_action.items())) or "none")),
        ("Holds", f"{len(holds)} hold(s) ({', '.join(sorted({str(e.data.get('hold')) for e in holds})) or 'none'}); "
                  f"{people} answered by a person, {len(answers) - people} by odin (deadline or escalation)"),
        ("Rollbacks", f"{len(rollbacks)}" + (": " + "; ".join(_cell(e.data.get("reason"), 160) for e in rollbacks)
                                             if rollbacks else "") + (f" ({len(healthy)} ended healthy)" if rollbacks else "")),
        ("Alerts (incident count)", _cell(incidents.data.get("detail")) if incidents else "not counted (T+24h did not run)"),
        ("SLO", _cell(slo.data.get("detail")) if slo else "not checked (T+1h did not run)"),
        ("Log review", _cell(logs.data.get("detail")) if logs else "not reviewed (T+1h did not run)"),
    ]
    return {"numbers": numbers, "prompts": PROMPTS}


def people_view(entries: list[Entry]) -> dict[str, Any] | None:
    """Every people-side item the journal has, and the lessons-learned section; None when it has none
    (or is not a migration's: a drill has its own retrospective)."""
    if not any(e.kind == "run_started" and e.data.get("migration") and not e.data.get("drill") for e in entries):
        return None
    slo, logs, incidents = _last(entries, "slo_check"), _last(entries, "log_review"), _last(entries, "incident_count")
    view = {
        "on_call": _on_call(entries), "notice": _notice(entries),
        "slo": None if slo is None else {"time": f"{slo.time:%Y-%m-%d %H:%M:%S}", "met": slo.data.get("met"),
                                         "detail": _cell(slo.data.get("detail"), 600),
                                         "unavailable": _cell(slo.data.get("unavailable") or "")},
        "logs": None if logs is None else {
            "detail": _cell(logs.data.get("detail"), 600), "errors": logs.data.get("errors"),
            "warnings": logs.data.get("warnings"), "not_listed": logs.data.get("not_listed") or 0,
            "findings": [{"source": i.get("source"), "level": i.get("level"), "time": str(i.get("time", ""))[:19].replace("T", " "),
                       "what": _cell(i.get("what"))} for i in map(as_dict, as_list(logs.data.get("items")))]},
        "incidents": None if incidents is None else {
            "detail": _cell(incidents.data.get("detail"), 600), "count": incidents.data.get("count"),
            "alerts": [{"name": _cell(a.get("name"), 120), "level": a.get("level"), "severity": a.get("severity") or "",
                        "first_seen": str(a.get("first_seen", ""))[:19].replace("T", " "), "how": a.get("how", ""),
                        "security": "yes" if a.get("security") else ""}
                       for a in map(as_dict, as_list(incidents.data.get("alerts")))]},
        "lessons": _lessons(entries, slo, logs, incidents),
    }
    return view if any(view.values()) else None


def people_html(entries: list[Entry]) -> dict[str, Any] | None:
    """The HTML report's section: the view with its tables' cells."""
    view = people_view(entries)
    if view is None:
        return None
    view["notice_rows"] = [[n["time"], n["channel"], badge(str(n["status"]), "#43a047" if n["status"] == "sent" else "#c62828"),
                            Cell("why", n["detail"])] for n in view["notice"]]
    if view["logs"]:
        view["log_rows"] = [[i["time"], i["source"], badge(i["level"], "#c62828" if i["level"] == "error" else HOLD_COLOUR),
                             Cell("why", i["what"])] for i in view["logs"]["findings"]]
    if view["incidents"]:
        view["alert_rows"] = [[a["name"], a["level"], a["severity"], a["security"], a["first_seen"], a["how"]]
                              for a in view["incidents"]["alerts"]]
    return view
