"""``odin failover PLAN --incident``: the region-failover runbook for a real outage, from the shell.

Why a command of its own and not ``odin drill --incident``: a drill breaks the region itself and
fails back; an incident does neither. The runbook (``flows.region_failover``, run with
``drill=False``) waits for the primary to fail its probes, asks Azure Service Health how long the
outage is expected to last (``steps.dr.incident``), fails over only when the rule says so and a
person confirms (the hold ``odin decide RUN proceed|rollback`` answers; ``--no-confirm`` skips it),
and leaves the service in the DR region: the failback is ``odin rollback PLAN --drill ID``, a
separate, confirmed run.

``--incident`` is required: failing a production service over is something an SRE opts into in
so many words, never the default of a bare ``odin failover``. A production target still needs
``--allow-production``. Exit codes are ``odin drill``'s (``odin_drills.outcomes``): 0 failed over
and every criterion met, 3 no failover needed / vetoed / a criterion missed, 2 refused, 4 failed.
"""

from __future__ import annotations

import argparse
from typing import Any

from odin_drills.errors import UsageError

USAGE = "odin failover PLAN --incident: fails over for a real outage only; pass --incident to opt in"


def add_parser(sub: Any) -> None:
    p = sub.add_parser("failover", help="incident mode: fail a region over for a real outage (needs --incident), "
                                        "on Azure Service Health's word; never fails back by itself")
    p.add_argument("plan")
    p.add_argument("--incident", action="store_true",
                   help="required: this is a real outage (nothing is injected, nothing fails back automatically)")
    p.add_argument("--no-confirm", action="store_true",
                   help="fail over without a person's confirmation (default: hold for `odin decide`)")
    p.add_argument("--time-scale", type=float, default=1.0, metavar="N", help="run the clock N times faster "
                                                                             "(rehearsals)")
    p.add_argument("--json", action="store_true", help="print the scorecard as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="no live progress on stderr")
    p.add_argument("--allow-production", action="store_true", help="required for a drill file whose target is "
                                                                   "production")
    p.add_argument("--wait", action="store_true", help="queue behind a run holding the environment lock")


def cmd_failover(args: argparse.Namespace) -> int:
    if not args.incident:
        raise UsageError(USAGE)
    from odin_drills.cli.drill import run_runbook_flow

    def region_failover() -> Any:
        from odin_drills.flows.region_failover import region_failover

        return region_failover

    return run_runbook_flow(args.plan, args.time_scale, args.json, args.allow_production, args.quiet,
                            "failover --incident", region_failover, plan_file=str(args.plan),
                            time_scale=args.time_scale, drill=False, human_confirm=not args.no_confirm,
                            failback=False, inject_outage=False, allow_production=args.allow_production,
                            wait_for_lock=args.wait)
