"""The journal: an append-only record of everything a run did, and the truth reports are made from.

One JSON object per line (``journal.jsonl``), written and flushed as it happens, so a crash leaves
a journal a re-run can continue from and undo can read: which world-changing steps completed, and
what their undo is. Entries are redacted on the way in.

Entry kinds (``kind``) and their ``data``:
  run_started      plan, migration, phases, time_scale, mode
  phase_started    phase           phase_finished  phase, outcome
  step_started     step, step_kind, changes_world
  step_finished    step, status (ok|failed|noop|skipped), detail, undo (the undo spec or null),
                   undo_reason, output
  smoke            phase, step, report (per-journey results), critical_failed, noncritical_failed
  baseline         snapshot (the captured baseline)
  gate             phase, step, window (n), decision (the full Decision: metrics, reasons), snapshot
  decision         action (proceed|rollback|hold|watch|...), reason, by (odin or a person)
  hold_started     deadline, default   human_input  action, reason, by, at
  undo_started     step   undo_finished  step, status, attempts, detail
  rollback_finished  healthy (bool), detail
  lock             action (acquired|released|refused), environment
  notify           url (redacted), status
  note             message
  run_finished     outcome (completed|rolled_back_healthy|rolled_back_degraded|failed), exit_code

Region-failover drills (``flows/region_failover.py``) also write, besides the detection, canary
and comms kinds their modules document (probe_state, probe_summary, outage_confirmed,
outage_not_confirmed, service_recovered, canary_*, comms):
  run_started      plan, drill, mode (drill|incident), flow, phases, time_scale, environment, target,
                   flow_run_id, options
  sandbox          action (started in-process|reused), admin_url, frontdoor_url, state_dir
  outage_injected  region, how, fault_id, injected_at (the sandbox's own clock), outage_started_at (plan)
  outage_cleared   region, fault_id, cleared_at
  decision         action fail_over|veto|no_failover, reason, by
  step_finished    also step_kind and mode (the failover's; the failback reads them)
  undo_started     step, undo_of (seq of the step_finished undone), undo (the spec)
  failback_deferred  step, reason (e.g. storage after an unplanned failover: geo-redundancy first)
  failover_check   verdict (restored|worse), reason, broken (critical journeys failing now, not before)
  replication      failover_groups {name: {primary_region, replication_state}},
                   storage_accounts {name: {primary_region, sku, geo_replication, last_sync_time}}, errors
  data_loss        region, acknowledged, lost, lost_ids, lost_writes [{id, seq, acked_at}], corrupted,
                   unreadable, failed_writes, rpo_seconds, failover_at, acknowledged_ids (first 10000)
  scorecard        the steps.dr.scorecard.Scorecard
  run_finished     outcome passed|criteria_failed|not_confirmed|vetoed|no_failover_needed|refused|failed
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from odin_drills.steps.redact import redact

Listener = Callable[["Entry"], None]


class Entry(BaseModel):
    seq: int
    time: datetime
    wall: datetime
    kind: str
    phase: str | None = None
    step: str | None = None
    data: dict[str, Any] = {}


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return value


class Journal:
    """Append-only JSONL journal. Thread-safe; listeners see each entry as it is written."""

    def __init__(self, path: Path, clock: Any) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._seq = sum(1 for _ in self._lines())

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def append(self, kind: str, *, phase: str | None = None, step: str | None = None, **data: Any) -> Entry:
        with self._lock:
            self._seq += 1
            entry = Entry(
                seq=self._seq,
                time=self.clock.now(),
                wall=datetime.now(timezone.utc),
                kind=kind,
                phase=phase,
                step=step,
                data=redact(_jsonable(data)),
            )
            line = entry.model_dump_json()
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        for listener in list(self._listeners):
            try:
                listener(entry)
            except Exception:  # a broken console must never stop a rollback
                pass
        return entry

    def _lines(self) -> Iterator[str]:
        if not self.path.exists():
            return iter(())
        return (line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip())

    def entries(self, kind: str | None = None) -> list[Entry]:
        out = [Entry.model_validate(json.loads(line)) for line in self._lines()]
        return [e for e in out if kind is None or e.kind == kind]


def read_journal(path: Path) -> list[Entry]:
    """Entries of a journal file, for reports and for resuming in another process."""
    file = Path(path)
    if not file.exists():
        return []
    return [Entry.model_validate(json.loads(l)) for l in file.read_text(encoding="utf-8").splitlines() if l.strip()]
