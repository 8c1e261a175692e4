"""The baseline: captured at T-1w, persisted, and loaded days later by another process."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from odin_drills.errors import StateMissing
from odin_drills.home import write_private
from odin_drills.steps.snapshot import Snapshot


class BaselineRecord(BaseModel):
    plan: str
    migration: str
    captured_at: datetime
    window_seconds: float
    snapshot: Snapshot


def save_baseline(path: Path, record: BaselineRecord) -> None:
    write_private(path, record.model_dump_json(indent=2))  # atomic and 0600: a crash never leaves half a baseline


def load_baseline(path: Path) -> BaselineRecord:
    if not path.exists():
        raise StateMissing(
            f"{path}: no baseline captured for this migration; run `odin migrate PLAN --phase t-1w` first"
        )
    return BaselineRecord.model_validate_json(path.read_text(encoding="utf-8"))
