"""``odin rollback``: undo what a migration changed, from its journal, and say whether it worked.

Its own flow run (recorded in Prefect like every run), on the migration it names (``migration``,
default the plan's latest). It takes the environment under the migration's own reservation,
reconciles the journal with the world (an intent with no outcome is looked at; an Azure operation
in flight is followed from its continuation token), runs every pending undo once, newest first,
then re-checks the steady state — the smoke journeys and a gate window against the baseline when
the migration has one — and ends ``rolled back, healthy`` (exit 3) or ``rolled back, still
degraded`` (exit 4) from ``odin_drills.outcomes``; the environment's reservation is freed.
"""

from __future__ import annotations

from typing import Any

import httpx
from prefect import flow, get_run_logger
from prefect.runtime import flow_run as runtime_flow_run

from odin_drills.errors import EXIT_USAGE, UsageError
from odin_drills.flows import migration_state as state
from odin_drills.flows.entry import entry_plan_file, require_opt_in
from odin_drills.flows.final_state import final_state
from odin_drills.flows.migration import (
    LISTENERS,
    MigrationRun,
    RolledBack,
    RunSummary,
    _take_environment,
    roll_back,
    write_reports,
)
from odin_drills.outcomes import exit_code
from odin_drills.plan import load_plan
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.intent import open_intents, pending_undos
from odin_drills.steps.journal import Journal, read_journal


def nothing_to_undo(entries: list[Any]) -> bool:
    """No change that happened (or may have) waits for its undo, and no intent waits to be decided."""
    return not pending_undos(entries) and not open_intents(entries)


@flow(name="migration-rollback", log_prints=False, validate_parameters=True)
def migration_rollback(plan_file: str, reason: str, by: str, verified_as: str | None = None,
                       migration: str | None = None, wait: bool = False, allow_production: bool = False,
                       time_scale: float = 1.0) -> Any:
    """Undo a migration from its journal, re-check the service, and end in the outcome that says
    whether it is healthy again.

    Args:
        plan_file: the migration's plan file
        reason: why (journaled)
        by: who asked (journaled, with what odin could verify)
        verified_as: the identity odin verified for them
        migration: the migration id (default: the plan's latest)
        wait: queue behind another run holding the environment instead of refusing
        allow_production: required (true) for a plan whose target is production
        time_scale: run the plan clock this many times faster (the re-check window; rehearsals)
    """
    import contextlib

    try:
        plan_file = entry_plan_file(plan_file)
        plan = load_plan(plan_file)
        require_opt_in(plan, allow_production, plan_file)
        migration_id, folder = state.open_migration(plan, "t0", migration=migration)
    except UsageError as exc:
        return final_state("refused", RunSummary(migration="", outcome="refused", exit_code=EXIT_USAGE, report="",
                                                 journal="", detail="\n".join(exc.lines())), message=exc.lines()[0])
    earlier = read_journal(folder / "journal.jsonl")
    clock = ScaledClock(time_scale, idle_rate=1.0)
    journal = Journal(folder / "journal.jsonl", clock)
    logger = get_run_logger()
    for listener in LISTENERS:
        journal.subscribe(listener)
    run = MigrationRun(plan=plan, plan_file=plan_file, migration=migration_id, folder=folder, clock=clock,
                       journal=journal, client=httpx.Client(), wait=wait)
    journal.append("run_started", plan=plan.name, migration=migration_id, phases=[], time_scale=time_scale,
                   flow_run_id=str(runtime_flow_run.id), environment=plan.environment, mode="rollback",
                   resume=bool(state.rollback_in_progress(earlier)) or None)
    outcome, detail = "failed", ""
    try:
        with contextlib.ExitStack() as stack:
            _take_environment(run, stack)
            journal.append("human_input", action="rollback", reason=reason, by=by, verified_as=verified_as,
                           at=clock.now())
            roll_back(run, phase="rollback", reason=f"odin rollback by {by}: {reason}")
    except RolledBack as exc:
        outcome = exc.outcome
        finished = [e for e in journal.entries() if e.kind == "rollback_finished"]
        detail = str(finished[-1].data.get("detail")) if finished else ""
    except UsageError as exc:
        outcome, detail = "refused", "\n".join(exc.lines())
    except Exception as exc:  # noqa: BLE001 - journaled and reported: a person must look
        outcome, detail = "failed", f"{exc.__class__.__name__}: {exc}"
        logger.exception("rollback failed")
    finally:
        run.close()
    journal.append("run_finished", outcome=outcome, exit_code=exit_code(outcome), detail=detail)
    report = write_reports(plan.name, folder, journal, logger)
    return final_state(outcome, RunSummary(migration=migration_id, outcome=outcome, exit_code=exit_code(outcome),
                                           report=str(report), journal=str(journal.path), detail=detail))


def run_rollback(**parameters: Any) -> RunSummary:
    """Run the ``migration-rollback`` flow in this process and return its summary."""
    from odin_drills.flows.in_process import run_in_process

    return run_in_process(migration_rollback, RunSummary, **parameters)
