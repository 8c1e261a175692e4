"""The drill report's retrospective (SRE handbook, DR Test Procedure step 7: "Retrospective:
Identify gaps, update procedures"): the gaps this drill found, how they recur across the drill
history, how RTO/RPO moved since the last drill, and an action table for people to fill in.

Gaps are facts odin recorded, never guesses: each criterion missed (with its evidence), failover
or failback actions that failed, follow-ups deferred, a failover check worse than before the
outage, stakeholder messages that reached nobody. Actions are left blank on purpose: who fixes
what, by when, is the retrospective meeting's to decide.

A restore drill (``RestoreScorecard``) has the same retrospective: its restores and undos are
journaled steps like a failover's, and its RTO and RPO move per store (SQL copy, blob range).
The Markdown reports render it from their templates, the HTML report from ``section_retrospective``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

from odin_drills.reports.formatting import seconds
from odin_drills.steps.dr.history import TrendPoint
from odin_drills.steps.dr.scorecard import Scorecard
from odin_drills.steps.journal import Entry

if TYPE_CHECKING:
    from odin_drills.steps.dr.restore import RestoreScorecard

Card = Union[Scorecard, "RestoreScorecard"]
"""Either drill kind's scorecard: both have criteria, rto/rpo seconds, passed, drill_id."""


def _gaps(entries: list[Entry], card: Card | None, deferred: list[str]) -> list[str]:
    gaps: list[str] = []
    if card is not None:
        gaps += [f"criterion missed: {name} — {c.evidence}" for name, c in card.criteria.items() if not c.passed]
    gaps += [f"action failed: {e.step} — {e.data.get('detail')}" for e in entries
             if e.kind == "step_finished" and e.data.get("status") == "failed"]
    gaps += [f"undo failed: {e.step} — {e.data.get('detail')}" for e in entries
             if e.kind == "undo_finished" and e.data.get("status") not in ("ok", "noop", "skipped")]
    gaps += [f"failover check: worse than before the outage — {e.data.get('reason')}" for e in entries
             if e.kind == "failover_check" and e.data.get("verdict") == "worse"]
    failed = sorted({str(e.data.get("channel")) for e in entries if e.kind == "comms" and e.data.get("status") == "failed"})
    if failed:
        gaps.append(f"stakeholder messages failed to reach: {', '.join(failed)}")
    gaps += [f"follow-up deferred: {item}" for item in deferred]
    return [g.replace("|", "/").replace("\n", " ") for g in gaps]


def _recurring(card: Card | None, trend: list[TrendPoint]) -> list[str]:
    """Criteria missed now that earlier drills missed too: a gap the last retrospective did not close."""
    if card is None or not trend:
        return []
    out = []
    for name, c in card.criteria.items():
        if c.passed:
            continue
        before = sum(1 for p in trend if name in p.failed_criteria)
        if before:
            out.append(f"{name}: missed in {before} of the {len(trend)} earlier drill(s) as well")
    return out


def _movement(card: Card | None, trend: list[TrendPoint]) -> list[str]:
    """RTO and RPO against the previous drill, and the pass rate over the history shown."""
    if card is None or not trend:
        return []
    last = trend[-1]
    first = "sql " if hasattr(card, "stores") else ""  # a restore drill's top-level numbers are its SQL store's
    lines = [_moved(f"{first}RTO", card.rto_seconds, last.rto_seconds, last.drill_id),
             _moved(f"{first}RPO", card.rpo_seconds, last.rpo_seconds, last.drill_id)]
    for store in (card.stores()[1:] if hasattr(card, "stores") else []):  # the first is the SQL store above
        then_store = last.stores.get(store.store)
        for label, now, then in (("RTO", store.rto_seconds, then_store and then_store.rto_seconds),
                                 ("RPO", store.rpo_seconds, then_store and then_store.rpo_seconds)):
            lines.append(_moved(f"{store.store} {label}", now, then, last.drill_id))
    passed = sum(p.passed for p in trend) + int(card.passed)
    lines.append(f"passed {passed} of the last {len(trend) + 1} drills (this one included)")
    return lines


def _moved(label: str, now: float | None, then: float | None, drill_id: str) -> str:
    if now is None or then is None:
        return f"{label}: {seconds(now)} now, {seconds(then)} in drill `{drill_id}` (not comparable)"
    way = "better" if now < then else "worse" if now > then else "unchanged"
    return f"{label}: {seconds(now)} now vs {seconds(then)} in drill `{drill_id}` ({way})"


def retrospective(entries: list[Entry], card: Card | None, trend: list[TrendPoint],
                  deferred: list[str] | None = None) -> dict[str, Any]:
    gaps = _gaps(entries, card, deferred or [])
    return {"gaps": gaps, "recurring": _recurring(card, trend), "movement": _movement(card, trend),
            "actions": gaps or ["(no gap found: note what went well and what to try next time)"]}
