"""``odin demo``: the demo migration, end to end, with nothing but this repository.

Starts the blue/green demo service in its own process (so the probe does not share a CPU lock
with the service it measures), then runs ``drills/migration-demo.yaml`` under a scaled clock.
Unless ``--clean``, green starts failing right after the cut-over to 100 %, so the run shows the
breach, the confirmed automatic rollback to 100 % blue, and the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path

import httpx

from odin_drills.cli.processes import CHILDREN, stop
from odin_drills.errors import TargetUnreachable, UsageError

PLAN = Path(str(files("odin_drills.drills").joinpath("migration-demo.yaml")))
GREEN_ERROR_RATE = 0.12


@contextmanager
def demo_service(port: int, seed: int = 7) -> Iterator[str]:
    """Run ``python -m odin_drills.sandbox.bluegreen`` until the block ends; yield its router URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "odin_drills.sandbox.bluegreen", "--port", str(port), "--seed", str(seed)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        start_new_session=True,  # Ctrl-C at the terminal reaches odin only: it stops the run, then the service
    )
    CHILDREN.add(process)
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line:
            err = process.stderr.read() if process.stderr else ""
            if "in use" in err.lower() or "address" in err.lower():
                raise UsageError(f"port {port} is busy; pass --port with a free one")
            raise TargetUnreachable(f"the demo service did not start: {err.strip().splitlines()[-1:] or 'no output'}")
        yield json.loads(line)["router_url"]
    finally:
        stop(process, timeout=10)


def run_demo(*, clean: bool, time_scale: float, port: int) -> int:
    from odin_drills.cli import server

    url = server.ensure()
    server.use(url)
    import odin_drills.flows.migration as migration_flow
    from odin_drills.cli.progress import print_entry

    with demo_service(port) as router, httpx.Client(base_url=router, timeout=10) as admin:
        os.environ["ODIN_DEMO_URL"] = router
        print(f"odin: demo service at {router}; Prefect UI at {url.removesuffix('/api')}", file=sys.stderr)
        print(f"odin: {'clean path' if clean else 'green will degrade right after the cut-over to 100 %'}", file=sys.stderr)

        def degrade_green(entry: object) -> None:
            if getattr(entry, "kind", "") == "step_finished" and getattr(entry, "step", "") == "shift-100":
                admin.post("/_admin/faults", json={"version": "green", "error_rate": GREEN_ERROR_RATE}).raise_for_status()
                print(f"odin: demo: green now fails {GREEN_ERROR_RATE:.0%} more requests", file=sys.stderr)

        migration_flow.LISTENERS[:] = [print_entry] + ([] if clean else [degrade_green])
        started = time.monotonic()
        from odin_drills.cli.signals import graceful_stop

        with graceful_stop("`odin rollback` on the demo plan undoes it"):
            summary = migration_flow.run_migration(plan_file=str(PLAN), time_scale=time_scale)
        weights = admin.get("/_admin/weights").json()
    if summary.outcome == "refused":
        raise UsageError(summary.detail)
    print(f"{summary.outcome} in {time.monotonic() - started:.0f} s: router weights now {weights}; report {summary.report}")
    return summary.exit_code
