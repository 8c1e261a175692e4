"""Whole watches, not single windows: the sequential judge beside the fixed-window judge.

Simulates, with seeded numpy, a service whose requests fail independently at a base error rate
(1 % or 0.1 %) and whose latencies are lognormal (median 80 ms, sigma 0.5: p95 about 180 ms), at
1, 10 and 100 requests per second. Each trial captures a fresh 1 h baseline (the default
``windows.baseline``) and then watches 23 h in 5-minute windows (276, the T+24h phase), and feeds
the *same* windows to both judges through ``odin_drills.steps.judge.replay`` (``Judge.watch`` as a
run uses it): the default ``Policy()`` (sequential) and ``Policy(judge="fixed")``. The sequential
judge gets the T+24h watch's share of alpha in a migration with three T-0 step gates
(``AlphaBudget.for_watches``).

Latency data: raw samples (every request's latency, as the synthetic probe records them) at 1 and
10 req/s, or Prometheus-style histograms on 2^(1/8)-spaced bounds (the layout of a native histogram
at schema 3; the windows' percentiles interpolated within buckets, as ``histogram_quantile`` does)
at 1, 10 and 100 req/s. Samples at 100 req/s are left out: the fixed judge's Mann–Whitney test on
30,000 against 360,000 samples costs about 60 ms a window, 5 hours of CPU for the cell.

Parts:
1. healthy watches (no change at all): the share ending in anything but proceed, with a 95 %
   Wilson interval; the sequential judge's non-proceeds split by cause;
2. detection: a breach from window 139 on (errors x1.6, x2.5, x5; latencies x1.6, x2.5; a 20 %
   error outage): windows from its start to the first action (1 = acted after its first window),
   median and 90th percentile, the share caught before the watch ends, and the share of trials
   where the judge had already acted on the healthy half (a false alarm: no delay measured);
3. whole migrations of a healthy service: T-0 (three 5-minute step gates), T+1h (12 windows),
   T+24h (276): the share with any hold or rollback.

Run: ``.venv/bin/python bench/watch_noise.py`` (22 minutes on 2 cores shared with other work, load
average 3-4; ``--quick`` for a tenth of the trials, 3 minutes). Writes ``bench/results/watch_noise.md``.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from math import sqrt
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scipy.special import ndtr  # noqa: E402

from bench._trials import chunks, quick_divisor, run_pool, trial_counts, trial_options  # noqa: E402
from odin_drills.plan.policy import Policy  # noqa: E402
from odin_drills.steps.adequacy import Watch, assess  # noqa: E402
from odin_drills.steps.judge import MemoryJournal, replay  # noqa: E402
from odin_drills.steps.sequential import HISTOGRAM_BOUNDS_MS, AlphaBudget  # noqa: E402
from odin_drills.steps.snapshot import LatencyHistogram, LatencyPercentiles, Signals, Snapshot  # noqa: E402

SEED = 20261126
INTERVAL = 300.0
WATCH = 276  # 23 h of 5-minute windows
ONSET = 139  # breaches start with this window (mid-watch)
BASELINE_SECONDS = 3600.0
LATENCY_MEDIAN_MS, LATENCY_SIGMA = 80.0, 0.5
CELLS_HEALTHY = [(rps, base, mode) for mode, rates in (("samples", (1, 10)), ("histogram", (1, 10, 100)))
                 for rps in rates for base in (0.01, 0.001)]
BREACHES = [("errors", 1.6), ("errors", 2.5), ("errors", 5.0), ("latency", 1.6), ("latency", 2.5), ("outage", 0.20)]
CELLS_DETECT = [(1, 0.01, "samples"), (10, 0.01, "histogram"), (100, 0.01, "histogram"), (100, 0.001, "histogram")]
CELLS_MIGRATION = [(10, 0.01, "histogram"), (100, 0.01, "histogram"), (100, 0.001, "histogram")]
T0_GATES = 3
JUDGES = ("sequential", "fixed")
POLICIES = {"sequential": Policy(), "fixed": Policy(judge="fixed")}
BUDGET = AlphaBudget.for_watches(Policy(), {"t0": T0_GATES, "t+1h": 1, "t+24h": 1})
BOUNDS = np.asarray(HISTOGRAM_BOUNDS_MS)
BOUND_LIST = list(HISTOGRAM_BOUNDS_MS)
CHUNK = 25
FIXED_HEALTHY = {"samples": 20, "histogram": 50}
"""Healthy trials the fixed judge also judges (the first of each cell's): it holds most watches, so
few trials show it misses the goal, and it is slow where it merges inconclusive windows (it
re-sorts every sample of the merge each window: 12 s a watch at 1 req/s and 0.1 % errors)."""


# ---------------------------------------------------------------- the simulated service

def _bucket_probabilities(scale: float) -> np.ndarray:
    """P(latency in each bucket) for the lognormal scaled by ``scale``; the last bucket is > the last bound."""
    z = (np.log(BOUNDS) - np.log(LATENCY_MEDIAN_MS * scale)) / LATENCY_SIGMA
    cdf = ndtr(z)
    return np.diff(np.concatenate(([0.0], cdf, [1.0])))


_PROBS: dict[float, np.ndarray] = {}


def _window(rng: np.random.Generator, requests: int, error_rate: float, latency_scale: float, mode: str) -> Snapshot:
    errors = int(rng.binomial(requests, min(error_rate, 1.0)))
    if mode == "samples":
        samples = latency_scale * rng.lognormal(np.log(LATENCY_MEDIAN_MS), LATENCY_SIGMA, requests)
        p50, p95, p99 = np.percentile(samples, [50, 95, 99])
        return Snapshot.model_construct(
            requests=requests, errors=errors, latency_ms=LatencyPercentiles.model_construct(p50=p50, p95=p95, p99=p99),
            latency_samples_ms=samples.tolist(), latency_histogram=None, signals=Signals(),
            started_at=None, ended_at=None, source=None)
    probs = _PROBS.setdefault(latency_scale, _bucket_probabilities(latency_scale))
    counts = rng.multinomial(requests, probs)
    cumulative = np.cumsum(counts[:-1])
    cumulative[-1] += counts[-1]  # the few beyond the last bound (131 s) count in the last bucket
    p50, p95, p99 = (_histogram_quantile(cumulative, q) for q in (0.5, 0.95, 0.99))
    return Snapshot.model_construct(
        requests=requests, errors=errors, latency_ms=LatencyPercentiles.model_construct(p50=p50, p95=p95, p99=p99),
        latency_samples_ms=None,
        latency_histogram=LatencyHistogram.model_construct(le_ms=BOUND_LIST, counts=cumulative.tolist()),
        signals=Signals(), started_at=None, ended_at=None, source=None)


def _histogram_quantile(cumulative: np.ndarray, q: float) -> float:
    """Linear interpolation within the bucket, as Prometheus' histogram_quantile."""
    total = cumulative[-1]
    rank = q * total
    index = int(np.searchsorted(cumulative, rank, side="left"))
    upper = BOUNDS[index]
    lower = BOUNDS[index - 1] if index else 0.0
    below = cumulative[index - 1] if index else 0
    inside = cumulative[index] - below
    return float(lower + (upper - lower) * ((rank - below) / inside if inside else 1.0))


def baseline(rng: np.random.Generator, rps: int, base: float, mode: str) -> Snapshot:
    return _window(rng, int(rps * BASELINE_SECONDS), base, 1.0, mode)


def stream(rng: np.random.Generator, rps: int, base: float, mode: str, count: int,
           breach: tuple[str, float] | None = None, onset: int = ONSET) -> list[Snapshot]:
    requests = int(rps * INTERVAL)
    windows = []
    for index in range(1, count + 1):
        rate, scale = base, 1.0
        if breach is not None and index >= onset:
            kind, size = breach
            if kind == "errors":
                rate = base * size
            elif kind == "latency":
                scale = size
            else:
                rate = size
        windows.append(_window(rng, requests, rate, scale, mode))
    return windows


def judge(name: str, base_snap: Snapshot, windows: list[Snapshot], *, planned: int, phase: str) -> tuple[str, int, str]:
    verdict, ended = replay(base_snap, windows, POLICIES[name], duration=planned * INTERVAL, interval=INTERVAL,
                            phase=phase, budget=BUDGET, journal=MemoryJournal(keep=False))
    return ("hold" if ended else verdict.action), verdict.windows, verdict.reason


def cause(action: str, reason: str) -> str:
    if action == "proceed":
        return "proceed"
    if "cannot yet rule out" in reason:
        return "cannot decide (traffic)"
    if "conclusively worse" in reason or "e-value" in reason:
        return "evidence"
    return "other"


# ---------------------------------------------------------------- tasks (one chunk of trials)

def run_healthy(cell: tuple, trials: int, seed: np.random.SeedSequence, fixed_trials: int) -> tuple:
    rps, base, mode = cell
    rng = np.random.default_rng(seed)
    out = {name: Counter() for name in JUDGES}
    for trial in range(trials):
        base_snap = baseline(rng, rps, base, mode)
        windows = stream(rng, rps, base, mode, WATCH + 3)
        for name in JUDGES if trial < fixed_trials else ("sequential",):
            action, _, reason = judge(name, base_snap, windows, planned=WATCH, phase="t+24h")
            out[name][action] += 1
            out[name]["cause: " + cause(action, reason)] += 1
    return ("healthy", cell, out)


def run_detect(cell: tuple, trials: int, seed: np.random.SeedSequence, fixed_trials: int) -> tuple:
    rps, base, mode, breach = cell
    rng = np.random.default_rng(seed)
    out: dict[str, list] = {name: [] for name in JUDGES}
    for _ in range(trials):
        base_snap = baseline(rng, rps, base, mode)
        windows = stream(rng, rps, base, mode, WATCH + 3, breach=breach)
        for name in JUDGES:
            action, acted_at, _ = judge(name, base_snap, windows, planned=WATCH, phase="t+24h")
            if action == "proceed":
                out[name].append(("missed", None))
            elif acted_at < ONSET:
                out[name].append(("before", None))
            else:
                out[name].append(("caught", acted_at - ONSET + 1))
    return ("detect", cell, out)


def run_migration(cell: tuple, trials: int, seed: np.random.SeedSequence, fixed_trials: int) -> tuple:
    rps, base, mode = cell
    rng = np.random.default_rng(seed)
    out = {name: Counter() for name in JUDGES}
    plan = [("t0", 1)] * T0_GATES + [("t+1h", 12), ("t+24h", WATCH)]
    for _ in range(trials):
        base_snap = baseline(rng, rps, base, mode)
        streams = [(phase, planned, stream(rng, rps, base, mode, planned + 3)) for phase, planned in plan]
        for name in JUDGES:
            where = "proceed"
            for phase, planned, windows in streams:
                action, _, _ = judge(name, base_snap, windows, planned=planned, phase=phase)
                if action != "proceed":
                    where = phase
                    break
            out[name][where] += 1
    return ("migration", cell, out)


# ---------------------------------------------------------------- report

def wilson(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


def share(k: int, n: int) -> str:
    low, high = wilson(k, n)
    digits = 2 if high < 0.02 else 1
    return f"{k}/{n} = {100 * k / n:.{digits}f} % [{100 * low:.{digits}f}, {100 * high:.{digits}f}]"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import scipy

    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}")


def adequacy_row(rps: int, base: float) -> str:
    """What the T-1w check says of the expected 1 h baseline at this traffic, for the T+24h watch."""
    from odin_drills.steps.adequacy import describe, expected_baseline

    snap = expected_baseline(base, rps, BASELINE_SECONDS)
    finding = assess(snap, Policy(), BUDGET, [Watch("t+24h", "final", WATCH, INTERVAL)], rps)[0]
    return describe([finding], rps)[0].split(": ", 1)[1]


def render(results: dict, trials: dict, elapsed: float, workers: int) -> str:
    lines = [
        "# Watch noise: the sequential judge beside the fixed-window judge, over whole watches",
        "",
        f"Written by `bench/watch_noise.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC in {elapsed:.0f} s "
        f"with {workers} worker processes (1-minute load average at the end: {os.getloadavg()[0]:.1f}; the machine "
        "may be shared).",
        f"Machine: {machine()}.",
        "",
        "## Set-up",
        "",
        "- Healthy service: each request fails independently at the base error rate; latencies lognormal, median 80 ms, "
        "sigma 0.5 (p95 about 180 ms). Every trial captures a fresh **1 h baseline** at the same traffic, then watches "
        "**23 h in 276 five-minute windows**; both judges see the same windows, through `odin_drills.steps.judge.replay` "
        "(`Judge.watch`, as a run).",
        "- Judges: `Policy()` (sequential: alpha 1 % per migration; this T+24h watch's detectors get "
        f"{100 * BUDGET.watch('t+24h'):.3g} %, the baseline bounds {100 * BUDGET.baseline:.3g} %, in a migration with "
        f"{T0_GATES} T-0 step gates) and `Policy(judge=\"fixed\")` (the per-window ladder at 99 %, 2 confirming windows, "
        "merging, extensions, the all-windows aggregate).",
        "- Latency data: `samples` (every request's latency) or `histogram` (2^(1/8)-spaced bounds, percentiles "
        "interpolated within buckets). No samples at 100 req/s: the fixed judge's Mann–Whitney test on 30,000 vs "
        "360,000 samples costs about 60 ms a window.",
        f"- Trials: {trials['healthy']} per healthy cell for the sequential judge, of which the fixed judge also "
        f"judges the first {FIXED_HEALTHY['samples']} (samples) or {FIXED_HEALTHY['histogram']} (histograms): it holds "
        "most of them, and where it merges inconclusive windows it re-sorts every merged sample each window (12 s a "
        f"watch at 1 req/s and 0.1 %); {trials['detect']} per detection cell and {trials['migration']} "
        f"per migration cell for both; numpy seed {SEED}, a SeedSequence child per chunk of {CHUNK} trials (results do not "
        "depend on the number of workers). Intervals: 95 % Wilson.",
        "",
        "## 1. Healthy 23 h watches: share ending in anything but proceed (goal: at most 1 %)",
        "",
        "| traffic | base errors | latency data | sequential | fixed | sequential's non-proceeds by cause | "
        "T-1w adequacy of the expected baseline (T+24h, errors) |",
        "|---:|---:|---|---|---|---|---|",
    ]
    for cell in CELLS_HEALTHY:
        rps, base, mode = cell
        data = results["healthy"][cell]
        row = []
        for name in JUDGES:
            n = sum(v for k, v in data[name].items() if k.startswith("cause: "))
            bad = n - data[name]["proceed"]
            row.append(share(bad, n))
        causes = ", ".join(f"{k.removeprefix('cause: ')} {v}" for k, v in sorted(data["sequential"].items())
                           if k.startswith("cause: ") and k != "cause: proceed") or "·"
        fixed_kinds = ", ".join(f"{k} {v}" for k, v in sorted(data["fixed"].items())
                                if not k.startswith("cause") and k != "proceed")
        lines.append(f"| {rps} req/s | {base:.1%} | {mode} | {row[0]} | {row[1]} ({fixed_kinds or '·'}) | {causes} | "
                     f"{adequacy_row(rps, base)} |")
    lines += [
        "",
        "## 2. Detection: a breach from window 139 on (goal: at least as fast as fixed for every breach of 2.5x and "
        "more; a 20 % outage acted on within its first window)",
        "",
        "Windows to act: 1 = after the breach's first window; 138 = at the end of the watch (window 276), where the "
        "sequential judge holds a rise conclusively above 1.1x that was not shown to be above 1.5x. *before* = the "
        "judge had already held or rolled back during the healthy half (a false alarm; no delay). *caught* = acted on "
        "the breach before the watch ended (counting the end-of-watch judgement).",
        "",
        "| traffic | base errors | data | breach | sequential: median / p90 windows, caught, before | fixed: median / "
        "p90 windows, caught, before |",
        "|---:|---:|---|---|---|---|",
    ]
    for rps, base, mode in CELLS_DETECT:
        for breach in BREACHES:
            data = results["detect"][(rps, base, mode, breach)]
            cells = []
            for name in JUDGES:
                outcomes = data[name]
                n = len(outcomes)
                delays = [d for kind, d in outcomes if kind == "caught"]
                before = sum(1 for kind, _ in outcomes if kind == "before")
                if delays:
                    med, p90 = np.median(delays), np.percentile(delays, 90)
                    timing = f"{med:g} / {p90:g}"
                else:
                    timing = "– / –"
                cells.append(f"{timing}, {len(delays)}/{n} caught, {before} before")
            kind, size = breach
            label = f"{kind} x{size:g}" if kind != "outage" else f"outage: {size:.0%} errors"
            lines.append(f"| {rps} req/s | {base:.1%} | {mode} | {label} | {cells[0]} | {cells[1]} |")
    lines += [
        "",
        f"## 3. Whole healthy migrations ({T0_GATES} T-0 step gates, T+1h, T+24h): share with any hold or rollback",
        "",
        "| traffic | base errors | data | sequential (where it stopped) | fixed (where it stopped) |",
        "|---:|---:|---|---|---|",
    ]
    for cell in CELLS_MIGRATION:
        rps, base, mode = cell
        data = results["migration"][cell]
        n = trials["migration"]
        row = []
        for name in JUDGES:
            bad = n - data[name]["proceed"]
            where = ", ".join(f"{k} {v}" for k, v in sorted(data[name].items()) if k != "proceed") or "·"
            row.append(f"{share(bad, n)} ({where})")
        lines.append(f"| {rps} req/s | {base:.1%} | {mode} | {row[0]} | {row[1]} |")
    lines += ["", "## Goals", ""] + goals(results, trials) + [""]
    return "\n".join(lines)


def goals(results: dict, trials: dict) -> list[str]:
    """Each goal of issue 11, checked against the tables above."""
    out = []
    worst = max(wilson(sum(v for k, v in results["healthy"][c]["sequential"].items() if k.startswith("cause: "))
                       - results["healthy"][c]["sequential"]["proceed"],
                       sum(v for k, v in results["healthy"][c]["sequential"].items() if k.startswith("cause: ")))[1]
                for c in CELLS_HEALTHY)
    out.append(f"- Healthy watches end in anything but proceed in at most 1 % of trials, every cell: "
               f"{'met' if worst <= 0.01 else 'not shown'} (the largest 95 % upper bound over the cells: {100 * worst:.2f} %).")
    faster, slower, incomparable = [], [], []
    for rps, base, mode in CELLS_DETECT:
        for breach in BREACHES:
            kind, size = breach
            if kind != "outage" and size < 2.5:
                continue
            data = results["detect"][(rps, base, mode, breach)]
            delays = {name: [d for k, d in data[name] if k == "caught"] for name in JUDGES}
            label = f"{kind} x{size:g}" if kind != "outage" else "20 % outage"
            where = f"{label} at {rps} req/s, {base:.1%}"
            if len(delays["fixed"]) < 5:
                before = sum(1 for k, _ in data["fixed"] if k == "before")
                incomparable.append(f"{where} (fixed judge held in the healthy half in {before}/{len(data['fixed'])})")
                continue
            seq = (np.median(delays["sequential"]), np.percentile(delays["sequential"], 90)) if delays["sequential"] else (np.inf, np.inf)
            fix = (np.median(delays["fixed"]), np.percentile(delays["fixed"], 90))
            (faster if seq[0] <= fix[0] and seq[1] <= fix[1] else slower).append(
                f"{where}: {seq[0]:g}/{seq[1]:g} vs {fix[0]:g}/{fix[1]:g}")
    out.append("- At least as fast as the fixed judge (median and p90 windows) for every breach of 2.5x and more: "
               + ("met" if not slower else "not met") + f". As fast or faster in {len(faster)} cells ("
               + "; ".join(faster) + ")" + (f"; slower in {len(slower)}: " + "; ".join(slower) if slower else "")
               + (f"; not comparable in {len(incomparable)}: " + "; ".join(incomparable) if incomparable else "") + ".")
    outage = [(rps, base, [d for k, d in results["detect"][(rps, base, mode, ("outage", 0.20))]["sequential"]
                           if k == "caught"]) for rps, base, mode in CELLS_DETECT]
    first = all(len(d) == trials["detect"] and max(d) == 1 for _, _, d in outage)
    out.append(f"- A 20 % error outage acted on within its first window: {'met' if first else 'not met'} "
               f"(every trial, every cell: {', '.join(f'{r} req/s {b:.1%}: max {max(d) if d else None}' for r, b, d in outage)}).")
    return out


def main() -> None:
    args = trial_options(__doc__ or "", "watch_noise.md", {"healthy": 400, "detect": 50, "migration": 100})
    trials = trial_counts(args, {"healthy": CHUNK, "detect": CHUNK // 5, "migration": CHUNK // 5})
    root = np.random.SeedSequence(SEED)
    tasks = []
    for part, cells, runner in (("healthy", CELLS_HEALTHY, run_healthy),
                                ("detect", [(r, b, m, br) for r, b, m in CELLS_DETECT for br in BREACHES], run_detect),
                                ("migration", CELLS_MIGRATION, run_migration)):
        part_seed = root.spawn(1)[0]
        total = trials[part]
        for cell, first, count, chunk_seed in chunks(cells, part_seed, total, CHUNK):
            fixed = min(total, FIXED_HEALTHY[cell[2]] // quick_divisor(args)) if part == "healthy" else total
            tasks.append((runner, cell, count, chunk_seed, max(0, min(CHUNK, fixed - first))))
    tasks.sort(key=lambda t: -(t[1][0] * (3 if t[1][2:3] == ("samples",) else 1)))  # slow chunks first
    started = time.time()
    results: dict = {"healthy": defaultdict(lambda: {n: Counter() for n in JUDGES}),
                     "detect": defaultdict(lambda: {n: [] for n in JUDGES}),
                     "migration": defaultdict(lambda: {n: Counter() for n in JUDGES})}
    calls = [(runner, (cell, n, seed, fixed)) for runner, cell, n, seed, fixed in tasks]
    for part, cell, out in run_pool(calls, args.workers, progress_every=20):
        for name in JUDGES:
            if part == "detect":
                results[part][cell][name].extend(out[name])
            else:
                results[part][cell][name].update(out[name])
    report = render(results, trials, time.time() - started, args.workers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
