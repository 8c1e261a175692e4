"""Write-ahead execution without Prefect: the intent is on disk before the world-changing call,
an intent with no outcome is reconciled, undos are keyed by step identity, the kill hook kills.

Real parts: the http steps call a real HTTP server on 127.0.0.1; the kill is a real SIGKILL of a
real process. A "kill" inside this process is a BaseException raised by a journal listener right
after an entry is written — like SIGKILL, no ``except Exception`` in odin catches it, so nothing
after that entry runs.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from odin_drills.plan.steps import Step
from odin_drills.steps.clock import ManualClock
from odin_drills.steps.intent import execute, history, open_intents, pending_undos, reconcile, resendable
from odin_drills.steps.journal import Journal
from odin_drills.steps.rollback import undo_completed
from tests.conftest import ROOT
from tests.http_servers import serve

STEP = TypeAdapter(Step)


class Killed(BaseException):
    """Stands in for SIGKILL inside the process: nothing in odin catches a BaseException."""


def kill_after(journal: Journal, kind: str) -> None:
    def listener(entry: Any) -> None:
        if entry.kind == kind:
            raise Killed(kind)
    journal.subscribe(listener)


class Weights:
    """A real HTTP service whose PUT records, at the moment it arrives, what the journal held."""

    def __init__(self, journal_path: Path) -> None:
        self.journal_path = journal_path
        self.weights = {"blue": 100, "green": 0}
        self.seen: list[list[str]] = []  # the journal's kinds when each PUT arrived
        self.puts = 0

    def app(self) -> Starlette:
        async def weights(request: Request) -> JSONResponse:
            if request.method == "PUT":
                lines = self.journal_path.read_text().splitlines() if self.journal_path.exists() else []
                self.seen.append([json.loads(line)["kind"] for line in lines if line.strip()])
                self.weights = await request.json()
                self.puts += 1
            return JSONResponse(self.weights)
        return Starlette(routes=[Route("/weights", weights, methods=["GET", "PUT"])])


def shift(url: str, to: dict, back: dict, name: str = "shift") -> Any:
    return STEP.validate_python({"name": name, "kind": "http", "method": "PUT", "url": f"{url}/weights", "json": to,
                                 "undo": {"kind": "http", "method": "PUT", "url": f"{url}/weights", "json": back}})


def test_the_intent_and_its_undo_are_on_disk_before_the_request_arrives(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl", ManualClock())
    service = Weights(journal.path)
    with serve(service.app()) as url, httpx.Client() as client:
        outcome = execute(journal, shift(url, {"blue": 90, "green": 10}, {"blue": 100, "green": 0}), phase="t0",
                          label="shift", migration="m1", client=client, clock=journal.clock)
    assert outcome.status == "ok" and service.weights == {"blue": 90, "green": 10}
    assert service.seen == [["step_started", "step_intent"]]  # written and fsynced before the PUT was sent
    intent = journal.entries("step_intent")[0]
    assert (intent.phase, intent.step, intent.data["attempt"], intent.data["migration"]) == ("t0", "shift", 1, "m1")
    assert intent.data["undo"]["json"] == {"blue": 100, "green": 0} and intent.data["observable"] is False
    finished = journal.entries("step_finished")[0]
    assert finished.data["attempt"] == 1 and finished.data["undo"] == intent.data["undo"]


def test_an_unobservable_intent_with_no_outcome_may_have_happened_and_keeps_its_undo(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl", ManualClock())
    service = Weights(journal.path)
    with serve(service.app()) as url, httpx.Client() as client:
        execute(journal, shift(url, {"blue": 90, "green": 10}, {"blue": 100, "green": 0}, "shift-10"), phase="t0",
                label="shift-10", migration="m1", client=client, clock=journal.clock)
        kill_after(journal, "step_intent")
        with pytest.raises(Killed):  # dies between the intent and the PUT
            execute(journal, shift(url, {"blue": 50, "green": 50}, {"blue": 90, "green": 10}, "shift-50"),
                    phase="t0", label="shift-50", migration="m1", client=client, clock=journal.clock)
        assert service.puts == 1

        later = Journal(journal.path, ManualClock())  # the next start, another process
        assert [item.step for item, _ in open_intents(later.entries())] == ["shift-50"]
        (found,) = reconcile(later)
        assert (found.key, found.verdict, found.how) == ("t0/shift-50", "unknown", "unobservable")
        assert open_intents(later.entries()) == []
        assert reconcile(later) == []  # decided once, never again
        assert [e.step for e in pending_undos(later.entries())] == ["shift-50", "shift-10"]
        result = undo_completed(later, client=client, clock=later.clock, backoff_seconds=0)
    assert result.all_undone and [u.step for u in result.undone] == ["shift-50", "shift-10"]
    # the undo of the change that may not have happened is idempotent: it set 90/10, then 100/0
    assert service.weights == {"blue": 100, "green": 0}
    assert pending_undos(later.entries()) == []


def test_undos_are_keyed_by_step_identity_not_sequence_numbers(tmp_path: Path) -> None:
    """An older odin re-ran a phase and journaled the same step twice: it is undone once."""
    journal = Journal(tmp_path / "journal.jsonl", ManualClock())
    service = Weights(journal.path)
    with serve(service.app()) as url, httpx.Client() as client:
        undo = {"kind": "http", "method": "PUT", "url": f"{url}/weights", "json": {"blue": 100, "green": 0}}
        for _ in range(2):
            journal.append("step_started", phase="t0", step="shift", step_kind="http", changes_world=True)
            journal.append("step_finished", phase="t0", step="shift", status="ok", detail="200", undo=undo)
        assert len(pending_undos(journal.entries())) == 1
        result = undo_completed(journal, client=client, clock=journal.clock, backoff_seconds=0)
    assert [u.step for u in result.undone] == ["shift"] and service.puts == 1
    assert journal.entries("undo_finished")[0].data["key"] == "t0/shift"


def test_a_resumed_step_is_a_new_attempt_and_its_undo_is_still_one(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl", ManualClock())
    service = Weights(journal.path)
    with serve(service.app()) as url, httpx.Client() as client:
        step = shift(url, {"blue": 0, "green": 100}, {"blue": 100, "green": 0})
        kill_after(journal, "step_intent")
        with pytest.raises(Killed):
            execute(journal, step, phase="t0", label="shift", migration="m1", client=client, clock=journal.clock)
        later = Journal(journal.path, ManualClock())
        reconcile(later)
        assert resendable(step)  # PUT: safe to send again
        execute(later, step, phase="t0", label="shift", migration="m1", client=client, clock=later.clock)
    item = history(later.entries())["t0/shift"]
    assert [a.number for a in item.attempts] == [1, 2] and [a.state for a in item.attempts] == ["maybe", "done"]
    assert item.state == "done" and len(pending_undos(later.entries())) == 1


def test_the_crash_hook_kills_its_own_process_right_after_the_entry(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from odin_drills.steps.journal import Journal\n"
        "from odin_drills.steps.clock import ManualClock\n"
        f"j = Journal({str(tmp_path / 'j.jsonl')!r}, ManualClock())\n"
        "for n in range(5):\n"
        "    j.append('note', message=f'n{n}')\n"
        "print('survived')\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "ODIN_CRASH_AT": "note:3"})
    assert run.returncode == -signal.SIGKILL and "survived" not in run.stdout
    lines = (tmp_path / "j.jsonl").read_text().splitlines()
    assert [json.loads(line)["data"]["message"] for line in lines] == ["n0", "n1", "n2"]  # the third is on disk
    inert = subprocess.run([sys.executable, "-c", script.replace("j.jsonl", "k.jsonl")], cwd=ROOT, capture_output=True,
                           text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert inert.returncode == 0 and "survived" in inert.stdout  # unset: the hook does nothing


def test_the_reservation_names_its_holder_and_lets_only_its_own_migration_in(tmp_path: Path, monkeypatch) -> None:
    from odin_drills.errors import LockHeld
    from odin_drills.steps import lock

    monkeypatch.setenv("ODIN_HOME", str(tmp_path / "home"))
    journal = tmp_path / "journal.jsonl"
    journal.write_text("")
    assert lock.reserve("shop", plan="move", migration="m1", journal=journal) == "reserved"
    assert lock.reserve("shop", plan="move", migration="m1", journal=journal) == "held"  # a later phase of it
    with pytest.raises(LockHeld) as refused:
        lock.reserve("shop", plan="other", migration="m2", journal=tmp_path / "j2")
    assert "reserved by migration m1 of plan move" in refused.value.message
    with pytest.raises(LockHeld):
        lock.check_reservation("shop", None)  # a drill: refused too
    assert not lock.free("shop", "m2") and lock.free("shop", "m1")
    assert lock.reserve("shop", plan="other", migration="m2", journal=journal) == "reserved"
    journal.unlink()  # the holder's journal is gone: a stale reservation is taken over
    assert lock.check_reservation("shop", "m3") is None
