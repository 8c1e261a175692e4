"""The drill kill matrix: SIGKILL ``odin drill`` (or ``odin failover --incident``) at every journal
boundary that matters, then ``odin rollback DRILL``; the sandbox must end as it was before the drill.

Three plans (variants), each run once without a kill to list its boundaries:

* ``drill`` — the reference drill (the Azure sandbox in its own process, the real SDK over HTTPS,
  forced SQL failover + Front Door, canary off, validation that measures: a synthetic probe of the
  DR region judged by the ladder against its pre-failover baseline). Kill points: the fault's
  write-ahead and its id, each action's start, intent, operation and outcome, each
  ``validation_criterion``, each undo's start, operation and end, the fault's removal.
* ``window`` — the same drill with a ``failback.window`` that opens 40 plan minutes after the start,
  so the drill journals a ``failback_window`` ``wait`` and waits. Kill points: ``failback_window``.
  The kill leaves the service in the DR region outside the window, so the rule must hold after it:
  ``odin rollback`` is refused (exit 2, one line naming ``failback.window``, the journal and the
  world untouched), ``odin rollback --force`` fails back, journaling who forced it.
* ``incident`` — ``odin failover --incident --no-confirm`` on an outage of the matrix's own making
  (a ``region_outage`` fault the bench injects, Azure's ETA three plan hours, beyond the 30 min
  limit). Kill points: ``service_health``. Nothing of the world is odin's yet: ``odin rollback``
  has nothing to undo (exit 0) and must leave the bench's fault alone; the bench then removes it.

Each case resets the sandbox, runs the plan with the journal's ``ODIN_CRASH_AT`` hook at that
boundary (``operation_started`` cases with the sandbox's ``slow_operations`` fault, so the kill
lands while the long-running operation is in flight), then ``odin rollback`` on the drill file.
Converged means: no fault left, the failover group's primary in eastus, Front Door's origins enabled
with eastus first, each SQL failover direction run at most once and as often forward as back, each
origin changed and put back or untouched, each change undone at most once (journal), and nothing
pending in the journal (no change awaiting its undo, no open intent, no injected fault not removed).
Results: ``bench/results/drill_crash_matrix.md``.

    .venv/bin/python bench/drill_crash_matrix.py [--out bench/results/drill_crash_matrix.md] [--limit N]
        [--kinds service_health,validation_criterion,failback_window]

``--kinds`` keeps only the kill points of those journal kinds (and only the variants that write
them). Runs its own Prefect server and sandbox (isolated home, both stopped by PID at the end).
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
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import crash_harness as harness  # noqa: E402

SCALE = "60"
WORLD = ("outage_injecting", "outage_injected", "step_started", "step_intent", "operation_started", "step_finished",
         "validation_criterion", "undo_started", "undo_finished", "outage_cleared")
PLAN = "drill-crash"
WINDOW_OPENS_IN = timedelta(minutes=40)
"""Plan time from the drill's start to its failback window: past its failback (about 10 plan minutes
in at 60x), so the drill waits the rest, a wall second per plan minute."""
INCIDENT_ETA_WALL_SECONDS = 3 * 3600 / float(SCALE)
"""Azure's expected resolution, three plan hours after the outage began: beyond the 30 min limit."""


@dataclass(frozen=True)
class Variant:
    name: str
    kinds: tuple[str, ...]
    command: str
    what: str


VARIANTS = (
    Variant("drill", WORLD, "drill",
            "`odin drill` (forced SQL failover and Front Door, failback on, validation measuring the DR region)"),
    Variant("window", ("failback_window",), "drill",
            "`odin drill` with `failback.window` opening 40 plan minutes after the start (the drill waits for it)"),
    Variant("incident", ("service_health",), "failover",
            "`odin failover --incident --no-confirm` on the bench's own `region_outage`, Azure's ETA 3 plan hours"),
)


@dataclass
class Case:
    variant: str
    boundary: str
    killed: bool
    drill_exit: int | None
    rollback: str
    outcome: str
    problems: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def drill_plan(folder: Path, info: dict[str, Any], variant: str = "drill") -> Path:
    """The variant's plan; ``window`` places its window from now, so it is written again per case."""
    res = info["resources"]
    group = {"id": res["failover_groups"][0], "mode": "forced", "allow_data_loss": True}
    plan: dict[str, Any] = {
        "name": PLAN, "environment": f"{PLAN}-env", "target": {"kind": "sandbox"},
        "regions": {"primary": "eastus", "secondary": "westus"},
        "resources": {"failover_groups": [group],
                      "frontdoor": {"origin_group": res["frontdoor_origin_groups"][0],
                                    "origins": {"eastus": "app-eastus", "westus": "app-westus"}}},
        "detection": {"interval": "30s", "confirmation": "2m", "timeout": "2s",
                      "frontdoor_probe": {"method": "POST", "path": "/api/orders", "json": {"probe": "rto"}}},
        "smoke": [{"name": "health", "url": "http://frontdoor/health"}],
        "canary": {"enabled": False},
        "targets": {"rto": "4h", "rpo": "15m"},
        "failback": {"enabled": True, "wait_healthy": "2m"},
    }
    if variant == "drill":
        # validation that measures: the DR region's probe judged by the ladder (errors only: a CPU stall on
        # a shared two-core machine is a real p95 rise to the ladder and would hold a healthy region)
        plan["metrics"] = {"kind": "synthetic_probe", "url": info["regions"]["westus"] + "/health",
                           "rate_per_second": 200, "timeout": "2s", "min_window_wall_seconds": 1.0}
        plan["validation"] = {"watch": "8m", "interval": "1m"}
        plan["policy"] = {"floors": {"latency_ms": 10_000}, "absolute": {"p95_latency_ms": None}}
        plan["decision"] = {"on_worse_after_failover": "fail_back"}  # never a hold nobody answers
    elif variant == "window":
        opens = (datetime.now(timezone.utc) + WINDOW_OPENS_IN).replace(microsecond=0)
        closes = opens + timedelta(hours=2)
        plan["failback"] = {"enabled": True, "wait_healthy": "2m", "window_wait": "3h",
                            "window": {"start": f"{opens:%H:%M:%S}", "end": f"{closes:%H:%M:%S}", "timezone": "UTC"}}
    elif variant == "incident":
        group["id"] = group["id"].replace("/servers/odin-sql-eastus/", "/servers/odin-sql-westus/")
        plan["detection"] = {"interval": "30s", "confirmation": "1m", "timeout": "2s", "threshold": "2h"}
        plan["decision"] = {"fail_over_if_eta_beyond": "30m", "confirm_timeout": "30m"}
    path = folder / f"{PLAN}-{variant}.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def command(variant: Variant, plan: Path) -> list[str]:
    if variant.command == "failover":
        return ["failover", str(plan), "--incident", "--no-confirm", "--time-scale", SCALE, "--quiet"]
    return ["drill", str(plan), "--time-scale", SCALE, "--quiet"]


def rollback_args(plan: Path, *extra: str) -> list[str]:
    return ["rollback", str(plan), "--reason", "kill matrix", "--by", "drill-crash-matrix", "--time-scale", SCALE,
            *extra]


def arrange(variant: Variant, sandbox: harness.AzureSandboxProcess) -> None:
    """The incident's outage is the bench's, never the run's: injected before it starts."""
    if variant.name != "incident":
        return
    httpx.post(f"{sandbox.admin}/faults", json={"kind": "region_outage", "region": "eastus"},
               timeout=10).raise_for_status()
    httpx.put(f"{sandbox.admin}/service-health/eastus", json={"eta_seconds": INCIDENT_ETA_WALL_SECONDS},
              timeout=10).raise_for_status()


def journal_path(home: Path) -> Path | None:
    found = sorted((home / "drills" / PLAN).glob("*/journal.jsonl"))
    return found[-1] if found else None


def journal(home: Path) -> list[dict[str, Any]]:
    path = journal_path(home)
    if path is None:
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def kill_points(entries: list[dict[str, Any]], kinds: tuple[str, ...]) -> list[str]:
    return [b for b in harness.boundaries(entries) if b.split(":")[0] in kinds]


def pending(home: Path) -> list[str]:
    """What the journal still owes: a change awaiting its undo, an open intent, a fault not removed."""
    from odin_drills.steps.dr.cleanup import nothing_to_undo
    from odin_drills.steps.journal import read_journal

    path = journal_path(home)
    if path is None or nothing_to_undo(read_journal(path)):
        return []
    return ["the journal still has work pending (an undo, an open intent or an injected fault)"]


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
    problems += pending(home)
    shown = f"SQL primary {primary}, failovers {forward}/{back}, origin updates {sum(patches.values())}"
    return shown, problems


def world_now(sandbox: harness.AzureSandboxProcess) -> tuple[Any, ...]:
    """What a refused rollback must not change: faults, the failover group's primary, Front Door, the
    operations log (not the replication's own progress, which moves by itself)."""
    state = sandbox.get("/state")
    faults = sorted(f.get("id", "") for f in sandbox.get("/faults"))
    return (faults, state["failover_groups"]["odin-fg"]["primary_region"], state["frontdoor_origins"],
            len(sandbox.get("/operations")))


def window_rollbacks(plan: Path, sandbox: harness.AzureSandboxProcess, home: Path, env: dict[str, str]
                     ) -> tuple[str, Any, list[str]]:
    """After a kill while waiting for ``failback.window``: refused outside it, then ``--force``d."""
    problems = []
    path = journal_path(home)
    before = (path.read_bytes() if path else b"", world_now(sandbox))
    refused = harness.odin(rollback_args(plan), env, timeout=300)
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    if refused.returncode != 2 or len(lines) != 1 or "failback.window" not in lines[0]:
        problems.append(f"outside the window: exit {refused.returncode}, expected 2 with one line naming "
                        f"failback.window: {refused.stderr.strip()[-300:]}")
    if (path.read_bytes() if path else b"") != before[0]:
        added = (path.read_bytes() if path else b"")[len(before[0]):].decode(errors="replace")
        problems.append(f"the refused rollback wrote to the journal: {added[:300]}")
    if world_now(sandbox) != before[1]:
        problems.append(f"the refused rollback changed the world: {before[1]} -> {world_now(sandbox)}")
    forced = harness.odin(rollback_args(plan, "--force"), env, timeout=300)
    said = [e["data"] for e in journal(home) if e["kind"] == "failback_window" and e["phase"] == "rollback"]
    if not said or (said[-1].get("action"), said[-1].get("by")) != ("forced", "drill-crash-matrix"):
        problems.append(f"--force not journaled as forced by drill-crash-matrix: {said[-1:] or 'no entry'}")
    return f"exit {refused.returncode} (refused), `--force` exit {forced.returncode}", forced, problems


def run_case(variant: Variant, boundary: str, sandbox: harness.AzureSandboxProcess, work: Path,
             base: dict[str, str]) -> Case:
    sandbox.reset()
    home = work / f"{variant.name}-{boundary.replace(':', '-')}"
    home.mkdir(parents=True)
    plan = drill_plan(home, sandbox.info, variant.name)
    env = {**base, **sandbox.env(), "ODIN_HOME": str(home)}
    arrange(variant, sandbox)
    if boundary.startswith("operation_started"):
        sandbox.slow(6.0)
    drill = harness.odin(command(variant, plan), env, crash=boundary, timeout=300)
    killed = drill.returncode == -signal.SIGKILL
    problems: list[str] = []
    if variant.name == "window":
        shown_rollback, back, problems = window_rollbacks(plan, sandbox, home, env)
        codes: tuple[int, ...] = (3,)
    else:
        back = harness.odin(rollback_args(plan), env, timeout=300)
        shown_rollback, codes = f"exit {back.returncode}", (0, 3)
    if variant.name == "incident":
        # nothing was odin's to undo: the bench's outage must still be there, then the bench ends it
        if not any(f.get("kind") == "region_outage" for f in sandbox.get("/faults")):
            problems.append("odin removed an outage it did not inject")
        if back.returncode == 0 and "nothing to undo" not in back.stdout:
            problems.append(f"exit 0 without 'nothing to undo': {back.stdout.strip()[-200:]}")
        sandbox.clear_faults()
    shown, found = verdict(sandbox, home)
    problems = found + problems
    if back.returncode not in codes:
        problems.append(f"rollback exit {back.returncode}: {(back.stderr or back.stdout).strip()[-300:]}")
    if not killed:
        problems.append(f"the run was not killed at {boundary} (exit {drill.returncode})")
    return Case(variant.name, boundary, killed, drill.returncode, shown_rollback, shown, problems)


def reference(variant: Variant, sandbox: harness.AzureSandboxProcess, work: Path, base: dict[str, str]) -> list[str]:
    """Run the variant once without a kill; its kill points, or an explanation why it is unusable."""
    sandbox.reset()
    home = work / f"reference-{variant.name}"
    home.mkdir()
    plan = drill_plan(home, sandbox.info, variant.name)
    arrange(variant, sandbox)
    ref = harness.odin(command(variant, plan), {**base, **sandbox.env(), "ODIN_HOME": str(home)}, timeout=300)
    entries = journal(home)
    kinds = {e["kind"] for e in entries}
    # exit 3 is fine (canary off: no RPO measured); the drills must have failed back, the incident over
    must = {"drill": {"undo_finished", "validation_criterion"}, "window": {"undo_finished", "failback_window"},
            "incident": {"service_health", "step_finished"}}[variant.name]
    if ref.returncode not in (0, 3) or not must <= kinds:
        raise RuntimeError(f"the {variant.name} reference did not run as the matrix needs (exit {ref.returncode}, "
                           f"missing {sorted(must - kinds)}): {ref.stdout[-1000:]} {ref.stderr[-2000:]}")
    return kill_points(entries, variant.kinds)


def markdown(cases: list[Case], notes: list[str]) -> str:
    lines = ["# Drill kill matrix", "", *notes]
    for variant in VARIANTS:
        rows = [c for c in cases if c.variant == variant.name]
        if not rows:
            continue
        lines += ["", f"## {variant.name}: {variant.what}", "",
                  "| kill after | run | `odin rollback` | world after the rollback | converged |",
                  "|---|---|---|---|---|"]
        for c in rows:
            ok = "yes" if not c.problems else "NO: " + "; ".join(c.problems).replace("|", "/")
            lines.append(f"| `{c.boundary}` | {'killed' if c.killed else c.drill_exit} | {c.rollback} | "
                         f"{c.outcome} | {ok} |")
    good = sum(1 for c in cases if not c.problems)
    lines += ["", f"{good} of {len(cases)} cases converged."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "drill_crash_matrix.md"))
    parser.add_argument("--limit", type=int, default=0, help="run only the first N boundaries of each variant")
    parser.add_argument("--kinds", default="", help="comma-separated journal kinds: kill only at those")
    args = parser.parse_args()
    wanted = {k.strip() for k in args.kinds.split(",") if k.strip()}
    unknown = wanted - {k for v in VARIANTS for k in v.kinds}
    if unknown:
        parser.error(f"--kinds: no variant kills at {sorted(unknown)}")
    variants = [v for v in VARIANTS if not wanted or wanted & set(v.kinds)]
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
            for variant in variants:
                try:
                    points = reference(variant, sandbox, work, base)
                except RuntimeError as exc:
                    print(exc, file=sys.stderr)
                    return 1
                if wanted:
                    points = [p for p in points if p.split(":")[0] in wanted]
                if args.limit:
                    points = points[:args.limit]
                for point in points:
                    case = run_case(variant, point, sandbox, work, base)
                    cases.append(case)
                    print(f"{'ok ' if not case.problems else 'BAD'} {variant.name:8} {point:24} run {case.drill_exit} "
                          f"rollback {case.rollback} {case.outcome} {'; '.join(case.problems)}", flush=True)
    finally:
        server.stop()
    minutes = (time.monotonic() - started) / 60
    shown_args = " ".join(([f"--kinds {args.kinds}"] if args.kinds else []) + ([f"--limit {args.limit}"] if args.limit else []))
    notes = [
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()} ({os.cpu_count()} cores), "
        f"{minutes:.0f} min, by `.venv/bin/python bench/drill_crash_matrix.py"
        f"{' ' + shown_args if shown_args else ''}`.",
        "",
        "Each row: the sandbox reset, the variant's run (time scale 60) killed with SIGKILL right after the named "
        "journal entry was fsynced (`ODIN_CRASH_AT=kind:n`; `operation_started` rows with the sandbox's 6 s "
        "`slow_operations` fault, so the kill lands while the operation is in flight), then `odin rollback` on the "
        "drill file run to its end. Exit 3: rolled back, healthy; 0: nothing was left to undo (the drill's own "
        "failback had finished, or the incident had not failed anything over). `window` rows: the kill leaves the "
        "service in the DR region outside `failback.window`, so `odin rollback` must be refused (exit 2, one line, "
        "journal and world untouched) and `odin rollback --force` fail back, journaled as forced. `incident` rows: "
        "the outage is the bench's; the rollback must leave it in place, then the bench removes it. Converged "
        "includes: nothing pending in the journal (no undo owed, no open intent, no injected fault).",
    ]
    Path(args.out).write_text(markdown(cases, notes))
    print(f"wrote {args.out}")
    return 0 if all(not c.problems for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
