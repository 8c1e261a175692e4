"""T+1h "Review migration logs for errors": the errors and warnings since T-0, in the journal and
in the Prefect logs of the migration's flow runs, counted and listed (``log_review``).

From the journal (what went wrong, as odin recorded it):

    error    a step or an undo that failed, a critical smoke journey failing, a rollback, a phase or
             run that ended failed (or rolled back), an entry odin could not read back
    warning  a non-critical smoke journey failing, a gate decision other than proceed, a hold
             decided by its deadline, a stakeholder message that failed, a step reconciled as
             partial or unknown after a crash, a run refused or interrupted

From Prefect: every log line at WARNING or above of the flow runs this migration's journal names
(``run_started.flow_run_id``). When the Prefect API cannot be read (down, slow: bounded to
``timeout`` seconds) the review says so once and lists the journal's findings alone.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from odin_drills.steps.journal import Entry
from odin_drills.steps.people.slo_check import t0_start
from odin_drills.steps.redact import redact_text

MAX_ITEMS = 50


def _finding(e: Entry) -> tuple[str, str] | None:
    """(level, what) for one journal entry, or None when it is neither."""
    d, kind = e.data, e.kind
    if e.legacy:
        return "error", f"unreadable {kind} entry: {getattr(e.record, 'problem', '')}"
    if kind == "step_finished" and d.get("status") == "failed":
        return "error", f"step {e.step} failed: {d.get('detail')}"
    if kind == "undo_finished" and d.get("status") not in ("ok", "noop", "skipped"):
        return "error", f"undo of {e.step} {d.get('status')}: {d.get('detail')}"
    if kind == "smoke" and d.get("critical_failed"):
        return "error", f"{d.get('critical_failed')} critical smoke journey(s) failed"
    if kind == "smoke" and d.get("noncritical_failed"):
        return "warning", f"{d.get('noncritical_failed')} non-critical smoke journey(s) failed"
    if kind == "rollback_started":
        return "error", f"rollback: {d.get('reason')}"
    if kind == "phase_finished" and d.get("outcome") in ("failed", "unusable", "rolled back"):
        return "error", f"phase {e.phase} ended {d.get('outcome')}" + (f": {d.get('detail')}" if d.get("detail") else "")
    if kind == "run_finished" and d.get("outcome") in ("failed", "rolled_back_degraded"):
        return "error", f"run ended {d.get('outcome')}: {d.get('detail') or ''}".rstrip(": ")
    if kind == "run_finished" and d.get("outcome") in ("refused", "interrupted"):
        return "warning", f"run ended {d.get('outcome')}: {d.get('detail') or ''}".rstrip(": ")
    if kind == "decision" and d.get("action") not in ("proceed", None):
        return "warning", f"gate decided {d.get('action')}: {d.get('reason')}"
    if kind == "human_input" and str(d.get("by", "")).startswith("odin (deadline)"):
        return "warning", f"hold at {e.step or e.phase} decided by its deadline: {d.get('action')}"
    if kind == "comms" and d.get("status") == "failed":
        return "warning", f"message to {d.get('channel')} failed: {d.get('detail')}"
    if kind == "step_reconciled" and d.get("verdict") in ("partial", "unknown"):
        return "warning", f"step {e.step} reconciled as {d.get('verdict')}: {d.get('detail')}"
    return None


def journal_findings(entries: list[Entry], since_seq: int) -> list[dict[str, Any]]:
    found = []
    for e in entries:
        if e.seq <= since_seq:
            continue
        hit = _finding(e)
        if hit is not None:
            found.append({"source": "journal", "level": hit[0], "time": e.time.isoformat(), "phase": e.phase,
                          "what": redact_text(hit[1])[:300]})
    return found


def read_prefect_logs(flow_run_ids: list[str], since_wall: datetime | None,
                      timeout: float = 5.0) -> tuple[list[dict[str, Any]], str | None]:
    """WARNING-and-above log lines of these flow runs since ``since_wall`` (real time), oldest first;
    ([], why) when Prefect could not be read within ``timeout`` seconds."""
    result: dict[str, Any] = {}

    def read() -> None:
        try:
            from uuid import UUID

            from prefect.client.orchestration import get_client
            from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId, LogFilterLevel, LogFilterTimestamp
            from prefect.client.schemas.sorting import LogSort

            ids = [UUID(i) for i in flow_run_ids]
            with get_client(sync_client=True) as client:
                logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids),
                                                             level=LogFilterLevel(ge_=logging.WARNING),
                                                             timestamp=LogFilterTimestamp(after_=since_wall)),
                                        limit=200, sort=LogSort.TIMESTAMP_ASC)
            result["logs"] = [{"source": "prefect", "level": "error" if log.level >= logging.ERROR else "warning",
                               "time": log.timestamp.isoformat(), "phase": None,
                               "what": redact_text(f"{log.name}: {log.message}")[:300]} for log in logs]
        except Exception as exc:  # noqa: BLE001 - said once in the review
            result["error"] = f"{type(exc).__name__}: {exc}"[:300]

    if not flow_run_ids:
        return [], "no flow run recorded in the journal"
    worker = threading.Thread(target=read, name="odin-log-review", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        return [], f"the Prefect API did not answer within {timeout:g} s"
    if "error" in result:
        return [], result["error"]
    return result["logs"], None


def review_logs(entries: list[Entry], prefect: list[dict[str, Any]], unavailable: str | None) -> dict[str, Any]:
    """The ``log_review`` entry's fields: counts by source and level, the findings (up to ``MAX_ITEMS``,
    errors first), and the one line saying why the Prefect logs are missing, if they are."""
    start = t0_start(entries)
    items = journal_findings(entries, start.seq if start is not None else 0) + list(prefect)

    def count(source: str, level: str) -> int:
        return sum(1 for i in items if i["source"] == source and i["level"] == level)

    listed = sorted(items, key=lambda i: (i["level"] != "error", i["time"]))[:MAX_ITEMS]
    errors, warnings = sum(i["level"] == "error" for i in items), sum(i["level"] == "warning" for i in items)
    said = f"{errors} error(s) and {warnings} warning(s) since T-0 in the journal" + (
        " and the Prefect logs" if unavailable is None else f"; Prefect logs not read: {unavailable}")
    return {"since": start.time if start is not None else None, "errors": errors, "warnings": warnings,
            "journal_errors": count("journal", "error"), "journal_warnings": count("journal", "warning"),
            "prefect_errors": count("prefect", "error"), "prefect_warnings": count("prefect", "warning"),
            "prefect_unavailable": unavailable, "items": listed, "not_listed": len(items) - len(listed),
            "detail": said}


def flow_run_ids(entries: list[Entry]) -> list[str]:
    """The flow runs of this migration (one per phase run), from the journal."""
    return list(dict.fromkeys(str(e.data["flow_run_id"]) for e in entries
                              if e.kind == "run_started" and e.data.get("flow_run_id")))


def review(entries: list[Entry], timeout: float = 5.0) -> dict[str, Any]:
    """Read the Prefect logs since T-0 (bounded) and review them with the journal's findings."""
    start = t0_start(entries)
    logs, unavailable = read_prefect_logs(flow_run_ids(entries), start.wall if start is not None else None, timeout)
    return review_logs(entries, logs, unavailable)
