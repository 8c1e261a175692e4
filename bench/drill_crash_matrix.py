"""The drill kill matrix: SIGKILL ``odin drill`` at every world-changing journal boundary, then
``odin rollback DRILL``; the sandbox must end as it was before the drill.

A reference drill (the Azure sandbox in its own process, the real SDK over HTTPS, forced SQL
failover + Front Door, canary off) lists the boundaries that matter to the world — the fault's
write-ahead and its id, each action's start, intent, operation and outcome, each undo's start,
operation and end, the fault's removal. Each case resets the sandbox, runs the drill with the
journal's ``ODIN_CRASH_AT`` hook at that boundary (``operation_started`` cases with the sandbox's
``slow_operations`` fault, so the kill lands while the long-running operation is in flight), then
``odin rollback`` on the drill file. Converged means: no fault left, the failover group's primary
in eastus, Front Door's origins enabled with eastus first, each SQL failover direction run at most
once and as often forward as back, each origin changed and put back or untouched, each change
undone at most once (journal). Results: ``bench/results/drill_crash_matrix.md``.

    .venv/bin/python bench/drill_crash_matrix.py [--out bench/results/drill_crash_matrix.md] [--limit N]

Runs its own Prefect server and sandbox (isolated home, both stopped by PID at the end).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import crash_harness as harness  # noqa: E402

SCALE = "60"
WORLD = ("outage_injecting", "outage_injected", "step_started", "step_intent", "operation_started", "step_finished",
         "undo_started", "undo_finished", "outage_cleared")
PLAN = "drill-crash"


@dataclass
class Case:
    boundary: str
    killed: bool
    drill_exit: int | None
    rollback_exit: int | None
    outcome: str
    problems: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def drill_plan(folder: Path, info: dict[str, Any]) -> Path:
    res = info["resources"]
    plan = {
        "name": PLAN, "environment": f"{PLAN}-env", "target": {"kind": "sandbox"},
        "regions": {"primary": "eastus", "secondary": "westus"},
        "resources": {"failover_groups": [{"id": res["failover_groups"][0], "mode": "forced", "allow_data_loss": True}],
                      "frontdoor": {"origin_group": res["frontdoor_origin_groups"][0],
                                    "origins": {"eastus": "app-eastus", "westus": "app-westus"}}},
        "detection": {"interval": "30s", "confirmation": "2m", "timeout": "2s",
                      "frontdoor_probe": {"method": "POST", "path": "/api/orders", "json": {"probe": "rto"}}},
        "smoke": [{"name": "health", "url": "http://frontdoor/health"}],
        "canary": {"enabled": False},
        "targets": {"rto": "4h", "rpo": "15m"},
        "failback": {"enabled": True, "wait_healthy": "2m"},
    }
    path = folder / f"{PLAN}.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def journal(home: Path) -> list[dict[str, Any]]:
    found = sorted((home / "drills" / PLAN).glob("*/journal.jsonl"))
    if not found:
        return []
    return [json.loads(line) for line in found[-1].read_text().splitlines() if line.strip()]


def world_boundaries(entries: list[dict[str, Any]]) -> list[str]:
    return [b for b in harness.boundaries(entries) if b.split(":")[0] in WORLD]


def verdict(sandbox: harness.AzureSandboxProcess, home: Path) -> tuple[str, list[str]]:
    problems = []
    faults = sandbox.get("/faults")
    if any(f.get("kind") == "region_outage" for f in faults):
        problems.append(f"{len(faults)} fault(s) left: {[f.get('kind') for f in faults]}")
    state = sandbox.get("/state")
    operations = sandbox.get("/operations")
    moves = harness.failovers(operations)
    forward, back = moves.get("odin-sql-westus", 0), moves.get("odin-sql-eastus", 0)
    if forward > 1 or back > 1 or forward != back:
        problems.append(f"SQL failovers to westus {forward}, back {back}")
    primary = state["failover_groups"]["odin-fg"]["primary_region"]
    if primary != "eastus":
        problems.append(f"failover group primary in {primary}")
    origins = {n: (o["enabledState"], int(o["priority"])) for n, o in state["frontdoor_origins"].items()}
    if origins != {"app-eastus": ("Enabled", 1), "app-westus": ("Enabled", 2)}:
        problems.append(f"Front Door origins {origins}")
    patches = Counter(op["resource_id"].rsplit("/", 1)[-1] for op in operations
                      if op["operation"] == "origin_update" and op["result"] == "Succeeded")
    if any(n % 2 for n in patches.values()):
        problems.append(f"origin updates {dict(patches)}: a change not put back")
    undone = Counter(e["data"].get("key") for e in journal(home)
                     if e["kind"] == "undo_finished" and e["data"]["status"] == "ok")
    if any(n > 1 for n in undone.values()):
        problems.append(f"undone more than once: {dict(undone)}")
    shown = f"SQL primary {primary}, failovers {forward}/{back}, origin updates {sum(patches.values())}"
    return shown, problems


def run_case(boundary: str, plan: Path, sandbox: harness.AzureSandboxProcess, work: Path, base: dict[str, str]) -> Case:
    sandbox.reset()
    home = work / boundary.replace(":", "-")
    home.mkdir(parents=True)
    env = {**base, **sandbox.env(), "ODIN_HOME": str(home)}
    if boundary.startswith("operation_started"):
        sandbox.slow(6.0)
    drill = harness.odin(["drill", str(plan), "--time-scale", SCALE, "--quiet"], env, crash=boundary, timeout=300)
    killed = drill.returncode == -signal.SIGKILL
    back = harness.odin(["rollback", str(plan), "--reason", "kill matrix", "--by", "drill-crash-matrix",
                         "--time-scale", SCALE], env, timeout=300)
    shown, problems = verdict(sandbox, home)
    if back.returncode not in (0, 3):
        problems.append(f"rollback exit {back.returncode}: {(back.stderr or back.stdout).strip()[-300:]}")
    if not killed:
        problems.append(f"the drill was not killed at {boundary} (exit {drill.returncode})")
    return Case(boundary, killed, drill.returncode, back.returncode, shown, problems)


def markdown(cases: list[Case], notes: list[str]) -> str:
    lines = ["# Drill kill matrix", "", *notes, "",
             "| kill after | drill | `odin rollback` | world after the rollback | converged |",
             "|---|---|---|---|---|"]
    for c in cases:
        ok = "yes" if not c.problems else "NO: " + "; ".join(c.problems)
        lines.append(f"| `{c.boundary}` | {'killed' if c.killed else c.drill_exit} | exit {c.rollback_exit} | "
                     f"{c.outcome} | {ok} |")
    good = sum(1 for c in cases if not c.problems)
    lines += ["", f"{good} of {len(cases)} cases converged."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "drill_crash_matrix.md"))
    parser.add_argument("--limit", type=int, default=0, help="run only the first N boundaries")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="odin-drill-crash-matrix-"))
    os.environ["ODIN_HOME"] = str(work / "server-home")
    os.environ["ODIN_SERVER_PORT"] = str(free_port())
    os.environ.pop("PREFECT_API_URL", None)
    from odin_drills.cli import server

    info = server.start()
    started = time.monotonic()
    cases: list[Case] = []
    try:
        (work / "prefect-client").mkdir()
        base = dict(os.environ, PREFECT_API_URL=info.url, PREFECT_HOME=str(work / "prefect-client"),
                    PREFECT_LOGGING_LEVEL="WARNING", PREFECT_SERVER_ANALYTICS_ENABLED="false", PYTHONPATH=str(ROOT))
        with harness.AzureSandboxProcess(work / "sandbox") as sandbox:
            plan = drill_plan(work, sandbox.info)
            sandbox.reset()
            reference_home = work / "reference"
            reference_home.mkdir()
            ref = harness.odin(["drill", str(plan), "--time-scale", SCALE, "--quiet"],
                               {**base, **sandbox.env(), "ODIN_HOME": str(reference_home)}, timeout=300)
            points = world_boundaries(journal(reference_home))
            if ref.returncode not in (0, 3) or not any(p.startswith("undo_finished") for p in points):
                # exit 3 is fine (canary off: no RPO measured); a failback must have run
                print(f"the reference drill did not fail over and back (exit {ref.returncode}): "
                      f"{ref.stdout[-1000:]} {ref.stderr[-2000:]}", file=sys.stderr)
                return 1
            if args.limit:
                points = points[:args.limit]
            for point in points:
                case = run_case(point, plan, sandbox, work, base)
                cases.append(case)
                print(f"{'ok ' if not case.problems else 'BAD'} {point:24} drill {case.drill_exit} rollback "
                      f"{case.rollback_exit} {case.outcome} {'; '.join(case.problems)}", flush=True)
    finally:
        server.stop()
    minutes = (time.monotonic() - started) / 60
    notes = [
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()} ({os.cpu_count()} cores), "
        f"{minutes:.0f} min, by `bench/drill_crash_matrix.py`.",
        "",
        "Each row: the sandbox reset, `odin drill` (forced SQL failover and Front Door, failback on, time scale 60) "
        "killed with SIGKILL right after the named journal entry was fsynced (`ODIN_CRASH_AT=kind:n`; "
        "`operation_started` rows with the sandbox's 6 s `slow_operations` fault, so the kill lands while the "
        "operation is in flight), then `odin rollback` on the drill file run to its end. Exit 3: rolled back, "
        "healthy; 0: nothing was left to undo (the drill's own failback had finished).",
    ]
    Path(args.out).write_text(markdown(cases, notes))
    print(f"wrote {args.out}")
    return 0 if all(not c.problems for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
