"""Order and safety of the failover: the data tier first, traffic only after it.

    tier(kind)                   "data" (SQL failover groups, storage accounts), "traffic" (Front Door,
                                 DNS) or "other", by step kind
    run_waves(run, run_wave, p)  the failover waves in order; when an action of the data tier failed,
                                 every later action is journaled ``step_skipped`` with the reason and
                                 the runbook ends (``EndRun``, outcome ``rolled_back_healthy``): the
                                 drill's cleanup ends the outage and undoes what the failover did
    data_first(undos)            the failback's order: the data tier's undos first, then traffic
    rollback_verdict(run, done)  after that cleanup: healthy only if every undo succeeded and the
                                 critical smoke journeys pass through Front Door again

Why traffic waits for the data: Front Door pointed at a DR region whose database is still the
read-only secondary turns an outage into failed writes, or worse, writes to two primaries. Why the
failback reverses that (data back first, then traffic) instead of undoing newest first: moving
traffic home before the database is primary there again repeats the same mistake in the other
direction; while the data moves, the DR region's app keeps serving and follows the failover
group's listener.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from odin_drills.steps.actions import StepOutcome
from odin_drills.steps.dr.run import Action, DrillRun, EndRun
from odin_drills.steps.probes.smoke import run_journeys

Tier = Literal["data", "traffic", "other"]
DATA_KINDS = frozenset({"azure.sql.failover", "azure.storage.failover"})
TRAFFIC_KINDS = frozenset({"azure.frontdoor.origins", "azure.dns.records"})
T = TypeVar("T")


def tier(kind: str | None) -> Tier:
    if kind in DATA_KINDS:
        return "data"
    return "traffic" if kind in TRAFFIC_KINDS else "other"


def run_waves(run: DrillRun, run_wave: Callable[[list[Action]], list[tuple[Action, StepOutcome]]],
              phase: str) -> None:
    """Each wave after the one before; a failed data-tier action skips the rest and ends the runbook."""
    for i, wave in enumerate(run.waves):
        run.found.outcomes += run_wave(wave)
        failed = [a.label for a, o in run.found.outcomes if not o.succeeded and tier(kind_of(a)) == "data"]
        if not failed:
            continue
        reason = (f"the data tier did not fail over ({', '.join(failed)}): traffic is not moved to "
                  f"{run.secondary} without its data")
        for action in (a for later in run.waves[i + 1:] for a in later):
            run.journal.append("step_skipped", phase=phase, step=action.label, step_kind=kind_of(action),
                               reason=reason)
        raise EndRun("rolled_back_healthy", f"{reason}; the drill rolled back what it changed")


def data_first(undos: Sequence[tuple[T, str | None]]) -> list[T]:
    """``(undo, step kind)`` pairs, newest first, reordered: the data tier's undos first (each
    group keeps its newest-first order)."""
    return [u for u, kind in undos if tier(kind) == "data"] + [u for u, kind in undos if tier(kind) != "data"]


PARALLEL_UNDO_KINDS = frozenset({"azure.sql.failover", "azure.storage.failover", "azure.frontdoor.origins"})
"""Undos of the runbook's own failover actions: one resource each, independent of their siblings (as
their failover wave was), so a failback may run a batch of them at once."""


def undo_batches(undos: Sequence[tuple[T, str | None, str | None]]) -> list[list[T]]:
    """``(undo, step kind, resource)`` in the failback's order (``data_first``), cut into batches run
    one after another: each maximal run of consecutive undos of one tier whose kinds are in
    ``PARALLEL_UNDO_KINDS`` and whose resources differ is one batch (its undos may run at once: the
    data tier's failovers back, then Front Door's origin groups); any other undo (the drill file's
    own steps, an undo naming no resource) is a batch of its own, in order. Two undos of one resource
    never share a batch: an Azure drill's outage and the failover both changed the primary's origin
    group, and they must be undone newest first. So 200 failover groups fail back in waves, as they
    failed over, not one at a time (``bench/results/drill_scale.md``), and the data still moves home
    before the traffic."""
    ordered = [u for u in undos if tier(u[1]) == "data"] + [u for u in undos if tier(u[1]) != "data"]
    batches: list[list[T]] = []
    open_batch: tuple[Tier, set[str]] | None = None  # the last batch's tier and resources, while it may grow
    for undo, kind, resource in ordered:
        joins = kind in PARALLEL_UNDO_KINDS and bool(resource)
        key = (resource or "").lower()
        if joins and open_batch is not None and open_batch[0] == tier(kind) and key not in open_batch[1]:
            batches[-1].append(undo)
            open_batch[1].add(key)
            continue
        batches.append([undo])
        open_batch = (tier(kind), {key}) if joins else None
    return batches


def rollback_verdict(run: DrillRun, all_undone: bool, phase: str = "cleanup") -> tuple[str, str]:
    """After a failover that failed and was undone: ``rolled_back_healthy`` only when every undo
    worked and, once the primary serves through Front Door again, no critical smoke journey fails."""
    if not all_undone:
        return "rolled_back_degraded", "some undos failed: see the journal, then `odin rollback` this drill file"
    if run.detector is not None:
        run.detector.wait_for_recovery(region=run.primary, consecutive=run.plan.targets.consecutive_successes,
                                       max_wait=max(10 * run.plan.detection.interval, 300.0), since=run.clock.now())
    report = run_journeys(run.journeys("frontdoor"), client=run.client)
    run.journal.append("smoke", phase=phase, step="through Front Door", report=report,
                       critical_failed=report.critical_failed, noncritical_failed=report.noncritical_failed)
    if report.critical_failed:
        return "rolled_back_degraded", f"{report.critical_failed} critical smoke journey(s) fail through Front Door"
    return "rolled_back_healthy", "the critical smoke journeys pass through Front Door"


def kind_of(action: Action) -> str | None:
    kind: Any = getattr(action.step, "kind", None)
    return None if kind is None else str(kind)
