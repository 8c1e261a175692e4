"""Earlier drills of the same plan: scorecards kept as JSON lines, and their trend for the report.

One file per plan (``<directory>/<plan>.jsonl``), one scorecard per line, appended and flushed as
each drill is scored. A re-scored drill (same ``drill_id``) replaces its earlier line in what is
read back; a line a crash cut short is skipped, never fatal.

Both drill kinds keep a history: a region-failover drill's ``Scorecard`` and a restore drill's
``RestoreScorecard`` (told apart by its ``source_database``). ``scorecards`` gives the former (the
readiness review's DR-drill evidence), ``trend`` both, a restore drill's per store (SQL, blobs).
"""

from __future__ import annotations

import json
import os
import re
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from odin_drills.home import open_private, private_dir
from odin_drills.steps.dr.scorecard import Scorecard

if TYPE_CHECKING:
    from odin_drills.steps.dr.restore import RestoreScorecard

_PLAN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class StorePoint(BaseModel):
    """One store of an earlier restore drill (its own RTO and RPO against its own targets)."""

    rto_seconds: float | None
    rto_target_seconds: float
    rpo_seconds: float | None
    rpo_target_seconds: float


class TrendPoint(BaseModel):
    """One earlier drill, as the report's trend shows it (a restore drill's numbers are its SQL store's;
    ``stores`` has each store's)."""

    drill_id: str
    scored_at: datetime
    rto_seconds: float | None
    rto_target_seconds: float
    rpo_seconds: float | None
    rpo_target_seconds: float
    passed: bool
    failed_criteria: list[str]
    kind: str = "region-failover"
    stores: dict[str, StorePoint] = {}

    @classmethod
    def of(cls, card: Scorecard | RestoreScorecard) -> TrendPoint:
        stores = {s.store: StorePoint(rto_seconds=s.rto_seconds, rto_target_seconds=s.rto_target_seconds,
                                      rpo_seconds=s.rpo_seconds, rpo_target_seconds=s.rpo_target_seconds)
                  for s in (card.stores() if hasattr(card, "stores") else [])}
        return cls(drill_id=card.drill_id, scored_at=card.scored_at, rto_seconds=card.rto_seconds,
                   rto_target_seconds=card.rto_target_seconds, rpo_seconds=card.rpo_seconds,
                   rpo_target_seconds=card.rpo_target_seconds, passed=card.passed,
                   failed_criteria=[name for name, crit in card.criteria.items() if not crit.passed],
                   kind="restore" if stores else "region-failover", stores=stores)


class DrillHistory:
    """Scorecards per plan under ``directory``. Thread-safe within a process."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()

    def path(self, plan: str) -> Path:
        if not _PLAN.match(plan):
            raise ValueError(f"{plan!r} is not a plan name (lower-case letters, digits and dashes)")
        return self.directory / f"{plan}.jsonl"

    def record(self, scorecard: Scorecard | RestoreScorecard) -> Path:
        """Append the scorecard (either drill kind) to its plan's history; returns the file."""
        file = self.path(scorecard.plan)
        line = scorecard.model_dump_json()
        with self._lock:
            private_dir(file.parent)
            with open_private(file, "a") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        return file

    def _cards(self, plan: str) -> list[Any]:
        """Every recorded drill of ``plan``, either kind, in the order first recorded (a drill_id's last line wins)."""
        from odin_drills.steps.dr.restore import RestoreScorecard

        file = self.path(plan)
        if not file.exists():
            return []
        by_id: dict[str, Any] = {}
        for line in file.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                model = RestoreScorecard if isinstance(data, dict) and "source_database" in data else Scorecard
                card = model.model_validate(data)
            except (ValueError, ValidationError):
                continue
            by_id[card.drill_id] = card  # a re-scored drill keeps its place
        return list(by_id.values())

    def scorecards(self, plan: str) -> list[Scorecard]:
        """Every recorded region-failover drill of ``plan`` in the order first recorded."""
        return [c for c in self._cards(plan) if isinstance(c, Scorecard)]

    def trend(self, plan: str, *, exclude: str | None = None, limit: int | None = None) -> list[TrendPoint]:
        """RTO, RPO and pass/fail of earlier drills (either kind), oldest first; ``exclude`` leaves out
        a drill (the current one), ``limit`` keeps the most recent ones."""
        cards = [c for c in self._cards(plan) if c.drill_id != exclude]
        if limit is not None:
            cards = cards[-limit:] if limit > 0 else []
        return [TrendPoint.of(c) for c in cards]
