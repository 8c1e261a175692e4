"""What a restore drill leaves behind: the Markdown report, and the Prefect artifacts.

From the journal, the restore scorecard and the plan's drill history only: restore RTO and RPO
against their targets per store (the SQL copy, the blob range; the same verdict words as the
region drill's report, ``reports.drill``), the checklist with its evidence, what the canary found
(lost and extra ids), the trend over earlier restore drills, the retrospective (the same one as a
region drill's: ``retrospective.md.j2``), and a timeline. The HTML twin is
``reports.html.render_html(entries, scorecard=card.to_report(), retro=...)``, whose scorecard and
retrospective sections serve both drill kinds.
"""

from __future__ import annotations

from typing import Any

from odin_drills.reports.artifacts import artifact_key
from odin_drills.reports.drill import _cell, _verdict
from odin_drills.reports.formatting import seconds
from odin_drills.reports.templating import render
from odin_drills.steps.dr.history import TrendPoint
from odin_drills.steps.journal import Entry

TIMELINE_KINDS = ("run_started", "sandbox", "lock", "canary_started", "canary_stopped", "restore_point",
                  "blob_restore_point", "blob_restore_verified",
                  "step_intent", "operation_started", "step_finished", "restore_verified", "undo_started",
                  "undo_finished", "step_reconciled", "note", "run_finished")


STORE_WORDS = {"sql": ("request → restored database online", "writes committed by the point, missing"),
               "blob": ("request → blob range restored", "blobs acknowledged by the point, missing")}


def render_restore_markdown(entries: list[Entry], card: Any, *, outcome: str, outcome_text: str,
                            detail: str = "", trend: list[TrendPoint] | None = None,
                            retro: dict[str, Any] | None = None) -> str:
    started = next((e for e in entries if e.kind == "run_started"), None)
    plan = started.data.get("plan") if started else "?"
    lines = [f"# Restore drill report: {plan}", ""]
    if started is not None:
        lines.append(f"Drill `{started.data.get('drill')}` on environment `{started.data.get('environment')}` "
                     f"({started.data.get('target')} target, time scale {started.data.get('time_scale')}).")
    lines += ["", f"**Outcome: {outcome_text}** (`{outcome}`)" + (f": {_cell(detail, 400)}" if detail else ""), ""]
    if card is not None:
        lines += _numbers(card)
    lines += _wrong(entries, "restore_verified", "Rows the copy got wrong", "committed")
    lines += _wrong(entries, "blob_restore_verified", "Blobs the restore got wrong", "acknowledged")
    if trend:
        lines += _trend(trend, card)
    if retro is not None:
        lines += [render("retrospective.md.j2", retro=retro).rstrip("\n"), ""]
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


def _numbers(card: Any) -> list[str]:
    """RTO and RPO per store, what was restored, the canary counts, and the criteria."""
    lines = ["## Restore RTO and RPO", "", "| measure | value | target | verdict |", "|---|---|---|---|"]
    stores = card.stores()
    for store in stores:
        rto_words, rpo_words = STORE_WORDS.get(store.store, ("request → restored", "missing"))
        name = "" if len(stores) == 1 else f"{store.store} "
        lines += [f"| {name}RTO ({rto_words}) | {seconds(store.rto_seconds)} | {seconds(store.rto_target_seconds)} | "
                  f"{_verdict(store.rto_seconds, store.rto_target_seconds)} |",
                  f"| {name}RPO ({rpo_words}) | {seconds(store.rpo_seconds)} | {seconds(store.rpo_target_seconds)} | "
                  f"{_verdict(store.rpo_seconds, store.rpo_target_seconds)} |"]
    lines += ["", f"Restored `{card.source_database}` to **{card.restore_point}** (Azure's clock) as `{card.restored_database}`.",
              f"Canary: {card.canary_writes} writes acknowledged, {card.expected_writes} committed by the point, "
              f"{card.lost_writes} of those missing from the copy, {card.extra_writes} later rows present, "
              f"{card.corrupted_writes} corrupted, {card.unreadable_writes} unreadable."]
    if card.blob is not None:
        b = card.blob
        lines += ["", f"Restored the blobs of `{b.resource}` {b.restored} to **{b.restore_point}** (Azure's clock).",
                  f"Canary blobs: {b.canary_writes} acknowledged, {b.expected_writes} by the point, {b.lost_writes} of "
                  f"those missing, {b.extra_writes} later blobs still there, {b.corrupted_writes} corrupted, "
                  f"{b.unreadable_writes} unreadable; the range {'was' if b.undone else 'was NOT'} restored back."]
    lines += ["", "## Criteria", "", "| criterion | result | evidence |", "|---|---|---|"]
    for name, criterion in card.criteria.items():
        lines.append(f"| {name} | {'✓ passed' if criterion.passed else '✗ failed'} | {_cell(criterion.evidence)} |")
    return lines + [""]


def _wrong(entries: list[Entry], kind: str, title: str, verb: str) -> list[str]:
    """The ids a restore got wrong: missing though by the point, present though after it."""
    verified = next((e for e in reversed(entries) if e.kind == kind), None)
    if verified is None or not (verified.data.get("lost_ids") or verified.data.get("extra_ids")):
        return []
    lines = [f"## {title}", ""]
    if verified.data.get("lost_ids"):
        lines.append(f"Missing ({verb} by the point): " + ", ".join(f"`{i}`" for i in verified.data["lost_ids"]))
    if verified.data.get("extra_ids"):
        lines.append(f"Present but {verb} after the point: " + ", ".join(f"`{i}`" for i in verified.data["extra_ids"]))
    return lines + [""]


def _trend(trend: list[TrendPoint], card: Any) -> list[str]:
    """Earlier restore drills of this plan and this one: RTO and RPO per store, pass/fail, criteria missed."""
    stores = [s.store for s in card.stores()] if card is not None else sorted({k for p in trend for k in p.stores})
    head = " | ".join(f"{s} RTO | {s} RPO" for s in stores)
    lines = ["## Trend over earlier restore drills", "", f"| drill | scored | {head} | passed | criteria missed |",
             "|---|---|" + "---|---|" * len(stores) + "---|---|"]

    def cells(values: dict[str, Any]) -> str:
        return " | ".join(f"{seconds(getattr(values.get(s), 'rto_seconds', None))} | "
                          f"{seconds(getattr(values.get(s), 'rpo_seconds', None))}" for s in stores)

    for p in trend:
        lines.append(f"| `{p.drill_id}` | {p.scored_at:%Y-%m-%d %H:%M} | {cells(p.stores)} | {'✓' if p.passed else '✗'} "
                     f"| {', '.join(p.failed_criteria)} |")
    if card is not None:
        lines.append(f"| **this drill** `{card.drill_id}` | {card.scored_at:%Y-%m-%d %H:%M} | "
                     f"{cells({s.store: s for s in card.stores()})} | {'✓' if card.passed else '✗'} | "
                     f"{', '.join(n for n, c in card.criteria.items() if not c.passed)} |")
    return lines + [""]


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
