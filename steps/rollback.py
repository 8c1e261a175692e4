"""Undo from the journal: the completed world-changing steps, newest first.

Prefect transactions keep undo hooks in memory and roll back after a retried-then-successful task,
so undo lives here instead: the journal says which steps changed the world (or may have: see
``steps.intent``) and what each declared or computed as its undo. Before anything is undone the
journal is reconciled with the world (an intent with no outcome is looked at; an Azure operation
in flight is followed from its journaled continuation token), so an undo runs only for a change
that happened or may have, and at most once per step identity (``phase/step``) — never keyed by
sequence numbers, so a step run twice by an older odin is still undone once. An undo that fails is
retried, reported, and the remaining undos still run — a half-done rollback that stops at the first
error is the worst outcome. Azure undos journal their operations (``operation_started`` with
``undo_of``) so a rollback killed mid-undo is followed, not repeated, by the next one.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from pydantic import BaseModel

from odin_drills.plan.azure_steps import is_azure_step
from odin_drills.steps.actions import parse_undo, run_action
from odin_drills.steps.intent import key_of, reconcile
from odin_drills.steps.intent import pending_undos as _pending_undos
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
    """One entry per step whose change happened (or may have) and whose undo has not succeeded,
    newest first (``steps.intent.pending_undos``)."""
    return _pending_undos(entries)


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
    secrets: Any = None,
) -> RollbackResult:
    """Reconcile, then run every pending undo in reverse order; ``run`` overrides how one undo step
    runs (e.g. as a task).

    ``target`` is the plan's target, which Azure undos need to reach Azure; ``secrets`` the plan's
    ``secrets:`` source: a journaled undo holds secret *references*, resolved again here.
    """
    reconcile(journal, target=target)
    results: list[UndoResult] = []
    for entry in pending_undos(journal.entries()):
        name = entry.step or "step"
        key = key_of(entry.phase, entry.step)
        spec = entry.data["undo"]
        journal.append("undo_started", phase=phase, step=name, undo_of=entry.seq, undo=spec, key=key)

        def on_operation(operation: str, resource: str, continuation_token: str | None, _key: str = key,
                         _name: str = name) -> None:
            journal.append("operation_started", phase=phase, step=_name, operation=operation, resource=resource,
                           continuation_token=continuation_token, undo_of=_key)

        status, detail, tries = "failed", "", 0
        for tries in range(1, attempts + 1):
            try:
                step = parse_undo(spec)
                if run:
                    outcome = run(step)
                else:
                    outcome = run_action(step, client=client, clock=clock, target=target, secrets=secrets,
                                         on_operation=on_operation if is_azure_step(step) else None)
                status, detail = ("ok" if outcome.succeeded else "failed"), outcome.detail
            except Exception as exc:  # an undo must never stop the other undos
                status, detail = "failed", f"{exc.__class__.__name__}: {exc}"
            if status == "ok":
                break
            if tries < attempts:
                time.sleep(backoff_seconds * tries)
        journal.append(
            "undo_finished", phase=phase, step=name, undo_of=entry.seq, key=key, status=status, attempts=tries,
            detail=detail,
        )
        results.append(UndoResult(step=name, status=status, attempts=tries, detail=detail))
    return RollbackResult(undone=results)
