"""A run's final state that Prefect could not take, sent again when its API answers.

When the Prefect API dies mid-run the run finishes on its journal (``odin_drills.flows.in_process``)
and the flow run stays ``Running`` in Prefect. Its final state — the one the outcome table names,
``Completed``, ``RolledBack``… with the same message — is remembered in
``$ODIN_HOME/prefect-backlog.jsonl`` (flow run id, state, the journal), and every later ``odin``
command that records in Prefect first sends what is waiting there (``replay``), forced, as the
engine would have, then notes it in the run's journal. Only the final state is back-filled: the
logs and task-run events lost with the API are not (the journal and the reports hold them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from odin_drills.home import odin_home, open_private, write_private

REPLAY_TIMEOUT_SECONDS = 5.0


def backlog_path() -> Path:
    return odin_home() / "prefect-backlog.jsonl"


def final_state_of(journal: str) -> dict[str, Any] | None:
    """The flow run id and the final state (type, name, message) a journal's last run ended in."""
    from odin_drills.outcomes import info

    entries = []
    try:
        for line in Path(journal).read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue  # a torn last line: the rest still says how the run ended
    except OSError:
        return None
    started = [e for e in entries if e.get("kind") == "run_started" and e.get("data", {}).get("flow_run_id")]
    finished = [e for e in entries if e.get("kind") == "run_finished"]
    if not started or not finished or finished[-1]["seq"] < started[-1]["seq"]:
        return None
    outcome = finished[-1]["data"].get("outcome", "failed")
    try:
        row = info(outcome)
    except ValueError:
        return None
    detail = (finished[-1]["data"].get("detail") or "").splitlines()
    return {"flow_run_id": started[-1]["data"]["flow_run_id"], "journal": journal,
            "state": {"type": "FAILED" if row.failed_state else "COMPLETED", "name": row.state_name,
                      "message": detail[0][:500] if detail else f"{row.text} (exit {row.exit_code})"}}


def remember(journal: str) -> bool:
    """Put the journal's final state in the backlog; False if the journal does not say one."""
    item = final_state_of(journal)
    if item is None:
        return False
    with open_private(backlog_path(), "a") as handle:
        handle.write(json.dumps(item) + "\n")
    return True


def replay(api_url: str) -> int:
    """Send every waiting final state to ``api_url``; keep those it did not take. How many it took."""
    path = backlog_path()
    if not path.exists():
        return 0
    waiting, sent = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if _send(api_url, item):
            sent += 1
            _note(item)
        else:
            waiting.append(line)
    write_private(path, "".join(f"{line}\n" for line in waiting))
    return sent


def _send(api_url: str, item: dict[str, Any]) -> bool:
    try:
        answer = httpx.post(f"{api_url.rstrip('/')}/flow_runs/{item['flow_run_id']}/set_state",
                            json={"state": item["state"], "force": True}, timeout=REPLAY_TIMEOUT_SECONDS)
    except httpx.HTTPError:
        return False
    if answer.status_code == 404:
        return True  # that server never knew the run (another database): nothing to back-fill there
    return answer.status_code < 300 and answer.json().get("status") == "ACCEPT"


def _note(item: dict[str, Any]) -> None:
    """The run's journal says its final state reached Prefect late (best effort: a journal moved away is fine)."""
    from odin_drills.steps.clock import RealClock
    from odin_drills.steps.journal import Journal

    try:
        Journal(Path(item["journal"]), RealClock()).append(
            "note", message=f"final state {item['state']['name']} back-filled into Prefect (flow run "
                            f"{item['flow_run_id']}) after its API came back")
    except Exception:  # noqa: BLE001 - the state reached Prefect; the note is a courtesy
        pass
