"""Earlier drills of the same plan: scorecards kept as JSON lines, and their trend for the report.

One file per plan (``<directory>/<plan>.jsonl``), one scorecard per line, appended and flushed as
each drill is scored. A re-scored drill (same ``drill_id``) replaces its earlier line in what is
read back; a line a crash cut short is skipped, never fatal.
"""

from __future__ import annotations

import json
import os
import re
import threading
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ValidationError

from odin_drills.home import open_private, private_dir
from odin_drills.steps.dr.scorecard import Scorecard

_PLAN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class TrendPoint(BaseModel):
    """One earlier drill, as the report's trend shows it."""

    drill_id: str
    scored_at: datetime
    rto_seconds: float | None
    rto_target_seconds: float
    rpo_seconds: float | None
    rpo_target_seconds: float
    passed: bool
    failed_criteria: list[str]


class DrillHistory:
    """Scorecards per plan under ``directory``. Thread-safe within a process."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()

    def path(self, plan: str) -> Path:
        if not _PLAN.match(plan):
            raise ValueError(f"{plan!r} is not a plan name (lower-case letters, digits and dashes)")
        return self.directory / f"{plan}.jsonl"

    def record(self, scorecard: Scorecard) -> Path:
        """Append the scorecard to its plan's history; returns the file."""
        file = self.path(scorecard.plan)
        line = scorecard.model_dump_json()
        with self._lock:
            private_dir(file.parent)
            with open_private(file, "a") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        return file

    def scorecards(self, plan: str) -> list[Scorecard]:
        """Every recorded drill of ``plan`` in the order first recorded (a drill_id's last line wins)."""
        file = self.path(plan)
        if not file.exists():
            return []
        by_id: dict[str, Scorecard] = {}
        for line in file.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                card = Scorecard.model_validate(json.loads(line))
            except (ValueError, ValidationError):
                continue
            by_id[card.drill_id] = card  # a re-scored drill keeps its place
        return list(by_id.values())

    def trend(self, plan: str, *, exclude: str | None = None, limit: int | None = None) -> list[TrendPoint]:
        """RTO, RPO and pass/fail of earlier drills, oldest first; ``exclude`` leaves out a drill
        (the current one), ``limit`` keeps the most recent ones."""
        cards = [c for c in self.scorecards(plan) if c.drill_id != exclude]
        if limit is not None:
            cards = cards[-limit:] if limit > 0 else []
        return [TrendPoint(drill_id=c.drill_id, scored_at=c.scored_at, rto_seconds=c.rto_seconds,
                           rto_target_seconds=c.rto_target_seconds, rpo_seconds=c.rpo_seconds,
                           rpo_target_seconds=c.rpo_target_seconds, passed=c.passed,
                           failed_criteria=[name for name, crit in c.criteria.items() if not crit.passed])
                for c in cards]
