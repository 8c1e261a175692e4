"""The HTML report: one self-contained page, rendered from the journal alone.

``render_html(entries, title=..., scorecard=...)`` returns a complete HTML document: inline CSS,
inline SVG charts (``odin_drills.reports.charts``), no JavaScript, no external resources, so it can be mailed,
attached to a ticket or opened from a file share as is. Sections appear when the journal has data
for them:

  summary        plan, migration, environment, outcome badge, time scale, counts
  DR drill       with a ``scorecard``: RTO and RPO against their targets, canary/lost writes,
                 the success criteria as a ✓/✗ checklist, any other scorecard fields
  retrospective  with a drill's ``retro``: gaps found, recurring gaps, the trend since the last
                 drill, and the action table (gap, action, owner, due, procedure updated) left blank
  baseline       the latest ``baseline`` entry
  timeline       phases, steps (coloured by status), gate windows (coloured by decision), holds,
                 decisions and rollback markers on a plan-time axis; a zoom per phase
  gate charts    error rate and p95 latency of every gate evaluation over time, with the
                 baseline and its watch / hold / rollback multiples from the journalled policy
  gate table     every evaluation with every number the ladder used, and its reasons
  decisions      decision, hold_started, human_input, rollback_started/finished: what, who, why
  messages       notify / comms entries and notify steps; undo results and undo-plan checks
  events         the whole journal as a table (long runs of gate windows folded into one row)

This module prepares the data of each section (rows, numbers, chart SVG); the markup is in
``templates/report.html.j2`` and the ``section_*.html.j2`` it includes, rendered with autoescape.
Journal text is untrusted: every string shown is redacted (``odin_drills.steps.redact``; the journal
redacts on write, this is defence in depth) and escaped by the template. Times are plan time, UTC.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from markupsafe import Markup

from odin_drills.reports.charts import Point, gauge_svg, series_svg, timeline_svg
from odin_drills.reports.formatting import (
    DECISION_COLOURS, GREY, HOLD_COLOUR, HUMAN_COLOUR, OUTCOMES, STATUS_COLOURS, as_dict, as_list, full_time, integer,
    evidence, ms, num, pct, plain, ratio, seconds, short_time, text, ts, verified_as,
)
from odin_drills.reports.people import people_html
from odin_drills.reports.readiness import readiness_html
from odin_drills.reports.journal_view import (
    Gate, gate_title, lanes, metric_fmt, metric_keys, metric_label, policy_summary, read_gates, thresholds,
)
from odin_drills.reports.templating import (
    BR, Cell, Piece, badge, decision_badge, delivery_badge, render, status_badge,
)
from odin_drills.steps.journal import Entry
from odin_drills.steps.redact import redact

DECISION_KINDS = ("decision", "hold_started", "hold_interrupted", "human_input", "rollback_started",
                  "rollback_finished")
MESSAGE_KINDS = ("notify", "comms")
FOLD_GATES = 4  # a run of more gate windows than this in one step is one row of the event table
DEDUPE_REASONS_FROM = 40
"""With more gate evaluations than this, a reason repeated word for word from an earlier window of the
same step is written as a link to the row that has it in full: it keeps a 500-window report small."""

SECTION_TITLES = (
    ("summary", "Summary"), ("scorecard", "DR drill"), ("retrospective", "Retrospective"), ("baseline", "Baseline"),
    ("readiness", "Readiness"),
    ("timeline", "Timeline"),
    ("gate-charts", "Gate charts"), ("gates", "Gate table"), ("decisions", "Decisions"),
    ("messages", "Messages"), ("undo", "Undo"), ("people", "People and reviews"), ("events", "Events"),
)

Context = dict[str, Any] | None
"""A section's data for its template; None when the journal has nothing for it."""


def _time_cell(entry: Entry) -> Cell:
    return Cell("t", short_time(entry.time))


# ---------------------------------------------------------------- summary, scorecard, baseline

def _summary(entries: list[Entry], gates: list[Gate]) -> Context:
    runs = [e for e in entries if e.kind == "run_started"]
    finished = [e for e in entries if e.kind == "run_finished"]
    started = runs[0] if runs else None
    last = finished[-1] if finished else None
    rows: list[tuple[str, Any]] = []
    if started:
        d = started.data
        rows += [("Plan", plain(d.get("plan"))), ("Migration", Piece("code", plain(d.get("migration")))),
                 ("Environment", plain(d.get("environment")) or "–")]
        if d.get("mode"):
            rows.append(("Mode", plain(d.get("mode"))))
        phases = ", ".join("/".join(str(p) for p in as_list(r.data.get("phases"))) or "?" for r in runs)
        rows.append(("Runs", f"{len(runs)} (phases: {phases})"))
        scale = num(d.get("time_scale"))
        rows.append(("Time scale", [f"{scale:g}×" if scale is not None else "–", " ",
                                    Piece("muted", "(all times are plan time, UTC)")]))
    for e in (e for e in entries if e.kind == "emergency"):  # the override of an exhausted budget, on record
        who = f"by {plain(e.data.get('by'))} ({plain(e.data.get('source'))}): "
        rows.append(("Emergency", [badge("emergency", DECISION_COLOURS["rollback"]), " ", who,
                                   text(e.data.get("reason"), 600)]))
    if entries:
        first_t, last_t = entries[0].time, entries[-1].time
        rows.append(("Plan time", f"{full_time(first_t)} → {full_time(last_t)} ({seconds(ts(last_t) - ts(first_t))})"))
        rows.append(("Wall clock", f"{full_time(entries[0].wall)} → {full_time(entries[-1].wall)}"))
    if last:
        outcome = str(last.data.get("outcome") or "")
        short, colour, meaning = OUTCOMES.get(outcome, (outcome or "unknown", GREY, outcome))
        cell = [badge(short, colour, big=True), " ", meaning, " ",
                Piece("muted", f"(exit code {plain(last.data.get('exit_code'))})")]
        if last.data.get("detail"):
            cell += [BR, Piece("small", text(last.data.get("detail"), 2000))]
        rows.append(("Outcome", cell))
    elif started:
        rows.append(("Outcome", [badge("unfinished", GREY, big=True),
                                 " no run_finished entry: the run is still going or crashed."]))
    if gates:
        counts = sorted(Counter(str(g.decision) for g in gates).items(), key=lambda kv: -kv[1])
        cell: list[Any] = [f"{len(gates)}: "]
        for i, (decision, count) in enumerate(counts):
            cell += ([" "] if i else []) + [decision_badge(decision), f" {count}"]
        rows.append(("Gate evaluations", cell))
    decisions = sum(1 for e in entries if e.kind in DECISION_KINDS)
    if decisions:
        rows.append(("Decisions", str(decisions)))
    rows.append(("Journal entries", str(len(entries))))
    return {"rows": rows}


def _scorecard(card: dict[str, Any]) -> Context:
    criteria = as_dict(card.get("criteria"))
    verdicts = list(criteria.values())
    rows: list[tuple[str, Any]] = []
    for name, key in (("RTO", "rto"), ("RPO", "rpo")):
        value, target = card.get(f"{key}_seconds"), card.get(f"{key}_target_seconds")
        if value is None and target is None:
            continue
        v, t = num(value), num(target)
        verdict = "–" if v is None or t is None else (Piece("pass", "✓ within target") if v <= t
                                                      else Piece("fail", "✗ over target"))
        gauge = gauge_svg(v, t, label=f"{name} {seconds(v)}", fmt=seconds)
        rows.append((name, [seconds(value), " ", Piece("muted", f"target {seconds(target)}"), " ", verdict, gauge]))
    if "canary_writes" in card or "lost_writes" in card:
        lost = num(card.get("lost_writes"))
        mark = "" if lost is None else (Piece("pass", "✓") if lost == 0 else Piece("fail", "✗"))
        rows.append(("Canary writes", [f"{integer(card.get('canary_writes'))} written, "
                                       f"{integer(card.get('lost_writes'))} lost ", mark]))
    known = {"rto_seconds", "rto_target_seconds", "rpo_seconds", "rpo_target_seconds", "canary_writes", "lost_writes",
             "criteria"}
    extra = redact({k: v for k, v in card.items() if k not in known})
    return {
        "passed": all(v is True for v in verdicts) if criteria else None,
        "met": sum(v is True for v in verdicts), "total": len(verdicts),
        "rows": rows,
        "criteria": [(str(name), ok if isinstance(ok, bool) else None, text(ok, 200) or "not measured")
                     for name, ok in criteria.items()],
        "extra": [(str(k), text(v, 2000)) for k, v in extra.items()],
    }


def _baseline(entries: list[Entry]) -> Context:
    baseline = next((e for e in reversed(entries) if e.kind == "baseline"), None)
    if baseline is None:
        return None
    snap = as_dict(baseline.data.get("snapshot"))
    lat = as_dict(snap.get("latency_ms"))
    requests, errors = num(snap.get("requests")), num(snap.get("errors"))
    rate = errors / requests if requests and errors is not None else None
    window = num(baseline.data.get("window_seconds"))
    rows: list[tuple[str, Any]] = [
        ("Captured", full_time(baseline.time) + (f" over {seconds(window)}" if window else "")),
        ("Requests", integer(snap.get("requests"))),
        ("Errors", f"{integer(snap.get('errors'))} ({pct(rate)})"),
        ("Latency", f"p50 {ms(lat.get('p50'))} · p95 {ms(lat.get('p95'))} · p99 {ms(lat.get('p99'))}"),
    ]
    if snap.get("started_at") or snap.get("ended_at"):
        rows.append(("Window", f"{snap.get('started_at') or '?'} → {snap.get('ended_at') or '?'}"))
    if snap.get("source"):
        rows.append(("Source", plain(snap.get("source"))))
    return {"rows": rows}


# ---------------------------------------------------------------- timeline and gate charts

def _timeline(entries: list[Entry], gates: list[Gate]) -> Context:
    phase_lanes, markers = lanes(entries, gates)
    if not phase_lanes:
        return None
    rows = [r for lane in phase_lanes for r in lane.rows()]
    zooms = []
    if len(phase_lanes) > 1:
        for lane in phase_lanes:
            if not (lane.steps or lane.gates or lane.holds):
                continue
            lane_markers = [m for name, m in markers if name == lane.name]
            windows = sum(1 for g in gates if not g.aggregate and (g.entry.phase or "(no phase)") == lane.name)
            counts = [(len(lane.steps), "step"), (windows, "gate window"), (len(lane.holds), "hold"),
                      (len(lane_markers), "marker")]
            what = ", ".join(f"{count} {noun}{'s' if count != 1 else ''}" for count, noun in counts if count)
            zooms.append((f"phase {lane.name} ({what})",
                          timeline_svg(lane.rows(), lane_markers, caption=f"phase {lane.name}")))
    legend = ([("step ok", STATUS_COLOURS["ok"]), ("step failed", STATUS_COLOURS["failed"]),
               ("noop / skipped", STATUS_COLOURS["noop"]), ("unfinished", STATUS_COLOURS["unfinished"]),
               ("hold / approval", HOLD_COLOUR), ("human decision", HUMAN_COLOUR)]
              + [(f"gate {k}", c) for k, c in DECISION_COLOURS.items()])
    return {"svg": timeline_svg(rows, [m for _, m in markers],
                                caption="phases, steps, gate windows and decisions over plan time"),
            "legend": legend, "zooms": zooms}


def _gate_charts(entries: list[Entry], gates: list[Gate]) -> Context:
    keys = [k for k in metric_keys(gates) if k in ("error_rate", "latency_p95_ms")]
    if not keys:
        return None
    ladder = thresholds(entries)
    charts: list[tuple[str, Markup]] = []
    for key in keys:
        points, baselines = [], []
        for g in gates:
            m = g.metrics.get(key)
            if not m:
                continue
            current = num(m.get("current"))
            baselines.append((g.end, num(m.get("baseline"))))
            if current is None:
                continue
            points.append(Point(g.end, current, DECISION_COLOURS.get(str(g.decision), GREY), gate_title(g),
                                aggregate=g.aggregate, group=f"{g.entry.phase}"))
        if not points and not baselines:
            continue
        if key == "error_rate":
            svg = series_svg(points, baselines, fmt=lambda v: pct(v).replace(" ", ""), min_top=0.01,
                             ratios=ladder.lines, caption="error rate per gate evaluation (current window)")
        else:
            svg = series_svg(points, baselines, fmt=lambda v: ms(v).replace(" ", ""), min_top=10.0,
                             ratios=ladder.lines, caption=f"{metric_label(key)} per gate evaluation (current window)")
        charts.append((key, svg))
    present = sorted({str(g.decision) for g in gates},
                     key=lambda d: list(DECISION_COLOURS).index(d) if d in DECISION_COLOURS else 99)
    return {"charts": charts, "legend": [(d, DECISION_COLOURS.get(d, GREY)) for d in present],
            "thresholds": ladder.sentence, "source": ladder.source}


# ---------------------------------------------------------------- the gate table

def _gate_table(gates: list[Gate]) -> Context:
    """Every evaluation: a row of numbers, its reasons on the line under it; a heading per run of one step."""
    if not gates:
        return None
    keys = metric_keys(gates)
    columns = [(metric_label(key), ["baseline", "current", "ratio", "evidence"]
                + (["min detectable"] if key == "error_rate" else [])) for key in keys]
    width = 5 + sum(len(cols) for _, cols in columns)
    dedupe = len(gates) > DEDUPE_REASONS_FROM
    written: dict[tuple[Any, Any, str], int] = {}  # (phase, step, reason) -> the row that has it in full
    groups: list[dict[str, Any]] = []
    for g in gates:
        e = g.entry
        if not groups or (groups[-1]["phase"], groups[-1]["step"]) != (e.phase, e.step):
            groups.append({"phase": e.phase, "step": e.step, "rows": []})
        cells: list[Any] = [str(g.index), short_time(e.time), plain(g.window), integer(g.snapshot.get("requests")),
                            decision_badge(g.decision)]
        for key in keys:
            m = g.metrics.get(key) or {}
            fmt = metric_fmt(key)
            cells += [fmt(m.get("baseline")), fmt(m.get("current")), ratio(m.get("ratio")), evidence(as_dict(g.entry.data).get("decision"), key)]
            if key == "error_rate":
                cells.append(ratio(m.get("min_detectable_ratio")))
        reasons: list[Any] = []
        for reason in g.reasons:
            where = (e.phase, e.step, reason)
            if dedupe and len(reason) >= 80 and where in written:
                reasons.append(Piece("same", written[where]))
            else:
                written.setdefault(where, g.index)
                reasons.append(reason)
        groups[-1]["rows"].append({"index": g.index, "cells": cells, "reasons": reasons})
    return {"columns": columns, "width": width, "dedupe": dedupe, "groups": groups}


# ---------------------------------------------------------------- decisions, messages, undo

def _decisions(entries: list[Entry]) -> Context:
    rows = []
    for e in entries:
        if e.kind not in DECISION_KINDS:
            continue
        d = e.data or {}
        if e.kind in ("decision", "human_input"):
            action = str(d.get("action") or "?")
            what: list[Any] = [decision_badge(action) if action in DECISION_COLOURS else badge(action, HUMAN_COLOUR)]
            if e.kind == "human_input":
                what.insert(0, "answer: ")
        elif e.kind == "hold_started":
            what = [badge(d.get("hold") or "hold", HOLD_COLOUR), f" default {plain(d.get('default'))}"]
            if d.get("deadline"):
                what += [" ", Piece("note", f"until {d.get('deadline')}")]
        elif e.kind == "hold_interrupted":
            what = [badge(f"{d.get('hold') or 'hold'} interrupted", HOLD_COLOUR),
                    f" by {plain(d.get('signal'))}, undecided", " ", Piece("note", f"until {d.get('deadline')}")]
        elif e.kind == "rollback_started":
            what = [badge("rollback started", "#c62828")]
        else:
            healthy = bool(d.get("healthy"))
            what = [badge("rolled back, " + ("healthy" if healthy else "still degraded"),
                          "#2e7d32" if healthy else "#e65100")]
        why = d.get("reason") or d.get("detail") or ""
        rows.append([_time_cell(e), plain(e.phase), plain(e.step), what, Piece("b", plain(d.get("by") or "odin")),
                     plain(verified_as(e)), Cell("why", text(why, 4000))])
    return {"rows": rows} if rows else None


def _messages(entries: list[Entry]) -> Context:
    rows = []
    step_kinds = {(e.phase, e.step): e.data.get("step_kind") for e in entries if e.kind == "step_started"}
    for e in entries:
        d = e.data or {}
        if e.kind in MESSAGE_KINDS:
            to = d.get("to") or d.get("recipients") or d.get("url") or d.get("audience")
            message = d.get("text") or d.get("message") or d.get("summary") or d.get("detail")
            rows.append([_time_cell(e), plain(e.phase), plain(e.step), e.kind,
                         plain(d.get("channel") or ("webhook" if d.get("url") else "")), plain(d.get("template")),
                         text(to, 300), delivery_badge(d.get("status")), Cell("why", text(message, 4000))])
        elif e.kind == "step_finished" and step_kinds.get((e.phase, e.step)) == "notify":
            output = as_dict(d.get("output"))
            why: list[Any] = [text(output.get("message") or "", 4000)]
            if d.get("detail"):
                why += [BR, Piece("note", text(d.get("detail"), 500))]
            rows.append([_time_cell(e), plain(e.phase), plain(e.step), "notify step", "webhook", "", "",
                         status_badge(d.get("status")), Cell("why", why)])
    return {"rows": rows} if rows else None


def _undo(entries: list[Entry]) -> Context:
    checks = [e for e in entries if e.kind == "undo_check"]
    undos = [e for e in entries if e.kind == "undo_finished"]
    if not checks and not undos:
        return None
    return {
        "ok": sum(1 for e in undos if e.data.get("status") == "ok"), "count": len(undos),
        "undos": [[_time_cell(e), plain(e.phase), plain(e.step), status_badge(e.data.get("status")),
                   Cell("n", integer(e.data.get("attempts"))), Cell("why", text(e.data.get("detail"), 4000))]
                  for e in undos],
        "checks": [[_time_cell(e), plain(e.step), status_badge(e.data.get("status")),
                    Cell("why", text(e.data.get("detail") or e.data.get("reason"), 2000))] for e in checks],
    }


# ---------------------------------------------------------------- the event table

_BULKY = ("snapshot", "report", "decision", "output", "undo", "spec", "prior", "observed", "continuation_token",
          "items")  # items: a readiness review's 32 rows are its own section


def _detail(e: Entry, gate_index: dict[int, int]) -> Any:
    """The event table's detail cell of one entry, as rich text."""
    d = e.data or {}
    k = e.kind
    if k == "run_started":
        phases = "/".join(str(p) for p in as_list(d.get("phases")))
        return (f"plan {d.get('plan')}, migration {d.get('migration')}, phases {phases}, "
                f"environment {d.get('environment')}, time scale {d.get('time_scale')}")
    if k == "phase_finished":
        return plain(d.get("outcome"))
    if k == "step_started":
        return f"{d.get('step_kind') or ''}{', changes the world' if d.get('changes_world') else ''}"
    if k == "step_finished":
        undo = d.get("undo")
        extra = f" (undo: {undo.get('kind')})" if isinstance(undo, dict) and undo.get("kind") else ""
        return [status_badge(d.get("status")), f" {text(d.get('detail'), 400)}{extra}"]
    if k == "smoke":
        return f"critical failed {d.get('critical_failed')}, non-critical failed {d.get('noncritical_failed')}"
    if k == "baseline":
        snap = as_dict(d.get("snapshot"))
        lat = as_dict(snap.get("latency_ms"))
        return f"{snap.get('requests')} requests, {snap.get('errors')} errors, p95 {ms(lat.get('p95'))}"
    if k == "gate":
        index = gate_index.get(e.seq)
        decision = as_dict(d.get("decision"))
        metrics = as_dict(decision.get("metrics"))
        err = as_dict(metrics.get("error_rate"))
        lat = as_dict(metrics.get("latency_p95_ms"))
        link = Piece("link", f"gate #{index}", href=f"g{index}") if index else "gate"
        return [link, f" window {plain(d.get('window'))}: ", decision_badge(decision.get("decision")),
                f" errors {pct(err.get('current'))} ({ratio(err.get('ratio'))}), p95 {ms(lat.get('current'))} "
                f"({ratio(lat.get('ratio'))})"]
    if k in ("decision", "human_input"):
        verified = f" (verified as {plain(verified_as(e))})" if k == "human_input" else ""
        return [f"{plain(d.get('action'))} by ", Piece("b", plain(d.get("by") or "odin")),
                f"{verified}: {text(d.get('reason'), 400)}"]
    if k == "hold_started":
        return (f"{d.get('hold') or 'hold'}, default {d.get('default')}, deadline {d.get('deadline')}: "
                + text(d.get("reason"), 400))
    if k == "undo_started":
        return f"undo of entry {d.get('undo_of')}"
    if k == "undo_finished":
        return [status_badge(d.get("status")), f" after {plain(d.get('attempts'))} attempt(s): "
                                               f"{text(d.get('detail'), 400)}"]
    if k == "undo_check":
        return [status_badge(d.get("status")), " " + text(d.get("detail") or d.get("reason"), 400)]
    if k == "rollback_started":
        return text(d.get("reason"), 400)
    if k == "rollback_finished":
        return ("healthy" if d.get("healthy") else "still degraded") + f": {d.get('detail') or ''}"
    if k == "lock":
        return f"{d.get('action')} {d.get('environment')}"
    if k in MESSAGE_KINDS:
        return (f"{d.get('channel') or d.get('url') or ''} {d.get('template') or ''} {d.get('status') or ''}: "
                + text(d.get("text") or d.get("message") or "", 300))
    if k == "note":
        return text(d.get("message"), 600)
    if k == "policy":
        return policy_summary(d)
    if k == "run_finished":
        return f"{d.get('outcome')} (exit {d.get('exit_code')})" + (
            f": {text(d.get('detail'), 400)}" if d.get("detail") else "")
    keep = redact({key: value for key, value in d.items() if key not in _BULKY})
    return text(", ".join(f"{key}={value}" for key, value in keep.items()), 300)


def _events(entries: list[Entry], gates: list[Gate]) -> Context:
    if not entries:
        return None
    gate_index = {g.entry.seq: g.index for g in gates}
    rows = []
    i = 0
    while i < len(entries):
        e = entries[i]
        if e.kind in ("gate", "smoke"):
            j = i
            while j < len(entries) and entries[j].kind in ("gate", "smoke") and \
                    (entries[j].phase, entries[j].step) == (e.phase, e.step):
                j += 1
            run = entries[i:j]
            run_gates = [x for x in run if x.kind == "gate"]
            if len(run_gates) > FOLD_GATES:
                first, last = gate_index.get(run_gates[0].seq), gate_index.get(run_gates[-1].seq)
                counts = Counter(str(as_dict((x.data or {}).get("decision")).get("decision")) for x in run_gates)
                smokes = [x for x in run if x.kind == "smoke"]
                failing = sum(1 for x in smokes
                              if (x.data or {}).get("critical_failed") or (x.data or {}).get("noncritical_failed"))
                detail: list[Any] = [Piece("link", f"gates #{first}–#{last}", href=f"g{first}"),
                                     f": {len(run_gates)} evaluations, "]
                for n, (decision, count) in enumerate(counts.most_common()):
                    detail += ([", "] if n else []) + [decision_badge(decision), f" ×{count}"]
                if smokes:
                    detail.append(f"; {len(smokes)} smoke runs, {failing} with failing journeys")
                rows.append([_time_cell(e), plain(e.phase), f"gate ×{len(run_gates)}", plain(e.step), detail])
                i = j
                continue
        rows.append([_time_cell(e), plain(e.phase), e.kind, plain(e.step), _detail(e, gate_index)])
        i += 1
    return {"rows": rows, "count": len(entries), "fold": FOLD_GATES}


# ---------------------------------------------------------------- the page

def _retrospective(retro: dict[str, Any]) -> Context:
    """The retrospective's lists (``reports.retrospective``), redacted; each action a row of blank cells to fill in."""
    def lines(key: str) -> list[str]:
        return [text(line, 600) for line in as_list(retro.get(key))]

    return {"gaps": lines("gaps"), "recurring": lines("recurring"), "movement": lines("movement"),
            "actions": [(gap, "", "", "", "") for gap in lines("actions")]}


def render_html(entries: list[Entry], *, title: str | None = None, scorecard: dict | None = None,
                retro: dict[str, Any] | None = None) -> str:
    """A self-contained HTML report (inline CSS and SVG, no scripts, no external resources) of a journal;
    a drill's ``retro`` (``reports.retrospective.retrospective``) becomes its Retrospective section."""
    entries = [e if isinstance(e, Entry) else Entry.model_validate(e) for e in entries]
    gates = read_gates(entries)
    started = next((e for e in entries if e.kind == "run_started"), None)
    plan = started.data.get("plan") if started else None
    if title is None:
        kind = "DR drill report" if scorecard is not None else "Migration report"
        title = f"{kind}: {plan}" if plan else kind
    sections: dict[str, Context] = {
        "summary": _summary(entries, gates),
        "scorecard": _scorecard(scorecard) if isinstance(scorecard, dict) else None,
        "retrospective": _retrospective(retro) if isinstance(retro, dict) else None,
        "baseline": _baseline(entries),
        "readiness": readiness_html(entries),
        "timeline": _timeline(entries, gates),
        "gate-charts": _gate_charts(entries, gates),
        "gates": _gate_table(gates),
        "decisions": _decisions(entries),
        "messages": _messages(entries),
        "undo": _undo(entries), "people": people_html(entries),
        "events": _events(entries, gates),
    }
    return render("report.html.j2", title=str(title), sections=sections, titles=SECTION_TITLES,
                  entries=len(entries), up_to=full_time(entries[-1].time) if entries else None,
                  decision_colours=DECISION_COLOURS)
