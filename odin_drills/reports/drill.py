"""What a DR drill leaves behind for people: the Markdown report and the Prefect artifacts.

Rendered from the journal and the scorecard only (the journal is the truth): the scorecard with
RTO split and RPO against their targets, each criterion with its evidence, the canary writes
that were lost (every id), the trend of earlier drills, the failover actions and their undos,
decisions and who made them, stakeholder messages, replication as Azure reported it, and a
timeline. This module prepares the rows; the layout is ``templates/drill.md.j2`` (no escaping,
every printed string redacted). The HTML twin is
``odin_drills.reports.html.render_html(entries, scorecard=card.to_report())``.
"""

from __future__ import annotations

from typing import Any

from odin_drills.reports.artifacts import artifact_key
from odin_drills.reports.formatting import as_dict, seconds, verified_as
from odin_drills.reports.retrospective import retrospective
from odin_drills.reports.templating import render
from odin_drills.steps.dr.history import TrendPoint
from odin_drills.steps.dr.scorecard import Scorecard
from odin_drills.steps.journal import Entry

TIMELINE_KINDS = (
    "run_started", "phase_started", "phase_finished", "sandbox", "outage_injected", "outage_confirmed",
    "outage_not_confirmed", "decision", "hold_started", "human_input", "step_finished", "service_recovered",
    "failover_check", "data_loss", "outage_cleared", "undo_finished", "failback_deferred", "lock", "note",
    "run_finished", "step_skipped", "phase_budget", "failback_window",
)
_TIMELINE_SKIP = ("output", "undo", "report", "acknowledged_ids", "lost_ids", "lost_writes", "options", "phases")


def _t(entry: Entry) -> str:
    return f"{entry.time:%m-%d %H:%M:%S}"


def _cell(value: Any, limit: int = 240) -> str:
    """Text for one Markdown table cell: no pipes or line breaks, cut to ``limit``."""
    text = "" if value is None else str(value)
    text = text.replace("|", "/").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return "✗ not measured"
    return "✓ met" if value <= target else "✗ missed"


def render_drill_markdown(entries: list[Entry], card: Scorecard | None, trend: list[TrendPoint], *, outcome: str,
                          outcome_text: str, detail: str = "", deferred: list[str] | None = None) -> str:
    started = next((e for e in entries if e.kind == "run_started"), None)
    finished = next((e for e in reversed(entries) if e.kind == "run_finished"), None)
    lost = next((e for e in reversed(entries) if e.kind == "data_loss"), None)
    return render(
        "drill.md.j2",
        plan=started.data.get("plan") if started else "?",
        started=None if started is None else {k: started.data.get(k) for k in
                                              ("drill", "mode", "flow", "environment", "target", "time_scale")},
        outcome=outcome, outcome_text=outcome_text, detail=detail,
        exit_code=finished.data.get("exit_code") if finished else "?",
        card=_scorecard(card) if card is not None else None,
        lost=_lost_writes(lost) if lost is not None else None,
        trend=_trend(trend, card) if trend else None,
        retro=retrospective(entries, card, trend, deferred),
        actions=_actions(entries), deferred=deferred or [], decisions=_decisions(entries),
        checks=_checks(entries), messages=_messages(entries), timeline=_timeline(entries),
    )


def _scorecard(card: Scorecard) -> dict[str, Any]:
    rows = [
        ("RTO (outage start → service back through Front Door)", seconds(card.rto_seconds),
         seconds(card.rto_target_seconds), _verdict(card.rto_seconds, card.rto_target_seconds)),
        ("· detect (outage start → confirmed)", seconds(card.detect_seconds), "", ""),
        ("· decide (confirmed → decision)", seconds(card.decide_seconds), "", ""),
        ("· recover (decision → service back)", seconds(card.recover_seconds), "", ""),
        *((f"phase budget: {p.phase}", seconds(p.seconds), seconds(p.budget_seconds),
           _verdict(p.seconds, p.budget_seconds)) for p in card.phases),
        *((("RTO at risk during the drill", card.rto_at_risk, "", "⚠ escalated"),) if card.rto_at_risk else ()),
        ("RPO (span of acknowledged writes lost)", seconds(card.rpo_seconds), seconds(card.rpo_target_seconds),
         _verdict(card.rpo_seconds, card.rpo_target_seconds)),
        ("canary writes acknowledged", card.canary_writes, "", ""),
        ("canary writes lost", card.lost_writes, "", ""),
        ("corrupted / unreadable", f"{card.corrupted_writes} / {card.unreadable_writes}", "", ""),
        ("writes never acknowledged (not losses)", card.failed_writes, "", ""),
    ]
    if card.replication is not None:
        r = card.replication
        rows.append(("replication as Azure reported it",
                     f"state {r.replication_state or '–'}; storage last sync "
                     f"{r.storage_last_sync_time.isoformat() if r.storage_last_sync_time else '–'}", "", ""))
    return {"rows": rows, "outage_started_at": card.outage_started_at.isoformat(),
            "met": sum(c.passed for c in card.criteria.values()), "total": len(card.criteria),
            "criteria": [(name, c.passed, c.evidence) for name, c in card.criteria.items()]}


def _lost_writes(entry: Entry) -> dict[str, Any]:
    d = entry.data
    details = {w.get("id"): w for w in d.get("lost_writes") or [] if isinstance(w, dict)}
    return {"acknowledged": d.get("acknowledged"), "region": d.get("region"),
            "writes": [(details.get(i, {}).get("seq", ""), i, details.get(i, {}).get("acked_at", ""))
                       for i in d.get("lost_ids") or []]}


def _trend(trend: list[TrendPoint], card: Scorecard | None) -> list[tuple[Any, ...]]:
    rows = [(f"`{p.drill_id}`", f"{p.scored_at:%Y-%m-%d %H:%M}", seconds(p.rto_seconds), seconds(p.rto_target_seconds),
             seconds(p.rpo_seconds), seconds(p.rpo_target_seconds), "✓" if p.passed else "✗",
             ", ".join(p.failed_criteria)) for p in trend]
    if card is not None:
        rows.append((f"**this drill** `{card.drill_id}`", f"{card.scored_at:%Y-%m-%d %H:%M}", seconds(card.rto_seconds),
                     seconds(card.rto_target_seconds), seconds(card.rpo_seconds), seconds(card.rpo_target_seconds),
                     "✓" if card.passed else "✗", ", ".join(n for n, c in card.criteria.items() if not c.passed)))
    return rows


def _actions(entries: list[Entry]) -> list[tuple[Any, ...]]:
    return [(_t(e), e.phase or "", _cell(f"undo: {e.step}" if e.kind == "undo_finished" else e.step),
             {"failback_deferred": "deferred", "step_skipped": "skipped"}.get(e.kind) or e.data.get("status"),
             _cell(e.data.get("detail") or e.data.get("reason"), 400))
            for e in entries if e.kind in ("step_finished", "undo_finished", "failback_deferred", "step_skipped")]


def _decisions(entries: list[Entry]) -> list[tuple[Any, ...]]:
    whats = {"decision": lambda d: d.get("action"), "human_input": lambda d: f"answer: {d.get('action')}",
             "hold_started": lambda d: f"hold for a person (default {d.get('default')})"}
    return [(_t(e), whats[e.kind](e.data), e.data.get("by", "odin"), _cell(verified_as(e), 200),
             _cell(e.data.get("reason"), 400))
            for e in entries if e.kind in whats]


def _checks(entries: list[Entry]) -> list[str]:
    out: list[str] = []
    for e in entries:
        if e.kind == "failover_check":
            mark = "⚠ worse than before the outage" if e.data.get("verdict") == "worse" else "✓ not worse than before"
            out.append(f"{_t(e)} failover check: **{mark}** — {e.data.get('reason')}")
        elif e.kind == "replication":
            groups = "; ".join(f"{n}: primary {v.get('primary_region')}, {v.get('replication_state')}"
                               for n, v in as_dict(e.data.get("failover_groups")).items())
            accounts = "; ".join(f"{n}: primary {v.get('primary_region')}, {v.get('sku')}, geo-replication "
                                 f"{v.get('geo_replication') or '–'}, last sync {v.get('last_sync_time') or '–'}"
                                 for n, v in as_dict(e.data.get("storage_accounts")).items())
            errors = "; ".join(e.data.get("errors") or [])
            text = " | ".join(t for t in (groups, accounts, errors) if t) or "nothing to read"
            out.append(f"{_t(e)} replication ({e.phase}): {_cell(text, 600)}")
        elif e.kind == "smoke":
            report = as_dict(e.data.get("report"))
            failed = [r.get("name") for r in report.get("results", []) if not r.get("passed")]
            out.append(f"{_t(e)} smoke {e.step} ({e.phase}): "
                       + (f"failing: {', '.join(failed)}" if failed else f"{len(report.get('results', []))} passed"))
    return out


def _messages(entries: list[Entry]) -> list[tuple[Any, ...]]:
    return [(_t(e), e.data.get("channel"), e.data.get("template"),
             "" if e.data.get("minute") is None else e.data.get("minute"), e.data.get("status"))
            for e in entries if e.kind == "comms"]


def _timeline(entries: list[Entry]) -> list[tuple[Any, ...]]:
    rows = []
    for e in entries:
        if e.kind not in TIMELINE_KINDS:
            continue
        d = e.data
        if e.kind == "step_finished":
            detail = f"{d.get('status')}: {d.get('detail')}"
        elif e.kind == "note":
            detail = d.get("message")
        elif e.kind == "failback_window":
            detail = f"{d.get('action')}: {d.get('reason')}"
        elif e.kind == "lock":
            detail = f"{d.get('action')} {d.get('environment')}"
        elif e.kind == "data_loss":
            detail = f"{d.get('lost')} of {d.get('acknowledged')} acknowledged canary writes lost"
        else:
            detail = ", ".join(f"{k}={v}" for k, v in d.items() if k not in _TIMELINE_SKIP)
        rows.append((_t(e), e.phase or "", e.kind, _cell(e.step), _cell(detail, 300)))
    return rows


def criteria_rows(card: Scorecard) -> list[dict[str, Any]]:
    return [{"criterion": name, "passed": c.passed, "evidence": c.evidence} for name, c in card.criteria.items()]


def publish_drill_artifacts(plan: str, markdown: str, card: Scorecard | None, trend: list[TrendPoint]) -> None:
    """The report, the criteria and the trend in the Prefect UI."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    create_markdown_artifact(key=artifact_key(plan, "drill-report"), markdown=markdown,
                             description="DR drill report rendered from the journal")
    if card is None:
        return
    create_table_artifact(key=artifact_key(plan, "drill-criteria"), table=criteria_rows(card),
                          description=f"DR drill criteria: {'passed' if card.passed else 'failed'}")
    rows = [{"drill": p.drill_id, "scored_at": p.scored_at.isoformat(), "rto_seconds": p.rto_seconds,
             "rpo_seconds": p.rpo_seconds, "passed": p.passed} for p in trend]
    rows.append({"drill": card.drill_id, "scored_at": card.scored_at.isoformat(), "rto_seconds": card.rto_seconds,
                 "rpo_seconds": card.rpo_seconds, "passed": card.passed})
    create_table_artifact(key=artifact_key(plan, "drill-trend"), table=rows,
                          description="RTO and RPO (plan seconds) of this and earlier drills")
