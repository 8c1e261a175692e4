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


def unusable_baseline(snapshot: Snapshot, source: str) -> str | None:
    """Why a window just measured cannot be a baseline (None: it can). A window with no answered
    request describes a service that is down or a metric source that is wrong, not the steady state
    every later gate compares with: T-1w stops there and writes no baseline, so T-0 refuses."""
    unavailable = snapshot.signals.details.get("unavailable")
    if unavailable:
        return f"{source}: the baseline window could not be read ({unavailable}); fix it, then run T-1w again"
    if snapshot.requests == 0:
        return f"{source}: the baseline window saw no request at all: check the metric source, then run T-1w again"
    if snapshot.errors >= snapshot.requests:
        return (f"{source}: every request of the baseline window failed ({snapshot.errors} of {snapshot.requests}): "
                "the service is down or the URL is wrong; fix it, then run T-1w again")
    return None


def save_baseline(path: Path, record: BaselineRecord) -> None:
    write_private(path, record.model_dump_json(indent=2))  # atomic and 0600: a crash never leaves half a baseline


def load_baseline(path: Path) -> BaselineRecord:
    if not path.exists():
        raise StateMissing(
            f"{path}: no baseline captured for this migration; run `odin migrate PLAN --phase t-1w` first"
        )
    return BaselineRecord.model_validate_json(path.read_text(encoding="utf-8"))
