"""``odin drill PLAN [--time-scale N] [--json] [--allow-production]``: a scored DR drill from the shell.

The drill file is validated first (exit 2, one line per problem, nothing run); a production
target needs ``--allow-production``; then the local Prefect server is started or reused and the
``dr_test`` flow runs in this process, printing live progress to stderr. ``--json`` prints the
scorecard on stdout::

    {"rto_seconds": 312.4, "rto_target_seconds": 14400.0, "rpo_seconds": 30.1, "rpo_target_seconds": 900.0,
     "canary_writes": 118, "lost_writes": 3, "criteria": {"failover_within_rto": true, ...},
     "report": "/home/me/.odin/drills/quarterly-dr-test/20260401T060000Z-1a2b/report.md"}

Times are plan time (wall seconds × N). Exit codes: 0 every criterion met, 3 any criterion
missed (or no failover happened), 2 usage errors (invalid drill, production not allowed, lock
held), 4 odin itself failed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from odin_drills.errors import EXIT_USAGE, OdinError, PlanInvalid, UsageError
from odin_drills.plan.safety import require_production_opt_in


def run_drill(plan: str, time_scale: float, as_json: bool, allow_production: bool, *, quiet: bool = False,
              wait: bool = False) -> int:
    """Run ``dr_test`` on ``plan``; returns the exit code (errors are printed, never raised).
    A ``kind: restore`` drill file runs the restore drill instead (``cli.restore_drill``)."""
    from odin_drills.cli.restore_drill import is_restore_drill, run_restore_drill

    if is_restore_drill(plan):
        return run_restore_drill(plan, time_scale, as_json, allow_production, quiet=quiet, wait=wait)
    try:
        return _run(plan, time_scale, as_json, allow_production, quiet, wait)
    except OdinError as exc:
        for line in exc.lines():
            print(f"odin: error: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("odin: interrupted", file=sys.stderr)
        return 130


def check_drill(plan: str, time_scale: float, allow_production: bool) -> Any:
    """Everything that can be refused before a server starts or anything runs."""
    from odin_drills.flows.drill_target import drill_problems
    from odin_drills.plan.drill import load_drill

    if time_scale <= 0:
        raise UsageError("--time-scale must be positive")
    drill = load_drill(plan)
    problems = drill_problems(drill, plan)
    if problems:
        raise PlanInvalid(problems)
    require_production_opt_in(drill, allow_production, plan, "pass --allow-production")
    return drill


def _run(plan: str, time_scale: float, as_json: bool, allow_production: bool, quiet: bool, wait: bool = False) -> int:
    def dr_test() -> Any:
        from odin_drills.flows.dr_test import dr_test

        return dr_test

    return run_runbook_flow(plan, time_scale, as_json, allow_production, quiet, "drill", dr_test,
                            plan_file=str(plan), time_scale=time_scale, wait_for_lock=wait,
                            allow_production=allow_production)


def run_runbook_flow(plan: str, time_scale: float, as_json: bool, allow_production: bool, quiet: bool, command: str,
                     load_flow: Callable[[], Any], /, **parameters: Any) -> int:
    """Check the drill file, then run the flow ``load_flow()`` returns (a runbook flow, imported only after
    the checks: a refusal starts nothing) with ``parameters`` in this process with live
    progress; print its scorecard (``--json``) or summary line; its exit code. ``odin drill`` and
    ``odin failover --incident`` (``cli.failover``) share it."""
    check_drill(plan, time_scale, allow_production)
    from odin_drills.cli import server

    url = server.ensure()
    server.use(url)
    import odin_drills.flows.drill_run as runbook
    from odin_drills.cli.signals import graceful_stop
    from odin_drills.flows.dr_test import DrillSummary
    from odin_drills.flows.in_process import run_in_process

    listener = None
    if not quiet:
        print(f"odin: recording in Prefect at {url.removesuffix('/api')}", file=sys.stderr)
        listener = print_drill_entry
        runbook.LISTENERS.append(listener)
    try:
        # the flow ends in its outcome's state (CriteriaFailed is Failed-type): the summary is its data, even
        # when the Prefect API died and could not take that state (flows.in_process); a signal stops it gracefully
        with graceful_stop(f"run `odin {command} {plan}` again once its leftovers are undone"):
            summary = run_in_process(load_flow(), DrillSummary, **parameters)
    finally:
        if listener is not None:
            runbook.LISTENERS.remove(listener)
    if summary.outcome == "refused":
        for line in summary.detail.splitlines():
            print(f"odin: error: {line}", file=sys.stderr)
        return summary.exit_code or EXIT_USAGE
    if as_json:
        print(json.dumps(summary.scorecard or {"outcome": summary.outcome, "detail": summary.detail,
                                               "report": summary.report}))
    else:
        print(summary_line(summary))
    return summary.exit_code


def summary_line(summary: Any) -> str:
    from odin_drills.plan.durations import human_duration as human

    card = summary.scorecard
    if not card:
        return f"{summary.outcome}: {summary.detail}; report {summary.report}"

    def seconds(value: float | None) -> str:
        return "not measured" if value is None else human(value)

    failed = [name for name, ok in card["criteria"].items() if not ok]
    return (f"{summary.outcome}: RTO {seconds(card['rto_seconds'])} (target {seconds(card['rto_target_seconds'])}), "
            f"RPO {seconds(card['rpo_seconds'])} (target {seconds(card['rpo_target_seconds'])}), "
            f"{card['lost_writes']} of {card['canary_writes']} canary writes lost"
            + (f"; criteria missed: {', '.join(failed)}" if failed else "; every criterion met")
            + f"; report {card['report']}")


def print_drill_entry(entry: Any) -> None:
    """One short line per journal entry a person watching a drill cares about."""
    from odin_drills.cli.progress import print_entry

    d = entry.data
    text = None
    if entry.kind == "sandbox":
        text = f"  sandbox {d.get('action')}: Front Door {d.get('frontdoor_url')}"
    elif entry.kind == "outage_injected":
        text = f"  ✖ outage injected in {d.get('region')} ({d.get('how')})"
    elif entry.kind == "outage_confirmed":
        text = f"  outage of {d.get('region')} confirmed after {d.get('failed_probes')} failed probes ({d.get('last_error')})"
    elif entry.kind == "outage_not_confirmed":
        text = f"  outage of {d.get('region')} NOT confirmed"
    elif entry.kind == "probe_state":
        text = f"  probe {d.get('target')}: {d.get('state')}" + (f" ({d.get('error')})" if d.get("error") else "") \
            + (f" served by {d.get('served_by')}" if d.get("served_by") and d.get("state") == "ok" else "")
    elif entry.kind == "service_recovered":
        text = f"  ✔ service answering via {d.get('via')} from {d.get('region')} since {d.get('first_success_at')}"
    elif entry.kind == "canary_state":
        text = f"  canary writes {d.get('state')} ({d.get('reason')})"
    elif entry.kind == "data_loss":
        text = f"  data loss: {d.get('lost')} of {d.get('acknowledged')} acknowledged canary writes lost"
    elif entry.kind == "failover_check":
        text = f"  failover check: {d.get('verdict')} — {d.get('reason')}"
    elif entry.kind == "outage_cleared":
        text = f"  outage of {d.get('region')} cleared"
    elif entry.kind == "failback_deferred":
        text = f"  failback deferred: {d.get('reason')}"
    elif entry.kind == "comms":
        text = f"  message {d.get('template')} T+{d.get('minute')} to {d.get('channel')}: {d.get('status')}"
    elif entry.kind == "service_health":
        text = (f"  Azure Service Health: {d.get('event_id') or 'no active service issue'}, {d.get('scope')} outage, "
                f"ETA {d.get('resolution_eta') or 'none'}" if d.get("reachable")
                else f"  Azure Service Health unreachable: {d.get('error')}")
    elif entry.kind == "decision":
        text = f"  decision: {d.get('action')} by {d.get('by')} — {d.get('reason')}"
    elif entry.kind == "run_finished":
        text = f"■ {d.get('outcome')} (exit {d.get('exit_code')})" + (f": {d.get('detail')}" if d.get("detail") else "")
    if text is None:
        print_entry(entry)
        return
    print(f"{entry.time:%m-%d %H:%M:%S} {entry.phase or '':8} {text}", file=sys.stderr, flush=True)
