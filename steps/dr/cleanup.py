"""A drill leaves nothing behind: whatever ends it after the outage injection, its changes and the
faults it injected are undone.

    clean_up(run, why)       in the drill's own process, when the runbook ended early (outage not
                             confirmed, a person vetoed, no failover needed) or raised: end the
                             drill's outage (sandbox: remove its fault; Azure: the injection is a
                             journaled Front Door change, undone below), then run every pending
                             undo, newest first — the failback's work, without its health wait
    undo_drill(journal, …)   after a crash (``odin rollback`` of a drill): the same from the journal
                             alone — the faults the journal says were injected (or were about to
                             be) are removed, intents with no outcome are reconciled with the world
                             (``steps.intent``), and every pending undo runs once
    end_outage(journal, …)   ``odin rollback`` outside ``failback.window``: only the drill's own
                             outage ends (``outage_in_place``: its faults, an injection it was making,
                             an Azure drill's Front Door outage change); every failover undo waits

Why the journal and not the in-memory run: a kill leaves only the journal. The drill's actions are
write-ahead (``steps.dr.failover.execute_action``), its fault injection too (``outage_injecting``
before the sandbox is asked, ``outage_injected`` with the fault's id after), so both paths read
the same entries and neither undoes a change twice (undos are keyed by step identity).

Deliberate ends are left alone: a drill run with failback off keeps the service in the DR region
(that is what it was asked to do), and an unplanned storage failover is deferred to a person
(``failback_deferred``), as in the failback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from odin_drills.steps import intent as wal
from odin_drills.steps.dr import outage
from odin_drills.steps.dr.failover import changed_spec, drill_undos, pending_drill_undos, run_undo, undo_entry
from odin_drills.steps.dr.run import DrillRun
from odin_drills.steps.journal import Entry, Journal

PHASE = "cleanup"
OUTAGE_PHASE = "outage"
"""The journal phase of ``end_outage``: neither ``rollback`` nor ``failback``, since ending the drill's
own outage is not a failback (``steps.dr.drill_steps.failback_begun`` does not count it)."""
OUTAGE_ENDED = "outage_ended_outside_window"
"""The ``failback_window`` action ``odin rollback`` journals once it ended the outage outside the window."""


class Faults(Protocol):
    """The sandbox's fault API, as far as undoing a drill needs it (``flows.drill_target.SandboxLink``)."""

    def remove_fault(self, fault_id: str) -> bool: ...

    def active_faults(self) -> list[dict[str, Any]]: ...


@dataclass
class Undone:
    """What undoing a drill did: faults removed, undos run (ok or not), changes deferred to a person."""

    faults_removed: list[str] = field(default_factory=list)
    undone: list[tuple[str, bool]] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)

    @property
    def all_undone(self) -> bool:
        return all(ok for _, ok in self.undone)

    @property
    def anything(self) -> bool:
        return bool(self.faults_removed or self.undone)


def clean_up(run: DrillRun, why: str) -> Undone:
    """End the drill's outage and undo what it changed, in its own process; never raises."""
    done = Undone()
    try:  # an action whose Azure operation outlived its timeout: followed to its end, its undo kept
        wal.reconcile(run.journal, target=run.target, migration=run.drill_id)
    except Exception as exc:  # noqa: BLE001 - what is known to be pending is still undone
        run.note(PHASE, f"could not reconcile the open intents: {exc.__class__.__name__}: {exc}")
    undos, deferred = pending_drill_undos(run.journal, PHASE, run.primary, run.secondary)
    injected = _uncleared(run.journal.entries())
    if not undos and not injected:
        return done
    run.note(PHASE, f"cleaning up after the drill ended early ({why}): ending the injected outage and undoing "
             f"{len(undos)} change(s), newest first")
    if run.outage is not None:
        try:
            run.outage.clear()  # sandbox: removes the fault (outage_cleared); Azure: nothing, its undo is below
        except Exception as exc:  # noqa: BLE001 - the undos must still run
            run.note(PHASE, f"could not end the injected outage: {exc.__class__.__name__}: {exc}")
    done.faults_removed = [e.data.get("fault_id") for e in injected if e.data.get("fault_id")]
    for entry, label in undos:
        done.undone.append((label, run_undo(run, entry, label, PHASE)))
    done.deferred = deferred
    run.found.deferred.extend(r for r in deferred if r not in run.found.deferred)
    if not done.all_undone:
        run.note(PHASE, "some undos failed: run `odin rollback` on this drill file, or put them back by hand")
    return done


def _uncleared(entries: list[Entry]) -> list[Entry]:
    """``outage_injected`` entries whose fault no ``outage_cleared`` removed."""
    cleared = {e.data.get("fault_id") for e in entries if e.kind == "outage_cleared"}
    return [e for e in entries if e.kind == "outage_injected" and e.data.get("fault_id")
            and e.data.get("fault_id") not in cleared]


def _interrupted_injection(entries: list[Entry]) -> Entry | None:
    """An ``outage_injecting`` with no ``outage_injected`` after it: the fault may exist, id unknown.

    Settled too once a recovery swept for it: an ``outage_cleared`` of its region, or a
    ``rollback_finished`` (``remove_faults`` ran to its end, finding nothing when the kill came
    before the sandbox was asked). Without that the drill never had nothing to undo: each later
    ``odin rollback`` ran again and took any outage of that kind in the region for the drill's."""
    asked = [e for e in entries if e.kind == "outage_injecting"]
    if not asked:
        return None
    last = asked[-1]
    settled = any(e.seq > last.seq and (e.kind in ("outage_injected", "rollback_finished") or (
        e.kind == "outage_cleared" and e.data.get("region") == last.data.get("region")) or (
        e.kind == "failback_window" and e.data.get("action") == OUTAGE_ENDED)) for e in entries)
    return None if settled else last


def own_outage_undo(entries: list[Entry]) -> Entry | None:
    """An Azure drill's own outage (its primary taken out of Front Door, ``steps.dr.outage``) whose
    undo has not run — unless a later change still pending moved Front Door too (the failover's):
    then putting the primary back would move traffic home, which is the failback's, and the
    failover's own undo (newest first) restores the state it read, the outage's."""
    pending = drill_undos(entries)  # newest first
    for newer, entry in enumerate(pending):
        if entry.phase == outage.PHASE:
            moved = any(changed_spec(entries, e).get("kind") == "azure.frontdoor.origins" for e in pending[:newer])
            return None if moved else entry
    return None


def outage_in_place(entries: list[Entry]) -> bool:
    """The drill's own outage may still be in place: a fault no ``outage_cleared`` removed, an
    injection it was making when it died, its Front Door outage change not undone (``own_outage_undo``)
    or not yet known to have happened (an intent with no outcome)."""
    return bool(_uncleared(entries) or _interrupted_injection(entries) is not None or own_outage_undo(entries)
                or any(item.phase == outage.PHASE for item, _ in wal.open_intents(entries)))


def remove_faults(journal: Journal, faults: Faults, phase: str) -> list[str]:
    """Remove every fault the journal says the drill injected (or was injecting when it died) and
    no ``outage_cleared`` records; journal each removal."""
    entries = journal.entries()
    removed: list[str] = []
    for entry in _uncleared(entries):
        fault_id = str(entry.data["fault_id"])
        faults.remove_fault(fault_id)
        journal.append("outage_cleared", phase=phase, region=entry.data["region"], fault_id=fault_id)
        removed.append(fault_id)
    asked = _interrupted_injection(entries)
    if asked is not None:
        region = asked.data["region"]
        for fault in faults.active_faults():
            ours = fault.get("kind") == "region_outage" or (  # outage.kind app: an error_rate 1.0 fault
                fault.get("kind") == "error_rate" and fault.get("rate") == 1.0 and "error_rate" in str(asked.data.get("how")))
            if ours and fault.get("region") == region and fault.get("id") not in removed:
                faults.remove_fault(str(fault["id"]))
                journal.append("outage_cleared", phase=phase, region=region, fault_id=str(fault["id"]))
                removed.append(str(fault["id"]))
    return removed


def undo_drill(journal: Journal, *, drill: str, target: Any, client: Any, clock: Any, primary: str, secondary: str,
               faults: Faults | None, retry_wait: float = 1.0, phase: str = "rollback", secrets: Any = None) -> Undone:
    """Undo a drill from its journal alone (after a crash): faults first (the primary must answer
    for a planned failback), then reconcile, then every pending undo once, newest first."""
    done = Undone()
    if faults is not None:
        done.faults_removed = remove_faults(journal, faults, phase)
    wal.reconcile(journal, target=target, migration=drill)
    undos, done.deferred = pending_drill_undos(journal, phase, primary, secondary)
    for entry, label in undos:
        done.undone.append((label, undo_entry(journal, entry, label, phase, client=client, clock=clock, target=target,
                                              retry_wait=retry_wait, secrets=secrets)))
    return done


def end_outage(journal: Journal, *, drill: str, target: Any, client: Any, clock: Any, faults: Faults | None,
               retry_wait: float = 1.0, secrets: Any = None) -> Undone:
    """End only the drill's own outage, from the journal (``odin rollback`` outside ``failback.window``):
    its faults removed as ``undo_drill`` removes them; on Azure the outage change's undo run once,
    under its step identity, so no later rollback runs it again. The failover's undos stay pending."""
    done = Undone()
    if faults is not None:
        done.faults_removed = remove_faults(journal, faults, OUTAGE_PHASE)
    if any(item.phase == outage.PHASE for item, _ in wal.open_intents(journal.entries())):
        wal.reconcile(journal, target=target, migration=drill)  # killed taking the primary out: did it?
    entry = own_outage_undo(journal.entries())
    if entry is not None:
        label = entry.step or "the drill's outage"
        done.undone.append((label, undo_entry(journal, entry, label, OUTAGE_PHASE, client=client, clock=clock,
                                              target=target, retry_wait=retry_wait, secrets=secrets)))
    return done


def nothing_to_undo(entries: list[Entry]) -> bool:
    """No change waits for its undo, no intent for its verdict, no injected fault for its removal."""
    return (not drill_undos(entries) and not wal.open_intents(entries) and not _uncleared(entries)
            and _interrupted_injection(entries) is None)
