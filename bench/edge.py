"""The sandbox's Front Door edge under load: does it hold the rate, and what latency does it add?

The Azure sandbox runs in its own process (``python -m odin_drills.sandbox.azure``, as a drill
starts it). For each rate, open-loop GETs to ``/health`` go through the edge (``frontdoor_url``)
and straight to the East US origin, one after the other, each from a load generator in its own
process: the project's synthetic probe (``steps.probes.synthetic``), which sends on a fixed
schedule, so a saturated edge shows up as latency and a lower achieved rate, never hides.
Results: bench/results/edge.md.

    .venv/bin/python bench/edge.py [--rates 100,250,500,1000] [--seconds 5] [--reps 1]
    .venv/bin/python bench/edge.py --load URL RATE SECONDS probe|pool   # one load generator (a child)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results" / "edge.md"


def load(url: str, rate: float, seconds: float, generator: str = "probe") -> dict[str, Any]:
    """One open-loop window at ``rate`` req/s for ``seconds``: achieved rate, p50/p95, errors."""
    if generator == "pool":
        return load_pool(url, rate, seconds)
    from odin_drills.plan.journeys import SyntheticProbe
    from odin_drills.steps.clock import ScaledClock
    from odin_drills.steps.probes.synthetic import SyntheticProbeSource

    spec = SyntheticProbe(url=url, rate_per_second=rate, timeout=10.0, min_window_wall_seconds=seconds)
    with SyntheticProbeSource(spec, ScaledClock(1.0)) as probe:
        probe.measure(min(1.0, seconds))  # warm: connections open, the loop runs
        start = time.perf_counter()
        snapshot = probe.measure(seconds)
        wall = time.perf_counter() - start
        stats = probe.last_window
    return {"requests": snapshot.requests, "errors": snapshot.errors, "wall_seconds": wall,
            "achieved": snapshot.requests / wall, "p50": snapshot.latency_ms.p50, "p95": snapshot.latency_ms.p95,
            "p99": snapshot.latency_ms.p99, "max_send_lag_ms": stats.max_send_lag_ms if stats else None}


def load_pool(url: str, rate: float, seconds: float) -> dict[str, Any]:
    """The lighter generator: the demo router's own open loop over a keep-alive pool (one write
    and one parse per request). Latency counts from each request's scheduled time, so a starved
    generator's own lateness is in it too (the probe leaves that out)."""
    import asyncio
    from urllib.parse import urlsplit

    from odin_drills.sandbox.bluegreen.bench import open_loop

    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    asyncio.run(open_loop(base, min(1.0, seconds), rate, path=parts.path))  # warm
    result = asyncio.run(open_loop(base, seconds, rate, path=parts.path))
    return {"requests": result["requests"], "errors": result["non_2xx"], "achieved": result["req_per_s"],
            "p50": result["p50_ms"], "p95": result["p95_ms"], "p99": result["p99_ms"]}


def run_load(url: str, rate: float, seconds: float, generator: str) -> dict[str, Any]:
    """``load`` in a child process, so the generator never shares a GIL with what it measures."""
    done = subprocess.run([sys.executable, __file__, "--load", url, str(rate), str(seconds), generator], cwd=ROOT,
                          capture_output=True, text=True, timeout=seconds * 4 + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Sandbox:
    """``python -m odin_drills.sandbox.azure`` as a child process, stopped by its PID."""

    def __init__(self) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="odin-edge-bench-"))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "odin_drills.sandbox.azure", "--state-dir", str(self.state)], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            self.stop()
            raise RuntimeError("the sandbox did not start")
        self.info: dict[str, Any] = json.loads(line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.state, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--load", nargs=4, metavar=("URL", "RATE", "SECONDS", "GENERATOR"))
    parser.add_argument("--generators", default="probe,pool",
                        help="probe: the synthetic probe (steps.probes.synthetic); pool: the demo's open loop")
    parser.add_argument("--rates", default="100,250,500,1000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--label", default="", help="a line under the title (what was measured)")
    args = parser.parse_args()
    if args.load:
        url, rate, seconds, generator = args.load
        print(json.dumps(load(url, float(rate), float(seconds), generator)))
        return

    rates = [float(r) for r in args.rates.split(",")]
    load_before = os.getloadavg()
    sandbox = Sandbox()
    generators = args.generators.split(",")
    results: dict[tuple[str, str, float], list[dict[str, Any]]] = {}
    try:
        targets = {"edge (Front Door)": sandbox.info["frontdoor_url"] + "/health",
                   "origin (East US, direct)": sandbox.info["regions"]["eastus"] + "/health"}
        for rep in range(args.reps):
            for rate in rates:
                for generator, (name, url) in ((g, t) for g in generators for t in targets.items()):
                    result = run_load(url, rate, args.seconds, generator)  # same rate, back to back
                    results.setdefault((generator, name, rate), []).append(result)
                    print(f"rep {rep + 1} {generator} {name} @ {rate:g}: {result['achieved']:.0f} req/s, "
                          f"p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, errors {result['errors']}",
                          file=sys.stderr)
    finally:
        sandbox.stop()
    text = report(results, rates, generators, list(targets), args, load_before, os.getloadavg())
    Path(args.out).write_text(text)
    print(text)


def report(results: dict[tuple[str, str, float], list[dict[str, Any]]], rates: list[float], generators: list[str],
           names: list[str],
           args: argparse.Namespace, load_before: tuple[float, ...], load_after: tuple[float, ...]) -> str:
    lines = [
        "# Sandbox Front Door edge under load",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores shared with other work (load average before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f}). The sandbox in its own process; each load generator "
        "in its own process, open loop: `probe` is the project's synthetic probe (latency from each send; its own "
        "lateness left out), `pool` the demo router's open loop on a keep-alive pool (latency from each "
        f"request's scheduled time: a starved generator counts against the server). GET `/health`, {args.seconds:g} s per window, "
        f"{args.reps} repetition(s), medians over repetitions. Reproduce: `.venv/bin/python bench/edge.py`.",
        "",
    ]
    if args.label:
        lines += [args.label, ""]
    lines += ["| generator | rate asked, req/s | path | achieved req/s | p50 ms | p95 ms | errors |",
              "|---|---|---|---|---|---|---|"]
    for generator, rate, name in ((g, r, n) for g in generators for r in rates for n in names):
        runs = results.get((generator, name, rate), [])
        if not runs:
            continue
        achieved, p50, p95 = (statistics.median(r[k] for r in runs) for k in ("achieved", "p50", "p95"))
        lines.append(f"| {generator} | {rate:g} | {name} | {achieved:.0f} | {p50:.1f} | {p95:.1f} | "
                     f"{sum(r['errors'] for r in runs)} |")
    lines += ["", "Every window (a median hides a bad window; this machine's other work makes some):", "",
              "| generator | rate | path | achieved per window | p95 ms per window |", "|---|---|---|---|---|"]
    for (generator, name, rate), runs in results.items():
        achieved = ", ".join(f"{r['achieved']:.0f}" for r in runs)
        p95 = ", ".join(f"{r['p95']:.1f}" for r in runs)
        lines.append(f"| {generator} | {rate:g} | {name} | {achieved} | {p95} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
