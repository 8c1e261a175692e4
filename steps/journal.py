"""The journal: an append-only record of everything a run did, and the truth reports are made from.

One JSON object per line (``journal.jsonl``), written and flushed as it happens, so a crash leaves
a journal a re-run can continue from and undo can read: which world-changing steps completed, and
what their undo is. Entries are redacted on the way in.

Every entry is typed: ``steps/journal_entries.py`` has one model per kind (the authority on the
fields below). ``append`` validates the fields through the kind's model and refuses an unknown kind
or a bad field (``JournalEntryInvalid``, naming both) before writing anything; reading parses each
line into its model (``Entry.record``). A line of an older journal that no longer validates is read
with its data as written and a ``LegacyRecord`` saying why; a line that is not an entry at all (torn
by a crash mid-write) is skipped and reported (``Journal.read().skipped``), so a rollback still reads
the rest.

Entry kinds (``kind``) and their ``data``:
  run_started      plan, migration, phases, time_scale, mode
  phase_started    phase           phase_finished  phase, outcome
  step_started     step, step_kind, changes_world, migration, attempt
  step_finished    step, status (ok|failed|noop|skipped), detail, undo (the undo spec or null),
                   undo_reason, output, migration, attempt
  smoke            phase, step, report (per-journey results), critical_failed, noncritical_failed
  baseline         snapshot (the captured baseline)
  gate             phase, step, window (n), decision (the full Decision: metrics, reasons), snapshot
  decision         action (proceed|rollback|hold|watch|...), reason, by (odin or a person)
  hold_started     deadline, default   human_input  action, reason, by, at
  undo_started     step, undo_of, undo, key (the undone step's identity, phase/step)
  undo_finished    step, undo_of, key, status, attempts, detail, reconciled
  rollback_finished  healthy (bool), detail
  lock             action (acquired|released|refused: this process's slot; reserved|freed: the
                   migration's reservation, T-0 to T+24h — steps/lock.py), environment, migration, plan
  notify           url (redacted), status
  note             message (a step's progress adds its data: data_at_risk, stage)
  policy           the effective rollback policy, at run start (odin_drills.plan.policy.Policy's fields)
  run_finished     outcome (completed|rolled_back_healthy|rolled_back_degraded|failed), exit_code

Write-ahead execution (``steps/intent.py``) adds, for each world-changing migration step:
  step_intent        step, attempt, spec, observable, prior (the state read), undo — fsynced before acting
  operation_started  step, operation, resource, continuation_token (an Azure operation ARM accepted)
  step_reconciled    step, attempt, verdict (happened|not_happened|unknown), how, undo — a later start's
                     finding for an intent that has no outcome

**Test hook, inert unless set**: ``ODIN_CRASH_AT=<kind>:<n>`` (several, comma-separated) makes
the process SIGKILL itself right after the ``n``-th entry of ``kind`` it wrote is in the OS
(fsynced, but for ``FSYNC_DEFERRED`` kinds), e.g. ``step_intent:2`` dies between the second intent
and its action. The kill matrix (``tests/test_crash_matrix.py``, ``bench/crash_matrix.py``) uses
it to stop a run at every journal boundary; nothing else reads it.

Region-failover drills (``flows/region_failover.py``) also write, besides the detection, canary
and comms kinds their modules document (probe_state, probe_summary, outage_confirmed,
outage_not_confirmed, service_recovered, canary_*, comms):
  run_started      plan, drill, mode (drill|incident), flow, phases, time_scale, environment, target,
                   flow_run_id, options
  sandbox          action (started in-process|reused), admin_url, frontdoor_url, state_dir
  sandbox          also arm_url, ca_cert, subscription_id (``odin rollback`` reaches it again)
  outage_injecting region, how — before the sandbox fault is asked for (write-ahead)
  outage_injected  region, how, fault_id, injected_at (the sandbox's own clock), outage_started_at (plan)
  outage_cleared   region, fault_id, cleared_at
  decision         action fail_over|veto|no_failover, reason, by
  step_finished    also step_kind and mode (the failover's; the failback reads them)
  undo_started     step, undo_of (seq of the step_finished undone), undo (the spec)
  failback_deferred  step, reason (e.g. storage after an unplanned failover: geo-redundancy first)
  failover_check   verdict (restored|worse), reason, broken (critical journeys failing now, not before)
  replication      failover_groups {name: {primary_region, replication_state}},
                   storage_accounts {name: {primary_region, sku, geo_replication, last_sync_time}}, errors
  baseline         (prepare, with metrics:) snapshot, window_seconds: the DR region before anything breaks
  gate             (validate) each window of the DR region's watch against that baseline
  validation_criterion  criterion (dr_region_within_baseline|replication_lag_within_limit|alerts_green),
                   passed, evidence, measured (the verdict and numbers, each resource's lag, the alerts firing)
  data_loss        region, acknowledged, lost, lost_ids, lost_writes [{id, seq, acked_at}], corrupted,
                   unreadable, failed_writes, rpo_seconds, failover_at, acknowledged_ids (first 10000)
  scorecard        the steps.dr.scorecard.Scorecard
  run_finished     outcome passed|criteria_failed|not_confirmed|vetoed|no_failover_needed|refused|failed
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, PrivateAttr, ValidationError

from odin_drills.home import open_private, private_dir
from odin_drills.steps.journal_entries import JournalEntryInvalid, LegacyRecord, Record, check, parse
from odin_drills.steps.redact import redact

__all__ = ["Entry", "Journal", "JournalContents", "JournalEntryInvalid", "LegacyRecord", "Record", "SkippedLine",
           "read_journal", "read_journal_contents"]

Listener = Callable[["Entry"], None]
log = logging.getLogger(__name__)

CRASH_ENV = "ODIN_CRASH_AT"

FSYNC_DEFERRED = frozenset({"step_started", "step_finished"})
"""Kinds written and flushed but not fsynced on their own: the next fsynced entry makes them
durable with it (one append-only file: fsync covers every earlier write, so the order on disk
stays the order written). A step writes three entries; only its ``step_intent`` must be on disk
before it acts, and fsync is a millisecond or more each, so this saves two per step (issue 14).
``step_started`` is followed at once by the intent it announces; ``step_finished`` by the gate
after the step or the next step's intent. A power loss in between leaves an intent without its
outcome, which ``steps.intent.reconcile`` resolves as it resolves any crash mid-step (read back,
or send an idempotent step again). Every other kind is fsynced before ``append`` returns."""


def _crash_points() -> dict[str, int]:
    """``ODIN_CRASH_AT`` parsed: kind → the count at which to die (empty: the hook is off)."""
    points: dict[str, int] = {}
    for part in os.environ.get(CRASH_ENV, "").split(","):
        kind, _, count = part.strip().partition(":")
        if kind:
            points[kind] = int(count or 1)
    return points


_written: dict[str, int] = {}
_written_lock = threading.Lock()


def _maybe_crash(kind: str) -> None:
    """The kill-matrix hook: SIGKILL this process after the configured entry (see the module doc)."""
    points = _crash_points()
    if kind not in points:
        return
    with _written_lock:
        _written[kind] = _written.get(kind, 0) + 1
        count = _written[kind]
    if count == points[kind]:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def _fsync_dir(path: Path) -> None:
    """Make a new file's directory entry durable (a crash after fsync(file) could otherwise lose
    the whole file on some file systems)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Entry(BaseModel):
    """One journal line: the envelope (seq, times, kind, phase, step) and its ``data`` as written.
    ``record`` is ``data`` as the kind's model (a ``LegacyRecord`` when it does not validate)."""

    seq: int
    time: datetime
    wall: datetime
    kind: str
    phase: str | None = None
    step: str | None = None
    data: dict[str, Any] = {}
    _record: Record | LegacyRecord | None = PrivateAttr(default=None)

    @property
    def record(self) -> Record | LegacyRecord:
        if self._record is None:
            self._record = parse(self.kind, self.data, phase=self.phase, step=self.step)
        return self._record

    @property
    def legacy(self) -> bool:
        """True when ``data`` does not validate against its kind's model (see ``record.problem``)."""
        return isinstance(self.record, LegacyRecord)


class SkippedLine(BaseModel):
    """A journal line that is not an entry (torn by a crash mid-write, or garbage)."""

    line: int
    text: str
    error: str


class JournalContents(BaseModel):
    entries: list[Entry] = []
    skipped: list[SkippedLine] = []

    @property
    def legacy(self) -> list[Entry]:
        return [e for e in self.entries if e.legacy]


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


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg']}"
                             for e in exc.errors(include_url=False, include_input=False))
        return f"not a journal entry: {problems}"[:300]
    if isinstance(exc, json.JSONDecodeError):
        return f"not JSON (torn or garbled): {exc.msg} at column {exc.colno}"
    return f"{exc.__class__.__name__}: {exc}"[:300]


def _parse_lines(text: str, first_line: int = 1) -> JournalContents:
    out = JournalContents()
    # only "\n" ends a line: JSON leaves U+2028, U+0085 and friends raw, and splitlines() would cut there
    for number, line in enumerate(text.split("\n"), start=first_line):
        if not line.strip():
            continue
        try:
            entry = Entry.model_validate(json.loads(line))
        except Exception as exc:  # noqa: BLE001 - a torn or garbled line is reported, never fatal
            out.skipped.append(SkippedLine(line=number, text=redact(line[:200]), error=_why(exc)))
            continue
        entry.record  # parsed now: a LegacyRecord when the data does not validate
        out.entries.append(entry)
    return out


def read_journal_contents(path: Path) -> JournalContents:
    """Every entry of a journal file, and the lines that are not entries."""
    file = Path(path)
    if not file.exists():
        return JournalContents()
    contents = _parse_lines(file.read_text(encoding="utf-8", errors="replace"))
    for skipped in contents.skipped:
        log.warning("journal %s: line %d skipped: %s", file, skipped.line, skipped.error)
    return contents


class _Parsed:
    """What one ``Journal`` has parsed of its file so far: the entries of its complete lines, up to
    byte ``offset``. The runbook reads its journal before and after every step (resume checks,
    attempts, gates); parsing the whole file each time made a step's cost grow with the journal
    (quadratic over a phase), so a read parses only the lines appended since the last one.

    The file is append-only, but a test or a person may rewrite it: a different inode, a shorter
    file, or changed bytes just before ``offset`` (``tail``) start the parse over."""

    TAIL = 64

    def __init__(self, identity: tuple[int, int] = (0, 0)) -> None:
        self.identity = identity
        self.offset = 0
        self.next_line = 1
        self.tail = b""
        self.entries: list[Entry] = []
        self.skipped: list[SkippedLine] = []

    def read(self, path: Path) -> JournalContents:
        parsed = self
        start = max(0, self.offset - len(self.tail))
        try:
            with path.open("rb") as handle:
                stat = os.fstat(handle.fileno())
                handle.seek(start)
                data = handle.read()
        except FileNotFoundError:
            return JournalContents()
        identity = (stat.st_dev, stat.st_ino)
        if identity != self.identity or len(data) < self.offset - start or data[:self.offset - start] != self.tail:
            parsed = _Parsed(identity)  # rewritten: parse it all again
            data = data if start == 0 else path.read_bytes()
        else:
            data = data[self.offset - start:]
        complete = data.rfind(b"\n") + 1
        if complete:
            text = data[:complete].decode("utf-8", errors="replace")
            more = _parse_lines(text[:-1], first_line=parsed.next_line)
            parsed.entries.extend(more.entries)
            parsed.skipped.extend(more.skipped)
            parsed.next_line += text.count("\n")
            parsed.offset += complete
            parsed.tail = (parsed.tail + data[:complete])[-self.TAIL:]
        # a last line with no newline yet (torn by a crash, or mid-write by another process): read, not kept
        torn = _parse_lines(data[complete:].decode("utf-8", errors="replace"), first_line=parsed.next_line)
        if parsed is not self:
            self.__dict__.update(parsed.__dict__)
        return JournalContents.model_construct(entries=self.entries + torn.entries,
                                               skipped=self.skipped + torn.skipped)


class Journal:
    """Append-only JSONL journal. Thread-safe; listeners see each entry as it is written."""

    def __init__(self, path: Path, clock: Any) -> None:
        self.path = Path(path)
        private_dir(self.path.parent)  # journals hold hosts, decisions and names: owner-only
        self.clock = clock
        self._lock = threading.Lock()
        self._writing = threading.Lock()  # held while an append's bytes go into the file (not its fsync)
        self._listeners: list[Listener] = []
        self._seq = sum(1 for _ in self._lines())
        self._torn = self._ends_mid_line()
        self._warned: set[int] = set()
        self._parsed = _Parsed()
        self._read_lock = threading.Lock()
        self.skipped: list[SkippedLine] = []
        """The lines the last read skipped (see ``read``)."""

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def append(self, kind: str, *, phase: str | None = None, step: str | None = None, **data: Any) -> Entry:
        """Write one entry; raises ``JournalEntryInvalid`` (naming kind and field) when ``data`` is
        not what the kind's model says, before anything is written."""
        fields = redact(_jsonable(data))
        record = check(kind, fields, phase=phase, step=step)
        with self._lock:
            self._seq += 1
            entry = Entry(
                seq=self._seq,
                time=self.clock.now(),
                wall=datetime.now(timezone.utc),
                kind=kind,
                phase=phase,
                step=step,
                data=fields,
            )
            entry._record = record
            line = entry.model_dump_json()
            created = not self.path.exists()
            with open_private(self.path, "a") as handle:  # created 0600
                # a line torn by a crash mid-write gets its own line: the new entry stays readable
                with self._writing:
                    handle.write(("\n" if self._torn else "") + line + "\n")
                    handle.flush()  # in the OS now: a killed process loses nothing
                if kind not in FSYNC_DEFERRED:
                    os.fsync(handle.fileno())  # this entry and every one before it survive a power loss
            if created:
                _fsync_dir(self.path.parent)
            self._torn = False
            if CRASH_ENV in os.environ:
                _maybe_crash(kind)
        for listener in list(self._listeners):
            try:
                listener(entry)
            except Exception:  # a broken console must never stop a rollback
                pass
        return entry

    def _ends_mid_line(self) -> bool:
        try:
            with self.path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                if handle.tell() == 0:
                    return False
                handle.seek(-1, os.SEEK_END)
                return handle.read(1) != b"\n"
        except OSError:
            return False

    def _lines(self) -> Iterator[str]:
        if not self.path.exists():
            return iter(())
        return (line for line in self.path.read_text(encoding="utf-8", errors="replace").split("\n") if line.strip())

    def read(self) -> JournalContents:
        """Every entry, parsed into its model, and the lines that are not entries (a torn last
        line after a crash mid-write): those are skipped, logged once and kept in ``skipped``."""
        # only the lines appended since the last read are parsed (``_Parsed``); and never while this
        # journal's own append is half in the file: a reader racing it read a torn last line and warned
        # "torn or garbled" in healthy runs (drills at 300 parallel actions: bench/drill_scale.py --full).
        # Not the append lock: that one is held through the fsync, and reads would queue behind it
        with self._read_lock, self._writing:
            contents = self._parsed.read(self.path)
        for skipped in contents.skipped:
            if skipped.line not in self._warned:
                self._warned.add(skipped.line)
                log.warning("journal %s: line %d skipped: %s", self.path, skipped.line, skipped.error)
        self.skipped = contents.skipped
        return contents

    def entries(self, kind: str | None = None) -> list[Entry]:
        """The entries (lines that are not entries are skipped: see ``skipped``), optionally of one kind."""
        return [e for e in self.read().entries if kind is None or e.kind == kind]


def read_journal(path: Path) -> list[Entry]:
    """Entries of a journal file, for reports and for resuming in another process (lines that are
    not entries are skipped and logged: ``read_journal_contents`` has them)."""
    return read_journal_contents(path).entries
