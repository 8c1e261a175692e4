"""Undo from the journal: the completed world-changing steps, newest first.

Prefect transactions keep undo hooks in memory and roll back after a retried-then-successful task,
so undo lives here instead: the journal says which steps completed and what each declared as its
undo. An undo that fails is retried, reported, and the remaining undos still run — a half-done
rollback that stops at the first error is the worst outcome.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from pydantic import BaseModel

from odin_drills.steps.actions import parse_undo, run_action
from odin_drills.steps.journal import Entry, Journal


class UndoResult(BaseModel):
    step: str
    status: str  # ok | failed
    attempts: int
    detail: str


class RollbackResult(BaseModel):
    undone: list[UndoResult]

    @property
    def all_undone(self) -> bool:
        return all(u.status == "ok" for u in self.undone)


def pending_undos(entries: list[Entry]) -> list[Entry]:
    """Completed steps with an undo that has not yet succeeded, newest first."""
    undone = {
        e.data.get("undo_of") for e in entries if e.kind == "undo_finished" and e.data.get("status") == "ok"
    }
    done = [
        e for e in entries
        if e.kind == "step_finished" and e.data.get("status") == "ok" and e.data.get("undo") and e.seq not in undone
    ]
    return list(reversed(done))


def undo_completed(
    journal: Journal,
    *,
    client: httpx.Client,
    clock: Any,
    attempts: int = 3,
    backoff_seconds: float = 1.0,
    phase: str | None = None,
    run: Any = None,
    target: Any = None,
) -> RollbackResult:
    """Run every pending undo in reverse order; ``run`` overrides how one undo step runs (e.g. as a task).

    ``target`` is the plan's target, which Azure undos need to reach Azure.
    """
    results: list[UndoResult] = []
    for entry in pending_undos(journal.entries()):
        name = entry.step or "step"
        spec = entry.data["undo"]
        journal.append("undo_started", phase=phase, step=name, undo_of=entry.seq, undo=spec)
        status, detail, tries = "failed", "", 0
        for tries in range(1, attempts + 1):
            try:
                step = parse_undo(spec)
                outcome = run(step) if run else run_action(step, client=client, clock=clock, target=target)
                status, detail = ("ok" if outcome.succeeded else "failed"), outcome.detail
            except Exception as exc:  # an undo must never stop the other undos
                status, detail = "failed", f"{exc.__class__.__name__}: {exc}"
            if status == "ok":
                break
            if tries < attempts:
                time.sleep(backoff_seconds * tries)
        journal.append(
            "undo_finished", phase=phase, step=name, undo_of=entry.seq, status=status, attempts=tries, detail=detail
        )
        results.append(UndoResult(step=name, status=status, attempts=tries, detail=detail))
    return RollbackResult(undone=results)
