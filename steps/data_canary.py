"""A migration's canary writes: data loss and data corruption detected, not hand-written.

Before each world-changing T-0 step a few small unique writes go through the service
(``canary.writes_per_step``); every acknowledged one is journaled (``canary_acknowledged``: id,
SHA-256 of the payload) before the step starts. After the step, and at T+1h, every write
acknowledged so far in this migration is read back from the journal's list, so a run resumed
after a crash checks the writes of the run before it:

* **lost**: the service answers 404 for a write it acknowledged: ``data loss``;
* **corrupted**: it answers with a payload whose hash differs: ``data corruption``;
* **unreadable**: the read itself failed (after retries): nothing can be said; counted, not acted on
  (an unreachable service is the outage rung's to judge, from the window that follows).

Either of the first two is the handbook's "roll back immediately" rung, with no window to confirm
it: a write the service promised and no longer has is evidence, not noise. A write the service
refused or never answered was never promised: it is a failed write, counted by the writer's
``canary_state`` entries, never a loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from odin_drills.plan.migration_canary import MigrationCanary
from odin_drills.steps.dr.canary import CanaryWriter, sha256_of


@dataclass
class ReadBackResult:
    """The acknowledged writes read back at one check, sorted."""

    acknowledged: int = 0
    verified: int = 0
    lost: list[str] = field(default_factory=list)
    corrupted: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


class DataCanary:
    """Writes before a step and reads back after it, journaling both; see the module docstring."""

    def __init__(self, spec: MigrationCanary, journal: Any, clock: Any, client: httpx.Client | None = None) -> None:
        self.spec = spec
        self.journal = journal
        self.writer = CanaryWriter(str(spec.url), clock, journal=journal, read_path=spec.read_url,
                                   read_field=spec.read_field, id_field=spec.id_field,
                                   payload_bytes=spec.payload_bytes, timeout=spec.timeout, client=client)

    def write(self, phase: str, step: str) -> int:
        """``writes_per_step`` writes now; each acknowledged one journaled. Returns how many were."""
        self.writer.phase = phase
        acknowledged = 0
        for _ in range(self.spec.writes_per_step):
            write = self.writer.write_once()
            if write is None or write.write_id is None:
                continue
            self.journal.append("canary_acknowledged", phase=phase, step=step, seq=write.seq,
                                write_id=write.write_id, sha256=write.sha256, run=self.writer.run_id)
            acknowledged += 1
        return acknowledged

    def read_back(self, writes: list[dict[str, Any]]) -> ReadBackResult:
        """``writes`` (``canary_acknowledged`` entries' data) read back now."""
        read = self.writer.http_reader("")  # read_url is a whole URL: nothing goes before it
        result = ReadBackResult(acknowledged=len(writes))
        for write in writes:
            found = read(str(write["write_id"]))
            if found.found is None:
                result.unreadable.append(str(write["write_id"]))
            elif not found.found:
                result.lost.append(str(write["write_id"]))
            elif found.payload is None or sha256_of(found.payload) != write["sha256"]:
                result.corrupted.append(str(write["write_id"]))
            else:
                result.verified += 1
        return result

    def check(self, phase: str, step: str) -> str | None:
        """Read back and journal (``canary_verified``); the rollback-now reason, or None when no
        acknowledged write is missing or changed."""
        writes = [e.data for e in self.journal.entries("canary_acknowledged")]  # the journal, read once
        if not writes:
            return None
        result = self.read_back(writes)
        self.journal.append("canary_verified", phase=phase, step=step, acknowledged=result.acknowledged,
                            verified=result.verified, lost=len(result.lost), corrupted=len(result.corrupted),
                            unreadable=len(result.unreadable), lost_ids=result.lost[:20])
        where = f"read back from {self.spec.read_url}"
        reasons = []
        if result.lost:
            reasons.append(f"data loss: {len(result.lost)} of {result.acknowledged} acknowledged canary writes are gone "
                           f"after {step} (404: {_ids(result.lost)}); {where}")
        if result.corrupted:
            reasons.append(f"data corruption: {len(result.corrupted)} of {result.acknowledged} acknowledged canary "
                           f"writes read back changed after {step} (ids {_ids(result.corrupted)}); {where}")
        return "; ".join(reasons) or None

    def close(self) -> None:
        self.writer.close()


def _ids(ids: list[str], shown: int = 5) -> str:
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more
