"""Attestations: a named person vouching for a readiness item odin cannot check itself.

Kept beside the plan's migrations, ``$ODIN_HOME/migrations/<plan>/attestations.jsonl``, one JSON
line per attestation, appended, flushed and fsynced, ``0600`` like every journal (``odin_drills.home``).
They live at the plan level, not inside one migration's folder, because a review is usually
prepared before T-1w starts the migration; each line records the migration that was current when
it was written, and ``attestation_max_age`` keeps an old one from counting for a new migration.
Times are wall-clock UTC: an attestation is a statement made by a person on a real day, whatever
time scale a rehearsal runs at. Evidence and names pass through the redactor before they are written.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from odin_drills.home import migrations_dir, open_private
from odin_drills.steps.redact import redact_text


class Attestation(BaseModel):
    item: str
    by: str = Field(min_length=1)
    evidence: str = Field(min_length=1)
    at: datetime
    migration: str | None = None


def attestations_file(plan_name: str) -> Path:
    return migrations_dir(plan_name) / "attestations.jsonl"


def record_attestation(plan_name: str, item: str, *, by: str, evidence: str,
                       at: datetime | None = None) -> Attestation:
    """Append one attestation (redacted) and return it as written."""
    current = migrations_dir(plan_name) / "current"
    migration = current.read_text().strip() if current.exists() else None
    record = Attestation(item=item, by=redact_text(by.strip()), evidence=redact_text(evidence.strip()),
                         at=at or datetime.now(timezone.utc), migration=migration or None)
    with open_private(attestations_file(plan_name), "a") as handle:
        handle.write(record.model_dump_json() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return record


def latest_attestations(plan_name: str) -> dict[str, Attestation]:
    """The newest attestation of each item; a torn or foreign line is skipped, never fatal."""
    file = attestations_file(plan_name)
    found: dict[str, Attestation] = {}
    if not file.exists():
        return found
    for line in file.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = Attestation.model_validate(json.loads(line))
        except (ValueError, ValidationError):
            continue
        if record.item not in found or record.at >= found[record.item].at:
            found[record.item] = record
    return found
