"""Sorting a restore drill's canary writes against a restore point: one rule for every store.

A store restored to a point must hold exactly what was committed by the point: a write committed
by it must read back with its payload (else *lost*, or *corrupted*), a write committed after it
must not read back (else *extra*: the restore is not the point's). The SQL copy and the blob range
are both judged by :func:`classify`, so their RPOs mean the same thing: the point minus the oldest
lost write's commit, in plan time (what the backups' lag cost).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel

from odin_drills.steps.dr.canary import CanaryWrite, ReadBack, sha256_of
from odin_drills.steps.dr.scorecard import Criterion


class RestoreNumbers(BaseModel):
    """One store's restore in numbers (plan time): when to, how long, what the canary found."""

    restore_point: datetime | None
    rto_seconds: float | None
    rto_target_seconds: float
    rpo_seconds: float | None
    rpo_target_seconds: float
    canary_writes: int
    expected_writes: int
    lost_writes: int
    extra_writes: int
    corrupted_writes: int
    unreadable_writes: int


class Verification(BaseModel):
    acknowledged: int = 0
    expected: int = 0
    verified: int = 0
    lost: list[CanaryWrite] = []
    extra: list[CanaryWrite] = []
    corrupted: list[CanaryWrite] = []
    unreadable: list[CanaryWrite] = []
    failed_writes: int = 0
    rpo_seconds: float | None = None
    restored_through: datetime | None = None
    copy_rows: int | None = None

    def counts(self) -> dict[str, object]:
        """The journal's view (``restore_verified``, ``blob_restore_verified``): counts and the first ids."""
        return {"acknowledged": self.acknowledged, "expected": self.expected, "verified": self.verified,
                "lost": len(self.lost), "extra": len(self.extra), "corrupted": len(self.corrupted),
                "unreadable": len(self.unreadable), "failed_writes": self.failed_writes,
                "lost_ids": [w.write_id for w in self.lost if w.write_id][:50],
                "extra_ids": [w.write_id for w in self.extra if w.write_id][:50], "rpo_seconds": self.rpo_seconds}


def committed_epoch(write: CanaryWrite) -> float:
    """When the service committed a write (its own timestamp), else when its answer arrived."""
    if write.server_acknowledged_at:
        try:
            stamp = datetime.fromisoformat(write.server_acknowledged_at.replace("Z", "+00:00"))
            return (stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)).timestamp()
        except ValueError:
            pass
    return write.acked_wall.timestamp()


def classify(acked: list[CanaryWrite], read: Callable[[str], ReadBack], point: datetime, failed_writes: int,
             plan_seconds: Callable[[float], float]) -> Verification:
    """Read every acknowledged write back (``read(write_id)``) and sort it against ``point``."""
    found = Verification(acknowledged=len(acked), failed_writes=failed_writes)
    cut = point.timestamp()
    newest: float | None = None
    for write in acked:
        expected = committed_epoch(write) <= cut
        found.expected += expected
        if write.write_id is None:
            found.unreadable.append(write)
            continue
        answer = read(write.write_id)
        if answer.found is None:
            found.unreadable.append(write)
        elif not answer.found:
            if expected:
                found.lost.append(write)
        elif not expected:
            found.extra.append(write)
        elif answer.payload is None or sha256_of(answer.payload) != write.sha256:
            found.corrupted.append(write)
        else:
            found.verified += 1
            newest = max(newest or 0.0, committed_epoch(write))
    if found.lost:
        oldest = min(committed_epoch(w) for w in found.lost)
        found.rpo_seconds = round(plan_seconds(max(0.0, cut - oldest)), 3)
    elif found.expected:
        found.rpo_seconds = 0.0
    found.restored_through = None if newest is None else datetime.fromtimestamp(newest, timezone.utc)
    return found


@dataclass(frozen=True)
class StoreWords:
    """How one store's four criteria are named and worded (the checks are the same for every store)."""

    prefix: str  # "" (SQL, the names drills had before blobs) or "blob_"
    undone_name: str  # restored_copy_deleted | blob_range_restored_back
    restore: str  # "restore" | "blob restore"
    online: str  # "copy online" | "restore complete"
    one: str  # "row" | "blob"
    many: str  # "rows" | "blobs"
    verb: str  # "committed" | "acknowledged"
    later: str  # "committed after the point present" | "written after the point still there"
    undone_yes: str
    undone_no: str


def store_criteria(words: StoreWords, v: Verification, rto: float | None, targets: Any,
                   undone: bool) -> dict[str, Criterion]:
    """A store's checklist: restored within RTO, data loss within RPO, restored data verified, undone."""
    rpo = v.rpo_seconds
    return {
        f"{words.prefix}restore_within_rto": Criterion(
            passed=rto is not None and rto <= targets.rto,
            evidence=f"the {words.restore} did not complete" if rto is None
            else f"request to {words.online} {rto:g} s (plan time) vs target {targets.rto:g} s"),
        f"{words.prefix}data_loss_within_rpo": Criterion(
            passed=rpo is not None and rpo <= targets.rpo,
            evidence=f"not measured (no canary {words.one} {words.verb} by the point was checked)"
            if rpo is None else f"{len(v.lost)} of {v.expected} {words.many} {words.verb} by the point missing; "
                                f"span {rpo:g} s vs target {targets.rpo:g} s"),
        f"{words.prefix}restored_data_verified": Criterion(
            passed=v.verified > 0 and not (v.extra or v.corrupted or v.unreadable),
            evidence=f"{v.verified} {words.many} read back intact; {len(v.extra)} {words.later}, "
                     f"{len(v.corrupted)} corrupted, {len(v.unreadable)} unreadable"),
        words.undone_name: Criterion(passed=undone, evidence=words.undone_yes if undone else words.undone_no),
    }
