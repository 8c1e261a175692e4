"""The full kill matrix: SIGKILL odin at every journal boundary, then resume and, separately, roll back.

For the demo migration (blue/green service over real HTTP) and for ``drills/sandbox-failover.yaml``
(the Azure sandbox through the real SDK over HTTPS), a reference run lists every journal boundary
(``kind:n``) of T-0 and of ``odin rollback``; each case then kills a fresh copy of the migration
right after that entry (the journal's ``ODIN_CRASH_AT`` hook) — with the sandbox's
``slow_operations`` fault when the boundary is an Azure operation, so the kill lands while the
long-running operation is in flight — and runs ``odin migrate --resume`` or ``odin rollback``. What
converged means is ``tests/crash_harness.py``'s verdicts (weights, failover counts per direction,
failover group primary, Front Door priorities, every change done or undone exactly once).
Results go to ``bench/results/crash_matrix.md``. ``tests/test_crash_matrix.py`` runs a subset.

    .venv/bin/python bench/crash_matrix.py [--only demo|azure] [--out bench/results/crash_matrix.md]

Runs its own Prefect server (isolated home, stopped by PID at the end). Takes about two hours on two
cores (each Azure case waits out the plan's real 8-second gate windows).
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import crash_harness as harness  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=["demo", "azure"])
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "crash_matrix.md"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="odin-crash-matrix-"))
    os.environ["ODIN_HOME"] = str(work / "server-home")
    os.environ["ODIN_SERVER_PORT"] = str(free_port())
    os.environ.pop("PREFECT_API_URL", None)
    from odin_drills.cli import server

    info = server.start()
    started = time.monotonic()
    sections = []
    try:
        (work / "prefect-client").mkdir()
        base = dict(os.environ, PREFECT_API_URL=info.url, PREFECT_HOME=str(work / "prefect-client"),
                    PREFECT_LOGGING_LEVEL="WARNING", PREFECT_SERVER_ANALYTICS_ENABLED="false", PYTHONPATH=str(ROOT))

        def report(v: harness.Verdict) -> None:
            print(f"{'ok ' if v.ok else 'BAD'} {v.case:55} {v.path:8} {v.outcome} {'; '.join(v.problems)}", flush=True)

        if args.only in (None, "demo"):
            sections.append(("Demo migration (blue/green, http steps)", harness.demo_matrix(base, work, report)))
        if args.only in (None, "azure"):
            sections.append(("drills/sandbox-failover.yaml (Azure sandbox, real SDK)",
                             harness.azure_matrix(base, work, report)))
    finally:
        server.stop()
    minutes = (time.monotonic() - started) / 60
    notes = [
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()} ({os.cpu_count()} cores), "
        f"{minutes:.0f} min, by `bench/crash_matrix.py`.",
        "",
        "Each row: a fresh copy of the migration (T-1w done), odin killed with SIGKILL right after the named journal "
        "entry was fsynced (`ODIN_CRASH_AT=kind:n`), then the recovery path run to its end. *T-0 after X*: "
        "`odin migrate --phase t0` killed; *rollback after X*: T-0 completed, then `odin rollback` killed. "
        "`operation_started` rows run with the sandbox's `slow_operations` fault (6 s), so the kill lands while the "
        "Azure long-running operation is in flight. *resume* = `odin migrate --resume`, *rollback* = `odin rollback`.",
        "",
        "Converged = the world ends where the journal says (resume: 0/100 green, SQL primary westus, Front Door "
        "westus p1; rollback: 100/0 blue, SQL primary eastus, Front Door eastus p1), `GET /operations` shows every "
        "failover at most once per direction, no intent is left undecided, every change that happened (or may "
        "have) is undone exactly once after a rollback, and nothing that did not happen is undone.",
    ]
    text = harness.results_markdown("Crash matrix: kill -9 at every journal boundary", sections, notes)
    Path(args.out).write_text(text)
    print(f"wrote {args.out}")
    return 0 if all(v.ok for _, verdicts in sections for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
