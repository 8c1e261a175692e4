"""What people see in the Prefect UI: the baseline, the report, and a table of gate evaluations."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from odin_drills.steps.journal import Entry
from odin_drills.reports.markdown import gate_rows, render_markdown


def artifact_key(plan: str, what: str) -> str:
    """Artifact keys may hold only lowercase letters, digits and dashes."""
    raw = f"{plan}-{what}".lower()
    return "".join(c if c.isalnum() or c == "-" else "-" for c in raw)[:100]


def publish_baseline(plan: str, record: Any) -> None:
    snap = record.snapshot
    create_markdown_artifact(
        key=artifact_key(plan, "baseline"),
        markdown=(
            f"# Baseline for {plan}\n\nCaptured {record.captured_at:%Y-%m-%d %H:%M:%S} (plan time) over "
            f"{record.window_seconds:g} s.\n\n| requests | errors | error rate | p50 ms | p95 ms | p99 ms |\n"
            f"|---|---|---|---|---|---|\n| {snap.requests} | {snap.errors} | {snap.error_rate * 100:.2f} % | "
            f"{snap.latency_ms.p50:.2f} | {snap.latency_ms.p95:.2f} | {snap.latency_ms.p99:.2f} |\n"
        ),
        description="The baseline every later window is judged against",
    )


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
