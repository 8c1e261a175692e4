"""A drill file's own steps (``steps.failover``) on the migration's machinery, against the Azure
sandbox's ground truth: its DNS name server asked over real UDP, ``/state``, the journal.

  * a DNS record moved by an ``azure.dns.records`` failover step answers the DR host after the
    failover and the primary's again after the failback; the step's intent is journaled before
    it acts, and its undo runs after the data tier is failed back, once;
  * a failover step that fails rolls the drill back as a failed SQL failover does: what failed over
    (SQL, Front Door, DNS) is put back, the steps after it are skipped, the outcome says why;
  * a drill killed after its DNS step is put back by ``odin rollback``, data first, nothing twice.

Real parts: the CLI in subprocesses, the real Prefect server, the SDK over HTTPS to a sandbox each
test owns and stops (``azure_sandbox``); the DNS watcher thread is stopped in a ``finally``.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.azure.test_azure_dns_records import EAST, WEST, answers
from tests.conftest import run_odin
from tests.crash_harness import odin
from tests.test_drill_cleanup import PRIMARY_ORIGINS, drill_journal, origins, undone_once
from tests.test_drill_e2e import (SCALE, azure_sandbox, journal_of, only, run_drill, sandbox_env,  # noqa: F401
                                  sandbox_resources, write_drill)


def dns_step(info: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"kind": "azure.dns.records", "name": "app-dns", "zone": info["resources"]["dns_zones"][0],
            "record_set": "app", "type": "CNAME", "targets": [WEST], "ttl": 30, **fields}


def dns_now(info: dict[str, Any]) -> list[str]:
    return answers(SimpleNamespace(info=info))


@contextmanager
def dns_watched(info: dict[str, Any]) -> Iterator[list[str]]:
    """Every change of what the name server answers for app., asked every 50 ms while the drill runs."""
    seen: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.05):
            now = ",".join(dns_now(info))
            if not seen or seen[-1] != now:
                seen.append(now)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(timeout=5)


def step_entries(entries: list[dict[str, Any]], step: str) -> list[tuple[str, str | None]]:
    """The step's write-ahead and undo entries, in journal order."""
    kinds = ("step_started", "step_intent", "step_finished", "undo_started", "undo_finished")
    return [(e["kind"], e["phase"]) for e in entries if e.get("step") == step and e["kind"] in kinds]


def test_a_dns_failover_step_answers_the_dr_host_after_the_failover_and_the_primary_after_the_failback(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:
    info = azure_sandbox.info()
    plan = write_drill(tmp_path, "dns-drill", resources=sandbox_resources(info, "forced", True),
                       steps={"failover": [dns_step(info)]})
    with dns_watched(info) as seen:
        result = run_drill(plan, sandbox_env(odin_env, tmp_path))
    assert result.returncode == 0, result.stderr[-4000:]
    card = json.loads(result.stdout)
    assert all(card["criteria"].values()), card["criteria"]
    assert seen == [EAST, WEST, EAST]  # the name server itself: DR host after the failover, primary after
    assert dns_now(info) == [EAST]

    # write-ahead: started, intent (the old CNAME and its undo) before the PUT, outcome after;
    # the undo at failback, once, after the failover group was failed back and before Front Door
    entries = journal_of(card["report"])
    assert step_entries(entries, "app-dns") == [("step_started", "failover"), ("step_intent", "failover"),
                                                ("step_finished", "failover"), ("undo_started", "failback"),
                                                ("undo_finished", "failback")]
    intent = next(e["data"] for e in entries if e["kind"] == "step_intent" and e["step"] == "app-dns")
    assert intent["prior"]["targets"] == [EAST] and intent["undo"]["targets"] == [EAST]
    finished = next(e["data"] for e in entries if e["kind"] == "step_finished" and e["step"] == "app-dns")
    assert finished["status"] == "ok" and finished["output"]["name_servers"] == {info["dns_server"]: [WEST]}
    undone = [(e["phase"], e["step"].split()[0]) for e in entries
              if e["kind"] == "undo_finished" and e["data"]["status"] == "ok"]
    assert undone == [("failback", "sql"), ("failback", "app-dns"), ("failback", "frontdoor")], undone
    assert set(undone_once(entries).values()) == {1}
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "eastus"
    report = Path(card["report"]).read_text()
    assert "| failover | app-dns | ok |" in report and "| failback | undo: app-dns | ok |" in report


def test_a_failed_failover_step_rolls_the_drill_back_and_says_why(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:
    """An app outage, a planned failover; then DNS moves and a check of the DR region fails (exit 1,
    expected 0): the drill rolls back like a failed SQL wave, and the step after it never runs."""
    info = azure_sandbox.info()
    check = {"kind": "command", "name": "dr-config-check", "argv": ["false"],
             "undo": "none", "undo_reason": "a check changes nothing"}
    after = {"kind": "wait", "name": "settle", "duration": "10s"}
    plan = write_drill(tmp_path, "step-fails", resources=sandbox_resources(info, "planned", False),
                       outage={"kind": "app"}, canary={"enabled": False},
                       steps={"failover": [dns_step(info), check, after]})
    result = run_drill(plan, sandbox_env(odin_env, tmp_path))
    assert result.returncode == 3, result.stderr[-4000:]
    entries = journal_of(json.loads(result.stdout)["report"])
    outcome = only(entries, "run_finished")["data"]
    assert outcome["outcome"] == "rolled_back_healthy", outcome
    assert outcome["detail"].startswith("failover step dr-config-check failed (false exited 1, expected 0"), outcome
    assert "the critical smoke journeys pass through Front Door" in outcome["detail"]

    skipped = only(entries, "step_skipped")
    assert (skipped["step"], skipped["phase"]) == ("settle", "failover")
    assert skipped["data"]["reason"] == "steps.failover: dr-config-check failed before it"
    undone = [(e["phase"], e["step"].split()[0], e["data"]["status"]) for e in entries if e["kind"] == "undo_finished"]
    assert undone == [("cleanup", "sql", "ok"), ("cleanup", "app-dns", "ok"), ("cleanup", "frontdoor", "ok")], undone
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "eastus"
    assert origins(azure_sandbox) == PRIMARY_ORIGINS and dns_now(info) == [EAST]


def test_a_drill_killed_after_its_dns_step_is_put_back_by_odin_rollback_data_first_and_once(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:
    info = azure_sandbox.info()
    plan = write_drill(tmp_path, "killed-dns", resources=sandbox_resources(info, "forced", True),
                       canary={"enabled": False}, steps={"failover": [dns_step(info)]})
    env = sandbox_env(odin_env, tmp_path)
    crashed = odin(["drill", str(plan), "--time-scale", str(SCALE), "--quiet"], env, crash="step_finished:3",
                   timeout=240)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    assert dns_now(info) == [WEST]

    back = run_odin(["rollback", str(plan), "--reason", "drill killed", "--by", "erin", "--time-scale", str(SCALE)],
                    env=env)
    assert back.returncode == 3 and "rolled back, healthy" in back.stdout, back.stdout[-2000:] + back.stderr[-3000:]
    entries = drill_journal(odin_env["ODIN_HOME"], "killed-dns")
    undone = [e["step"].split()[0] for e in entries if e["kind"] == "undo_finished" and e["data"]["status"] == "ok"]
    assert undone == ["sql", "app-dns", "frontdoor"], undone
    assert set(undone_once(entries).values()) == {1}
    assert dns_now(info) == [EAST] and origins(azure_sandbox) == PRIMARY_ORIGINS
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "eastus"

    again = run_odin(["rollback", str(plan), "--reason", "again", "--by", "erin"], env=env)
    assert again.returncode == 0 and "nothing to undo" in again.stdout, again.stderr[-3000:]
