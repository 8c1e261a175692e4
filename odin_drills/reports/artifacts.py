"""What people see in the Prefect UI: the baseline, the report, and a table of gate evaluations."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from odin_drills.reports.formatting import seconds
from odin_drills.reports.markdown import gate_rows, render_markdown
from odin_drills.reports.templating import render
from odin_drills.steps.journal import Entry


def artifact_key(plan: str, what: str) -> str:
    """Artifact keys may hold only lowercase letters, digits and dashes."""
    raw = f"{plan}-{what}".lower()
    return "".join(c if c.isalnum() or c == "-" else "-" for c in raw)[:100]


def publish_baseline(plan: str, record: Any) -> None:
    create_markdown_artifact(key=artifact_key(plan, "baseline"), markdown=render_baseline(plan, record),
                             description="The baseline every later window is judged against")


def render_baseline(plan: str, record: Any) -> str:
    """The baseline artifact's Markdown (``templates/baseline.md.j2``)."""
    snap = record.snapshot
    return render("baseline.md.j2", plan=plan, captured=f"{record.captured_at:%Y-%m-%d %H:%M:%S}",
                  window=seconds(record.window_seconds), requests=snap.requests, errors=snap.errors,
                  rate=f"{snap.error_rate * 100:.2f} %", p50=f"{snap.latency_ms.p50:.2f}",
                  p95=f"{snap.latency_ms.p95:.2f}", p99=f"{snap.latency_ms.p99:.2f}")


def publish_report(plan: str, entries: list[Entry]) -> None:
    create_markdown_artifact(key=artifact_key(plan, "report"), markdown=render_markdown(entries),
                             description="Migration report rendered from the journal")
    rows = gate_rows(entries)
    if rows:
        create_table_artifact(key=artifact_key(plan, "gates"), table=rows, description="Every gate evaluation")
    timeline = [
        {"time": e.time.isoformat(), "phase": e.phase or "", "event": e.kind, "step": e.step or ""}
        for e in entries if e.kind in ("phase_started", "phase_finished", "step_started", "step_finished",
                                       "decision", "human_input", "undo_finished", "rollback_finished", "run_finished")
    ]
    if timeline:
        create_table_artifact(key=artifact_key(plan, "timeline"), table=timeline, description="Phase and step timeline")
