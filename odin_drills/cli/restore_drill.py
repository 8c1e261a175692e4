"""``odin drill RESTORE.yaml`` and ``odin rollback RESTORE.yaml``: restore drills from the shell.

``odin drill`` and ``odin rollback`` hand a file whose ``kind`` is ``restore`` here
(``is_restore_drill``). The drill is validated first (exit 2, one line per problem naming the file
and field, nothing run); then the local Prefect server is started or reused and the
``restore_drill`` flow runs in this process. ``--json`` prints::

    {"kind": "restore", "rto_seconds": 14.2, "rto_target_seconds": 1800.0, "rpo_seconds": 4.9,
     "rpo_target_seconds": 5.0, "canary_writes": 61, "expected_writes": 55, "lost_writes": 5, ...,
     "stores": {"sql": {...}, "blob": {"rto_seconds": 2.1, "rpo_seconds": 0.0, ...}},
     "criteria": {"restore_within_rto": true, ...}, "report": ".../report.md"}

Exit codes: 0 every criterion met, 3 any missed, 2 usage errors, 4 odin itself failed. The rollback
exits 3 when it undid what was left behind (deleted a copy, restored a blob range back), 0 when
nothing was left, 4 when it could not.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from odin_drills.errors import OdinError, UsageError
from odin_drills.plan.safety import require_production_opt_in


def is_restore_drill(path: str) -> bool:
    """Whether ``path`` declares ``kind: restore`` (an unreadable file is not: its loader says why)."""
    from odin_drills.plan.restore_drill import drill_kind

    try:
        return drill_kind(path) == "restore"
    except OdinError:
        return False


def check_restore_drill(plan: str, time_scale: float, allow_production: bool) -> Any:
    from odin_drills.plan.restore_drill import load_restore_drill

    if time_scale <= 0:
        raise UsageError("--time-scale must be positive")
    drill = load_restore_drill(plan)
    require_production_opt_in(drill, allow_production, plan, "pass --allow-production")
    return drill


def print_restore_entry(entry: Any) -> None:
    from odin_drills.cli.progress import print_entry

    d = entry.data
    text = None
    if entry.kind == "restore_point":
        text = f"  restore {d.get('source_database', '').rsplit('/', 1)[-1]} to {d.get('point')} as {d.get('restored_database')}"
    elif entry.kind == "step_finished":
        text = f"  {entry.step}: {d.get('status')} — {d.get('detail')}"
    elif entry.kind == "restore_verified":
        text = (f"  copy checked: {d.get('verified')} rows intact, {d.get('lost')} of {d.get('expected')} missing, "
                f"{d.get('extra')} too new, {d.get('corrupted')} corrupted (RPO {d.get('rpo_seconds')} s)")
    elif entry.kind == "blob_restore_point":
        ranges = ", ".join(f"[{start}, {end})" for start, end in d.get("ranges") or [])
        text = f"  restore blobs {ranges} of {d.get('account', '').rsplit('/', 1)[-1]} in place to {d.get('point')}"
    elif entry.kind == "blob_restore_verified":
        text = (f"  blobs checked: {d.get('verified')} intact, {d.get('lost')} of {d.get('expected')} missing, "
                f"{d.get('extra')} too new, {d.get('corrupted')} corrupted (RPO {d.get('rpo_seconds')} s)")
    elif entry.kind == "undo_finished":
        text = f"  undo {entry.step}: {d.get('status')} — {d.get('detail')}"
    elif entry.kind == "run_finished":
        text = f"■ {d.get('outcome')} (exit {d.get('exit_code')})" + (f": {d.get('detail')}" if d.get("detail") else "")
    if text is None:
        print_entry(entry)
        return
    print(f"{entry.time:%m-%d %H:%M:%S} {entry.phase or '':8} {text}", file=sys.stderr, flush=True)


def run_restore_drill(plan: str, time_scale: float, as_json: bool, allow_production: bool, *, quiet: bool = False,
                      wait: bool = False) -> int:
    """Run the ``restore_drill`` flow on ``plan``; returns the exit code (errors printed, never raised)."""
    try:
        check_restore_drill(plan, time_scale, allow_production)
        from odin_drills.cli import server

        url = server.ensure()
        server.use(url)
        import odin_drills.flows.restore_drill as runbook
        from odin_drills.flows.in_process import run_in_process

        if not quiet:
            print(f"odin: recording in Prefect at {url.removesuffix('/api')}", file=sys.stderr)
            runbook.LISTENERS.append(print_restore_entry)
        try:
            # bounded even when the Prefect API dies mid-drill: the journal's outcome stands (flows.in_process)
            summary = run_in_process(runbook.restore_drill, runbook.RestoreSummary, plan_file=str(plan),
                                     time_scale=time_scale, wait_for_lock=wait, allow_production=allow_production)
        finally:
            if not quiet:
                runbook.LISTENERS.remove(print_restore_entry)
    except OdinError as exc:
        for line in exc.lines():
            print(f"odin: error: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("odin: interrupted", file=sys.stderr)
        return 130
    if summary.outcome == "refused":
        for line in summary.detail.splitlines():
            print(f"odin: error: {line}", file=sys.stderr)
        return summary.exit_code
    card = summary.scorecard
    if as_json:
        print(json.dumps(card or {"outcome": summary.outcome, "detail": summary.detail, "report": summary.report}))
    elif card:
        from odin_drills.plan.durations import human_duration as human

        def sec(value: float | None) -> str:
            return "not measured" if value is None else human(value)

        missed = [n for n, ok in card["criteria"].items() if not ok]
        print(f"{summary.outcome}: restore RTO {sec(card['rto_seconds'])} (target {sec(card['rto_target_seconds'])}), "
              f"RPO {sec(card['rpo_seconds'])} (target {sec(card['rpo_target_seconds'])}), {card['lost_writes']} of "
              f"{card['expected_writes']} rows missing from the copy"
              + (f"; criteria missed: {', '.join(missed)}" if missed else "; every criterion met")
              + f"; report {card['report']}")
    else:
        print(f"{summary.outcome}: {summary.detail}; report {summary.report}")
    return summary.exit_code


def cmd_restore_rollback(args: argparse.Namespace) -> int:
    """``odin rollback RESTORE.yaml [--drill ID]``: delete the copy a crashed restore drill left."""
    check_restore_drill(args.plan, args.time_scale, args.allow_production)
    if getattr(args, "migration", None):
        raise UsageError(f"{args.plan} is a drill file: name the drill with --drill ID, not --migration")
    from odin_drills.cli import server

    server.use(server.ensure())
    import odin_drills.flows.restore_drill as runbook
    from odin_drills.flows.in_process import run_in_process
    from odin_drills.outcomes import describe

    runbook.LISTENERS.append(print_restore_entry)
    try:
        summary = run_in_process(runbook.restore_drill_rollback, runbook.RestoreSummary, plan_file=str(args.plan),
                                 drill=args.drill, wait=args.wait, allow_production=args.allow_production,
                                 time_scale=args.time_scale)
    finally:
        runbook.LISTENERS.remove(print_restore_entry)
    if summary.outcome == "refused":
        for line in summary.detail.splitlines():
            print(f"odin: error: {line}", file=sys.stderr)
        return summary.exit_code
    print(f"restore drill {summary.drill_id}: {describe(summary.outcome)} (exit {summary.exit_code}): "
          f"{summary.detail}; journal {summary.journal}")
    return summary.exit_code
