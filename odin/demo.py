"""``odin demo``: the demo migration, end to end, with nothing but this repository.

Starts the blue/green demo service in-process, then runs ``drills/migration-demo.yaml`` under a
scaled clock. Unless ``--clean``, green starts failing right after the cut-over to 100 %, so the
run shows the breach, the confirmed automatic rollback to 100 % blue, and the report.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from odin.errors import UsageError

PLAN = Path(__file__).resolve().parent.parent / "drills" / "migration-demo.yaml"
GREEN_FAULT = {"version": "green", "error_rate": 0.12}


def run_demo(*, clean: bool, time_scale: float, port: int) -> int:
    from odin import server

    from sandbox.bluegreen import BlueGreenDemo

    url = server.ensure()
    server.use(url)
    import flows.migration as migration_flow
    from odin.progress import print_entry

    try:
        demo = BlueGreenDemo(seed=7, port=port)
    except OSError as exc:
        raise UsageError(f"port {port} is busy ({exc.strerror}); pass --port with a free one") from None
    with demo:
        os.environ["ODIN_DEMO_URL"] = demo.router_url
        print(f"odin: demo service at {demo.router_url}; Prefect UI at {url.removesuffix('/api')}", file=sys.stderr)
        print(f"odin: {'clean path' if clean else 'green will degrade right after the cut-over to 100 %'}", file=sys.stderr)

        def degrade_green(entry: object) -> None:
            if getattr(entry, "kind", "") == "step_finished" and getattr(entry, "step", "") == "shift-100":
                demo.add_fault(**GREEN_FAULT)
                print("odin: demo: green now fails 12 % more requests", file=sys.stderr)

        migration_flow.LISTENERS[:] = [print_entry] + ([] if clean else [degrade_green])
        summary = migration_flow.migration(plan_file=str(PLAN), time_scale=time_scale)
        weights = demo.weights()
    print(f"{summary.outcome}: router weights now {weights}; report {summary.report}")
    return summary.exit_code
