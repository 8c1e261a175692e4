"""Write-ahead execution: the journal says what may change *before* it changes, and every start
reconciles the journal with the world.

A level-triggered controller with a write-ahead log. For each world-changing step (``http`` other
than GET/HEAD, ``command``, ``azure.*``):

1. ``step_started``   its identity: migration, phase, step name, attempt (1, 2, … per phase and name);
2. the step observes the world and computes its undo (Azure: from the state it read);
3. ``step_intent``    identity, the observed ``prior`` state, the ``undo``, the step's ``spec`` —
                      appended and fsynced *before* the first world-changing call;
4. ``operation_started`` for every Azure long-running operation ARM accepted: its continuation
                      token, so a later run polls it instead of starting another;
5. ``step_finished``  the outcome (and the undo a rollback runs).

A process killed anywhere in between leaves an intent with no outcome. :func:`reconcile` (run at
every start: ``odin migrate --resume``, every phase of a migration, ``odin rollback``) looks at the
world for each one and journals ``step_reconciled``:

- **happened** — the world shows the change (an operation still in flight is first followed to its
  end from its journaled continuation token): its undo is kept, a resume does not run it again;
- **partial** — part of it shows (a Front Door step killed between two origin PATCHes): its undo,
  which covers every field the step would change, is kept, and a resume runs the step again;
- **not_happened** — the world is as the intent found it: nothing to undo, a resume runs it again;
- **unknown** — ``http`` and ``command`` steps: odin cannot read their effect back, so the intent
  counts as *may have happened* and its undo is kept. **Undos must therefore be idempotent**
  (``PUT`` the old weights, not ``POST`` a decrement): a rollback may send an undo for a change that
  did not happen, or send it again after a crash mid-undo. On resume such a step is sent again only
  when that is safe by definition (:func:`resendable`: ``PUT``/``DELETE``, ``wait``, and the Azure
  steps, which observe first and change only what is not yet as wanted); otherwise the resume
  rolls back rather than guess.

Undos are keyed by the step's identity (``phase/step``), never by sequence numbers: one step has
at most one undo whatever its attempts (the first attempt whose change happened, or may have,
carries it — a later attempt that found "already as wanted" computed none), and an undo that
finished ``ok`` for a key is never run again. An undo killed mid-flight is reconciled too: an
Azure undo is followed (its own operations are journaled) and observed; done → ``undo_finished``
with ``reconciled``; not done → it stays pending and runs again (Azure undos observe first and
leave what is already right alone).

Known residual window: a kill *during* the HTTP round trip of a ``begin_*`` call (after the request
left, before its 202 answer — and with it the continuation token — was journaled) leaves an Azure
operation odin never saw. Storage (``failoverInProgress``) and Front Door (``Updating``) show it in
flight and reconcile waits for it. A SQL failover group does not: reconcile reads "not happened"
while the failover may still complete afterwards — the one change this design can orphan, inside
a window one HTTP request long (a re-run meets Azure's ``FailoverGroupOperationInProgress`` and
fails, which rolls back; the undo then finds the old primary still primary). The kill matrix's
journal boundaries fall on either side of it, never inside.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from odin_drills.errors import OdinError
from odin_drills.plan.azure_steps import is_azure_step
from odin_drills.plan.steps import HttpStep, Step, WaitStep
from odin_drills.steps.actions import StepOutcome, parse_undo, run_action
from odin_drills.steps.actions.outcome import LEFT_CHANGED
from odin_drills.steps.journal import Entry, Journal

__all__ = ["Attempt", "Reconciled", "StepHistory", "execute", "history", "key_of", "next_attempt", "of_step",
           "open_intents", "pending_undos", "reconcile", "resendable", "step_spec"]

_STEP = TypeAdapter(Step)

RESENDABLE_METHODS = {"PUT", "DELETE"}


def key_of(phase: str | None, step: str | None) -> str:
    """A step's identity within its migration: ``phase/step``."""
    return f"{phase or '-'}/{step or 'step'}"


def step_spec(step: Any) -> dict[str, Any]:
    """The step as JSON, references unresolved (what ``step_intent`` records and reconcile re-reads)."""
    return step.model_dump(mode="json", by_alias=True, exclude_none=True)


def resendable(step: Any) -> bool:
    """Running it again leaves the world as running it once: HTTP PUT/DELETE (idempotent by HTTP's
    definition), ``wait``, and the Azure steps (they read the world first and leave what is already
    as wanted alone). A resume runs such a step again when it is not known to be done."""
    if isinstance(step, HttpStep):
        return step.method in RESENDABLE_METHODS
    return isinstance(step, WaitStep) or is_azure_step(step)


# ------------------------------------------------------------------ reading the journal

@dataclass
class Attempt:
    number: int
    started: Entry | None = None
    intent: Entry | None = None
    operations: list[Entry] = field(default_factory=list)
    finished: Entry | None = None
    reconciled: Entry | None = None

    @property
    def state(self) -> str:
        """done (the change happened, or nothing needed changing), maybe (may have happened:
        unobservable), failed, not_run, open (an intent nobody has reconciled yet)."""
        if self.finished is not None:
            status = self.finished.data.get("status")
            return "done" if status in ("ok", "noop") else ("skipped" if status == "skipped" else "failed")
        if self.reconciled is not None:
            verdict = self.reconciled.data.get("verdict")
            return {"happened": "done", "unknown": "maybe", "partial": "maybe"}.get(str(verdict), "not_run")
        if self.intent is not None:
            return "open"
        return "not_run"

    @property
    def change_entry(self) -> Entry | None:
        """The entry holding the undo of a change this attempt made (or may have made)."""
        if self.finished is not None and self.finished.data.get("undo") and (
                self.finished.data.get("status") == "ok"
                or (self.finished.data.get("status") == "failed"
                    and (self.finished.data.get("output") or {}).get(LEFT_CHANGED))):
            return self.finished
        if self.reconciled is not None and self.reconciled.data.get("verdict") in ("happened", "partial", "unknown") \
                and self.reconciled.data.get("undo"):
            return self.reconciled
        return None

    @property
    def order(self) -> int:
        """When the change was made: the intent's seq (older journals: the outcome's)."""
        entry = self.intent or self.finished or self.reconciled or self.started
        return entry.seq if entry is not None else 0


@dataclass
class StepHistory:
    key: str
    phase: str | None
    step: str
    attempts: list[Attempt] = field(default_factory=list)
    undos_started: list[Entry] = field(default_factory=list)
    undos_finished: list[Entry] = field(default_factory=list)

    @property
    def state(self) -> str | None:
        """The step's state across attempts: done beats maybe beats the last attempt's state."""
        states = [a.state for a in self.attempts]
        if "done" in states:
            return "done"
        if "maybe" in states:
            return "maybe"
        return states[-1] if states else None

    @property
    def change(self) -> Attempt | None:
        """The first attempt whose change happened (or may have): its undo is the step's undo."""
        return next((a for a in self.attempts if a.change_entry is not None), None)

    @property
    def undone(self) -> bool:
        return any(u.data.get("status") == "ok" for u in self.undos_finished)


def history(entries: list[Entry]) -> dict[str, StepHistory]:
    """Every step of the journal by identity, its attempts and its undos."""
    steps: dict[str, StepHistory] = {}
    by_seq: dict[int, str] = {}

    def of(entry: Entry) -> StepHistory:
        key = key_of(entry.phase, entry.step)
        if key not in steps:
            steps[key] = StepHistory(key=key, phase=entry.phase, step=entry.step or "step")
        return steps[key]

    def attempt(item: StepHistory, number: int | None, *, new: bool = False) -> Attempt:
        if number is None:  # older journals and drills: no attempt numbers; each start is a new attempt
            if new or not item.attempts:
                item.attempts.append(Attempt(number=len(item.attempts) + 1))
            return item.attempts[-1]
        for a in item.attempts:
            if a.number == number:
                return a
        item.attempts.append(Attempt(number=number))
        return item.attempts[-1]

    for entry in entries:
        kind, data = entry.kind, entry.data
        if kind in ("step_started", "step_intent", "step_finished", "step_reconciled"):
            item = of(entry)
            a = attempt(item, data.get("attempt"), new=kind == "step_started")
            if kind == "step_started":
                a.started = entry
            elif kind == "step_intent":
                a.intent = entry
            elif kind == "step_finished":
                if a.finished is not None:  # an older journal that re-ran the step: another attempt
                    a = attempt(item, None, new=True)
                a.finished = entry
            else:
                a.reconciled = entry
            by_seq[entry.seq] = item.key
        elif kind == "operation_started" and not data.get("undo_of"):
            attempt(of(entry), data.get("attempt")).operations.append(entry)
    for entry in entries:
        if entry.kind in ("undo_started", "undo_finished"):
            key = entry.data.get("key") or by_seq.get(entry.data.get("undo_of", -1))
            if key in steps:
                target = steps[key].undos_started if entry.kind == "undo_started" else steps[key].undos_finished
                target.append(entry)
    return steps


def of_step(entries: list[Entry], phase: str | None, step: str | None) -> list[Entry]:
    """The entries of one step (same phase and name): all its attempts' history needs. Filtering
    first keeps a per-step lookup from rebuilding every step's history (issue 14)."""
    return [e for e in entries if e.step == step and e.phase == phase]


def next_attempt(entries: list[Entry], phase: str, step: str) -> int:
    item = history(of_step(entries, phase, step)).get(key_of(phase, step))
    return (max(a.number for a in item.attempts) + 1) if item and item.attempts else 1


def pending_undos(entries: list[Entry]) -> list[Entry]:
    """One entry per step whose change happened (or may have) and whose undo has not succeeded,
    newest change first. The entry (``step_finished`` or ``step_reconciled``) holds ``undo``."""
    found: list[tuple[int, Entry]] = []
    for item in history(entries).values():
        attempt = item.change
        if attempt is None or item.undone:
            continue
        entry = attempt.change_entry
        assert entry is not None
        found.append((attempt.order, entry))
    return [entry for _, entry in sorted(found, key=lambda pair: pair[0], reverse=True)]


def open_intents(entries: list[Entry]) -> list[tuple[StepHistory, Attempt]]:
    """Intents with no outcome and no reconciliation yet, oldest first."""
    found = [(item, a) for item in history(entries).values() for a in item.attempts if a.state == "open"]
    return sorted(found, key=lambda pair: pair[1].order)


# ------------------------------------------------------------------ acting

def execute(journal: Journal, step: Any, *, phase: str, label: str, migration: str | None, client: Any,
            clock: Any, target: Any = None, secrets: Any = None,
            progress: Callable[..., None] | None = None) -> StepOutcome:
    """Run one action step with its identity, intent and outcome journaled (see the module doc).

    An Azure operation still running when the step's time is up is not an outcome: its intent stays
    open (with the journaled token) and the next :func:`reconcile` follows it to its end."""
    attempt = next_attempt(journal.entries(), phase, label)
    journal.append("step_started", phase=phase, step=label, step_kind=step.kind, changes_world=step.changes_world,
                   migration=migration, attempt=attempt)
    observable = is_azure_step(step)

    def intent(prior: dict[str, Any] | None = None, undo: dict[str, Any] | None = None,
               change: str | None = None) -> None:
        journal.append("step_intent", phase=phase, step=label, attempt=attempt, migration=migration,
                       step_kind=step.kind, spec=step_spec(step), observable=observable, prior=prior, undo=undo,
                       undo_reason=getattr(step, "undo_reason", None), change=change)

    def on_operation(operation: str, resource: str, continuation_token: str | None) -> None:
        journal.append("operation_started", phase=phase, step=label, attempt=attempt, operation=operation,
                       resource=resource, continuation_token=continuation_token)

    try:
        outcome = run_action(step, client=client, clock=clock, target=target, secrets=secrets, progress=progress,
                             intent=intent if step.changes_world else None, on_operation=on_operation)
    except Exception as exc:  # a crashing step is a failed step, and it is journaled
        outcome = StepOutcome(status="failed", detail=f"{exc.__class__.__name__}: {exc}")
    error = outcome.output.get("error") or {}
    if outcome.status == "failed" and error.get("code") == "Timeout" and outcome.output.get("continuation_token"):
        journal.append("note", phase=phase, step=label,
                       message=f"{label}: the operation is still running after the step's timeout; the next start "
                               "follows it from its journaled continuation token")
        return outcome
    journal.append("step_finished", phase=phase, step=label, status=outcome.status, detail=outcome.detail,
                   undo=outcome.undo, undo_reason=getattr(step, "undo_reason", None), output=outcome.output,
                   migration=migration, attempt=attempt)
    return outcome


# ------------------------------------------------------------------ reconciling

@dataclass
class Reconciled:
    key: str
    attempt: int
    verdict: str
    how: str
    detail: str


def _observe(step: Any, target: Any, operations: list[Entry], undo: dict[str, Any] | None
             ) -> tuple[str, str, str, dict[str, Any] | None]:
    """(verdict, how, detail, observed) for an Azure intent: follow its operations, then look."""
    from odin_drills.steps.azure import azure_follow, azure_reached

    how, notes = "observed", []
    for op in operations:
        token = op.data.get("continuation_token")
        if not token:
            continue
        how = "polled"
        try:
            azure_follow(step, target, operation=op.data["operation"], continuation_token=token,
                         resource=op.data.get("resource", ""))
            notes.append(f"operation {op.data['operation']} on {op.data.get('resource', '?')} followed to its end")
        except OdinError as exc:
            if getattr(exc, "code", None) == "Timeout":
                return ("unknown", how, f"the journaled operation is still running ({exc.message}); its undo is kept",
                        None)
            notes.append(f"the journaled operation ended without the change: {exc.message}")
    try:
        done, observed = azure_reached(step, target)
        if done:
            return "happened", how, "; ".join([*notes, "the world shows the change"]), observed
        if undo is not None:
            back, observed = azure_reached(parse_undo(undo), target)
            if back:
                return "not_happened", how, "; ".join([*notes, "the world is as the intent found it"]), observed
        return ("partial", how, "; ".join([*notes, "the world shows part of the change: its undo is kept"]),
                observed)
    except OdinError as exc:
        return "unknown", "unreadable", f"Azure could not be read ({exc.message}); its undo is kept", None


def reconcile(journal: Journal, *, target: Any = None, migration: str | None = None) -> list[Reconciled]:
    """Decide every open intent (and every undo left without an outcome) from the world; journal
    each finding. Safe to run any number of times: what it has decided it never decides again."""
    found: list[Reconciled] = []
    entries = journal.entries()
    for item, attempt in open_intents(entries):
        assert attempt.intent is not None
        data = attempt.intent.data
        undo = data.get("undo")
        if not data.get("observable"):
            verdict, how, observed = "unknown", "unobservable", None
            detail = (f"a {data.get('step_kind')} step's effect cannot be read back: it may have happened, so its "
                      "undo is kept (undos must be idempotent)")
        else:
            verdict, how, detail, observed = _observe(_STEP.validate_python(data["spec"]), target,
                                                      attempt.operations, undo)
        kept = undo if verdict in ("happened", "partial", "unknown") else None
        journal.append("step_reconciled", phase=item.phase, step=item.step, attempt=attempt.number,
                       migration=migration or data.get("migration"), verdict=verdict, how=how, detail=detail,
                       undo=kept, observed=observed)
        found.append(Reconciled(item.key, attempt.number, verdict, how, detail))
    found.extend(_reconcile_undos(journal, target))
    return found


def _reconcile_undos(journal: Journal, target: Any) -> list[Reconciled]:
    """An Azure undo killed mid-flight: follow its journaled operations; if the world shows it
    done, record that (it is then never run again); otherwise it stays pending."""
    from odin_drills.steps.azure import azure_follow, azure_reached

    found = []
    entries = journal.entries()
    operations = [e for e in entries if e.kind == "operation_started" and e.data.get("undo_of")]
    for item in history(entries).values():
        if not item.undos_started or item.undone:
            continue
        last = item.undos_started[-1]
        if any(f.seq > last.seq for f in item.undos_finished):
            continue
        spec = last.data["undo"]
        try:
            undo_step = parse_undo(spec)
        except Exception:  # noqa: BLE001 - an unreadable spec is left to the rollback to report
            continue
        if not is_azure_step(undo_step):
            continue  # http/command: cannot be read back; the rollback sends it again (idempotent)
        how = "observed"
        try:
            for op in operations:
                if op.data.get("undo_of") == item.key and op.seq > last.seq and op.data.get("continuation_token"):
                    how = "polled"
                    try:
                        azure_follow(undo_step, target, operation=op.data["operation"],
                                     continuation_token=op.data["continuation_token"],
                                     resource=op.data.get("resource", ""))
                    except OdinError as exc:
                        if getattr(exc, "code", None) == "Timeout":
                            raise
            done, _ = azure_reached(undo_step, target)
        except OdinError:
            continue
        if done:
            journal.append("undo_finished", phase=last.phase, step=item.step, undo_of=last.data["undo_of"],
                           key=item.key, status="ok", attempts=1, detail="the world shows the undo done",
                           reconciled=how)
            found.append(Reconciled(item.key, 0, "undone", how, "the world shows the undo done"))
    return found
