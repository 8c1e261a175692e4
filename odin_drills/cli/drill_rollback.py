"""``odin rollback DRILL.yaml --reason TEXT --by NAME [--drill ID] [--force]``: undo a drill left
behind by a crash, or fail an incident back (``flows.drill_rollback``: the undos, then the drill
file's ``steps.failback``). Exit 3 rolled back and healthy, 4 still degraded, 0 nothing to undo, 2
usage errors (one line, naming the file or the drill; outside the plan's ``failback.window``
without ``--force``), 5 outside that window with the drill's own outage still in place: the outage
was ended, the failback waits for the window (one line naming ``failback.window`` and its next
start)."""

from __future__ import annotations

import argparse
import sys

from odin_drills.errors import EXIT_USAGE


def cmd_drill_rollback(args: argparse.Namespace) -> int:
    from odin_drills.cli.restore_drill import cmd_restore_rollback, is_restore_drill

    if is_restore_drill(args.plan):  # a restore drill: delete the copy it left (flows.restore_drill)
        return cmd_restore_rollback(args)
    from odin_drills.cli.drill import check_drill, print_drill_entry

    check_drill(args.plan, args.time_scale, args.allow_production)  # refused before a server starts
    if getattr(args, "migration", None):
        print(f"odin: error: {args.plan} is a drill file: name the drill with --drill ID, not --migration",
              file=sys.stderr)
        return EXIT_USAGE
    from odin_drills.cli import server

    server.use(server.ensure())
    import odin_drills.flows.drill_run as runbook
    from odin_drills.flows.drill_rollback import DrillRollbackSummary, drill_rollback
    from odin_drills.flows.in_process import run_in_process
    from odin_drills.outcomes import describe
    from odin_drills.steps.identity import verified_identity

    runbook.LISTENERS.append(print_drill_entry)
    try:
        # bounded even when the Prefect API dies mid-rollback: the journal's outcome stands (flows.in_process)
        summary = run_in_process(drill_rollback, DrillRollbackSummary, plan_file=str(args.plan), reason=args.reason,
                                 by=args.by, verified_as=verified_identity(), drill=args.drill, wait=args.wait,
                                 allow_production=args.allow_production, time_scale=args.time_scale,
                                 force=bool(getattr(args, "force", False)))
    finally:
        runbook.LISTENERS.remove(print_drill_entry)
    if summary.outcome == "refused":
        for line in summary.detail.splitlines():
            print(f"odin: error: {line}", file=sys.stderr)
        return summary.exit_code
    print(f"drill {summary.drill_id}: {describe(summary.outcome)} (exit {summary.exit_code}): {summary.detail}; "
          f"journal {summary.journal}")
    return summary.exit_code
