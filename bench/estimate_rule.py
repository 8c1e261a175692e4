"""The end-of-watch estimate rule, measured over whole migrations: with it and without it, same windows.

Issue 14's time-to-act bench found a migration that completed at 2.3x its baseline's error rate:
under the demo's time scale every watch after the cut-over was one window of 1,800 requests, no
rung's evidence was conclusive in it, the power rule passed, so the sequential judge proceeded.
The rule now in ``SequentialWatch.conclude`` (``unsettled_estimates``): no proceed while a metric's
estimate over the whole watch is at least the hold multiple (1.5x) of the baseline and clears the
floor; collect the watch's extensions instead, and hold when they run out.

A rule that refuses to proceed can cry wolf, so both sides are measured, each trial judged twice on
the *same* windows (``with rule`` and ``without``: the latter replaces ``unsettled_estimates`` with
one that finds nothing, the judge as it was before, in this process only):

1. healthy migrations: the share with any hold or rollback, and the share whose watches the rule
   extended (it costs one more window each time);
2. a breach at the cut-over: errors x1.6, x2.3 or x3 from the last T-0 step gate's first window
   on, to the end: the share of migrations that completed anyway (the failure the rule is for),
   and where the others stopped.

Two plan shapes: *real time* (three T-0 step gates of one 5-minute window, T+1h of 12, T+24h of
276) and *one window per watch* (every watch one window, as under the demo's time scale, where the
finding came from). Traffic: 6 req/s at 2 % errors (1,800 requests a window: the demo's), 10 and
100 req/s at 1 %, 100 req/s at 0.1 %; latency as Prometheus-style histograms. The simulated
service, baselines (1 h) and alpha budget are ``bench/watch_noise.py``'s.

Run: ``.venv/bin/python bench/estimate_rule.py`` (``--quick``: a tenth of the trials). Writes
``bench/results/estimate_rule.md``.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench.watch_noise as sim  # noqa: E402
from bench._trials import chunks, run_pool, trial_counts, trial_options  # noqa: E402

from odin_drills.steps.judge import MemoryJournal, replay  # noqa: E402
from odin_drills.steps.sequential import SequentialWatch  # noqa: E402

SEED = 20261201
CHUNK = 25
CELLS = [(6, 0.02), (10, 0.01), (100, 0.01), (100, 0.001)]
SHAPES: dict[str, list[tuple[str, int]]] = {
    "real time": [("t0", 1)] * sim.T0_GATES + [("t+1h", 12), ("t+24h", sim.WATCH)],
    "one window per watch": [("t0", 1)] * sim.T0_GATES + [("t+1h", 1), ("t+24h", 1)],
}
BREACHES = (1.6, 2.3, 3.0)
VARIANTS = ("with rule", "without")
EXTENDED = "not within baseline after the window"


class _Notes(MemoryJournal):
    """Counts the judge's extension notes for an unsettled estimate; keeps nothing else."""

    def __init__(self) -> None:
        super().__init__(keep=False)
        self.extended = 0

    def append(self, kind: str, **fields: object) -> None:
        if kind == "note" and str(fields.get("message", "")).startswith(EXTENDED):
            self.extended += 1


@contextmanager
def variant(name: str) -> Iterator[None]:
    """``without``: the judge as it was before the rule (an estimate never unsettles a watch)."""
    if name == "with rule":
        yield
        return
    original = SequentialWatch.unsettled_estimates
    SequentialWatch.unsettled_estimates = lambda self: []  # type: ignore[method-assign]
    try:
        yield
    finally:
        SequentialWatch.unsettled_estimates = original  # type: ignore[method-assign]


def migrate(base_snap: object, streams: list[tuple[str, int, list]]) -> dict[str, tuple[str, int]]:
    """Each variant's outcome: (where it stopped — a phase and action, or "completed" —, extensions)."""
    out = {}
    for name in VARIANTS:
        with variant(name):
            where, extended = "completed", 0
            for index, (phase, planned, windows) in enumerate(streams):
                notes = _Notes()
                verdict, ended = replay(base_snap, windows, sim.POLICIES["sequential"], duration=planned * sim.INTERVAL,
                                        interval=sim.INTERVAL, phase=phase, budget=sim.BUDGET, journal=notes)
                extended += notes.extended
                action = "hold" if ended else verdict.action
                if action != "proceed":
                    label = f"t0 gate {index + 1}" if phase == "t0" else phase
                    where = f"{action} at {label}"
                    break
            out[name] = (where, extended)
    return out


def run_chunk(cell: tuple, shape: str, breach: float | None, trials: int, seed: np.random.SeedSequence) -> tuple:
    rps, base = cell
    rng = np.random.default_rng(seed)
    results: dict[str, Counter] = {name: Counter() for name in VARIANTS}
    cut_over = sim.T0_GATES - 1  # the last T-0 gate
    for _ in range(trials):
        base_snap = sim.baseline(rng, rps, base, "histogram")
        streams = []
        for index, (phase, planned) in enumerate(SHAPES[shape]):
            # each watch may take its planned windows plus the policy's 3 extensions
            size = ("errors", breach) if breach is not None and index >= cut_over else None
            streams.append((phase, planned, sim.stream(rng, rps, base, "histogram", planned + 3, breach=size, onset=1)))
        for name, (where, extended) in migrate(base_snap, streams).items():
            results[name][where] += 1
            results[name]["extended"] += extended > 0
    return cell, shape, breach, results


def render(results: dict, trials: dict, elapsed: float, workers: int, load: tuple[float, float]) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# The end-of-watch estimate rule, with it and without it, over whole migrations",
        "",
        f"Written by `bench/estimate_rule.py` on {when} in {elapsed:.0f} s with {workers} worker processes "
        f"(1-minute load average {load[0]:.1f} before, {load[1]:.1f} after; the machine may be shared).",
        f"Machine: {sim.machine()}.",
        "",
        "Each trial is judged twice on the same windows: *with rule* (no proceed while an estimate over the whole "
        "watch is >= 1.5x the baseline and clears the floor: extend, then hold) and *without* (the judge before it). "
        "Sequential judge, `Policy()`, alpha as in a migration with 3 T-0 step gates; 1 h baselines; latency "
        f"histograms; numpy seed {SEED}, a SeedSequence child per chunk of {CHUNK} trials. Intervals: 95 % Wilson.",
        "",
        f"## 1. Healthy migrations ({trials['healthy']} per row): any hold or rollback (goal: none from the rule)",
        "",
        "| shape | traffic | base errors | with rule: stopped | without: stopped | with rule: a watch extended | "
        "where it stopped (with rule) |",
        "|---|---:|---:|---|---|---|---|",
    ]
    for shape in SHAPES:
        for cell in CELLS:
            data = results[(cell, shape, None)]
            n = trials["healthy"]
            stopped = {name: n - data[name]["completed"] for name in VARIANTS}
            where = ", ".join(f"{k} {v}" for k, v in sorted(data["with rule"].items())
                              if k not in ("completed", "extended")) or "·"
            lines.append(f"| {shape} | {cell[0]} req/s | {cell[1]:.1%} | {sim.share(stopped['with rule'], n)} | "
                         f"{sim.share(stopped['without'], n)} | {sim.share(data['with rule']['extended'], n)} | {where} |")
    lines += [
        "",
        f"## 2. A breach at the cut-over ({trials['breach']} per row): errors x k from the last T-0 gate on; "
        "the share that completed anyway (goal: fewer with the rule, none at 2.3x and more)",
        "",
        "| shape | traffic | base errors | breach | with rule: completed | without: completed | "
        "where it stopped (with rule) | where it stopped (without) |",
        "|---|---:|---:|---|---|---|---|---|",
    ]
    for shape in SHAPES:
        for cell in CELLS:
            for breach in BREACHES:
                data = results[(cell, shape, breach)]
                n = trials["breach"]
                wheres = [", ".join(f"{k} {v}" for k, v in sorted(data[name].items())
                                    if k not in ("completed", "extended")) or "·" for name in VARIANTS]
                lines.append(f"| {shape} | {cell[0]} req/s | {cell[1]:.1%} | errors x{breach:g} | "
                             f"{sim.share(data['with rule']['completed'], n)} | {sim.share(data['without']['completed'], n)} | "
                             f"{wheres[0]} | {wheres[1]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    args = trial_options(__doc__ or "", "estimate_rule.md", {"healthy": 400, "breach": 200})
    trials = trial_counts(args, {"healthy": CHUNK, "breach": CHUNK})
    healthy_seed, breach_seed = np.random.SeedSequence(SEED).spawn(2)
    rows = {"healthy": [(cell, shape, None) for shape in SHAPES for cell in CELLS],
            "breach": [(cell, shape, breach) for shape in SHAPES for cell in CELLS for breach in BREACHES]}
    calls = [(run_chunk, (*row, n, seed))
             for part, part_seed in (("healthy", healthy_seed), ("breach", breach_seed))
             for row, _, n, seed in chunks(rows[part], part_seed, trials[part], CHUNK)]
    calls.sort(key=lambda call: call[1][1] != "real time")  # the 276-window watches first
    load_before = os.getloadavg()[0]
    started = time.time()
    results: dict = defaultdict(lambda: {name: Counter() for name in VARIANTS})
    for cell, shape, breach, out in run_pool(calls, args.workers, progress_every=20):
        for name in VARIANTS:
            results[(cell, shape, breach)][name].update(out[name])
    report = render(results, trials, time.time() - started, args.workers, (load_before, os.getloadavg()[0]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
