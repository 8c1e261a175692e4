"""What a restore drill leaves behind: the Markdown report, and the Prefect artifacts.

From the journal and the restore scorecard only: restore RTO and RPO against their targets (the
same verdict words as the region drill's report, ``reports.drill``), the checklist with its
evidence, what the canary found in the copy (lost and extra row ids), the restore and delete
steps, and a timeline. The HTML twin is ``reports.html.render_html(entries, scorecard=card.to_report())``,
whose scorecard section serves both drill kinds.
"""

from __future__ import annotations

from typing import Any

from odin_drills.reports.artifacts import artifact_key
from odin_drills.reports.drill import _cell, _verdict
from odin_drills.reports.formatting import seconds
from odin_drills.steps.journal import Entry

TIMELINE_KINDS = ("run_started", "sandbox", "lock", "canary_started", "canary_stopped", "restore_point",
                  "step_intent", "operation_started", "step_finished", "restore_verified", "undo_started",
                  "undo_finished", "step_reconciled", "note", "run_finished")


def render_restore_markdown(entries: list[Entry], card: Any, *, outcome: str, outcome_text: str,
                            detail: str = "") -> str:
    started = next((e for e in entries if e.kind == "run_started"), None)
    plan = started.data.get("plan") if started else "?"
    lines = [f"# Restore drill report: {plan}", ""]
    if started is not None:
        lines.append(f"Drill `{started.data.get('drill')}` on environment `{started.data.get('environment')}` "
                     f"({started.data.get('target')} target, time scale {started.data.get('time_scale')}).")
    lines += ["", f"**Outcome: {outcome_text}** (`{outcome}`)" + (f": {_cell(detail, 400)}" if detail else ""), ""]
    if card is not None:
        lines += ["## Restore RTO and RPO", "", "| measure | value | target | verdict |", "|---|---|---|---|",
                  f"| RTO (request → restored database online) | {seconds(card.rto_seconds)} | "
                  f"{seconds(card.rto_target_seconds)} | {_verdict(card.rto_seconds, card.rto_target_seconds)} |",
                  f"| RPO (writes committed by the point, missing) | {seconds(card.rpo_seconds)} | "
                  f"{seconds(card.rpo_target_seconds)} | {_verdict(card.rpo_seconds, card.rpo_target_seconds)} |",
                  "", f"Restored `{card.source_database}` to **{card.restore_point}** (Azure's clock) as `{card.restored_database}`.",
                  f"Canary: {card.canary_writes} writes acknowledged, {card.expected_writes} committed by the point, "
                  f"{card.lost_writes} of those missing from the copy, {card.extra_writes} later rows present, "
                  f"{card.corrupted_writes} corrupted, {card.unreadable_writes} unreadable.", "",
                  "## Criteria", "", "| criterion | result | evidence |", "|---|---|---|"]
        for name, criterion in card.criteria.items():
            lines.append(f"| {name} | {'✓ passed' if criterion.passed else '✗ failed'} | {_cell(criterion.evidence)} |")
        lines.append("")
    verified = next((e for e in reversed(entries) if e.kind == "restore_verified"), None)
    if verified is not None and (verified.data.get("lost_ids") or verified.data.get("extra_ids")):
        lines += ["## Rows the copy got wrong", ""]
        if verified.data.get("lost_ids"):
            lines.append("Missing (committed by the point): " + ", ".join(f"`{i}`" for i in verified.data["lost_ids"]))
        if verified.data.get("extra_ids"):
            lines.append("Present but committed after the point: "
                         + ", ".join(f"`{i}`" for i in verified.data["extra_ids"]))
        lines.append("")
    lines += ["## Timeline", "", "| time | phase | what |", "|---|---|---|"]
    for entry in entries:
        if entry.kind not in TIMELINE_KINDS:
            continue
        data = {k: v for k, v in entry.data.items()
                if k not in ("spec", "prior", "output", "undo", "options", "phases", "continuation_token", "lost_ids",
                             "extra_ids")}
        what = entry.kind + (f" {entry.step}" if entry.step else "") + ": " + ", ".join(f"{k}={v}" for k, v in data.items())
        lines.append(f"| {entry.time:%m-%d %H:%M:%S} | {entry.phase or ''} | {_cell(what)} |")
    return "\n".join(lines) + "\n"


def publish_restore_artifacts(plan: str, markdown: str, card: Any) -> None:
    """The report and the criteria in the Prefect UI."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    create_markdown_artifact(key=artifact_key(plan, "restore-report"), markdown=markdown,
                             description="restore drill report rendered from the journal")
    if card is not None:
        create_table_artifact(key=artifact_key(plan, "restore-criteria"),
                              table=[{"criterion": n, "passed": c.passed, "evidence": c.evidence}
                                     for n, c in card.criteria.items()],
                              description=f"restore drill criteria: {'passed' if card.passed else 'failed'}")
