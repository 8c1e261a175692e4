"""Issue 14, per-step engine cost: what made a step slow must stay gone, by behaviour not by timing.

- Prefect sees the migration run a task receives as one leaf (it walked the plan, the journal and
  the HTTP client thousands of times per task call while ``MigrationRun`` was a dataclass);
- a journal read parses only what was appended since the last read, yet still sees every writer's
  entries, a file rewritten in place, and a torn last line;
- only entries that nothing acts on right after are left for the next fsync.

Speed itself is measured by ``bench/engine_overhead.py``, never asserted here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from prefect.utilities.collections import visit_collection
from prefect.utilities.engine import collect_task_run_inputs_sync

from odin_drills.flows.migration import MigrationRun
from odin_drills.plan import load_plan
from odin_drills.steps.clock import ScaledClock
from odin_drills.steps.journal import FSYNC_DEFERRED, Journal

ROOT = Path(__file__).resolve().parent.parent


def test_prefect_visits_the_migration_run_once(tmp_path: Path) -> None:
    plan = load_plan(str(ROOT / "drills" / "migration-demo.yaml"))
    clock = ScaledClock(1.0)
    with httpx.Client() as client:
        run = MigrationRun(plan=plan, plan_file="plan.yaml", migration="m1", folder=tmp_path, clock=clock,
                           journal=Journal(tmp_path / "journal.jsonl", clock), client=client)
        visited: list[Any] = []
        visit_collection({"run": run}, visit_fn=lambda expr: visited.append(expr) or expr)
        assert sum(1 for v in visited if v is run) == 1
        assert not any(v is plan or v is run.journal or v is client for v in visited)  # never inside it
        assert collect_task_run_inputs_sync(run) == set()  # what Prefect runs per parameter per task call


def _append(journal: Journal, step: str) -> None:
    journal.append("note", phase="t0", step=step, message=f"{step} done")


def test_a_read_sees_other_writers_rewrites_and_torn_lines(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    clock = ScaledClock(1.0)
    reader, writer = Journal(path, clock), Journal(path, clock)
    _append(reader, "a")
    assert [e.step for e in reader.entries()] == ["a"]
    _append(writer, "b")  # another writer on the same file (another process, in real life)
    _append(reader, "c")
    assert [e.step for e in reader.entries()] == ["a", "b", "c"]
    assert [e.step for e in reader.entries()] == ["a", "b", "c"]  # a read with nothing new changes nothing

    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[2].replace('"c done"', '"C done"')]) + "\n")  # rewritten, shorter
    assert [(e.step, e.data["message"]) for e in reader.entries()] == [("a", "a done"), ("c", "C done")]

    with path.open("a") as handle:  # a crash mid-write leaves a line with no end
        handle.write('{"seq": 9, "kind": "no')
    contents = reader.read()
    assert [e.step for e in contents.entries] == ["a", "c"] and [s.line for s in contents.skipped] == [3]
    fresh = Journal(path, clock)  # a new run sees the torn line and writes past it
    _append(fresh, "d")
    contents = reader.read()
    assert [e.step for e in contents.entries] == ["a", "c", "d"]
    assert [s.line for s in contents.skipped] == [3]
    assert json.loads(path.read_text().splitlines()[-1])["step"] == "d"


def test_only_entries_nothing_acts_on_wait_for_the_next_fsync() -> None:
    # the write-ahead entries are fsynced before the act they announce, every time
    assert not FSYNC_DEFERRED & {"step_intent", "undo_started", "operation_started", "outage_injecting",
                                 "rollback_started", "run_finished", "human_input", "decision"}
    assert FSYNC_DEFERRED == {"step_started", "step_finished"}
