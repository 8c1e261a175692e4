"""The drill report's retrospective (SRE handbook, DR Test Procedure step 7: "Retrospective:
Identify gaps, update procedures"): the gaps this drill found, how they recur across the drill
history, how RTO/RPO moved since the last drill, and an action table for people to fill in.

Gaps are facts odin recorded, never guesses: each criterion missed (with its evidence), failover
or failback actions that failed, follow-ups deferred, a failover check worse than before the
outage, stakeholder messages that reached nobody. Actions are left blank on purpose: who fixes
what, by when, is the retrospective meeting's to decide.
"""

from __future__ import annotations

from typing import Any

from odin_drills.reports.formatting import seconds
from odin_drills.steps.dr.history import TrendPoint
from odin_drills.steps.dr.scorecard import Scorecard
from odin_drills.steps.journal import Entry


def _gaps(entries: list[Entry], card: Scorecard | None, deferred: list[str]) -> list[str]:
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


def _recurring(card: Scorecard | None, trend: list[TrendPoint]) -> list[str]:
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


def _movement(card: Scorecard | None, trend: list[TrendPoint]) -> list[str]:
    """RTO and RPO against the previous drill, and the pass rate over the history shown."""
    if card is None or not trend:
        return []
    last = trend[-1]
    lines = []
    for label, now, then in (("RTO", card.rto_seconds, last.rto_seconds), ("RPO", card.rpo_seconds, last.rpo_seconds)):
        if now is None or then is None:
            lines.append(f"{label}: {seconds(now)} now, {seconds(then)} in drill `{last.drill_id}` (not comparable)")
            continue
        way = "better" if now < then else "worse" if now > then else "unchanged"
        lines.append(f"{label}: {seconds(now)} now vs {seconds(then)} in drill `{last.drill_id}` ({way})")
    passed = sum(p.passed for p in trend) + int(card.passed)
    lines.append(f"passed {passed} of the last {len(trend) + 1} drills (this one included)")
    return lines


def retrospective(entries: list[Entry], card: Scorecard | None, trend: list[TrendPoint],
                  deferred: list[str] | None = None) -> dict[str, Any]:
    gaps = _gaps(entries, card, deferred or [])
    return {"gaps": gaps, "recurring": _recurring(card, trend), "movement": _movement(card, trend),
            "actions": gaps or ["(no gap found: note what went well and what to try next time)"]}
