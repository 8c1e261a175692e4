"""A region-failover drill at estate scale, against ARM's write limit: how close to the floor?

For each configuration (N failover groups, M storage accounts, the drill's Front Door origin group
and K more in ``resources.frontdoor_groups``), the Azure sandbox runs in its own process (``python -m odin_drills.sandbox.azure --scale …
--arm-write-limit …``, as ``odin sandbox up`` would), and the drill's failover phase runs in this
one exactly as the runbook runs it, minus the Prefect task wrappers: ``failover_waves`` resolves the
actions (reading each group's partner server: *prepare*), then each wave runs its actions at most
``max_parallel`` at once, each write-ahead journaled (``steps.dr.failover.execute_action``) through
the real SDK clients, each action with its own session, all sharing the one write budget per
subscription (``steps.azure.throttle``); the data tier first, then Front Door.

Measured: the failover's wall time against its **critical-path lower bound**,

    data  = max(throttle(W) + t_op, ceil(W / P) × t_op)          (0 without data-tier actions)
    floor = max(data + ceil(G / P) × 2 × t_op, throttle(W + 2G) + t_op)

where W is the data tier's writes (one per failover group or storage account), G the origin groups
(each two origin updates in a row: two writes, two LROs), throttle(w) = (w − burst) / refill rate
(the bucket starts full), t_op the sandbox's LRO time and P ``max_parallel``; ARM calls (reads, writes),
429s received and **writes that ignored a Retry-After** (goal 0), from the sandbox's own counts.
Results: bench/results/drill_scale.md.

    .venv/bin/python bench/drill_scale.py [--configs 1:0,20:0,200:0,200:50] [--write-limit 20/1]
        [--operation-seconds 0.2] [--max-parallel 16]

``--full`` runs the same estates through the product's entry point instead: ``odin drill`` in its
own process, recording into a real Prefect server (``bench/drill_scale_full.py``; its own section of
the results file, which each mode rewrites without touching the other's):

    .venv/bin/python bench/drill_scale.py --full [--configs 20:0:0,200:50:50] [--write-limit 10/1]
        [--time-scale 60] [--timeout 1800] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "drill_scale.md"
REGIONS = ("eastus", "westus")
DEFAULT_CONFIGS = ((1, 0, 0), (20, 0, 0), (200, 0, 0), (200, 50, 50))


@dataclass
class Trial:
    """One drill's failover phase at one scale."""

    failover_groups: int
    storage_accounts: int
    extra_origin_groups: int
    write_limit: str
    operation_seconds: float
    max_parallel: int
    shared_budget: bool = True
    actions: int = 0
    succeeded: int = 0
    prepare_seconds: float = 0.0
    failover_seconds: float = 0.0
    floor_seconds: float = 0.0
    throttle_minimum_seconds: float = 0.0
    arm_reads: int = 0
    arm_writes: int = 0
    throttled: int = 0
    ignored_retry_after: int = 0
    engine_held_seconds: float = 0.0
    failed: list[str] = field(default_factory=list)
    ended: str | None = None  # the runbook's early end (a data-tier action failed: Front Door not moved)
    pids: list[int] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.failover_seconds / self.floor_seconds if self.floor_seconds else float("nan")


def floor_seconds(writes: int, origin_groups: int, burst: int, window: float, op_seconds: float,
                  max_parallel: int) -> tuple[float, float]:
    """(critical-path floor, throttle minimum of all writes) of the failover phase, in seconds (module docstring)."""
    def throttle(count: int) -> float:
        return max(0.0, (count - burst) * window / burst)

    data = max(throttle(writes) + op_seconds, math.ceil(writes / max_parallel) * op_seconds) if writes else 0.0
    frontdoor = math.ceil(origin_groups / max_parallel) * 2 * op_seconds
    total = throttle(writes + 2 * origin_groups)
    return max(data + frontdoor, total + op_seconds), total


def start_sandbox(state_dir: Path, *, seed: int, failover_groups: int, storage_accounts: int, origin_groups: int,
                  write_limit: str, op_seconds: float) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """The sandbox in its own process; its info (the first line it prints)."""
    command = [sys.executable, "-m", "odin_drills.sandbox.azure", "--state-dir", str(state_dir), "--seed", str(seed),
               "--scale", f"fg={failover_groups},storage={storage_accounts},afd={origin_groups}", "--arm-write-limit", write_limit,
               "--lro-retry-after", "0", "--operation-seconds", str(op_seconds), "--replication-lag", "0.2",
               "--probe-interval", "1"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        assert process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=60):
            raise RuntimeError("the sandbox printed no info within 60 s")
        return process, json.loads(process.stdout.readline())
    except BaseException:
        stop_process(process)
        raise


def stop_process(process: subprocess.Popen[str]) -> None:
    """SIGTERM to its group, SIGKILL after 10 s; never leaves it running."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def drill_plan(info: dict[str, Any], failover_groups: int, storage_accounts: int, origin_groups: int) -> Any:
    from odin_drills.plan.drill import parse_drill

    scaled = info["scaled_resources"]
    return parse_drill({
        "name": "drill-scale", "environment": "bench-drill-scale", "kind": "region-failover",
        "target": {"kind": "sandbox", "arm_url": info["arm_url"], "ca_cert": info["ca_cert"],
                   "subscription_id": info["subscription_id"]},
        "regions": {"primary": "eastus", "secondary": "westus"},
        "resources": {
            "failover_groups": [{"id": i, "mode": "planned"} for i in scaled["failover_groups"][:failover_groups]],
            "storage_accounts": [{"id": i, "mode": "planned"} for i in scaled["storage_accounts"][:storage_accounts]],
            "frontdoor": {"origin_group": info["resources"]["frontdoor_origin_groups"][0],
                          "origins": {"eastus": "app-eastus", "westus": "app-westus"}},
            "frontdoor_groups": [{"origin_group": g, "origins": {r: f"{g.rsplit('/', 1)[-1]}-{r}" for r in REGIONS}}
                                 for g in scaled["frontdoor_origin_groups"][:origin_groups]]},
        "targets": {"rto": "4h", "rpo": "15m"}}, source="bench/drill_scale.py")


def run_failover(run: Any, max_parallel: int) -> None:
    """The runbook's failover phase (``flows.drill_tasks.run_wave`` without its Prefect task)."""
    from odin_drills.steps.dr.failover import execute_action
    from odin_drills.steps.dr.order import run_waves

    def wave(actions: list[Any]) -> list[tuple[Any, Any]]:
        with ThreadPoolExecutor(max_workers=min(max_parallel, len(actions)), thread_name_prefix="bench-failover") as pool:
            futures = [pool.submit(execute_action, run, action, "failover") for action in actions]
            return [(action, future.result()) for action, future in zip(actions, futures)]

    run_waves(run, wave, "failover")


def measure_trial(failover_groups: int, storage_accounts: int, origin_groups: int = 0, *, workdir: Path,
                  write_limit: str = "20/1",
                  op_seconds: float = 0.2, max_parallel: int = 16, seed: int = 14, shared_budget: bool = True) -> Trial:
    """One configuration, start to end; the sandbox process is stopped in ``finally``. ``shared_budget``
    off is the control: the clients get a do-nothing policy instead, the SDK's own retries alone."""
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    from odin_drills.steps.azure import throttle as shared
    from odin_drills.plan.models import SandboxTarget
    from odin_drills.sandbox.azure.arm_throttle import parse_write_limit
    from odin_drills.steps.azure.throttle import budget_for, reset_budgets
    from odin_drills.steps.clock import ScaledClock
    from odin_drills.steps.dr.failover import failover_waves
    from odin_drills.steps.dr.run import DrillOptions, DrillRun, EndRun
    from odin_drills.steps.journal import Journal

    limit = parse_write_limit(write_limit)
    assert limit is not None
    trial = Trial(failover_groups, storage_accounts, origin_groups, limit.text(), op_seconds, max_parallel,
                  shared_budget)
    policy = shared.shared_throttle_policy
    if not shared_budget:
        shared.shared_throttle_policy = lambda endpoint, subscription: SansIOHTTPPolicy()  # type: ignore[assignment]
    workdir.mkdir(parents=True, exist_ok=True)
    reset_budgets()
    process, info = start_sandbox(workdir / "sandbox", seed=seed, failover_groups=failover_groups,
                                  storage_accounts=storage_accounts, origin_groups=origin_groups,
                                  write_limit=write_limit, op_seconds=op_seconds)
    trial.pids.append(process.pid)
    run = None
    try:
        plan = drill_plan(info, failover_groups, storage_accounts, origin_groups)
        clock = ScaledClock(60.0)
        run = DrillRun(plan=plan, drill_id="bench", mode="drill", options=DrillOptions(max_parallel=max_parallel),
                       clock=clock, journal=Journal(workdir / "journal.jsonl", clock),
                       endpoints=plan.resolve_endpoints(info), resources=plan.resources,
                       target=SandboxTarget(arm_url=info["arm_url"], ca_cert=info["ca_cert"],
                                            subscription_id=info["subscription_id"]))
        started = time.perf_counter()
        run.waves = failover_waves(run)
        trial.prepare_seconds = time.perf_counter() - started
        before = throttle_stats(info)
        started = time.perf_counter()
        try:
            run_failover(run, max_parallel)
        except EndRun as exc:  # a data-tier action failed: the runbook would roll back here
            trial.ended = exc.outcome
        trial.failover_seconds = time.perf_counter() - started
        after = throttle_stats(info)
        trial.actions = sum(len(w) for w in run.waves)  # skipped ones (after a failed data tier) count as not ok
        trial.succeeded = sum(1 for _, outcome in run.found.outcomes if outcome.succeeded)
        trial.failed = [f"{a.label}: {o.detail}" for a, o in run.found.outcomes if not o.succeeded][:5]
        for name in ("reads", "writes", "throttled", "ignored_retry_after"):
            setattr(trial, {"reads": "arm_reads", "writes": "arm_writes"}.get(name, name), after[name] - before[name])
        trial.engine_held_seconds = budget_for(info["arm_url"], info["subscription_id"]).held_seconds
        trial.floor_seconds, trial.throttle_minimum_seconds = floor_seconds(
            failover_groups + storage_accounts, 1 + origin_groups, limit.writes, limit.window_seconds, op_seconds,
            max_parallel)
    finally:
        if run is not None:
            run.close()
        stop_process(process)
        reset_budgets()
        shared.shared_throttle_policy = policy  # type: ignore[assignment]
    return trial


def throttle_stats(info: dict[str, Any]) -> dict[str, Any]:
    return httpx.get(f"{info['admin_url']}/throttle", timeout=10).json()


def report(trials: list[Trial], command: str, started: datetime, load: tuple[float, float]) -> str:
    rows = "\n".join(
        f"| {t.failover_groups} | {t.storage_accounts} | {1 + t.extra_origin_groups} "
        f"| {'shared' if t.shared_budget else 'SDK alone'} | {t.succeeded}/{t.actions} | {t.failover_seconds:.1f} "
        f"| {t.floor_seconds:.1f} | {t.ratio:.2f} | {t.throttle_minimum_seconds:.1f} | {t.prepare_seconds:.1f} "
        f"| {t.arm_reads} | {t.arm_writes} | {t.throttled} | **{t.ignored_retry_after}** |" for t in trials)
    first = trials[0]
    return f"""# Region-failover drill at estate scale, under ARM's write limit

{started:%Y-%m-%d %H:%M} UTC, CPython {platform.python_version()}, {os.cpu_count()} cores shared with other work \
(load average before {load[0]:.2f}, after {load[1]:.2f}). Command: `{command}`.

Setup: the Azure sandbox in its own process with generated resources (`--scale fg=N,storage=M,afd=K`) and ARM's
per-subscription write limit switched on (`--arm-write-limit {first.write_limit}`: a token bucket, burst
{first.write_limit.split('/')[0]}, refilled at that many per window; 429 + Retry-After beyond it), every
long-running operation taking t_op = {first.operation_seconds:g} s (LRO `Retry-After: 0`; the client polls
every 0.1 s). The drill's failover phase runs in this process as the runbook runs it (`bench/drill_scale.py`):
the data tier (SQL failover groups, planned, and storage accounts, planned) in one wave of at most
{first.max_parallel} actions at once, then Front Door (the drill's origin group and `frontdoor_groups`, one wave),
each action write-ahead journaled and with its own SDK
session, all sharing one write budget per subscription (`steps/azure/throttle.py`). *Prepare* is resolving the
actions (one read of each group's partner server, in a row), before the failover starts.

Floor = max(data + ⌈G/P⌉ × 2 t_op, throttle(W + 2G) + t_op), data = max(throttle(W) + t_op, ⌈W/P⌉ × t_op)
(W data-tier writes, G origin groups — each two origin updates in a row —, P = max_parallel,
throttle(w) = (w − burst) / refill rate; the *throttle min* column is throttle(W + 2G)). ARM calls,
429s and *ignored Retry-After* (writes that reached ARM before a Retry-After it had returned for the
subscription had elapsed; goal 0) are the sandbox's own counts over the failover phase.

| failover groups | storage accounts | origin groups | write budget | actions ok | failover, s | floor, s | wall / floor | throttle min, s | prepare, s | ARM reads | ARM writes | 429s | ignored Retry-After |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
{rows}

*Why so tight a limit*: ARM's documented write limit is a token bucket of 200 writes refilled at 10 per
second per subscription and region, and a real SQL failover takes minutes; against that, 353 writes are
throttled for ≈ 15 s while the LROs run far longer, so the throttle is not the critical path. Here every
LRO lasts {first.operation_seconds:g} s and the bucket is {first.write_limit}, so at 200 groups the write
limit *is* the critical path: what is measured is how close the engine comes to it, and how it behaves
while throttled. A control row (*SDK alone*) runs the same drill with the shared policy replaced by a
do-nothing one: each action's SDK client then honours only the Retry-After it got itself. Its wall time
is not comparable when actions failed: a failed data-tier action ends the failover before Front Door.

## Reading

{reading(trials)}
"""


def reading(trials: list[Trial]) -> str:
    shared = [t for t in trials if t.shared_budget]
    control = [t for t in trials if not t.shared_budget]
    ignored = sum(t.ignored_retry_after for t in shared)
    lines = [
        f"- **Ignored Retry-After with the shared budget: {ignored} in all** (goal 0): after any 429 no action of "
        "the drill wrote before its Retry-After had elapsed, and writes are paced by the budget ARM reports "
        "(`x-ms-ratelimit-remaining-subscription-writes`), so 429s stay rare.",
    ]
    if shared:
        largest = max(shared, key=lambda t: t.actions)
        lines.append(
            f"- **Largest estate** ({largest.failover_groups} failover groups + {largest.storage_accounts} storage "
            f"accounts + {1 + largest.extra_origin_groups} origin groups): {largest.failover_seconds:.1f} s against "
            f"a floor of {largest.floor_seconds:.1f} s ({largest.ratio:.2f}×), {largest.throttled} 429s over "
            f"{largest.arm_writes} writes; {largest.succeeded}/{largest.actions} actions succeeded.")
    if control:
        worst = max(control, key=lambda t: t.actions)
        lines.append(
            f"- **Control, the SDK's retries alone** (each action's client honours only the Retry-After it got): "
            f"{sum(t.ignored_retry_after for t in control)} writes ignored a Retry-After and "
            f"{sum(t.throttled for t in control)} 429s in all; at {worst.actions} actions "
            f"{worst.succeeded}/{worst.actions} succeeded in {worst.failover_seconds:.1f} s "
            "(an action whose write drew more 429s than the SDK's 3 status retries fails; a failed data tier "
            "ends the failover before Front Door: `rolled_back_healthy` in a real run).")
    lines.append("- **Front Door**: `resources.frontdoor` (the group the outage injector and probes use) plus "
                 "`resources.frontdoor_groups` (the sandbox's `--scale afd=K` groups `og-0001`…), all in the "
                 "traffic wave.")
    failed = [f for t in shared for f in t.failed]
    if failed:
        lines.append("- Failed actions with the shared budget (first few): " + "; ".join(failed[:5]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default=",".join(":".join(map(str, c)) for c in DEFAULT_CONFIGS),
                        help="FAILOVER_GROUPS:STORAGE_ACCOUNTS[:EXTRA_ORIGIN_GROUPS], comma-separated")
    parser.add_argument("--write-limit", default="20/1", help="the sandbox's ARM write limit, WRITES/SECONDS")
    parser.add_argument("--operation-seconds", type=float, default=0.2)
    parser.add_argument("--max-parallel", type=int, default=16)
    parser.add_argument("--control", action="store_true",
                        help="also run each configuration without the shared budget (the SDK's own retries alone)")
    parser.add_argument("--full", action="store_true",
                        help="run each configuration through `odin drill` under a Prefect server instead "
                             "(bench/drill_scale_full.py; default configs 20:0:0,200:50:50); writes its own section")
    parser.add_argument("--time-scale", type=float, default=60.0, help="--full: the drill's --time-scale")
    parser.add_argument("--timeout", type=float, default=1800.0, help="--full: seconds before a drill is killed")
    parser.add_argument("--keep", action="store_true", help="--full: keep the work folder (journals, logs) and say where")
    parser.add_argument("--no-write", action="store_true", help="print the results, do not write the results file")
    args = parser.parse_args(argv)
    if args.full:
        return main_full(args, argv)
    configs = [tuple(int(x) for x in part.split(":")) for part in args.configs.split(",")]
    started, load_before = datetime.now(timezone.utc), os.getloadavg()[0]
    trials = []
    with tempfile.TemporaryDirectory(prefix="odin-drill-scale-") as tmp:
        for number, config in enumerate(configs):
            groups, accounts, origin_groups = (*config, 0)[:3]
            for shared_budget in (True, False) if args.control else (True,):
                trial = measure_trial(groups, accounts, origin_groups, workdir=Path(tmp) / f"trial-{number}-{shared_budget}",
                                      write_limit=args.write_limit, op_seconds=args.operation_seconds,
                                      max_parallel=args.max_parallel, shared_budget=shared_budget)
                print(json.dumps({**asdict(trial), "ratio": round(trial.ratio, 3)}), flush=True)
                trials.append(trial)
    command = "python bench/drill_scale.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = report(trials, command.strip(), started, (load_before, os.getloadavg()[0]))
    if not args.no_write:
        from bench.drill_scale_full import kept_section

        kept = kept_section(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else ""
        RESULTS.write_text(text + ("\n" + kept if kept else ""), encoding="utf-8")
    print(text)
    return 0


def main_full(args: argparse.Namespace, argv: list[str] | None) -> int:
    """``--full``: each configuration through ``odin drill`` (``bench.drill_scale_full``), one Prefect server for all."""
    from bench.drill_scale_full import DRILL_MAX_PARALLEL, measure_full_drill, prefect_server, replace_section, section

    given = any(a.startswith("--configs") for a in (argv if argv is not None else sys.argv[1:]))
    # --full without --max-parallel: the drill file's default (resources.max_parallel, 4), as a user's plan runs
    parallel_given = any(a.startswith("--max-parallel") for a in (argv if argv is not None else sys.argv[1:]))
    configs = [tuple(int(x) for x in part.split(":")) for part in (args.configs if given else "20:0:0,200:50:50").split(",")]
    started, load_before = datetime.now(timezone.utc), os.getloadavg()[0]
    trials = []
    tmp = tempfile.mkdtemp(prefix="odin-drill-scale-full-")
    if args.keep:
        print(f"work folder (kept): {tmp}", file=sys.stderr, flush=True)
    with contextlib.ExitStack() as cleanup:
        if not args.keep:
            cleanup.callback(shutil.rmtree, tmp, ignore_errors=True)
        api = cleanup.enter_context(prefect_server(Path(tmp) / "prefect-server-home"))
        for number, config in enumerate(configs):
            groups, accounts, origin_groups = (*config, 0)[:3]
            trial = measure_full_drill(groups, accounts, origin_groups, workdir=Path(tmp) / f"full-{number}",
                                       prefect_api=api, write_limit=args.write_limit, op_seconds=args.operation_seconds,
                                       time_scale=args.time_scale, timeout=args.timeout,
                                       max_parallel=args.max_parallel if parallel_given else DRILL_MAX_PARALLEL)
            print(json.dumps({**asdict(trial), "ratio": round(trial.ratio, 3)}), flush=True)
            trials.append(trial)
    command = "python bench/drill_scale.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = section(trials, command.strip(), started, (load_before, os.getloadavg()[0]))
    if not args.no_write:
        RESULTS.write_text(replace_section(RESULTS.read_text(encoding="utf-8"), text), encoding="utf-8")
    print(text)
    return 0 if all(t.problem is None for t in trials) else 1


if __name__ == "__main__":
    sys.exit(main())
