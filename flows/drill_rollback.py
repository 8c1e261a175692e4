"""``odin rollback DRILL.yaml``: undo what a region-failover drill left behind, from its journal.

A drill undoes its own changes when it ends (the failback, or ``steps.dr.cleanup.clean_up`` when
it ends early or raises); a drill *killed* cannot. This flow is the after-a-crash path, on the
journal machinery migrations use (``steps.intent``): under the environment lock (a drill still
running holds it, so the two never race), on the drill it names (default: the plan's latest), it

1. reaches the drill's target again — the sandbox the journal names (its ARM endpoint and CA are
   journaled; a sandbox the drill started in-process stopped with it, leaving nothing to undo), or
   the plan's Azure subscription;
2. removes the faults the drill injected (or was injecting when it died: ``outage_injecting``);
3. reconciles every intent with no outcome with the world, then runs every pending undo once:
   the failovers back first, then the rest newest first (the drill file's own ``steps.failover``
   and ``steps.validation`` changes, Front Door, an Azure drill's own outage); an unplanned storage
   failover is left to a person, as in the failback;
4. runs the drill file's ``steps.failback`` in order, through the failback's own write-ahead
   executor (``flows.drill_tasks.run_drill_steps``) and under its journal identities
   (``failback/<name>``), so a step the drill's failback or an earlier rollback finished is not run
   again (``steps.dr.drill_steps.owed_failback_steps``); skipped when an undo failed;
5. re-checks: the smoke journeys through Front Door.

It is the handbook's failback after an incident, so it keeps to the plan's low-traffic window: a
plan with ``failback.window`` refuses it outside the window (one line naming ``failback.window``
and when it opens next, exit 2, nothing touched) unless ``force`` (``--force``), which the journal
records with who and why (``failback_window``). Nothing to do is said whatever the hour.

The window is for moving traffic and data back, not for the drill's own outage: a drill killed
before its injected outage ended (its sandbox fault, an injection it was making, an Azure drill's
primary taken out of Front Door while nothing else moved Front Door) would otherwise keep it for
hours. Outside the window, without ``force``, only that outage ends, at once (``end_own_outage``:
under the lock, journaled like step 2, with a ``failback_window`` ``outage_ended_outside_window``
entry naming who and why); every failover undo and ``steps.failback`` stay pending for a later
``odin rollback`` in the window (or ``--force``), which does not remove the outage again. It ends
``outage_ended`` (exit 5: waiting; one line naming ``failback.window`` and its next start) — or, when
nothing had failed over (nothing is left to undo and no ``steps.failback`` is owed, as after the
drill's own early-end cleanup), re-checks like step 5 and ends rolled back.

It ends ``rolled back, healthy`` (exit 3), ``rolled back, still degraded`` (exit 4), ``outage ended,
failback waiting`` (exit 5, above) or, when the journal shows nothing left to undo and no
``steps.failback`` owed, ``completed`` (exit 0) — ``odin_drills.outcomes``.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import httpx
from prefect import flow, get_run_logger
from prefect.runtime import flow_run as runtime_flow_run
from pydantic import BaseModel

from odin_drills.errors import EXIT_USAGE, StateMissing, TargetUnreachable, UsageError
from odin_drills.flows.drill_failback import owed_work, run_failback_steps, window_checked, window_refusal
from odin_drills.flows.drill_run import LISTENERS, checked_plan, environment_held
from odin_drills.flows.drill_target import SandboxLink
from odin_drills.flows.final_state import final_state, summary_of
from odin_drills.home import drills_dir
from odin_drills.outcomes import exit_code
from odin_drills.plan.drill import DrillPlan, rebase_journey
from odin_drills.plan.models import SandboxTarget
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.dr.cleanup import end_outage, outage_in_place, undo_drill
from odin_drills.steps.dr.drill_steps import failback_begun
from odin_drills.steps.dr.failover import drill_undos
from odin_drills.steps.dr.failback_window import journal_outage_ended, journal_window
from odin_drills.steps.journal import Journal, read_journal
from odin_drills.steps.probes.smoke import run_journeys

RECHECK_WALL_SECONDS = 20.0
"""How long the re-check may wait for the service to answer through Front Door again (the primary
takes a few probe rounds to be back in rotation after its fault is removed)."""


class DrillRollbackSummary(BaseModel):
    plan: str
    drill_id: str
    outcome: str
    exit_code: int
    journal: str = ""
    detail: str = ""


def drill_folder(plan: DrillPlan, drill: str | None) -> Path:
    """The drill ``drill`` names, else the plan's latest (ids start with their UTC start time)."""
    root = drills_dir(plan.name)
    if drill:
        if "/" in drill or drill.startswith(".") or not (root / drill / "journal.jsonl").is_file():
            raise StateMissing(f"no drill {drill!r} of {plan.name!r} under {root}")
        return root / drill
    found = sorted(p.parent for p in root.glob("*/journal.jsonl"))
    if not found:
        raise StateMissing(f"no drill of {plan.name!r} under {root}: nothing to roll back")
    return found[-1]


def target_of(plan: DrillPlan, entries: list[Any]) -> tuple[Any, SandboxLink | None, str | None, str | None]:
    """(target, faults API, Front Door URL, why nothing is reachable) for the drill's journal."""
    if not isinstance(plan.target, SandboxTarget):
        return plan.target, None, None, None
    sandbox = next((e for e in entries if e.kind == "sandbox"), None)
    if sandbox is None:  # killed before its sandbox was opened: it changed nothing
        return None, None, None, "the drill was stopped before it opened its sandbox"
    data = sandbox.data
    try:
        up = httpx.get(f"{str(data['admin_url']).rstrip('/')}/health", timeout=3.0).status_code == 200
    except httpx.HTTPError:
        up = False
    if not up:
        if data.get("action") == "started in-process":
            return None, None, None, "the sandbox the drill started stopped with it: nothing of it is left"
        raise TargetUnreachable(f"the drill's sandbox at {data['admin_url']} does not answer: start it again "
                                "(the same state dir) and run `odin rollback` again")
    if not data.get("arm_url"):
        raise StateMissing("the drill's journal does not say where its sandbox's ARM endpoint is (a drill run "
                           "before odin journaled it): fail the sandbox back by hand")
    target = SandboxTarget(arm_url=data["arm_url"], ca_cert=data["ca_cert"], subscription_id=data["subscription_id"])
    return target, SandboxLink({"admin_url": data["admin_url"]}), data.get("frontdoor_url"), None


def recheck(plan: DrillPlan, frontdoor_url: str | None, client: httpx.Client, journal: Journal) -> tuple[bool, str]:
    """The plan's smoke journeys through Front Door, until they pass or ``RECHECK_WALL_SECONDS``."""
    journeys = [rebase_journey(j, frontdoor_url) for j in plan.smoke] if frontdoor_url else list(plan.smoke)
    deadline = time.monotonic() + RECHECK_WALL_SECONDS
    while True:
        report = run_journeys(journeys, client=client)
        if report.critical_failed == 0 or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    journal.append("smoke", phase="rollback", step="through Front Door", report=report,
                   critical_failed=report.critical_failed, noncritical_failed=report.noncritical_failed)
    return report.critical_failed == 0, f"{report.critical_failed} critical journey(s) failing through Front Door"


def end_own_outage(plan: DrillPlan, plan_file: str, folder: Path, journal: Journal, clock: ScaledClock, target: Any,
                   faults: SandboxLink | None, frontdoor_url: str | None, client: httpx.Client, *, outside: str,
                   by: str, reason: str, verified_as: str | None) -> tuple[str, str]:
    """Outside ``failback.window``: end the drill's own outage now, leave the failback to the window.
    (outcome, its one line)."""
    if not outage_in_place(journal.entries()):  # another rollback ended it while this one queued for the lock
        return "refused", window_refusal(plan_file, outside)
    journal.append("human_input", action="rollback", reason=reason, by=by, verified_as=verified_as, at=clock.now())
    done = end_outage(journal, drill=folder.name, target=target, client=client, clock=clock, faults=faults,
                      retry_wait=max(plan.detection.interval, 30.0), secrets=plan.secrets)
    if not done.all_undone:
        failed = ", ".join(label for label, ok in done.undone if not ok)
        return "failed", (f"could not end the drill's own outage ({failed}: see the journal); the failback waits too: "
                          f"{outside}; run `odin rollback` again")
    journal_outage_ended(journal, plan, clock.now(), by=by, reason=reason)
    what = [f"{label} undone" for label, _ in done.undone]
    if faults is not None:
        what.insert(0, f"{len(done.faults_removed)} injected fault(s) removed")
    ended = f"the drill's own outage was ended ({', '.join(what) or 'its change was found not to have happened'})"
    entries = journal.entries()
    undos, owed = owed_work(plan, entries)
    if undos or owed:
        changes = len(drill_undos(entries))
        left = [f"{changes} change(s) to undo" if changes else "changes to reconcile"] if undos else []
        left += [f"{len(owed)} step(s) of steps.failback"] if owed else []
        return "outage_ended", (f"{ended}; the failback ({', '.join(left)}) waits: {outside}: run `odin rollback` "
                                "again then, or pass --force (journaled with --by and --reason)")
    healthy, checked = recheck(plan, frontdoor_url, client, journal)
    detail = f"{ended}; nothing had failed over, so nothing waits for failback.window; re-check: {checked}"
    journal.append("rollback_finished", phase="rollback", healthy=healthy, detail=detail)
    return ("rolled_back_healthy" if healthy else "rolled_back_degraded"), detail


@flow(name="drill-rollback", log_prints=False, validate_parameters=True)
def drill_rollback(plan_file: str, reason: str, by: str, verified_as: str | None = None, drill: str | None = None,
                   wait: bool = False, allow_production: bool = False, time_scale: float = 1.0,
                   force: bool = False) -> Any:
    """Undo what a drill (default: the plan's latest) left behind — after a crash, or an incident's
    failback — run the drill file's ``steps.failback``, re-check, and end in the outcome that says
    whether the service is healthy again. Outside ``failback.window`` (without ``force``) only the
    drill's own outage still in place ends, and the failback waits (``end_own_outage``).

    Args:
        plan_file: the drill file
        reason: why (journaled)
        by: who asked (journaled, with what odin could verify)
        verified_as: the identity odin verified for them
        drill: the drill id (default: the plan's latest)
        wait: queue behind another run holding the environment instead of refusing
        allow_production: required (true) for a drill whose target is production
        time_scale: the plan clock's speed (retry waits between undo attempts)
        force: fail back outside the plan's failback.window (journaled with by and reason); without it,
            outside the window only the drill's own outage still in place is ended
    """
    clock = ScaledClock(time_scale if time_scale > 0 else 1.0, idle_rate=1.0)
    try:
        plan = checked_plan(plan_file, time_scale, allow_production)
        folder = drill_folder(plan, drill)
        outside = window_checked(plan, plan_file, folder, clock.now(), force)  # set: only the outage ends now
    except UsageError as exc:
        return final_state("refused", DrillRollbackSummary(plan="", drill_id=drill or "", outcome="refused",
                                                           exit_code=EXIT_USAGE, detail="\n".join(exc.lines())),
                           message=exc.lines()[0])
    journal = Journal(folder / "journal.jsonl", clock)
    logger = get_run_logger()
    for listener in LISTENERS:
        journal.subscribe(listener)
    journal.append("run_started", plan=plan.name, drill=folder.name, mode="rollback", flow="drill-rollback",
                   phases=[], time_scale=time_scale, environment=plan.environment, target=plan.target.kind,
                   flow_run_id=str(runtime_flow_run.id))
    outcome, detail = "failed", ""
    client = httpx.Client(follow_redirects=False)
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(environment_held(plan.environment, journal, wait=wait))
            entries = journal.entries()
            target, faults, frontdoor_url, gone = target_of(plan, entries)
            if faults is not None:
                stack.callback(faults.close)
            undos, owed = owed_work(plan, entries)
            if gone or not (undos or owed):
                already = (f"; steps.failback already done ({len(plan.steps.failback)})"
                           if plan.steps.failback and failback_begun(entries) and not gone else "")
                outcome, detail = "completed", f"nothing to undo{': ' + gone if gone else ''}{already}"
            elif outside:
                outcome, detail = end_own_outage(plan, plan_file, folder, journal, clock, target, faults, frontdoor_url,
                                                 client, outside=outside, by=by, reason=reason, verified_as=verified_as)
            else:
                journal.append("human_input", action="rollback", reason=reason, by=by, verified_as=verified_as,
                               at=clock.now())
                journal_window(journal, plan, clock.now(), by=by, reason=reason)
                journal.append("rollback_started", phase="rollback", reason=f"odin rollback by {by}: {reason}")
                done = undo_drill(journal, drill=folder.name, target=target, client=client, clock=clock,
                                  primary=plan.regions.primary, secondary=plan.regions.secondary, faults=faults,
                                  retry_wait=max(plan.detection.interval, 30.0), secrets=plan.secrets)
                home, said = run_failback_steps(plan, folder, journal, clock, target, frontdoor_url, done)
                healthy, checked = recheck(plan, frontdoor_url, client, journal)
                detail = (f"{len(done.faults_removed)} injected fault(s) removed, "
                          f"{sum(ok for _, ok in done.undone)} of {len(done.undone)} undo(s) succeeded"
                          + (f", {len(done.deferred)} left to a person: {'; '.join(done.deferred)}" if done.deferred else "")
                          + f"{said}; re-check: {checked}")
                healthy = healthy and done.all_undone and home
                journal.append("rollback_finished", phase="rollback", healthy=healthy, detail=detail)
                outcome = "rolled_back_healthy" if healthy else "rolled_back_degraded"
    except UsageError as exc:
        outcome, detail = "refused", "\n".join(exc.lines())
    except Exception as exc:  # noqa: BLE001 - journaled and reported: a person must look
        outcome, detail = "failed", f"{exc.__class__.__name__}: {exc}"
        logger.exception("drill rollback failed")
    finally:
        client.close()
    journal.append("run_finished", outcome=outcome, exit_code=exit_code(outcome), detail=detail)
    summary = DrillRollbackSummary(plan=plan.name, drill_id=folder.name, outcome=outcome, exit_code=exit_code(outcome),
                                   journal=str(journal.path), detail=detail)
    return final_state(outcome, summary, message=detail.splitlines()[0] if detail else "")


def run_drill_rollback(**parameters: Any) -> DrillRollbackSummary:
    """Run the ``drill-rollback`` flow in this process and return its summary."""
    return summary_of(drill_rollback(**parameters, return_state=True), DrillRollbackSummary)
