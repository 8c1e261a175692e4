"""The baseline: captured at T-1w, persisted, and loaded days later by another process."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from odin_drills.errors import StateMissing
from odin_drills.steps.snapshot import Snapshot


class BaselineRecord(BaseModel):
    plan: str
    migration: str
    captured_at: datetime
    window_seconds: float
    snapshot: Snapshot


def save_baseline(path: Path, record: BaselineRecord) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(record.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves half a baseline


def load_baseline(path: Path) -> BaselineRecord:
    if not path.exists():
        raise StateMissing(
            f"{path}: no baseline captured for this migration; run `odin migrate PLAN --phase t-1w` first"
        )
    return BaselineRecord.model_validate_json(path.read_text(encoding="utf-8"))
