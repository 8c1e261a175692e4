"""Write-ahead Azure actions against the sandbox (real SDK over HTTPS): observe ▸ plan ▸ intent ▸
act ▸ outcome; a run "killed" after the continuation token was journaled is followed, not repeated.

A "kill" is a BaseException raised by a journal listener right after an entry is written: like
SIGKILL, nothing in odin catches it, so nothing after that entry runs (the kill matrix,
``tests/test_crash_matrix.py``, does the same with real SIGKILLs of the odin process).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from odin_drills.steps.intent import execute, open_intents, pending_undos, reconcile
from odin_drills.steps.journal import Journal
from odin_drills.steps.rollback import undo_completed

Drill = Any  # tests/azure/conftest.py


class Killed(BaseException):
    pass


def kill_after(journal: Journal, kind: str) -> None:
    def listener(entry: Any) -> None:
        if entry.kind == kind:
            raise Killed(kind)
    journal.subscribe(listener)


def sql(drill: Drill) -> Any:
    return drill.step({"kind": "azure.sql.failover", "name": "orders-db", "failover_group": "odin-fg",
                       "to_server": "odin-sql-westus", "resource_group": drill.rg})


def primary(drill: Drill) -> str:
    return drill.state()["failover_groups"]["odin-fg"]["primary_region"]


def failovers(drill: Drill) -> list[str]:
    return [m["details"]["server"] for m in drill.mutations() if m["operation"] == "failover" and m["result"] == "Succeeded"]


def run(drill: Drill, journal: Journal, step: Any) -> Any:
    return execute(journal, step, phase="t0", label=step.name, migration="m1", client=httpx.Client(),
                   clock=drill.clock, target=drill.session)


def test_the_undo_is_computed_from_the_state_read_and_journaled_before_any_arm_mutation(drill: Drill,
                                                                                       tmp_path: Path):
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)
    mutations_at_intent: list[int] = []
    journal.subscribe(lambda e: mutations_at_intent.append(len(drill.mutations())) if e.kind == "step_intent" else None)
    outcome = run(drill, journal, sql(drill))
    assert outcome.status == "ok" and primary(drill) == "westus"
    assert mutations_at_intent == [0]  # the intent was on disk before the POST
    intent = journal.entries("step_intent")[0].data
    assert intent["observable"] is True and intent["prior"]["to_role"] == "Secondary"
    assert intent["undo"]["to_server"].lower().endswith("/servers/odin-sql-eastus")
    assert journal.entries("step_finished")[0].data["undo"] == intent["undo"]
    (op,) = journal.entries("operation_started")
    assert op.data["operation"] == "begin_failover" and op.data["continuation_token"]


def test_a_run_killed_with_the_failover_in_flight_is_followed_from_its_token_never_repeated(drill: Drill,
                                                                                            tmp_path: Path):
    drill.sb.faults.add({"kind": "slow_operations", "seconds": 2.0, "operation": "failover"})
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)
    kill_after(journal, "operation_started")
    with pytest.raises(Killed):
        run(drill, journal, sql(drill))
    assert primary(drill) == "eastus"  # still in flight
    token = journal.entries("operation_started")[0].data["continuation_token"]
    raw = (tmp_path / "journal.jsonl").read_text()
    assert token in raw and "***" not in token  # a continuation token is not a credential: never masked
    assert json.loads(base64.b64decode(token))["version"]  # azure-core's own format, whole

    later = Journal(journal.path, drill.clock)
    (found,) = reconcile(later, target=drill.session)
    assert (found.verdict, found.how) == ("happened", "polled")
    assert primary(drill) == "westus" and failovers(drill) == ["odin-sql-westus"]
    assert [e.step for e in pending_undos(later.entries())] == ["orders-db"]
    # a resumed phase does not run it again; the rollback undoes it exactly once
    result = undo_completed(later, client=httpx.Client(), clock=drill.clock, target=drill.session, backoff_seconds=0)
    assert result.all_undone and primary(drill) == "eastus"
    assert failovers(drill) == ["odin-sql-westus", "odin-sql-eastus"]  # once per direction
    assert undo_completed(later, client=httpx.Client(), clock=drill.clock, target=drill.session).undone == []


def test_a_run_killed_after_its_intent_before_acting_has_nothing_to_undo(drill: Drill, tmp_path: Path):
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)
    kill_after(journal, "step_intent")
    with pytest.raises(Killed):
        run(drill, journal, sql(drill))
    later = Journal(journal.path, drill.clock)
    (found,) = reconcile(later, target=drill.session)
    assert found.verdict == "not_happened"
    assert pending_undos(later.entries()) == [] and open_intents(later.entries()) == []
    assert undo_completed(later, client=httpx.Client(), clock=drill.clock, target=drill.session).undone == []
    assert drill.mutations() == []  # no undo for a change that did not happen


def test_an_undo_killed_mid_flight_is_followed_and_recorded_not_run_again(drill: Drill, tmp_path: Path):
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)
    assert run(drill, journal, sql(drill)).status == "ok"
    drill.sb.faults.add({"kind": "slow_operations", "seconds": 2.0, "operation": "failover"})
    kill_after(journal, "operation_started")
    with pytest.raises(Killed):
        undo_completed(journal, client=httpx.Client(), clock=drill.clock, target=drill.session, backoff_seconds=0)
    later = Journal(journal.path, drill.clock)
    result = undo_completed(later, client=httpx.Client(), clock=drill.clock, target=drill.session, backoff_seconds=0)
    assert result.undone == []  # reconciled: the world shows the undo done
    finished = later.entries("undo_finished")
    assert [(f.data["status"], f.data["reconciled"]) for f in finished] == [("ok", "polled")]
    assert primary(drill) == "eastus" and failovers(drill) == ["odin-sql-westus", "odin-sql-eastus"]


def test_front_door_killed_between_its_patches_keeps_one_undo_for_every_field(drill: Drill, tmp_path: Path):
    step = drill.step({"kind": "azure.frontdoor.origins", "name": "fd", "profile": "odin-frontdoor",
                       "origin_group": "app-origins", "resource_group": drill.rg,
                       "origins": {"app-westus": {"priority": 1}, "app-eastus": {"priority": 2}}})
    journal = Journal(tmp_path / "journal.jsonl", drill.clock)
    kill_after(journal, "operation_started")  # after the first origin's PATCH was accepted
    with pytest.raises(Killed):
        run(drill, journal, step)
    later = Journal(journal.path, drill.clock)
    (found,) = reconcile(later, target=drill.session)
    assert found.verdict == "partial"  # part of the change is there: its undo (every field) is kept
    undo = pending_undos(later.entries())[0].data["undo"]
    assert undo["origins"] == {"app-westus": {"priority": 2}, "app-eastus": {"priority": 1}}
    # a resume runs it again to finish it: the second attempt changes only what is left, and the
    # step's undo stays the first attempt's (computed from the state before any change)
    again = run(drill, later, step)
    assert again.status == "ok"
    patched = [m["resource_id"].rsplit("/", 1)[-1] for m in drill.mutations() if m["operation"] == "origin_update"]
    assert patched == ["app-westus", "app-eastus"]  # each origin PATCHed once across both attempts
    assert pending_undos(later.entries())[0].data["undo"] == undo
    assert undo_completed(later, client=httpx.Client(), clock=drill.clock, target=drill.session,
                          backoff_seconds=0).all_undone
    origins = drill.state()["frontdoor_origins"]
    assert (origins["app-eastus"]["priority"], origins["app-westus"]["priority"]) == (1, 2)
