"""Time to act (issue 14): breach onset -> first undo call, in real seconds, per breach and judge.

For each breach kind (total outage, 5x errors, 2.5x errors, 5x latency) and each judge
(``judge: sequential``, the default, and ``judge: fixed``), side by side in one run, the demo
migration runs ``--trials`` times with fixed seeds; each trial injects the breach into green as
the router receives the cut-over to 100 % and times, on the router's own clock, the fault's
arrival to the first undo's arrival (``bench/time_to_act_trial.py`` says how and why).
A Prefect server of its own (SQLite, temporary home, free port) records every run and is stopped
at the end. Results: bench/results/time_to_act.md.

    .venv/bin/python bench/time_to_act.py [--trials 5] [--breaches outage,errors-5x,errors-2.5x,latency-5x]
                                          [--judges sequential,fixed]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.time_to_act_trial import BREACHES, TIME_SCALE, Trial, measure_trial, prioritise  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "time_to_act.md"
SEEDS = (101, 102, 103, 104, 105, 106, 107, 108, 109, 110)
GOAL_SECONDS = 30.0


@contextmanager
def prefect_server(home: Path, niceness: int = 0) -> Iterator[str]:
    """A real ``prefect server`` on SQLite under ``home``, on a free port; stopped by its PID.
    This script's own environment points at it: nothing else runs in this process."""
    import socket

    from odin_drills.cli import server

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        os.environ.update({"ODIN_HOME": str(home), "ODIN_SERVER_PORT": str(sock.getsockname()[1])})
    os.environ.pop("PREFECT_API_URL", None)
    try:
        info = server.start(timeout=300)  # a busy machine can take minutes to start one
        prioritise(info.pid, niceness)
        yield info.url
    finally:
        server.stop()


def measure_cell(breach: str, judge: str, trials: int, *, prefect_api: str, workdir: Path,
                 niceness: int = 0, rate: float | None = None) -> list[Trial]:
    """``trials`` trials of one cell, seeds ``SEEDS[:trials]`` (the same seeds in every cell)."""
    return [measure_trial(BREACHES[breach], judge, seed, prefect_api=prefect_api, workdir=workdir, niceness=niceness,
                          rate=rate) for seed in SEEDS[:trials]]


def _span(values: list[float]) -> str:
    if not values:
        return "never"
    median = statistics.median(values)
    return f"{median:.1f} ({min(values):.1f}–{max(values):.1f})"


def _row(breach: str, judge: str, trials: list[Trial]) -> str:
    acted = [t.onset_to_undo for t in trials if t.onset_to_undo is not None]
    decided = [t.onset_to_decision for t in trials if t.onset_to_decision is not None]
    windows = sorted({t.windows for t in trials if t.windows is not None})
    decisions = sorted({t.decision for t in trials if t.decision})
    reached = sum(1 for t in trials if t.step_to_onset is not None)
    lost = f" (+{len(trials) - reached} never cut over)" if reached < len(trials) else ""
    shown = (_span(acted), _span(decided)) if reached else ("–", "–")
    return (f"| {breach} | {judge} | {len(acted)}/{reached}{lost} | {shown[0]} | {shown[1]} | "
            f"{', '.join(map(str, windows)) or '–'} | {', '.join(decisions) or 'none'} |")


def goal(grid: dict[tuple[str, str], list[Trial]]) -> str:
    """Issue 14's goal, checked: a total outage after a step acted on within its first window and
    within 30 s of real time, by the default judge, in every trial."""
    trials = [t for t in grid.get(("outage", "sequential"), []) if t.step_to_onset is not None]
    skipped = len(grid.get(("outage", "sequential"), [])) - len(trials)
    if not trials:
        return "The goal (outage, sequential judge) was not measured in this run: no trial reached the cut-over."
    times = [t.onset_to_undo for t in trials]
    met = all(t is not None and t <= GOAL_SECONDS for t in times) and all(t.windows == 1 for t in trials)
    shown = ", ".join("never" if t is None else f"{t:.1f} s" for t in times)
    windows = ", ".join(str(t.windows) for t in trials)
    return (f"**Goal {'met' if met else 'NOT met'}** in the {len(trials)} trial(s) that reached the cut-over"
            + (f" ({skipped} never did: see their reasons below)" if skipped else "")
            + f": a total outage right after it, default (sequential) judge: onset → undo {shown}; windows to "
            f"decide {windows} (goal: 1 window and ≤ {GOAL_SECONDS:.0f} s).")


def write_results(grid: dict[tuple[str, str], list[Trial]], *, command: str, load: tuple[float, float],
                  reading: str, niceness: int, rate: float | None, out: Path = RESULTS) -> None:
    """The table (medians and ranges), every trial, and how the run was made."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Time to act: breach onset → first undo call",
        "",
        f"{now}, CPython {platform.python_version()}, {os.cpu_count()} cores shared with other work "
        f"(load average before {load[0]:.2f}, after {load[1]:.2f}). Command: `{command}`. "
        + (f"The demo service, the odin runs and the Prefect server ran at nice {niceness} (ahead of the "
           "neighbours' work; `prioritise` in the trial module says why)." if niceness else
           "Every process at the default priority."),
        "",
        "Setup: the demo service (`python -m odin_drills.sandbox.bluegreen`, 2 % background errors, 8 ms median) "
        "in its own process; `odin migrate drills/migration-demo.yaml` (only `policy.judge` changed) in another, "
        f"`--time-scale {TIME_SCALE:.0f} --force`, recording into a local Prefect server; the probe at "
        + (f"**{rate:g} req/s (not the demo's 300: see the reading)**" if rate else "the demo's 300 req/s")
        + ", step window 5 min of plan time = **6 s real** (the plan's `min_window_wall_seconds`). "
        "The breach is injected into green as the router receives `shift-100` (green 100 %). "
        "**Onset** = the router receiving `POST /_admin/faults`; **undo** = the router receiving the first "
        "`PUT /_admin/weights` after it (both from the demo's admin request log, one monotonic clock). "
        "*Decision* = the journal's first non-proceed decision (wall clock) after the onset.",
        "",
        "Seconds are real seconds: median (min–max) over the trials; seeds "
        f"{', '.join(map(str, SEEDS[:max(len(t) for t in grid.values())]))} in every cell.",
        "",
        "| breach | judge | acted / reached the breach | onset → undo, s | onset → decision, s | windows to decide | decision |",
        "|---|---|---|---|---|---|---|",
        *(_row(breach, judge, trials) for (breach, judge), trials in grid.items()),
        "",
        "## Reading",
        "",
        goal(grid),
        "",
        reading,
        "",
        "## Every trial",
        "",
        "| breach | judge | seed | exit | onset → undo | → decision | → journal undo | step → onset | gate ends (s after onset) | baseline (T-1w) | reason |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (breach, judge), trials in grid.items():
        for t in trials:
            reason = (t.reason or t.note or "").replace("|", "/")[:160]
            lines.append(f"| {breach} | {judge} | {t.seed} | {t.exit_code} | {t.onset_to_undo} | {t.onset_to_decision} | "
                         f"{t.onset_to_journal_undo} | {t.step_to_onset} | {', '.join(map(str, t.gate_ends))} | "
                         f"{t.baseline} | {reason} |")
    out.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--breaches", default="outage,errors-5x,errors-2.5x,latency-5x")
    parser.add_argument("--judges", default="sequential,fixed")
    parser.add_argument("--reading", default="(to be written after the run)", help="the short reading for the file")
    parser.add_argument("--json", type=Path, help="also write every trial as JSON lines here")
    parser.add_argument("--nice", type=int, default=0,
                        help="niceness of the demo, odin and Prefect server processes (e.g. -10 on a busy machine; root)")
    parser.add_argument("--rate", type=float, help="the probe's req/s (default the demo plan's 300)")
    parser.add_argument("--from-json", type=Path, help="write the results file from these saved trials; run nothing")
    parser.add_argument("--out", type=Path, default=RESULTS, help="with --from-json: the file to write")
    parser.add_argument("--load", default="", help="with --from-json: the load averages of that run, before,after")
    args = parser.parse_args(argv)
    if args.from_json:
        grid = {}
        for line in args.from_json.read_text().splitlines():
            trial = Trial(**json.loads(line))
            grid.setdefault((trial.breach, trial.judge), []).append(trial)
        before, after = (float(x) for x in args.load.split(",")) if args.load else (float("nan"),) * 2
        breaches = ",".join(dict.fromkeys(b for b, _ in grid))
        command = (f".venv/bin/python bench/time_to_act.py --trials {max(map(len, grid.values()))} --breaches {breaches}"
                   + (f" --nice {args.nice}" if args.nice else "") + (f" --rate {args.rate:g}" if args.rate else ""))
        write_results(grid, command=command,
                      load=(before, after), reading=args.reading, niceness=args.nice, rate=args.rate, out=args.out)
        return 0
    if not 1 <= args.trials <= len(SEEDS):
        parser.error(f"--trials must be 1..{len(SEEDS)}")
    breaches, judges = args.breaches.split(","), args.judges.split(",")
    unknown = [b for b in breaches if b not in BREACHES] + [j for j in judges if j not in ("sequential", "fixed")]
    if unknown:
        parser.error(f"unknown breach or judge: {unknown}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks: every child stopped by PID
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="odin-time-to-act-"))
    grid: dict[tuple[str, str], list[Trial]] = {}
    try:
        with prefect_server(workdir / "server-home", args.nice) as api:
            for breach in breaches:
                for judge in judges:
                    started = time.monotonic()
                    grid[(breach, judge)] = measure_cell(breach, judge, args.trials, prefect_api=api, workdir=workdir,
                                                     niceness=args.nice, rate=args.rate)
                    print(f"{breach} {judge}: {[t.onset_to_undo for t in grid[(breach, judge)]]} "
                          f"({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
                    if args.json:
                        with args.json.open("a") as out:
                            for trial in grid[(breach, judge)]:
                                out.write(json.dumps(trial.as_json()) + "\n")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    command = ".venv/bin/python bench/time_to_act.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_results(grid, command=command.strip(), load=(load_before, os.getloadavg()[0]), reading=args.reading,
                  niceness=args.nice, rate=args.rate)
    print(RESULTS.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
