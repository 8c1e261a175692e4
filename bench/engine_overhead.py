"""Engine overhead: a T-0 phase of 100 trivial `http` steps vs the same 100 calls in a plain httpx loop.

Both run against the demo service (its own process) in one run, side by side. The engine's cost per
step is a Prefect task run recorded on the local server plus two fsynced journal entries; the
ratio and the per-step overhead are written to bench/results/engine_overhead.md.

    .venv/bin/python bench/engine_overhead.py
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "engine_overhead.md"
STEPS = 100


def plan(url: str) -> dict:
    return {
        "name": "engine-overhead",
        "environment": "bench",
        "service": {"name": "demo", "endpoints": {"router": url}},
        "metrics": {"kind": "synthetic_probe", "url": f"{url}/api/orders/1", "rate_per_second": 50,
                    "min_window_wall_seconds": 0.5},
        "policy": {"windows": {"baseline": "1m"}},
        "observe_only": True,  # GET steps change nothing: the engine's cost per step, not a migration
        "phases": {"t0": [{"name": f"get-{i}", "kind": "http", "method": "GET", "url": f"{url}/api/echo?i={i}",
                           "expect_status": [200, 500]} for i in range(STEPS)]},
    }


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="odin-bench-"))
    os.environ["ODIN_HOME"] = str(home)
    os.environ.setdefault("ODIN_SERVER_PORT", "4299")
    from odin_drills.cli import server
    from odin_drills.cli.demo import demo_service

    server.use(server.ensure())
    import odin_drills.flows.migration as migration_flow

    try:
        with demo_service(0, seed=3) as url:
            path = home / "plan.yaml"
            path.write_text(yaml.safe_dump(plan(url)))
            with httpx.Client() as client:  # plain loop: the floor
                start = time.perf_counter()
                for i in range(STEPS):
                    client.get(f"{url}/api/echo?i={i}")
                plain = time.perf_counter() - start
            migration_flow.run_migration(plan_file=str(path), phase="t-1w", time_scale=60.0)
            start = time.perf_counter()
            summary = migration_flow.run_migration(plan_file=str(path), phase="t0", time_scale=60.0)
            engine = time.perf_counter() - start
            assert summary.outcome == "completed", summary
    finally:
        server.stop()
    per_step_ms = (engine - plain) / STEPS * 1000
    text = "\n".join([
        "# Engine overhead",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores. {STEPS} GET steps against the demo service (own process); local Prefect server on SQLite.",
        "",
        "| run | wall s |",
        "|---|---|",
        f"| plain httpx loop, {STEPS} calls | {plain:.3f} |",
        f"| `odin migrate --phase t0`, {STEPS} `http` steps (whole flow run) | {engine:.3f} |",
        "",
        f"Ratio engine / plain: **{engine / plain:.1f}×**; overhead per step: **{per_step_ms:.1f} ms** "
        "(Prefect task run + journal entries fsynced + flow start/finish amortised).",
        "",
    ])
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
