"""Reports are rendered from the journal alone: what happened, and every number a decision used."""

from __future__ import annotations

from typing import Any

from odin_drills.steps.journal import Entry

OUTCOME_TEXT = {
    "completed": "Completed: the migration is declared done.",
    "rolled_back_healthy": "Rolled back, healthy: every undo ran and the service is back within baseline.",
    "rolled_back_degraded": "Rolled back, still degraded: check the undo and re-check sections.",
    "failed": "Failed: see the timeline.",
    "refused": "Refused before changing anything: see the last note.",
}


def _pct(value: Any) -> str:
    return "–" if value is None else f"{value * 100:.2f} %"


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
        decision = e.data.get("decision") or {}
        snap = e.data.get("snapshot") or {}
        err = (decision.get("metrics") or {}).get("error_rate") or {}
        lat = (decision.get("metrics") or {}).get("latency_p95_ms") or {}
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
            "min_detectable_ratio": err.get("min_detectable_ratio"),
            "p95_baseline_ms": lat.get("baseline"),
            "p95_current_ms": lat.get("current"),
            "p95_ratio": lat.get("ratio"),
            "p95_p_value": lat.get("p_value"),
            "reasons": "; ".join(decision.get("reasons") or []),
        })
    return rows


def render_markdown(entries: list[Entry]) -> str:
    started = next((e for e in entries if e.kind == "run_started"), None)
    runs = [e for e in entries if e.kind == "run_started"]
    finished = [e for e in entries if e.kind == "run_finished"]
    last = finished[-1] if finished else None
    plan = started.data.get("plan") if started else "?"
    out = [f"# Migration report: {plan}", ""]
    if started:
        out.append(f"- Migration: `{started.data.get('migration')}`  ")
        out.append(f"- Environment: `{started.data.get('environment')}`  ")
        out.append(f"- Runs in this migration: {len(runs)} (phases: "
                   + ", ".join("/".join(r.data.get('phases', [])) for r in runs) + ")  ")
        out.append(f"- Time scale: {started.data.get('time_scale')}× (times below are plan time)  ")
    if last:
        outcome = last.data.get("outcome", "")
        out += [f"- **Outcome: {OUTCOME_TEXT.get(outcome, outcome)}** (exit code {last.data.get('exit_code')})", ""]
        if last.data.get("detail"):
            out += [f"  {last.data['detail']}", ""]

    baseline = next((e for e in reversed(entries) if e.kind == "baseline"), None)
    if baseline:
        snap = baseline.data.get("snapshot") or {}
        lat = snap.get("latency_ms") or {}
        rate = (snap.get("errors", 0) / snap["requests"]) if snap.get("requests") else None
        out += ["## Baseline", "",
                f"Captured {baseline.time:%Y-%m-%d %H:%M:%S} over {baseline.data.get('window_seconds'):g} s: "
                f"{snap.get('requests')} requests, {snap.get('errors')} errors ({_pct(rate)}), "
                f"p50 {_num(lat.get('p50'))} ms, p95 {_num(lat.get('p95'))} ms, p99 {_num(lat.get('p99'))} ms.", ""]

    decisions = [e for e in entries if e.kind in ("decision", "human_input", "hold_started", "rollback_started", "rollback_finished")]
    if decisions:
        out += ["## Decisions", "", "| time | phase | step | what | by | why |", "|---|---|---|---|---|---|"]
        for e in decisions:
            what = {
                "decision": e.data.get("action"), "human_input": e.data.get("action"),
                "hold_started": f"hold ({e.data.get('hold')}, default {e.data.get('default')})",
                "rollback_started": "rollback started",
                "rollback_finished": "rolled back, " + ("healthy" if e.data.get("healthy") else "still degraded"),
            }[e.kind]
            by = e.data.get("by", "odin")
            why = e.data.get("reason") or e.data.get("detail") or ""
            out.append(f"| {e.time:%m-%d %H:%M:%S} | {e.phase or ''} | {e.step or ''} | {what} | {by} | {why} |")
        out.append("")

    rows = gate_rows(entries)
    if rows:
        out += ["## Gate evaluations", "",
                "| time | phase | step | window | requests | decision | errors base → now (ratio, p) | min detectable | p95 ms base → now (ratio, p) |",
                "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            out.append(
                f"| {r['time']} | {r['phase']} | {r['step']} | {r['window']} | {r['requests']} | **{r['decision']}** | "
                f"{_pct(r['error_rate_baseline'])} → {_pct(r['error_rate_current'])} ({_num(r['error_ratio'])}×, p={_num(r['error_p_value'], 3)}) | "
                f"{_num(r['min_detectable_ratio'])}× | "
                f"{_num(r['p95_baseline_ms'])} → {_num(r['p95_current_ms'])} ({_num(r['p95_ratio'])}×, p={_num(r['p95_p_value'], 3)}) |"
            )
        out += ["", "Reasons:", ""]
        for r in rows:
            out.append(f"- {r['time']} {r['phase']} {r['step']}: **{r['decision']}** — {r['reasons']}")
        out.append("")

    undos = [e for e in entries if e.kind == "undo_finished"]
    if undos:
        out += ["## Undo", "", "| step | status | attempts | detail |", "|---|---|---|---|"]
        out += [f"| {e.step} | {e.data.get('status')} | {e.data.get('attempts')} | {e.data.get('detail')} |" for e in undos]
        out.append("")

    out += ["## Timeline", "", "| time | phase | event | step | detail |", "|---|---|---|---|---|"]
    for e in entries:
        if e.kind in ("gate",):
            continue
        detail = _timeline_detail(e)
        out.append(f"| {e.time:%m-%d %H:%M:%S} | {e.phase or ''} | {e.kind} | {e.step or ''} | {detail} |")
    out.append("")
    return "\n".join(out)


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
    keep = {k: v for k, v in d.items() if k not in ("snapshot", "report", "decision", "output", "undo")}
    return ", ".join(f"{k}={v}" for k, v in keep.items())[:200].replace("|", "/")
