"""Where a migration stands, read from its journal — the journal, not memory, is the truth.

- which migration a run continues: the one it names (``migration`` / ``--migration ID``; a chained
  phase is handed the id of the run that started T-0), else the plan's latest (``current``);
- whether its T-1w left a usable baseline (T-0 refuses before touching anything otherwise);
- whether it is over (rolled back, or T+24h finished): nothing may run in it any more;
- what a resume still has to do: the interrupted run's remaining phases, or the rollback it was in;
- which steps are done, so a re-run phase skips them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from odin_drills.errors import StateMissing, UsageError
from odin_drills.home import migrations_dir, private_dir, write_private
from odin_drills.plan.models import PHASE_OFFSETS, PHASES
from odin_drills.steps.intent import history, key_of, of_step
from odin_drills.steps.journal import Entry
from odin_drills.steps.lock import await_free


def new_migration_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def open_migration(plan: Any, phase: str | None, *, migration: str | None = None,
                   resume: bool = False, wait: bool = False) -> tuple[str, Path]:
    """A full run or T-1w starts a new migration; a later phase, a resume and a rollback continue
    the one named by ``migration``, else the plan's latest.

    A new migration is refused (``LockHeld``, the holder named) while another migration holds the
    environment's reservation (between its T-0 and the end of its T+24h, ``steps.lock``), or with
    ``wait`` queues until it is freed: its T-1w would measure a baseline in the middle of someone
    else's change, and moving ``current`` would point the holder's later phases and rollback (when
    they do not name their id) at the wrong journal."""
    root = migrations_dir(plan.name)
    current = root / "current"
    if migration:
        if not (root / migration).is_dir() or "/" in migration or migration.startswith("."):
            raise StateMissing(f"no migration {migration!r} of plan {plan.name!r} under {root}")
        return migration, root / migration
    if phase in (None, "t-1w") and not resume:
        await_free(plan.environment, wait=wait)
        migration = new_migration_id(datetime.now(timezone.utc))
        private_dir(root / migration)
        write_private(current, migration)
        return migration, root / migration
    if not current.exists():
        raise StateMissing(
            f"no earlier migration of plan {plan.name!r} under {root}: run `odin migrate PLAN --phase t-1w` first"
        )
    migration = current.read_text().strip()
    return migration, root / migration


def _last(entries: list[Entry], kind: str, phase: str | None = None) -> Entry | None:
    found = [e for e in entries if e.kind == kind and (phase is None or e.phase == phase)]
    return found[-1] if found else None


def baseline_problem(folder: Path, entries: list[Entry]) -> str | None:
    """Why T-0 may not use this migration's baseline (None: it may)."""
    finished = _last(entries, "phase_finished", "t-1w")
    if finished is not None and finished.data.get("outcome") != "ok":
        why = finished.data.get("detail") or f"it ended {finished.data.get('outcome')}"
        return (f"T-1w of migration {folder.name} left no usable baseline ({why}); fix it and run "
                "`odin migrate PLAN --phase t-1w` again")
    if finished is None and _last(entries, "phase_started", "t-1w") is not None:
        return (f"T-1w of migration {folder.name} did not finish, so it left no usable baseline; run "
                "`odin migrate PLAN --phase t-1w` again")
    if not (folder / "baseline.json").exists():
        return (f"{folder / 'baseline.json'}: no baseline captured for migration {folder.name}; run "
                "`odin migrate PLAN --phase t-1w` first")
    return None


def over(entries: list[Entry]) -> str | None:
    """Why nothing may run in this migration any more (None: it is not over)."""
    rolled = _last(entries, "rollback_finished")
    if rolled is not None:
        return f"it was rolled back at {rolled.time:%Y-%m-%d %H:%M:%S} (plan time)"
    final = _last(entries, "phase_finished", "t+24h")
    if final is not None and final.data.get("outcome") == "ok":
        return "its T+24h finished: it is complete"
    return None


def rollback_in_progress(entries: list[Entry]) -> Entry | None:
    """The rollback a crash interrupted: a ``rollback_started``, or the ``run_started`` of an
    ``odin rollback`` run (a person asked for it), with no ``rollback_finished`` after it."""
    started = _last(entries, "rollback_started")
    runs = [e for e in entries if e.kind == "run_started" and e.data.get("mode") == "rollback"]
    if runs and (started is None or runs[-1].seq > started.seq):
        started = runs[-1]
    if started is None:
        return None
    if any(e.kind == "rollback_finished" and e.seq > started.seq for e in entries):
        return None
    return started


@dataclass
class ResumePlan:
    phases: list[str] = field(default_factory=list)
    rollback: Entry | None = None
    t0_at: datetime | None = None
    detail: str = ""


def resume_plan(entries: list[Entry], phase: str | None) -> ResumePlan:
    """What ``--resume`` continues: the rollback a crash interrupted, else the last run's phases that
    did not finish (or ``phase`` when given)."""
    plan = ResumePlan(t0_at=t0_time(entries))
    plan.rollback = rollback_in_progress(entries)
    if plan.rollback is not None:
        plan.detail = "resuming the interrupted rollback"
        return plan
    if phase is not None:
        plan.phases = [phase]
    else:
        runs = [e for e in entries if e.kind == "run_started"]
        wanted = list(runs[-1].data.get("phases") or []) if runs else []
        finished_ok = {e.phase for e in entries if e.kind == "phase_finished" and e.data.get("outcome") == "ok"}
        plan.phases = [p for p in PHASES if p in wanted and p not in finished_ok]
    plan.detail = f"resuming {', '.join(plan.phases) or 'nothing'}"
    return plan


def t0_time(entries: list[Entry]) -> datetime | None:
    """T-0 in plan time, as the journal has it (T-0's start, else T-1w's start plus a week)."""
    t0 = next((e for e in entries if e.kind == "phase_started" and e.phase == "t0"), None)
    if t0 is not None:
        return t0.time
    tw = next((e for e in entries if e.kind == "phase_started" and e.phase == "t-1w"), None)
    return tw.time + timedelta(seconds=-PHASE_OFFSETS["t-1w"]) if tw is not None else None


def step_state(entries: list[Entry], phase: str, label: str) -> str | None:
    """done | maybe | failed | not_run | open | skipped | None (never started), across attempts."""
    item = history(of_step(entries, phase, label)).get(key_of(phase, label))
    return item.state if item is not None else None


def step_elapsed(entries: list[Entry], phase: str, label: str) -> float | None:
    """Plan seconds from the step's first start (a resumed step's clock kept running) to its last
    successful finish; None when it has not finished well."""
    mine = of_step(entries, phase, label)
    started = [e.time for e in mine if e.kind == "step_started"]
    finished = [e.time for e in mine if e.kind == "step_finished" and e.data.get("status") == "ok"]
    if not started or not finished:
        return None
    return (finished[-1] - started[0]).total_seconds()


def gate_passed(entries: list[Entry], phase: str, label: str) -> bool:
    """The gate after (or of) ``label`` decided to proceed — by odin or by a person."""
    return any(e.phase == phase and e.step == label and e.data.get("action") == "proceed"
               and e.kind in ("decision", "human_input") for e in entries)


def pending_hold(entries: list[Entry], phase: str, step: str | None, hold: str) -> Entry | None:
    """The ``hold_interrupted`` of this hold (phase, step and kind) that nobody decided since: a
    signal ended its wait and ``--resume`` is to re-open it. None: no such hold is open."""
    interrupted = [e for e in entries if e.kind == "hold_interrupted" and e.phase == phase and e.step == step
                   and e.data.get("hold") == hold]
    if not interrupted:
        return None
    last = interrupted[-1]
    decided = any(e.kind == "human_input" and e.phase == phase and e.step == step and e.seq > last.seq
                  for e in entries)
    return None if decided else last


def smoke_passed(entries: list[Entry], phase: str, label: str) -> bool:
    return any(e.kind == "smoke" and e.phase == phase and e.step == label and not e.data.get("critical_failed")
               for e in entries)


def require_not_over(entries: list[Entry], migration: str) -> None:
    why = over(entries)
    if why:
        raise UsageError(f"migration {migration} is over: {why}; start a new one with `odin migrate PLAN --phase t-1w`")
