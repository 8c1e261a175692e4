"""Live progress on the terminal: one short line per journal entry that a person cares about."""

from __future__ import annotations

import sys
from typing import Any


def print_entry(entry: Any) -> None:
    d = entry.data
    at = f"{entry.time:%m-%d %H:%M:%S}"
    where = entry.phase or ""
    text = None
    if entry.kind == "phase_started":
        text = f"▶ phase {entry.phase}"
    elif entry.kind == "step_finished":
        text = f"  step {entry.step}: {d.get('status')} — {d.get('detail')}"
    elif entry.kind == "baseline":
        s = d.get("snapshot") or {}
        text = f"  baseline: {s.get('requests')} requests, {s.get('errors')} errors, p95 {s.get('latency_ms', {}).get('p95', 0):.1f} ms"
    elif entry.kind == "gate":
        dec = d.get("decision") or {}
        err = (dec.get("metrics") or {}).get("error_rate") or {}
        lat = (dec.get("metrics") or {}).get("latency_p95_ms") or {}
        text = (f"  gate {entry.step or ''} [{d.get('window')}]: {dec.get('decision')} "
                f"(errors {_pct(err.get('current'))} vs {_pct(err.get('baseline'))}, "
                f"p95 {_ms(lat.get('current'))} vs {_ms(lat.get('baseline'))})")
    elif entry.kind == "smoke" and (d.get("critical_failed") or d.get("noncritical_failed")):
        text = f"  smoke: {d.get('critical_failed')} critical, {d.get('noncritical_failed')} non-critical journeys failing"
    elif entry.kind == "decision" and d.get("action") != "proceed":
        text = f"  decision: {d.get('action')} — {d.get('reason')}"
    elif entry.kind == "hold_started":
        text = f"  HOLD ({d.get('hold')}): {d.get('reason')}\n    decide by {d.get('deadline')} (default {d.get('default')}): {d.get('decide')}"
    elif entry.kind == "human_input":
        text = f"  decided: {d.get('action')} by {d.get('by')} — {d.get('reason')}"
    elif entry.kind == "step_reconciled":
        text = f"  reconciled {entry.step} (attempt {d.get('attempt')}): {d.get('verdict')} ({d.get('how')}) — {d.get('detail')}"
    elif entry.kind == "operation_started":
        text = f"  {entry.step}: Azure accepted {d.get('operation')} (continuation token journaled)"
    elif entry.kind == "undo_finished":
        text = f"  undo {entry.step}: {d.get('status')} after {d.get('attempts')} attempt(s) — {d.get('detail')}"
    elif entry.kind == "rollback_finished":
        text = f"◀ rolled back: {'healthy' if d.get('healthy') else 'STILL DEGRADED'} ({d.get('detail')})"
    elif entry.kind in ("note", "lock"):
        text = f"  {d.get('message') or (str(d.get('action')) + ' lock ' + str(d.get('environment')))}"
    if text:
        print(f"{at} {where:6} {text}", file=sys.stderr, flush=True)


def _pct(v: Any) -> str:
    return "?" if v is None else f"{v * 100:.2f}%"


def _ms(v: Any) -> str:
    return "?" if v is None else f"{v:.1f}ms"
