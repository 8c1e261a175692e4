"""What a DR drill leaves behind for people: the Markdown report and the Prefect artifacts.

Rendered from the journal and the scorecard only (the journal is the truth): the scorecard with
RTO split and RPO against their targets, each criterion with its evidence, the canary writes
that were lost (every id), the trend of earlier drills, the failover actions and their undos,
decisions and who made them, stakeholder messages, replication as Azure reported it, and a
timeline. The HTML twin is ``odin_drills.reports.html.render_html(entries, scorecard=card.to_report())``.
"""

from __future__ import annotations

from typing import Any

from odin_drills.reports.artifacts import artifact_key
from odin_drills.steps.dr.history import TrendPoint
from odin_drills.steps.dr.scorecard import Scorecard, human
from odin_drills.steps.journal import Entry

TIMELINE_KINDS = (
    "run_started", "phase_started", "phase_finished", "sandbox", "outage_injected", "outage_confirmed",
    "outage_not_confirmed", "decision", "hold_started", "human_input", "step_finished", "service_recovered",
    "failover_check", "data_loss", "outage_cleared", "undo_finished", "failback_deferred", "lock", "note",
    "run_finished",
)


def _t(entry: Entry) -> str:
    return f"{entry.time:%m-%d %H:%M:%S}"


def _cell(value: Any, limit: int = 240) -> str:
    text = "" if value is None else str(value)
    text = text.replace("|", "/").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _seconds(value: float | None) -> str:
    return "–" if value is None else human(value)


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return "✗ not measured"
    return "✓ met" if value <= target else "✗ missed"


def render_drill_markdown(entries: list[Entry], card: Scorecard | None, trend: list[TrendPoint], *, outcome: str,
                          outcome_text: str, detail: str = "", deferred: list[str] | None = None) -> str:
    started = next((e for e in entries if e.kind == "run_started"), None)
    finished = next((e for e in reversed(entries) if e.kind == "run_finished"), None)
    plan = started.data.get("plan") if started else "?"
    out = [f"# DR drill report: {plan}", ""]
    if started:
        d = started.data
        out += [f"- Drill: `{d.get('drill')}` ({d.get('mode')} mode, flow {d.get('flow')})  ",
                f"- Environment: `{d.get('environment')}`, target: {d.get('target')}  ",
                f"- Time scale: {d.get('time_scale')}× (times below are plan time, UTC)  "]
    exit_code = finished.data.get("exit_code") if finished else "?"
    out += [f"- **Outcome: {outcome}** — {outcome_text} (exit code {exit_code})", ""]
    if detail:
        out += [f"  {detail}", ""]

    if card is not None:
        out += _scorecard(card)
    lost = next((e for e in reversed(entries) if e.kind == "data_loss"), None)
    if lost is not None:
        out += _lost_writes(lost)
    if trend:
        out += ["## Trend (earlier drills of this plan)", "",
                "| drill | scored | RTO | RTO target | RPO | RPO target | passed | failed criteria |",
                "|---|---|---|---|---|---|---|---|"]
        for p in trend:
            out.append(f"| `{p.drill_id}` | {p.scored_at:%Y-%m-%d %H:%M} | {_seconds(p.rto_seconds)} | "
                       f"{_seconds(p.rto_target_seconds)} | {_seconds(p.rpo_seconds)} | {_seconds(p.rpo_target_seconds)} | "
                       f"{'✓' if p.passed else '✗'} | {', '.join(p.failed_criteria)} |")
        if card is not None:
            out.append(f"| **this drill** `{card.drill_id}` | {card.scored_at:%Y-%m-%d %H:%M} | {_seconds(card.rto_seconds)} | "
                       f"{_seconds(card.rto_target_seconds)} | {_seconds(card.rpo_seconds)} | "
                       f"{_seconds(card.rpo_target_seconds)} | {'✓' if card.passed else '✗'} | "
                       f"{', '.join(n for n, c in card.criteria.items() if not c.passed)} |")
        out.append("")

    out += _actions(entries)
    if deferred:
        out += ["## Follow-ups", ""] + [f"- {item}" for item in deferred] + [""]
    out += _decisions(entries)
    out += _checks(entries)
    out += _messages(entries)
    out += _timeline(entries)
    return "\n".join(out)


def _scorecard(card: Scorecard) -> list[str]:
    out = ["## Scorecard", "", "| measure | achieved | target | verdict |", "|---|---|---|---|",
           f"| RTO (outage start → service back through Front Door) | {_seconds(card.rto_seconds)} | "
           f"{_seconds(card.rto_target_seconds)} | {_verdict(card.rto_seconds, card.rto_target_seconds)} |",
           f"| · detect (outage start → confirmed) | {_seconds(card.detect_seconds)} | | |",
           f"| · decide (confirmed → decision) | {_seconds(card.decide_seconds)} | | |",
           f"| · recover (decision → service back) | {_seconds(card.recover_seconds)} | | |",
           f"| RPO (span of acknowledged writes lost) | {_seconds(card.rpo_seconds)} | "
           f"{_seconds(card.rpo_target_seconds)} | {_verdict(card.rpo_seconds, card.rpo_target_seconds)} |",
           f"| canary writes acknowledged | {card.canary_writes} | | |",
           f"| canary writes lost | {card.lost_writes} | | |",
           f"| corrupted / unreadable | {card.corrupted_writes} / {card.unreadable_writes} | | |",
           f"| writes never acknowledged (not losses) | {card.failed_writes} | | |"]
    if card.replication is not None:
        r = card.replication
        out.append(f"| replication as Azure reported it | state {r.replication_state or '–'}; storage last sync "
                   f"{r.storage_last_sync_time.isoformat() if r.storage_last_sync_time else '–'} | | |")
    out += ["", f"Outage started {card.outage_started_at.isoformat()}; "
            f"{sum(c.passed for c in card.criteria.values())} of {len(card.criteria)} criteria met.", "",
            "## Criteria", ""]
    out += [f"- {'✓' if c.passed else '✗'} **{name}** — {c.evidence}" for name, c in card.criteria.items()]
    return out + [""]


def _lost_writes(entry: Entry) -> list[str]:
    d = entry.data
    ids = d.get("lost_ids") or []
    out = ["## Lost canary writes", ""]
    if not ids:
        return out + [f"None: all {d.get('acknowledged')} acknowledged canary writes were read back from "
                      f"{d.get('region')}.", ""]
    out += [f"{len(ids)} of {d.get('acknowledged')} acknowledged canary writes were not on the new primary "
            f"({d.get('region')}) when read back:", "", "| seq | write id | acknowledged (plan time) |", "|---|---|---|"]
    details = {w.get("id"): w for w in d.get("lost_writes") or []}
    for write_id in ids:
        w = details.get(write_id, {})
        out.append(f"| {w.get('seq', '')} | `{write_id}` | {w.get('acked_at', '')} |")
    return out + [""]


def _actions(entries: list[Entry]) -> list[str]:
    steps = [e for e in entries if e.kind in ("step_finished", "undo_finished", "failback_deferred")]
    if not steps:
        return []
    out = ["## Failover and failback actions", "", "| time | phase | action | status | detail |", "|---|---|---|---|---|"]
    for e in steps:
        status = "deferred" if e.kind == "failback_deferred" else e.data.get("status")
        what = f"undo: {e.step}" if e.kind == "undo_finished" else e.step
        out.append(f"| {_t(e)} | {e.phase or ''} | {_cell(what)} | {status} | "
                   f"{_cell(e.data.get('detail') or e.data.get('reason'), 400)} |")
    return out + [""]


def _decisions(entries: list[Entry]) -> list[str]:
    rows = [e for e in entries if e.kind in ("decision", "hold_started", "human_input")]
    if not rows:
        return []
    out = ["## Decisions", "", "| time | what | by | why |", "|---|---|---|---|"]
    for e in rows:
        what = {"decision": e.data.get("action"), "human_input": f"answer: {e.data.get('action')}",
                "hold_started": f"hold for a person (default {e.data.get('default')})"}[e.kind]
        out.append(f"| {_t(e)} | {what} | {e.data.get('by', 'odin')} | {_cell(e.data.get('reason'), 400)} |")
    return out + [""]


def _checks(entries: list[Entry]) -> list[str]:
    out: list[str] = []
    for e in entries:
        if e.kind == "failover_check":
            mark = "⚠ worse than before the outage" if e.data.get("verdict") == "worse" else "✓ not worse than before"
            out.append(f"- {_t(e)} failover check: **{mark}** — {e.data.get('reason')}")
        elif e.kind == "replication":
            groups = "; ".join(f"{n}: primary {v.get('primary_region')}, {v.get('replication_state')}"
                               for n, v in (e.data.get("failover_groups") or {}).items())
            accounts = "; ".join(f"{n}: primary {v.get('primary_region')}, {v.get('sku')}, geo-replication "
                                 f"{v.get('geo_replication') or '–'}, last sync {v.get('last_sync_time') or '–'}"
                                 for n, v in (e.data.get("storage_accounts") or {}).items())
            errors = "; ".join(e.data.get("errors") or [])
            text = " | ".join(t for t in (groups, accounts, errors) if t) or "nothing to read"
            out.append(f"- {_t(e)} replication ({e.phase}): {_cell(text, 600)}")
        elif e.kind == "smoke":
            report = e.data.get("report") or {}
            failed = [r.get("name") for r in report.get("results", []) if not r.get("passed")]
            out.append(f"- {_t(e)} smoke {e.step} ({e.phase}): "
                       + (f"failing: {', '.join(failed)}" if failed else f"{len(report.get('results', []))} passed"))
    return (["## Validation", ""] + out + [""]) if out else []


def _messages(entries: list[Entry]) -> list[str]:
    rows = [e for e in entries if e.kind == "comms"]
    if not rows:
        return []
    out = ["## Stakeholder messages", "", "| time | channel | message | T+ | status |", "|---|---|---|---|---|"]
    for e in rows:
        minute = e.data.get("minute")
        out.append(f"| {_t(e)} | {e.data.get('channel')} | {e.data.get('template')} | "
                   f"{'' if minute is None else minute} | {e.data.get('status')} |")
    return out + [""]


def _timeline(entries: list[Entry]) -> list[str]:
    out = ["## Timeline", "", "| time | phase | event | step | detail |", "|---|---|---|---|---|"]
    for e in entries:
        if e.kind not in TIMELINE_KINDS:
            continue
        d = e.data
        if e.kind == "step_finished":
            detail = f"{d.get('status')}: {d.get('detail')}"
        elif e.kind == "note":
            detail = d.get("message")
        elif e.kind == "lock":
            detail = f"{d.get('action')} {d.get('environment')}"
        elif e.kind == "data_loss":
            detail = f"{d.get('lost')} of {d.get('acknowledged')} acknowledged canary writes lost"
        else:
            keep = {k: v for k, v in d.items() if k not in ("output", "undo", "report", "acknowledged_ids",
                                                             "lost_ids", "lost_writes", "options", "phases")}
            detail = ", ".join(f"{k}={v}" for k, v in keep.items())
        out.append(f"| {_t(e)} | {e.phase or ''} | {e.kind} | {_cell(e.step)} | {_cell(detail, 300)} |")
    return out + [""]


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
