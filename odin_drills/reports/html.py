"""The HTML report: one self-contained page, rendered from the journal alone.

``render_html(entries, title=..., scorecard=...)`` returns a complete HTML document: inline CSS,
inline SVG charts (``odin_drills.reports.charts``), no JavaScript, no external resources, so it can be mailed,
attached to a ticket or opened from a file share as is. Sections appear when the journal has data
for them:

  summary        plan, migration, environment, outcome badge, time scale, counts
  DR drill       with a ``scorecard``: RTO and RPO against their targets, canary/lost writes,
                 the success criteria as a ✓/✗ checklist, any other scorecard fields
  baseline       the latest ``baseline`` entry
  timeline       phases, steps (coloured by status), gate windows (coloured by decision), holds,
                 decisions and rollback markers on a plan-time axis; a zoom per phase
  gate charts    error rate and p95 latency of every gate evaluation over time, with the
                 baseline and its 1.1× / 1.5× / 2× lines
  gate table     every evaluation with every number the ladder used, and its reasons
  decisions      decision, hold_started, human_input, rollback_started/finished: what, who, why
  messages       notify / comms entries and notify steps; undo results and undo-plan checks
  events         the whole journal as a table (long runs of gate windows folded into one row)

Journal text is untrusted: every string shown is passed through ``odin_drills.steps.redact.redact_text`` (the
journal redacts on write; this is defence in depth) and ``html.escape``. Times are plan time, UTC.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from odin_drills.reports.charts import Bar, Marker, Point, Row, clip, esc, fmt_duration, gauge_svg, series_svg, timeline_svg
from odin_drills.steps.journal import Entry
from odin_drills.steps.redact import redact

OUTCOMES: dict[str, tuple[str, str, str]] = {
    "completed": ("completed", "#2e7d32", "Completed: the migration is declared done."),
    "rolled_back_healthy": ("rolled back, healthy", "#1565c0",
                            "Rolled back, healthy: every undo ran and the service is back within baseline."),
    "rolled_back_degraded": ("rolled back, degraded", "#e65100",
                             "Rolled back, still degraded: check the undo and re-check sections."),
    "failed": ("failed", "#c62828", "Failed: see the timeline."),
    "refused": ("refused", "#616161", "Refused before changing anything: see the last note."),
}
DECISION_COLOURS = {
    "proceed": "#2e7d32", "inconclusive": "#90a4ae", "watch": "#c29200", "hold": "#e65100",
    "rollback": "#c62828", "rollback_now": "#7f0000",
}
STATUS_COLOURS = {"ok": "#43a047", "failed": "#c62828", "noop": "#78909c", "skipped": "#b0bec5",
                  "unfinished": "#ffb300", "none": "#78909c", "unreachable": "#c62828"}
HUMAN_COLOUR = "#1565c0"
HOLD_COLOUR = "#ffb300"
DECISION_KINDS = ("decision", "hold_started", "human_input", "rollback_started", "rollback_finished")
MESSAGE_KINDS = ("notify", "comms")
FOLD_GATES = 4  # a run of more gate windows than this in one step is one row of the event table

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1c262b;margin:0;background:#f5f7f8}
main{max-width:1320px;margin:0 auto;padding:8px 24px 48px}
h1{font-size:24px;margin:20px 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid #cfd8dc;padding-bottom:3px}
h3{font-size:15px;margin:18px 0 6px}
nav{font-size:13px;margin:6px 0 14px}nav a{margin-right:12px;color:#1565c0;text-decoration:none}
section{background:#fff;border:1px solid #dde3e6;border-radius:6px;padding:2px 16px 14px;margin:14px 0}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0;width:100%}
th,td{border-bottom:1px solid #e4e9eb;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eef2f4;font-weight:600;white-space:nowrap}
tbody tr:hover{background:#f3f8fb}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.t{white-space:nowrap;font-variant-numeric:tabular-nums;color:#455a64}
td.why{min-width:260px;color:#37474f}
table.kv{width:auto}table.kv th{text-align:left;background:none;padding-right:18px}
.badge{display:inline-block;color:#fff;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;white-space:nowrap}
.badge.big{font-size:15px;padding:2px 12px;border-radius:12px}
.muted{color:#607d8b}.small{font-size:12px}
ul.check{list-style:none;padding-left:4px}ul.check li{margin:2px 0}
.pass{color:#2e7d32;font-weight:600}.fail{color:#c62828;font-weight:600}.unknown{color:#607d8b;font-weight:600}
.legend{font-size:12px;color:#455a64;margin:2px 0 10px}.legend span{margin-right:14px;white-space:nowrap}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px;vertical-align:-1px}
details{margin:6px 0}summary{cursor:pointer;color:#37474f}
svg.chart{width:100%;height:auto;display:block;margin:6px 0;font-size:10.5px}
svg.gauge{width:420px;max-width:100%;height:auto;display:block;font-size:10px}
svg .stripe{fill:#f4f7f8}svg .gap{fill:#e3e8eb}svg .gapl{fill:#546e7a;text-anchor:middle;font-size:10px}
svg .grid{stroke:#e2e7ea;stroke-width:1}svg .hgrid{stroke:#eceff1;stroke-width:1}svg .axis{stroke:#90a4ae}
svg .tick{fill:#546e7a;text-anchor:middle}svg .ytick{fill:#546e7a;text-anchor:end}
svg .rl{fill:#263238}svg .b{font-weight:600}svg .ml{font-size:10px;font-weight:600}
svg .ct{font-weight:600;font-size:12px;fill:#263238}svg .rlab{font-size:10.5px;font-weight:600}
svg .val{fill:none;stroke:#607d8b;stroke-width:1.2}svg .base{stroke-width:1.6}svg .ref{stroke-width:1.2}
svg .note{fill:#b71c1c;font-size:10.5px}
table.gt td{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
table.gt td:nth-child(-n+3),table.gt td:nth-child(5){text-align:left}
table.gt tr+tr td{text-align:left;white-space:normal;color:#37474f;font-size:12px;padding:0 6px 5px 38px}
table.gt tbody.grp th{background:#e3ebef;text-align:left;padding-top:6px}
table.gt tbody{border-bottom:1px solid #d5dde1}table.gt tbody td{border-bottom:none}
table.gt tbody:target{background:#fff8e1}table.gt tbody:hover{background:#f3f8fb}
.scroll{overflow-x:auto}
b.bg{display:inline-block;color:#fff;border-radius:10px;padding:0 8px;font-size:12px;white-space:nowrap}
i.same{color:#78909c}
""" + "".join(f"b.bg.{name}{{background:{colour}}}" for name, colour in DECISION_COLOURS.items()) + "\n"


# ---------------------------------------------------------------- small formatting helpers (all return safe HTML)

def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _pct(value: Any) -> str:
    v = _float(value)
    if v is None:
        return "–"
    pct = v * 100
    return f"{pct:.2f} %" if pct == 0 or abs(pct) >= 0.01 else f"{pct:.2g} %"


def _ms(value: Any) -> str:
    v = _float(value)
    if v is None:
        return "–"
    return f"{v:.0f} ms" if abs(v) >= 100 or v == int(v) else f"{v:.1f} ms"


def _ratio(value: Any) -> str:
    v = _float(value)
    return "–" if v is None else f"{v:.2f}×"


def _p(value: Any) -> str:
    v = _float(value)
    if v is None:
        return "–"
    return f"{v:.1e}" if 0 < v < 0.001 else f"{v:.3f}"


def _int(value: Any) -> str:
    v = _float(value)
    if v is None:
        return "–" if value is None else esc(value)
    return f"{int(v):,}" if v == int(v) else f"{v:g}"


def _text(value: Any, limit: int | None = None) -> str:
    if value is None or value == "":
        return ""
    text = value if isinstance(value, str) else json.dumps(redact(value), default=str, ensure_ascii=False)
    return esc(clip(text, limit) if limit else text)


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else ([] if value is None else [value])


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _ts(moment: datetime) -> float:
    return _aware(moment).timestamp()


def _parse_time(value: Any) -> float | None:
    if isinstance(value, datetime):
        return _ts(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return _ts(datetime.fromisoformat(value))
    except ValueError:
        return None


def _short_time(moment: datetime) -> str:
    return f"{_aware(moment).astimezone(timezone.utc):%m-%d %H:%M:%S}"


def _full_time(moment: datetime) -> str:
    return f"{_aware(moment).astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


def _badge(text: str, colour: str, big: bool = False) -> str:
    return f'<span class="badge{" big" if big else ""}" style="background:{esc(colour)}">{esc(text)}</span>'


def _decision_badge(decision: Any) -> str:
    """A decision as a coloured badge; known decisions by class (compact: hundreds of rows carry one)."""
    if not decision:
        return "–"
    if isinstance(decision, str) and decision in DECISION_COLOURS:
        return f'<b class="bg {decision}">{decision}</b>'
    return _badge(str(decision), "#607d8b")


def _status_badge(status: Any) -> str:
    if status is None:
        return "–"
    return _badge(str(status), STATUS_COLOURS.get(str(status), "#607d8b"))


Cell = str | tuple[str, str]
"""A table cell: safe HTML, or (css class, safe HTML)."""


def _table(headers: list[str], rows: list[list[Cell]]) -> str:
    out = ["<table><thead><tr>", "".join(f"<th>{h}</th>" for h in headers), "</tr></thead><tbody>"]
    for row in rows:
        cells = (f'<td class="{c[0]}">{c[1]}</td>' if isinstance(c, tuple) else f"<td>{c}</td>" for c in row)
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _num_cell(text: str) -> Cell:
    return ("n", text)


def _time_cell(moment: datetime) -> Cell:
    return ("t", esc(_short_time(moment)))


def _why_cell(text: str) -> Cell:
    return ("why", text)


def _legend(items: list[tuple[str, str]]) -> str:
    spans = "".join(f'<span><i class="dot" style="background:{esc(c)}"></i>{esc(label)}</span>' for label, c in items)
    return f'<div class="legend">{spans}</div>'


# ---------------------------------------------------------------- reading the journal

@dataclass
class Gate:
    index: int
    entry: Entry
    decision: str | None
    reasons: list[str]
    metrics: dict[str, dict[str, Any]]
    snapshot: dict[str, Any]
    window: Any
    start: float | None
    end: float

    @property
    def aggregate(self) -> bool:
        return self.window == "all"


def _gates(entries: list[Entry]) -> list[Gate]:
    out = []
    for e in entries:
        if e.kind != "gate":
            continue
        data = e.data or {}
        decision = _dict(data.get("decision"))
        snapshot = _dict(data.get("snapshot"))
        metrics = _dict(decision.get("metrics"))
        reasons = decision.get("reasons")
        reasons = [str(r) for r in reasons] if isinstance(reasons, list) else ([str(reasons)] if reasons else [])
        end = _parse_time(snapshot.get("ended_at")) or _ts(e.time)
        start = _parse_time(snapshot.get("started_at"))
        verdict = decision.get("decision")
        out.append(Gate(index=len(out) + 1, entry=e, decision=None if verdict is None else str(verdict), reasons=reasons,
                        metrics={k: v for k, v in metrics.items() if isinstance(v, dict)}, snapshot=snapshot,
                        window=data.get("window"), start=start if start is not None and start <= end else None, end=end))
    return out


def _metric_keys(gates: list[Gate]) -> list[str]:
    keys: list[str] = []
    for g in gates:
        for k in g.metrics:
            if k not in keys:
                keys.append(k)
    return sorted(keys, key=lambda k: (k != "error_rate", k))


def _metric_label(key: str) -> str:
    if key == "error_rate":
        return "error rate"
    if key.startswith("latency_") and key.endswith("_ms"):
        return key[len("latency_"):-len("_ms")] + " latency"
    return key.replace("_", " ")


def _metric_fmt(key: str):
    return _pct if key == "error_rate" else (_ms if key.endswith("_ms") else lambda v: "–" if _float(v) is None else f"{_float(v):.4g}")


# ---------------------------------------------------------------- sections

def _summary(entries: list[Entry], gates: list[Gate]) -> str:
    runs = [e for e in entries if e.kind == "run_started"]
    finished = [e for e in entries if e.kind == "run_finished"]
    started = runs[0] if runs else None
    last = finished[-1] if finished else None
    rows: list[tuple[str, str]] = []
    if started:
        d = started.data
        rows += [("Plan", esc(d.get("plan"))), ("Migration", f"<code>{esc(d.get('migration'))}</code>"),
                 ("Environment", esc(d.get("environment")) or "–")]
        if d.get("mode"):
            rows.append(("Mode", esc(d.get("mode"))))
        phases = ", ".join("/".join(str(p) for p in _list(r.data.get("phases"))) or "?" for r in runs)
        rows.append(("Runs", f"{len(runs)} (phases: {esc(phases)})"))
        scale = _float(d.get("time_scale"))
        rows.append(("Time scale", (f"{scale:g}×" if scale is not None else "–")
                     + ' <span class="muted">(all times are plan time, UTC)</span>'))
    if entries:
        first_t, last_t = entries[0].time, entries[-1].time
        rows.append(("Plan time", f"{esc(_full_time(first_t))} → {esc(_full_time(last_t))} "
                     f"({esc(fmt_duration(_ts(last_t) - _ts(first_t)))})"))
        rows.append(("Wall clock", f"{esc(_full_time(entries[0].wall))} → {esc(_full_time(entries[-1].wall))}"))
    if last:
        outcome = str(last.data.get("outcome") or "")
        short, colour, text = OUTCOMES.get(outcome, (outcome or "unknown", "#607d8b", outcome))
        cell = f"{_badge(short, colour, big=True)} {esc(text)} <span class=\"muted\">(exit code {esc(last.data.get('exit_code'))})</span>"
        if last.data.get("detail"):
            cell += f"<br><span class=\"small\">{_text(last.data.get('detail'), 2000)}</span>"
        rows.append(("Outcome", cell))
    elif started:
        rows.append(("Outcome", _badge("unfinished", "#607d8b", big=True) + " no run_finished entry: the run is still going or crashed."))
    if gates:
        counts = Counter(str(g.decision) for g in gates)
        rows.append(("Gate evaluations", f"{len(gates)}: " + " ".join(
            f"{_decision_badge(k)} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))))
    decisions = sum(1 for e in entries if e.kind in DECISION_KINDS)
    if decisions:
        rows.append(("Decisions", str(decisions)))
    rows.append(("Journal entries", str(len(entries))))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<section id="summary"><h2>Summary</h2><table class="kv"><tbody>{body}</tbody></table></section>'


def _seconds(value: Any) -> str:
    v = _float(value)
    return "–" if v is None else f"{fmt_duration(v)}"


def _scorecard(card: dict[str, Any]) -> str:
    out = ['<section id="scorecard"><h2>DR drill scorecard</h2>']
    criteria = _dict(card.get("criteria"))
    verdicts = [v for v in criteria.values()]
    if criteria:
        passed = all(v is True for v in verdicts)
        out.append("<p>" + (_badge("drill passed", "#2e7d32", big=True) if passed else _badge("drill failed", "#c62828", big=True))
                   + f' <span class="muted">{sum(v is True for v in verdicts)} of {len(verdicts)} criteria met</span></p>')
    rows = []
    for name, key in (("RTO", "rto"), ("RPO", "rpo")):
        value, target = card.get(f"{key}_seconds"), card.get(f"{key}_target_seconds")
        if value is None and target is None:
            continue
        v, t = _float(value), _float(target)
        verdict = "–" if v is None or t is None else ('<span class="pass">✓ within target</span>' if v <= t
                                                      else '<span class="fail">✗ over target</span>')
        gauge = gauge_svg(v, t, label=f"{name} {_seconds(v)}", fmt=_seconds)
        rows.append(f"<tr><th>{name}</th><td>{esc(_seconds(value))} <span class=\"muted\">target {esc(_seconds(target))}</span> "
                    f"{verdict}{gauge}</td></tr>")
    if "canary_writes" in card or "lost_writes" in card:
        lost = _float(card.get("lost_writes"))
        mark = "" if lost is None else ('<span class="pass">✓</span>' if lost == 0 else '<span class="fail">✗</span>')
        rows.append(f"<tr><th>Canary writes</th><td>{_int(card.get('canary_writes'))} written, "
                    f"{_int(card.get('lost_writes'))} lost {mark}</td></tr>")
    if rows:
        out.append('<table class="kv"><tbody>' + "".join(rows) + "</tbody></table>")
    if criteria:
        out.append("<h3>Success criteria</h3><ul class=\"check\">")
        for name, ok in criteria.items():
            if ok is True:
                out.append(f'<li class="pass" data-pass="true">✓ <span>{esc(name)}</span></li>')
            elif ok is False:
                out.append(f'<li class="fail" data-pass="false">✗ <span>{esc(name)}</span></li>')
            else:
                out.append(f'<li class="unknown" data-pass="unknown">? <span>{esc(name)}</span> '
                           f'<span class="muted">({_text(ok, 200) or "not measured"})</span></li>')
        out.append("</ul>")
    known = {"rto_seconds", "rto_target_seconds", "rpo_seconds", "rpo_target_seconds", "canary_writes", "lost_writes",
             "criteria"}
    extra = redact({k: v for k, v in card.items() if k not in known})
    if extra:
        out.append("<h3>Other measurements</h3>")
        out.append(_table(["field", "value"], [[esc(k), _text(v, 2000)] for k, v in extra.items()]).replace(
            "<table>", '<table class="kv">', 1))
    out.append("</section>")
    return "".join(out)


def _baseline(entries: list[Entry]) -> str:
    baseline = next((e for e in reversed(entries) if e.kind == "baseline"), None)
    if baseline is None:
        return ""
    snap = _dict(baseline.data.get("snapshot"))
    lat = _dict(snap.get("latency_ms"))
    requests, errors = _float(snap.get("requests")), _float(snap.get("errors"))
    rate = errors / requests if requests and errors is not None else None
    window = _float(baseline.data.get("window_seconds"))
    rows = [
        ("Captured", esc(_full_time(baseline.time)) + (f" over {esc(fmt_duration(window))}" if window else "")),
        ("Requests", _int(snap.get("requests"))),
        ("Errors", f"{_int(snap.get('errors'))} ({_pct(rate)})"),
        ("Latency", f"p50 {_ms(lat.get('p50'))} · p95 {_ms(lat.get('p95'))} · p99 {_ms(lat.get('p99'))}"),
    ]
    if snap.get("started_at") or snap.get("ended_at"):
        rows.append(("Window", f"{esc(snap.get('started_at') or '?')} → {esc(snap.get('ended_at') or '?')}"))
    if snap.get("source"):
        rows.append(("Source", esc(snap.get("source"))))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<section id="baseline"><h2>Baseline</h2><table class="kv"><tbody>{body}</tbody></table></section>'


# ---------------------------------------------------------------- timeline chart

@dataclass
class _PhaseLane:
    name: str
    bars: list[Bar]
    steps: dict[str, list[Bar]]
    gates: list[Bar]
    holds: list[Bar]


def _lanes(entries: list[Entry], gates: list[Gate]) -> tuple[list[_PhaseLane], list[tuple[str, Marker]]]:
    end_of_journal = _ts(entries[-1].time) if entries else 0.0
    lanes: dict[str, _PhaseLane] = {}

    def lane(phase: str | None) -> _PhaseLane:
        key = phase or "(no phase)"
        if key not in lanes:
            lanes[key] = _PhaseLane(key, [], {}, [], [])
        return lanes[key]

    open_phases: dict[str, list[Entry]] = {}
    open_steps: dict[tuple[str | None, str | None], list[Entry]] = {}
    open_holds: list[Entry] = []
    markers: list[tuple[str, Marker]] = []
    for e in entries:
        d = e.data or {}
        t = _ts(e.time)
        when = _short_time(e.time)
        if e.kind == "phase_started":
            name = str(d.get("phase") or e.phase or "")
            lane(name)
            open_phases.setdefault(name, []).append(e)
        elif e.kind == "phase_finished":
            name = str(d.get("phase") or e.phase or "")
            start = open_phases.get(name, []).pop(0) if open_phases.get(name) else e
            outcome = str(d.get("outcome") or "")
            colour = "#546e7a" if outcome == "ok" else ("#c62828" if "roll" in outcome or "fail" in outcome else "#78909c")
            lane(name).bars.append(Bar(_ts(start.time), t, colour,
                                       f"phase {name}: {_short_time(start.time)} → {when} "
                                       f"({fmt_duration(t - _ts(start.time))}), {outcome or '?'}"))
        elif e.kind == "step_started":
            lane(e.phase).steps.setdefault(str(e.step or d.get("step") or "step"), [])
            open_steps.setdefault((e.phase, e.step), []).append(e)
        elif e.kind == "step_finished":
            queue = open_steps.get((e.phase, e.step)) or []
            start = queue.pop(0) if queue else e
            status = str(d.get("status") or "?")
            name = str(e.step or d.get("step") or "step")
            lane(e.phase).steps.setdefault(name, []).append(Bar(
                _ts(start.time), t, STATUS_COLOURS.get(status, "#607d8b"),
                f"{name} ({start.data.get('step_kind') or 'step'}): {status}, {_short_time(start.time)} → {when} "
                f"({fmt_duration(t - _ts(start.time))}) {clip(str(d.get('detail') or ''), 240)}"))
        elif e.kind == "hold_started":
            open_holds.append(e)
        elif e.kind == "human_input":
            hold = next((h for h in open_holds if h.phase == e.phase and h.step == e.step), None)
            if hold is not None:
                open_holds.remove(hold)
                lane(e.phase).holds.append(Bar(
                    _ts(hold.time), t, HOLD_COLOUR,
                    f"{hold.data.get('hold') or 'hold'} at {e.step or e.phase}: {_short_time(hold.time)} → {when}, "
                    f"{d.get('action')} by {d.get('by') or 'odin'}: {clip(str(d.get('reason') or ''), 240)}"))
            markers.append((lane(e.phase).name, Marker(t, HUMAN_COLOUR, f"{when} {e.step or e.phase or ''}: "
                            f"{d.get('action')} by {d.get('by') or 'odin'}: {clip(str(d.get('reason') or ''), 240)}")))
        elif e.kind == "decision":
            action = str(d.get("action") or "?")
            markers.append((lane(e.phase).name, Marker(t, DECISION_COLOURS.get(action, "#607d8b"),
                            f"{when} {e.step or e.phase or ''}: {action} by {d.get('by') or 'odin'}: "
                            f"{clip(str(d.get('reason') or ''), 240)}")))
        elif e.kind == "rollback_started":
            markers.append((lane(e.phase).name, Marker(t, "#c62828", f"{when} rollback started: "
                            f"{clip(str(d.get('reason') or ''), 240)}", shape="line", label="rollback")))
        elif e.kind == "rollback_finished":
            healthy = bool(d.get("healthy"))
            markers.append((lane(e.phase).name, Marker(t, "#2e7d32" if healthy else "#e65100",
                            f"{when} rolled back, {'healthy' if healthy else 'still degraded'}: {d.get('detail') or ''}",
                            shape="line", label="rolled back")))
        elif e.kind == "run_finished":
            outcome = str(d.get("outcome") or "")
            short, colour, _ = OUTCOMES.get(outcome, (outcome or "finished", "#607d8b", ""))
            markers.append(("", Marker(t, colour, f"{when} run finished: {short}", shape="line", label=short)))
    for (phase, _), queue in open_steps.items():
        for start in queue:
            name = str(start.step or "step")
            lane(phase).steps.setdefault(name, []).append(Bar(
                _ts(start.time), max(_ts(start.time), end_of_journal), STATUS_COLOURS["unfinished"],
                f"{name}: started {_short_time(start.time)}, never finished"))
    for name, queue in open_phases.items():
        for start in queue:
            lane(name).bars.append(Bar(_ts(start.time), max(_ts(start.time), end_of_journal), "#90a4ae",
                                       f"phase {name}: started {_short_time(start.time)}, no phase_finished"))
    for hold in open_holds:
        lane(hold.phase).holds.append(Bar(_ts(hold.time), max(_ts(hold.time), end_of_journal), HOLD_COLOUR,
                                          f"{hold.data.get('hold') or 'hold'}: started {_short_time(hold.time)}, "
                                          "no answer recorded"))
    # gate windows, contiguous windows with the same decision merged into one bar
    per_lane: dict[str, list[Gate]] = {}
    for g in gates:
        if not g.aggregate:
            per_lane.setdefault(lane(g.entry.phase).name, []).append(g)
    for name, items in per_lane.items():
        merged: list[list[Any]] = []  # [start, end, decision, count]
        for g in sorted(items, key=lambda g: g.start if g.start is not None else g.end):
            start = g.start if g.start is not None else g.end
            if merged and merged[-1][2] == g.decision and start <= merged[-1][1] + 1.0:
                merged[-1][1] = max(merged[-1][1], g.end)
                merged[-1][3] += 1
            else:
                merged.append([start, g.end, g.decision, 1])
        for start, end, decision, count in merged:
            lanes[name].gates.append(Bar(start, end, DECISION_COLOURS.get(str(decision), "#607d8b"),
                                         f"{count} gate window(s): {decision}, {_short_time(datetime.fromtimestamp(start, timezone.utc))}"
                                         f" → {_short_time(datetime.fromtimestamp(end, timezone.utc))}"))
    return list(lanes.values()), markers


def _lane_rows(lane: _PhaseLane, with_phase_row: bool) -> list[Row]:
    rows = [Row(f"phase {lane.name}", lane.bars, strong=True)] if with_phase_row else []
    indent = 1 if with_phase_row else 0
    rows += [Row(name, bars, indent=indent) for name, bars in lane.steps.items()]
    if lane.holds:
        rows.append(Row("holds & approvals", lane.holds, indent=indent))
    if lane.gates:
        rows.append(Row("gate windows", lane.gates, indent=indent))
    return rows


def _timeline(entries: list[Entry], gates: list[Gate]) -> str:
    lanes, markers = _lanes(entries, gates)
    if not lanes:
        return ""
    rows = [r for lane in lanes for r in _lane_rows(lane, True)]
    out = ['<section id="timeline"><h2>Timeline</h2>',
           timeline_svg(rows, [m for _, m in markers], caption="phases, steps, gate windows and decisions over plan time")]
    out.append(_legend([("step ok", STATUS_COLOURS["ok"]), ("step failed", STATUS_COLOURS["failed"]),
                        ("noop / skipped", STATUS_COLOURS["noop"]), ("unfinished", STATUS_COLOURS["unfinished"]),
                        ("hold / approval", HOLD_COLOUR), ("human decision", HUMAN_COLOUR)]
                       + [(f"gate {k}", c) for k, c in DECISION_COLOURS.items()]))
    out.append('<p class="small muted">Grey bands hide long idle stretches (their length is written under them). '
               "Hover a bar or marker for its details.</p>")
    zoomable = [lane for lane in lanes if lane.steps or lane.gates or lane.holds]
    if len(lanes) > 1:
        for lane in zoomable:
            lane_markers = [m for name, m in markers if name == lane.name]
            counts = [(len(lane.steps), "step"), (sum(1 for g in gates if not g.aggregate and (g.entry.phase or "(no phase)") == lane.name),
                       "gate window"), (len(lane.holds), "hold"), (len(lane_markers), "marker")]
            what = ", ".join(f"{count} {noun}{'s' if count != 1 else ''}" for count, noun in counts if count)
            out.append(f"<details><summary>Zoom: phase {esc(lane.name)} ({esc(what)})</summary>")
            out.append(timeline_svg(_lane_rows(lane, True), lane_markers, caption=f"phase {lane.name}"))
            out.append("</details>")
    out.append("</section>")
    return "".join(out)


# ---------------------------------------------------------------- gate charts and table

def _gate_title(g: Gate) -> str:
    e = g.entry
    parts = [f"#{g.index} {_short_time(e.time)} {e.phase or ''}/{e.step or ''} window {g.window}: {g.decision}"]
    for key, m in g.metrics.items():
        fmt = _metric_fmt(key)
        parts.append(f"{_metric_label(key)} {fmt(m.get('current'))} ({_ratio(m.get('ratio'))})")
    return " · ".join(parts)


def _gate_charts(gates: list[Gate]) -> str:
    keys = [k for k in _metric_keys(gates) if k in ("error_rate", "latency_p95_ms")]
    if not keys:
        return ""
    out = ['<section id="gate-charts"><h2>Gate evaluations over time</h2>']
    for key in keys:
        points, baselines = [], []
        for g in gates:
            m = g.metrics.get(key)
            if not m:
                continue
            current = _float(m.get("current"))
            baseline = _float(m.get("baseline"))
            baselines.append((g.end, baseline))
            if current is None:
                continue
            points.append(Point(g.end, current, DECISION_COLOURS.get(str(g.decision), "#607d8b"), _gate_title(g),
                                aggregate=g.aggregate, group=f"{g.entry.phase}"))
        if not points and not baselines:
            continue
        if key == "error_rate":
            svg = series_svg(points, baselines, fmt=lambda v: _pct(v).replace(" ", ""), min_top=0.01,
                             caption="error rate per gate evaluation (current window)")
        else:
            svg = series_svg(points, baselines, fmt=lambda v: _ms(v).replace(" ", ""), min_top=10.0,
                             caption=f"{_metric_label(key)} per gate evaluation (current window)")
        out.append(f'<div class="chartbox" data-metric="{esc(key)}">{svg}</div>')
    present = sorted({str(g.decision) for g in gates}, key=lambda d: list(DECISION_COLOURS).index(d)
                     if d in DECISION_COLOURS else 99)
    out.append(_legend([(d, DECISION_COLOURS.get(d, "#607d8b")) for d in present]))
    out.append('<p class="small muted">Dots: one window each, coloured by the decision; hollow squares: a whole '
               "watch judged together. Solid line: the baseline; dashed: 1.1× (watch), 1.5× (hold) and 2× "
               "(rollback) the baseline. A breach also needs evidence (p-value) and a change above the floor: "
               "see the table.</p></section>")
    return "".join(out)


DEDUPE_REASONS_FROM = 40
"""With more gate evaluations than this, a reason repeated word for word from an earlier window of the
same step is written as a link to the row that has it in full: it keeps a 500-window report small."""


def _gate_table(gates: list[Gate]) -> str:
    """Every evaluation: a row of numbers, its reasons on the line under it; a heading per run of one step."""
    if not gates:
        return ""
    keys = _metric_keys(gates)
    head = ['<tr><th rowspan="2">#</th><th rowspan="2">time</th><th rowspan="2">window</th>'
            '<th rowspan="2">requests</th><th rowspan="2">decision</th>']
    sub = []
    for key in keys:
        cols = ["baseline", "current", "ratio", "p-value"] + (["min detectable"] if key == "error_rate" else [])
        head.append(f'<th colspan="{len(cols)}">{esc(_metric_label(key))}</th>')
        sub += cols
    head.append("</tr><tr>" + "".join(f"<th>{esc(c)}</th>" for c in sub) + "</tr>")
    width = 5 + len(sub)
    dedupe = len(gates) > DEDUPE_REASONS_FROM
    written: dict[tuple[Any, Any, str], int] = {}  # (phase, step, reason) -> the row that has it in full
    out = ['<section id="gates"><h2>Gate evaluations</h2>'
           '<p class="small muted">Every evaluation of the rollback ladder with every number it used, its reasons on '
           "the line under it, grouped by phase and step. p-value: one-sided evidence that the window is worse than "
           "the baseline; min detectable: the smallest error-rate ratio this window could have caught with the "
           "policy's power."
           + (" A long reason repeated word for word from an earlier window of the same step links to the row that "
              "has it in full." if dedupe else "")
           + '</p><div class="scroll"><table class="gt"><thead>', "".join(head), "</thead>"]
    previous: tuple[Any, Any] | None = None
    for position, g in enumerate(gates):
        e = g.entry
        if (e.phase, e.step) != previous:
            previous = (e.phase, e.step)
            run = 0
            for later in gates[position:]:
                if (later.entry.phase, later.entry.step) != previous:
                    break
                run += 1
            out.append(f'<tbody class="grp"><tr><th colspan="{width}">phase {esc(e.phase) or "–"} · step '
                       f'{esc(e.step) or "–"} <span class="muted">({run} evaluation{"s" if run != 1 else ""})</span>'
                       "</th></tr></tbody>")
        cells = [str(g.index), esc(_short_time(e.time)), esc(g.window), _int(g.snapshot.get("requests")),
                 _decision_badge(g.decision)]
        for key in keys:
            m = g.metrics.get(key) or {}
            fmt = _metric_fmt(key)
            cells += [fmt(m.get("baseline")), fmt(m.get("current")), _ratio(m.get("ratio")), _p(m.get("p_value"))]
            if key == "error_rate":
                cells.append(_ratio(m.get("min_detectable_ratio")))
        reasons = []
        for reason in g.reasons:
            where = (e.phase, e.step, reason)
            if dedupe and len(reason) >= 80 and where in written:
                first = written[where]
                reasons.append(f'<a href="#g{first}"><i class="same">same as #{first}</i></a>')
            else:
                written.setdefault(where, g.index)
                reasons.append(esc(reason))
        out.append(f'<tbody id="g{g.index}"><tr><td>' + "</td><td>".join(cells) + "</td></tr>"
                   f'<tr><td colspan="{width}">{"; ".join(reasons) or "–"}</td></tr></tbody>')
    out.append("</table></div></section>")
    return "".join(out)


# ---------------------------------------------------------------- decisions, messages, undo

def _decisions(entries: list[Entry]) -> str:
    rows = []
    for e in entries:
        if e.kind not in DECISION_KINDS:
            continue
        d = e.data or {}
        if e.kind in ("decision", "human_input"):
            action = str(d.get("action") or "?")
            what = _decision_badge(action) if action in DECISION_COLOURS else _badge(action, HUMAN_COLOUR)
            if e.kind == "human_input":
                what = "answer: " + what
        elif e.kind == "hold_started":
            kind = d.get("hold") or "hold"
            what = _badge(str(kind), HOLD_COLOUR) + f" default {esc(d.get('default'))}"
            if d.get("deadline"):
                what += f' <span class="muted small">until {esc(d.get("deadline"))}</span>'
        elif e.kind == "rollback_started":
            what = _badge("rollback started", "#c62828")
        else:
            healthy = bool(d.get("healthy"))
            what = _badge("rolled back, " + ("healthy" if healthy else "still degraded"),
                          "#2e7d32" if healthy else "#e65100")
        by = d.get("by") or "odin"
        why = d.get("reason") or d.get("detail") or ""
        rows.append([_time_cell(e.time), esc(e.phase), esc(e.step), what, f"<b>{esc(by)}</b>", _why_cell(_text(why, 4000))])
    if not rows:
        return ""
    return ('<section id="decisions"><h2>Decisions</h2>'
            + _table(["time", "phase", "step", "what", "by", "why"], rows) + "</section>")


def _delivery_badge(status: Any) -> str:
    """A message's status: green when delivered (ok, sent, 2xx), red when not, grey when unknown."""
    if status is None or status == "":
        return "–"
    text = str(status).lower()
    code = _float(status)
    if code is not None:
        colour = "#43a047" if 200 <= code < 300 else "#c62828"
    elif text in ("ok", "sent", "delivered", "posted", "accepted", "queued"):
        colour = "#43a047"
    elif text in ("failed", "error", "rejected", "bounced", "timeout"):
        colour = "#c62828"
    else:
        colour = "#78909c"
    return _badge(str(status), colour)


def _messages(entries: list[Entry]) -> str:
    rows = []
    step_kinds = {(e.phase, e.step): e.data.get("step_kind") for e in entries if e.kind == "step_started"}
    for e in entries:
        d = e.data or {}
        if e.kind in MESSAGE_KINDS:
            to = d.get("to") or d.get("recipients") or d.get("url") or d.get("audience")
            text = d.get("text") or d.get("message") or d.get("summary") or d.get("detail")
            rows.append([_time_cell(e.time), esc(e.phase), esc(e.step), esc(e.kind),
                         esc(d.get("channel") or ("webhook" if d.get("url") else "")), esc(d.get("template")),
                         _text(to, 300), _delivery_badge(d.get("status")),
                         _why_cell(_text(text, 4000))])
        elif e.kind == "step_finished" and step_kinds.get((e.phase, e.step)) == "notify":
            output = _dict(d.get("output"))
            rows.append([_time_cell(e.time), esc(e.phase), esc(e.step), "notify step", "webhook", "", "",
                         _status_badge(d.get("status")),
                         _why_cell(_text(output.get("message") or "", 4000)
                                   + (f'<br><span class="muted small">{_text(d.get("detail"), 500)}</span>'
                                      if d.get("detail") else ""))])
    if not rows:
        return ""
    return ('<section id="messages"><h2>Messages sent</h2>'
            + _table(["time", "phase", "step", "kind", "channel", "template", "to", "status", "text"], rows)
            + "</section>")


def _undo(entries: list[Entry]) -> str:
    checks = [e for e in entries if e.kind == "undo_check"]
    undos = [e for e in entries if e.kind == "undo_finished"]
    if not checks and not undos:
        return ""
    out = ['<section id="undo"><h2>Undo</h2>']
    if undos:
        ok = sum(1 for e in undos if e.data.get("status") == "ok")
        out.append(f"<p>{ok} of {len(undos)} undo(s) succeeded.</p>")
        out.append(_table(["time", "phase", "step", "status", "attempts", "detail"], [
            [_time_cell(e.time), esc(e.phase), esc(e.step), _status_badge(e.data.get("status")),
             _num_cell(_int(e.data.get("attempts"))), _why_cell(_text(e.data.get("detail"), 4000))] for e in undos]))
    if checks:
        out.append("<h3>Undo plan checked before T-0</h3>")
        out.append(_table(["time", "step", "status", "detail"], [
            [_time_cell(e.time), esc(e.step), _status_badge(e.data.get("status")),
             _why_cell(_text(e.data.get("detail") or e.data.get("reason"), 2000))] for e in checks]))
    out.append("</section>")
    return "".join(out)


# ---------------------------------------------------------------- the event table

_BULKY = ("snapshot", "report", "decision", "output", "undo")


def _detail(e: Entry, gate_index: dict[int, int]) -> str:
    d = e.data or {}
    k = e.kind
    if k == "run_started":
        phases = "/".join(str(p) for p in _list(d.get("phases")))
        return esc(f"plan {d.get('plan')}, migration {d.get('migration')}, phases {phases}, "
                   f"environment {d.get('environment')}, time scale {d.get('time_scale')}")
    if k == "phase_finished":
        return esc(d.get("outcome"))
    if k == "step_started":
        return esc(f"{d.get('step_kind') or ''}{', changes the world' if d.get('changes_world') else ''}")
    if k == "step_finished":
        undo = d.get("undo")
        extra = f" (undo: {undo.get('kind')})" if isinstance(undo, dict) and undo.get("kind") else ""
        return f"{_status_badge(d.get('status'))} {_text(d.get('detail'), 400)}{esc(extra)}"
    if k == "smoke":
        return esc(f"critical failed {d.get('critical_failed')}, non-critical failed {d.get('noncritical_failed')}")
    if k == "baseline":
        snap = _dict(d.get("snapshot"))
        lat = _dict(snap.get("latency_ms"))
        return esc(f"{snap.get('requests')} requests, {snap.get('errors')} errors, p95 {_ms(lat.get('p95'))}")
    if k == "gate":
        index = gate_index.get(e.seq)
        decision = _dict(d.get("decision"))
        metrics = _dict(decision.get("metrics"))
        err = _dict(metrics.get("error_rate"))
        lat = _dict(metrics.get("latency_p95_ms"))
        link = f'<a href="#g{index}">gate #{index}</a>' if index else "gate"
        return (f"{link} window {esc(d.get('window'))}: {_decision_badge(decision.get('decision'))} "
                f"errors {_pct(err.get('current'))} ({_ratio(err.get('ratio'))}), p95 {_ms(lat.get('current'))} "
                f"({_ratio(lat.get('ratio'))})")
    if k in ("decision", "human_input"):
        return f"{esc(d.get('action'))} by <b>{esc(d.get('by') or 'odin')}</b>: {_text(d.get('reason'), 400)}"
    if k == "hold_started":
        return esc(f"{d.get('hold') or 'hold'}, default {d.get('default')}, deadline {d.get('deadline')}: ") + _text(d.get("reason"), 400)
    if k == "undo_started":
        return esc(f"undo of entry {d.get('undo_of')}")
    if k == "undo_finished":
        return f"{_status_badge(d.get('status'))} after {esc(d.get('attempts'))} attempt(s): {_text(d.get('detail'), 400)}"
    if k == "undo_check":
        return f"{_status_badge(d.get('status'))} {_text(d.get('detail') or d.get('reason'), 400)}"
    if k == "rollback_started":
        return _text(d.get("reason"), 400)
    if k == "rollback_finished":
        return esc(("healthy" if d.get("healthy") else "still degraded") + f": {d.get('detail') or ''}")
    if k == "lock":
        return esc(f"{d.get('action')} {d.get('environment')}")
    if k in MESSAGE_KINDS:
        text = d.get("text") or d.get("message") or ""
        return esc(f"{d.get('channel') or d.get('url') or ''} {d.get('template') or ''} {d.get('status') or ''}: ") + _text(text, 300)
    if k == "note":
        return _text(d.get("message"), 600)
    if k == "run_finished":
        return esc(f"{d.get('outcome')} (exit {d.get('exit_code')})") + (f": {_text(d.get('detail'), 400)}" if d.get("detail") else "")
    keep = redact({key: value for key, value in d.items() if key not in _BULKY})
    return _text(", ".join(f"{key}={value}" for key, value in keep.items()), 300)


def _events(entries: list[Entry], gates: list[Gate]) -> str:
    if not entries:
        return ""
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
                counts = Counter(str(_dict((x.data or {}).get("decision")).get("decision")) for x in run_gates)
                smokes = [x for x in run if x.kind == "smoke"]
                failing = sum(1 for x in smokes if (x.data or {}).get("critical_failed") or (x.data or {}).get("noncritical_failed"))
                detail = (f'<a href="#g{first}">gates #{first}–#{last}</a>: {len(run_gates)} evaluations, '
                          + ", ".join(f"{_decision_badge(k)} ×{v}" for k, v in counts.most_common())
                          + (f"; {len(smokes)} smoke runs, {failing} with failing journeys" if smokes else ""))
                rows.append([_time_cell(e.time), esc(e.phase), "gate ×" + str(len(run_gates)), esc(e.step), detail])
                i = j
                continue
        rows.append([_time_cell(e.time), esc(e.phase), esc(e.kind), esc(e.step), _detail(e, gate_index)])
        i += 1
    return ('<section id="events"><h2>Event timeline</h2><p class="small muted">The whole journal in order '
            f"({len(entries)} entries; runs of more than {FOLD_GATES} gate windows in one step are folded into one "
            "row: each is in the gate table).</p>"
            + _table(["time", "phase", "event", "step", "detail"], rows) + "</section>")


# ---------------------------------------------------------------- the page

_SECTION_TITLES = (
    ("summary", "Summary"), ("scorecard", "DR drill"), ("baseline", "Baseline"), ("timeline", "Timeline"),
    ("gate-charts", "Gate charts"), ("gates", "Gate table"), ("decisions", "Decisions"),
    ("messages", "Messages"), ("undo", "Undo"), ("events", "Events"),
)


def render_html(entries: list[Entry], *, title: str | None = None, scorecard: dict | None = None) -> str:
    """A self-contained HTML report (inline CSS and SVG, no scripts, no external resources) of a journal."""
    entries = [e if isinstance(e, Entry) else Entry.model_validate(e) for e in entries]
    gates = _gates(entries)
    started = next((e for e in entries if e.kind == "run_started"), None)
    plan = started.data.get("plan") if started else None
    if title is None:
        kind = "DR drill report" if scorecard is not None else "Migration report"
        title = f"{kind}: {plan}" if plan else kind
    sections = {
        "summary": _summary(entries, gates),
        "scorecard": _scorecard(scorecard) if isinstance(scorecard, dict) else "",
        "baseline": _baseline(entries),
        "timeline": _timeline(entries, gates),
        "gate-charts": _gate_charts(gates),
        "gates": _gate_table(gates),
        "decisions": _decisions(entries),
        "messages": _messages(entries),
        "undo": _undo(entries),
        "events": _events(entries, gates),
    }
    nav = "".join(f'<a href="#{key}">{label}</a>' for key, label in _SECTION_TITLES if sections[key])
    generated = ""
    if entries:
        generated = f'<p class="muted small">From {len(entries)} journal entries, up to {esc(_full_time(entries[-1].time))} (plan time).</p>'
    else:
        generated = '<p class="muted">The journal is empty: nothing has run yet.</p>'
    body = "".join(sections[key] for key, _ in _SECTION_TITLES)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="odin-drills"><title>{esc(title)}</title><style>{CSS}</style></head>'
        f"<body><main><h1>{esc(title)}</h1>{generated}<nav>{nav}</nav>{body}</main></body></html>\n"
    )
