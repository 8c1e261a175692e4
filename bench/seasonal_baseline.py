"""A daily cycle, whole migrations: the T-1w capture beside ``policy.baseline_from: shifted``.

Why this bench: ``baseline_from: shifted`` exists because a service is not flat over a day. A
T-1w capture is one hour of one morning; the T+24h watch spans a night, a peak and an evening.
The shifted baseline compares each watch with the same hours a week earlier, read back as *one*
aggregate over the watch's span. Whether that aggregate cries wolf at the day's peak (the
watch's windows at 14:00 run above the day's average) or misses a breach (a night's quiet
windows dilute it) is a claim about whole watches, so it is measured over whole simulated
migrations, with the same judge a run uses (``odin_drills.steps.judge.replay``).

The simulated service (seeded numpy, the request model of ``bench/watch_noise.py``): requests fail
independently at ``base × (1 + A·cos(2π(h − 14)/24))`` (peak 14:00 UTC) and latencies are
lognormal (median 80 ms × ``(1 + L·cos(...))``, sigma 0.5) in Prometheus-style histograms; traffic
is flat (requests per 5-minute window fixed: the judge's power is not what is measured here).

A migration (plan time, 5-minute windows from midnight): T-0 at 09:00 with three step gates of one
window each, T+1h from 10:15 (12 windows), T+24h from 11:15 for 23 h (276 windows). Baselines:

- ``capture``: the T-1w capture, one hour at 09:00 a week earlier (the same weekday and hour as
  the cut-over: what an SRE would schedule), for every watch;
- ``span aggregate``: for each watch, the span it covers one week earlier, simulated with its own
  noise and merged as Prometheus' ``increase()`` over the span would (counts and buckets add; the
  percentiles are interpolated from the merged buckets): one average over the day;
- ``shifted``: the same span read hour by hour, the baseline chosen by the product's own
  ``steps.shifted_baseline.busiest_hour`` (what ``baseline_from: shifted`` does).

Parts: (1) healthy migrations (no change at all): the share with any hold or rollback, where it
stopped, with 95 % Wilson intervals; (2) errors at 2.5× the hour's normal from the T+24h watch's
window 34 (14:00, the peak) or 178 (02:00, the quietest hour) to its end: the share caught and the
windows to act.

Run: ``.venv/bin/python bench/seasonal_baseline.py`` (``--quick``: a tenth of the trials). Writes
``bench/results/seasonal_baseline.md``.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from math import cos, pi
from pathlib import Path
from statistics import median

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._trials import chunks, run_pool, trial_counts, trial_options  # noqa: E402
from bench.watch_noise import (  # noqa: E402
    BOUND_LIST, _histogram_quantile, _window, machine, share, wilson,
)
from odin_drills.plan.policy import Policy  # noqa: E402
from odin_drills.steps.judge import MemoryJournal, replay  # noqa: E402
from odin_drills.steps.sequential import AlphaBudget  # noqa: E402
from odin_drills.steps.shifted_baseline import busiest_hour  # noqa: E402
from odin_drills.steps.snapshot import LatencyHistogram, LatencyPercentiles, Signals, Snapshot  # noqa: E402

SEED = 20261201
INTERVAL = 300.0
PER_DAY = 288  # 5-minute windows
PEAK_HOUR = 14.0
T0_GATES = [108, 109, 110]  # 09:00, 09:05, 09:10
T1H = (123, 12)  # 10:15, 12 windows
T24H = (135, 276)  # 11:15, 23 h
CAPTURE = (108, 12)  # T-1w: 09:00-10:00 a week earlier
ONSETS = {34: "14:00, the day's peak", 178: "02:00 the next night, the day's quietest"}
"""Breach onsets: the T+24h watch's window from which errors are 2.5x the hour's normal."""
BREACH = 2.5
POLICY = Policy()
BUDGET = AlphaBudget.for_watches(POLICY, {"t0": len(T0_GATES), "t+1h": 1, "t+24h": 1})
CELLS = [(rps, base, amp, lat) for rps in (10, 100) for base in (0.01,)
         for amp, lat in ((0.0, 0.0), (0.3, 0.1), (0.6, 0.2))]
BREACH_CELLS = [(100, 0.01, amp, lat, onset) for amp, lat in ((0.0, 0.0), (0.6, 0.2)) for onset in ONSETS]
CHUNK = 10


def factor(index: int, amplitude: float) -> float:
    """The daily cycle at window ``index`` (5-minute windows from a midnight; wraps at a day)."""
    hour = (index % PER_DAY) * INTERVAL / 3600.0
    return 1.0 + amplitude * cos(2 * pi * (hour - PEAK_HOUR) / 24.0)


def windows(rng: np.random.Generator, cell: tuple, start: int, count: int, breach_from: int | None = None) -> list[Snapshot]:
    rps, base, amp, lat = cell[:4]
    requests = int(rps * INTERVAL)
    out = []
    for offset in range(count):
        index = start + offset
        rate = base * factor(index, amp) * (BREACH if breach_from is not None and offset + 1 >= breach_from else 1.0)
        out.append(_window(rng, requests, rate, factor(index, lat), "histogram"))
    return out


def aggregate(spans: list[Snapshot]) -> Snapshot:
    """One snapshot over a span, as Prometheus' ``increase()`` over it: counts and buckets add."""
    counts = np.sum([s.latency_histogram.counts for s in spans], axis=0)
    p50, p95, p99 = (_histogram_quantile(counts, q) for q in (0.5, 0.95, 0.99))
    return Snapshot.model_construct(
        requests=sum(s.requests for s in spans), errors=sum(s.errors for s in spans),
        latency_ms=LatencyPercentiles.model_construct(p50=p50, p95=p95, p99=p99), latency_samples_ms=None,
        latency_histogram=LatencyHistogram.model_construct(le_ms=BOUND_LIST, counts=counts.tolist()),
        signals=Signals(), started_at=None, ended_at=None, source=None)


def watches(onset: int | None) -> list[tuple[str, int, int, int | None]]:
    """(phase, first window, windows, breach from the watch's n-th window or None)."""
    return ([("t0", w, 1, None) for w in T0_GATES] + [("t+1h", *T1H, None)] + [("t+24h", *T24H, onset)])


def week_before(rng: np.random.Generator, cell: tuple, start: int, count: int) -> dict[str, Snapshot]:
    """The watch's span a week earlier as each shifted mode reads it: one aggregate over the span,
    or hour by hour with ``steps.shifted_baseline.busiest_hour`` choosing (what a run does)."""
    spans = windows(rng, cell, start, count)
    hours = [aggregate(spans[i:i + 12]) for i in range(0, count, 12)]
    if len(hours) > 1 and count % 12 and count % 12 < 6:  # the run's last piece is never tiny (_pieces)
        hours = hours[:-2] + [aggregate(spans[12 * (len(hours) - 2):])]
    chosen = busiest_hour(hours)
    assert chosen is not None
    return {"span aggregate": aggregate(spans), "shifted": chosen[0]}


MODES = ("capture", "span aggregate", "shifted")


def migrate(rng: np.random.Generator, cell: tuple, onset: int | None) -> dict[str, tuple[str, int]]:
    """One migration judged against each baseline (the same service windows for all)."""
    captured = aggregate(windows(rng, cell, *CAPTURE))
    out = {}
    plan = [(phase, start, count, b, windows(rng, cell, start, count + 3, b),
             week_before(rng, cell, start, count)) for phase, start, count, b in watches(onset)]
    for mode in MODES:
        where, acted = "proceed", 0
        for phase, _, count, _, seen, earlier in plan:
            base = captured if mode == "capture" else earlier[mode]
            verdict, ended = replay(base, seen, POLICY, duration=count * INTERVAL, interval=INTERVAL, phase=phase,
                                    budget=BUDGET, journal=MemoryJournal(keep=False))
            if ended or verdict.action != "proceed":
                where, acted = f"{phase} {'hold' if ended else verdict.action}", verdict.windows
                break
        out[mode] = (where, acted)
    return out


def run_chunk(part: str, cell: tuple, trials: int, seed: np.random.SeedSequence) -> tuple:
    rng = np.random.default_rng(seed)
    return part, cell, [migrate(rng, cell, cell[4] if part == "breach" else None) for _ in range(trials)]


def render(results: dict, trials: dict, elapsed: float, workers: int) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# A daily cycle over whole migrations: the T-1w capture beside the shifted baseline",
        "",
        f"Written by `bench/seasonal_baseline.py` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC in {elapsed:.0f} s "
        f"with {workers} worker processes (1-minute load average at the end: {load:.1f}; the machine may be shared).",
        f"Machine: {machine()}.",
        "",
        "## Set-up",
        "",
        "- Service: errors independent at `base × (1 + A·cos(2π(h − 14)/24))` (peak 14:00), latencies lognormal "
        "(median 80 ms × `(1 + L·cos(…))`, sigma 0.5) in histograms; flat traffic.",
        "- Migration: T-0 at 09:00 (3 one-window step gates), T+1h from 10:15 (12 windows), T+24h from 11:15 "
        "(276 windows); the default `Policy()` (sequential judge, alpha 1 % per migration).",
        "- `capture`: 09:00–10:00 a week earlier, for every watch. `span aggregate`: each watch's own span a week "
        "earlier as one aggregate (counts and buckets summed, percentiles from the merged buckets, as `increase()` over "
        "the span; what `baseline_from: shifted` did before this bench). `shifted`: the same span read hour by hour, "
        "`steps.shifted_baseline.busiest_hour` choosing (what a run does now).",
        f"- Trials: {trials['healthy']} healthy and {trials['breach']} breach migrations per cell, both baselines on "
        f"the same simulated windows; numpy seed {SEED}, a SeedSequence child per chunk of {CHUNK}. Intervals: 95 % Wilson.",
        "",
        "## 1. Healthy migrations: any hold or rollback (goal: at most 1 %)",
        "",
        "| traffic | base errors | error cycle A | latency cycle L | baseline | stopped | where |",
        "|---:|---:|---:|---:|---|---|---|",
    ]
    for cell in CELLS:
        rps, base, amp, lat = cell
        runs = results["healthy"].get(cell, [])
        for mode in MODES:
            stopped = Counter(r[mode][0] for r in runs if r[mode][0] != "proceed")
            where = ", ".join(f"{k} {v}" for k, v in stopped.most_common()) or "·"
            lines.append(f"| {rps} req/s | {base:.1%} | ±{amp:.0%} | ±{lat:.0%} | {mode} | "
                         f"{share(sum(stopped.values()), len(runs))} | {where} |")
    lines += ["", f"## 2. Errors at {BREACH:g}× the hour's normal from a window of the T+24h watch to its end", "",
              "Windows to act counted from the breach's first window (1 = after it). *Earlier* = the migration had "
              "already stopped before the breach (a false alarm).", "",
              "| traffic | error cycle A | breach from | baseline | caught | windows to act: median, max | earlier |",
              "|---:|---:|---|---|---|---|---|"]
    for cell in BREACH_CELLS:
        rps, base, amp, lat, onset = cell
        runs = results["breach"].get(cell, [])
        for mode in MODES:
            caught, early, delays = 0, 0, []
            for r in runs:
                where, acted = r[mode]
                if where.startswith("t+24h") and acted >= onset:
                    caught += 1
                    delays.append(acted - onset + 1)
                elif where != "proceed":
                    early += 1
            timing = f"{median(delays):g}, {max(delays)}" if delays else "·"
            lines.append(f"| {rps} req/s | ±{amp:.0%} | window {onset} ({ONSETS[onset]}) | {mode} | "
                         f"{share(caught, len(runs))} | {timing} | {early} |")
    lines += ["", "## Reading", ""] + reading(results)
    return "\n".join(lines) + "\n"


def reading(results: dict) -> list[str]:
    out = []
    for mode in MODES:
        worst = max((wilson(sum(r[mode][0] != "proceed" for r in runs), len(runs))[1], cell)
                    for cell, runs in results["healthy"].items())
        out.append(f"- `{mode}`: the largest 95 % upper bound of healthy migrations stopped, over the cells: "
                   f"{100 * worst[0]:.1f} % (cell {worst[1][0]} req/s, cycle ±{worst[1][2]:.0%}).")
    return out


def main() -> None:
    args = trial_options(__doc__ or "", "seasonal_baseline.md", {"healthy": 200, "breach": 50})
    trials = trial_counts(args, {"healthy": CHUNK, "breach": CHUNK})
    root = np.random.SeedSequence(SEED)
    tasks = []
    for part, part_seed in zip(("healthy", "breach"), root.spawn(2)):
        cells = CELLS if part == "healthy" else BREACH_CELLS
        for cell, _, count, chunk_seed in chunks(cells, part_seed, trials[part], CHUNK):
            tasks.append((part, cell, count, chunk_seed))
    tasks.sort(key=lambda t: -t[1][0])  # the 100 req/s chunks first
    started = time.time()
    results: dict = {"healthy": defaultdict(list), "breach": defaultdict(list)}
    for part, cell, runs in run_pool([(run_chunk, task) for task in tasks], args.workers, progress_every=10):
        results[part][cell].extend(runs)
    report = render(results, trials, time.time() - started, args.workers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
