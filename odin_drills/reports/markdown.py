"""Reports are rendered from the journal alone: what happened, and every number a decision used.

``render_markdown(entries)`` is the migration report (``report.md`` and the Prefect artifact). This
module prepares its rows and numbers; the layout is ``templates/migration.md.j2``. Markdown escapes
nothing, but every string the template prints is redacted (``odin_drills.reports.templating``).
"""

from __future__ import annotations

from typing import Any

from odin_drills.reports.formatting import as_dict, evidence, num, ratio, seconds, verified_as
from odin_drills.reports.journal_view import policy_summary, thresholds
from odin_drills.reports.people import people_view
from odin_drills.reports.readiness import readiness_view
from odin_drills.reports.templating import render
from odin_drills.steps.journal import Entry

OUTCOME_TEXT = {
    "completed": "Completed: the migration is declared done.",
    "rolled_back_healthy": "Rolled back, healthy: every undo ran and the service is back within baseline.",
    "rolled_back_degraded": "Rolled back, still degraded: check the undo and re-check sections.",
    "failed": "Failed: see the timeline.",
    "refused": "Refused before changing anything: see the last note.",
    "interrupted": "Interrupted by a signal after the step in flight, or during a hold (left undecided): resume it "
                   "(`odin migrate PLAN --resume`, which re-opens the hold with its deadline) or roll it back "
                   "(`odin rollback PLAN`).",
}
DECISION_KINDS = ("decision", "human_input", "hold_started", "hold_interrupted", "rollback_started",
                  "rollback_finished")


def _pct(value: Any) -> str:
    v = num(value)
    return "–" if v is None else f"{v * 100:.2f} %"


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"
    return str(value)


def gate_rows(entries: list[Entry]) -> list[dict[str, Any]]:
    """One row per gate evaluation, with every number it used: the table artifact and report section."""
    rows = []
    for e in entries:
        if e.kind != "gate":
            continue
        decision = as_dict(e.data.get("decision"))
        snap = as_dict(e.data.get("snapshot"))
        err = as_dict(as_dict(decision.get("metrics")).get("error_rate"))
        lat = as_dict(as_dict(decision.get("metrics")).get("latency_p95_ms"))
        rows.append({
            "time": e.time.strftime("%Y-%m-%d %H:%M:%S"),
            "phase": e.phase or "",
            "step": e.step or "",
            "window": str(e.data.get("window", "")),
            "requests": snap.get("requests"),
            "decision": decision.get("decision"),
            "error_rate_baseline": err.get("baseline"),
            "error_rate_current": err.get("current"),
            "error_ratio": err.get("ratio"),
            "error_p_value": err.get("p_value"),
            "error_evidence": evidence(decision, "error_rate"),
            "min_detectable_ratio": err.get("min_detectable_ratio"),
            "p95_baseline_ms": lat.get("baseline"),
            "p95_current_ms": lat.get("current"),
            "p95_ratio": lat.get("ratio"),
            "p95_p_value": lat.get("p_value"),
            "p95_evidence": evidence(decision, "latency_p95_ms"),
            "reasons": "; ".join(str(r) for r in decision.get("reasons") or []),
        })
    return rows


def _gate_cells(r: dict[str, Any]) -> dict[str, Any]:
    """A gate row's numbers as the Markdown table shows them."""
    return {**r,
            "errors": f"{_pct(r['error_rate_baseline'])} → {_pct(r['error_rate_current'])} "
                      f"({_num(r['error_ratio'])}×, {r['error_evidence']})",
            "detectable": ratio(r["min_detectable_ratio"]),
            "p95": f"{_num(r['p95_baseline_ms'])} → {_num(r['p95_current_ms'])} "
                   f"({_num(r['p95_ratio'])}×, {r['p95_evidence']})"}


def _decision(e: Entry) -> dict[str, Any]:
    d = e.data
    what = {
        "decision": d.get("action"), "human_input": d.get("action"),
        "hold_started": f"hold ({d.get('hold')}, default {d.get('default')})",
        "hold_interrupted": f"hold interrupted by {d.get('signal')}, undecided ({d.get('hold')}, deadline "
                            f"{d.get('deadline')})",
        "rollback_started": "rollback started",
        "rollback_finished": "rolled back, " + ("healthy" if d.get("healthy") else "still degraded"),
    }[e.kind]
    return {"time": f"{e.time:%m-%d %H:%M:%S}", "phase": e.phase or "", "step": e.step or "", "what": what,
            "by": d.get("by", "odin"), "verified": verified_as(e), "why": d.get("reason") or d.get("detail") or ""}


def _baseline(entries: list[Entry]) -> dict[str, Any] | None:
    baseline = next((e for e in reversed(entries) if e.kind == "baseline"), None)
    if baseline is None:
        return None
    snap = as_dict(baseline.data.get("snapshot"))
    lat = as_dict(snap.get("latency_ms"))
    requests, errors = num(snap.get("requests")), num(snap.get("errors"))
    return {"time": f"{baseline.time:%Y-%m-%d %H:%M:%S}", "window": seconds(baseline.data.get("window_seconds")),
            "requests": snap.get("requests"), "errors": snap.get("errors"),
            "rate": _pct(errors / requests if requests and errors is not None else None),
            "p50": _num(lat.get("p50")), "p95": _num(lat.get("p95")), "p99": _num(lat.get("p99"))}


def render_markdown(entries: list[Entry]) -> str:
    runs = [e for e in entries if e.kind == "run_started"]
    finished = [e for e in entries if e.kind == "run_finished"]
    started = runs[0] if runs else None
    last = finished[-1] if finished else None
    rows = gate_rows(entries)
    return render(
        "migration.md.j2",
        plan=started.data.get("plan") if started else "?",
        started=None if started is None else {
            "migration": started.data.get("migration"), "environment": started.data.get("environment"),
            "runs": len(runs), "time_scale": started.data.get("time_scale"),
            "phases": ", ".join("/".join(str(p) for p in r.data.get("phases") or []) for r in runs)},
        outcome=None if last is None else {
            "text": OUTCOME_TEXT.get(str(last.data.get("outcome", "")), last.data.get("outcome", "")),
            "exit_code": last.data.get("exit_code"), "detail": last.data.get("detail")},
        baseline=_baseline(entries),
        emergencies=[{"time": f"{e.time:%Y-%m-%d %H:%M:%S}", **e.data} for e in entries if e.kind == "emergency"],
        readiness=readiness_view(entries),
        people=people_view(entries),
        decisions=[_decision(e) for e in entries if e.kind in DECISION_KINDS],
        gates=[_gate_cells(r) for r in rows],
        ladder=thresholds(entries).sentence if rows else "",
        undos=[e for e in entries if e.kind == "undo_finished"],
        timeline=[{"time": f"{e.time:%m-%d %H:%M:%S}", "phase": e.phase or "", "kind": e.kind, "step": e.step or "",
                   "detail": _timeline_detail(e)} for e in entries if e.kind != "gate"],
    )


def _timeline_detail(e: Entry) -> str:
    d = e.data
    if e.kind == "step_finished":
        return f"{d.get('status')}: {d.get('detail')}"
    if e.kind == "smoke":
        return f"critical failed {d.get('critical_failed')}, non-critical failed {d.get('noncritical_failed')}"
    if e.kind in ("note",):
        return str(d.get("message"))
    if e.kind == "lock":
        return f"{d.get('action')} {d.get('environment')}"
    if e.kind == "run_finished":
        return f"{d.get('outcome')} (exit {d.get('exit_code')})"
    if e.kind == "undo_check":
        return f"{d.get('status')}: {d.get('detail') or d.get('reason') or ''}"
    if e.kind == "policy":
        return policy_summary(d)
    if e.kind == "readiness":
        return (f"{d.get('met')} met, {d.get('attested')} attested, {d.get('unmet')} unmet; blocking unmet: "
                f"{', '.join(map(str, d.get('blocking_unmet') or [])) or 'none'}")
    keep = {k: v for k, v in d.items()
            if k not in ("snapshot", "report", "decision", "output", "undo", "spec", "prior", "observed",
                         "continuation_token")}
    return ", ".join(f"{k}={v}" for k, v in keep.items())[:200].replace("|", "/")
