"""Start-up time of the fast commands: `odin --help`, `odin validate`, `odin gate`.

Goal: --help and validate under 0.5 s, gate under 1 s (they must not import Prefect or the Azure
SDKs). Each command is run N times as a fresh process; median and max wall time are written to
bench/results/startup.md. Also checks which heavy modules each command imported.

    .venv/bin/python bench/startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "startup.md"
HEAVY = ("prefect", "azure.mgmt.sql", "azure.mgmt.storage", "azure.mgmt.cdn", "azure.identity")

PROBE = """
import runpy, sys
sys.argv = ['odin'] + {args!r}
try:
    from odin_drills.cli.main import main
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
heavy = [m for m in {heavy!r} if m in sys.modules]
print('HEAVY=' + ','.join(heavy), file=sys.stderr)
"""


def timed(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return times


def heavy_imports(args: list[str]) -> list[str]:
    code = PROBE.format(args=args, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    line = [l for l in done.stderr.splitlines() if l.startswith("HEAVY=")]
    return [m for m in line[-1].removeprefix("HEAVY=").split(",") if m] if line else ["?"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    odin = str(Path(sys.executable).parent / "odin")
    with tempfile.TemporaryDirectory() as tmp:
        base, cur = Path(tmp) / "b.json", Path(tmp) / "c.json"
        snap = {"requests": 5000, "errors": 50, "latency_ms": {"p50": 8, "p95": 14, "p99": 20}}
        base.write_text(json.dumps(snap))
        cur.write_text(json.dumps({**snap, "errors": 120}))
        commands = {
            "odin --help": ([odin, "--help"], ["--help"], 0.5),
            "odin validate drills/migration-demo.yaml": ([odin, "validate", "drills/migration-demo.yaml"],
                                                         ["validate", "drills/migration-demo.yaml"], 0.5),
            "odin gate": ([odin, "gate", "--baseline", str(base), "--current", str(cur)],
                          ["gate", "--baseline", str(base), "--current", str(cur)], 1.0),
        }
        python_only = timed([sys.executable, "-c", "pass"], runs)
        rows = []
        for name, (argv, args, goal) in commands.items():
            times = timed(argv, runs)
            med = statistics.median(times)
            rows.append((name, med, max(times), goal, med < goal, heavy_imports(args)))
            print(f"{name}: median {med:.3f} s", file=sys.stderr)
    lines = [
        "# Start-up of the fast commands",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, {runs} fresh processes each. Reference: `python -c pass` median "
        f"{statistics.median(python_only):.3f} s.",
        "",
        "| command | median s | max s | goal s | met | heavy modules imported |",
        "|---|---|---|---|---|---|",
    ]
    for name, med, mx, goal, ok, heavy in rows:
        lines.append(f"| `{name}` | {med:.3f} | {mx:.3f} | < {goal} | {'yes' if ok else 'NO'} | {', '.join(heavy) or 'none'} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
