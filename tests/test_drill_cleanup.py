"""A drill leaves nothing behind: whatever ends it after the outage injection — a person's veto, an
error in a later phase, a kill -9 — the faults it injected and the changes it made are undone,
each exactly once, against the Azure sandbox's own ground truth (``/state``, ``/operations``,
``/faults``).

Real parts: the sandbox over HTTPS through the real azure-mgmt SDK clients, the real Prefect
server (``tests/conftest.py``), the real CLI in subprocesses. The Azure-target injector (the
primary taken out of Front Door) is exercised in-process against the sandbox. Every sandbox is
stopped in a ``finally``; every subprocess is run to its end or killed by its process group.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, run_odin
from tests.crash_harness import odin
from tests.test_drill_e2e import SCALE, azure_sandbox, run_drill, sandbox_env, sandbox_resources, write_drill  # noqa: F401

PRIMARY_ORIGINS = {"app-eastus": ("Enabled", 1), "app-westus": ("Enabled", 2)}


def origins(sandbox: Any) -> dict[str, tuple[str, int]]:
    return {name: (o["enabledState"], int(o["priority"])) for name, o in sandbox.state()["frontdoor_origins"].items()}


def sql_failovers(sandbox: Any) -> Counter[str]:
    """Succeeded failovers by the server made primary (one per direction at most)."""
    return Counter(op["details"].get("server", "?") for op in sandbox.operations()
                   if op["operation"] in ("failover", "forceFailoverAllowDataLoss", "tryPlannedBeforeForcedFailover")
                   and op["result"] == "Succeeded")


def origin_updates(sandbox: Any) -> Counter[str]:
    return Counter(op["resource_id"].rsplit("/", 1)[-1] for op in sandbox.operations()
                   if op["operation"] == "origin_update" and op["result"] == "Succeeded")


def active_faults(sandbox: Any) -> list[dict[str, Any]]:
    return httpx.get(f"{sandbox.info()['admin_url']}/faults", timeout=10).json()


def assert_put_back(sandbox: Any) -> None:
    """The world as before the drill: no fault, SQL primary in eastus, Front Door on eastus first,
    and every failover and origin change made at most once and undone exactly once."""
    assert active_faults(sandbox) == []
    assert sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "eastus"
    assert origins(sandbox) == PRIMARY_ORIGINS
    moves = sql_failovers(sandbox)
    assert moves["odin-sql-westus"] == moves["odin-sql-eastus"] <= 1, moves
    assert all(n in (0, 2) for n in origin_updates(sandbox).values()), origin_updates(sandbox)


def drill_journal(home: str, plan: str) -> list[dict[str, Any]]:
    folders = sorted((Path(home) / "drills" / plan).glob("*/journal.jsonl"))
    assert folders, "no drill journal"
    return [json.loads(line) for line in folders[-1].read_text().splitlines() if line.strip()]


def undone_once(entries: list[dict[str, Any]]) -> Counter[str]:
    """Undos that finished ok, by the undone step's identity."""
    return Counter(e["data"].get("key") for e in entries if e["kind"] == "undo_finished" and e["data"]["status"] == "ok")


def plan_for(tmp_path: Path, sandbox: Any, name: str, **extra: Any) -> Path:
    return write_drill(tmp_path, name, resources=sandbox_resources(sandbox.info(), "forced", True),
                       canary={"enabled": False}, **extra)


# ---------------------------------------------------------------- the drill's own cleanup

def test_a_vetoed_drill_ends_its_injected_outage(azure_sandbox: Any, odin_env: dict, tmp_path: Path) -> None:
    plan = plan_for(tmp_path, azure_sandbox, "vetoed-drill",
                    decision={"human_confirm": True, "confirm_timeout": "1m", "on_confirm_timeout": "abort"})
    result = run_drill(plan, sandbox_env(odin_env, tmp_path))
    assert result.returncode == 3, result.stderr[-3000:]
    entries = drill_journal(odin_env["ODIN_HOME"], "vetoed-drill")
    assert [e["data"]["action"] for e in entries if e["kind"] == "decision"] == ["veto"]
    assert [e["kind"] for e in entries].count("outage_cleared") == 1
    assert_put_back(azure_sandbox)
    assert sql_failovers(azure_sandbox) == Counter() and origin_updates(azure_sandbox) == Counter()


@pytest.mark.parametrize("after", ["failover", "validate"])
def test_an_error_after_the_failover_undoes_the_failover_and_the_outage(after: str, azure_sandbox: Any, odin_env: dict,
                                                                       tmp_path: Path) -> None:
    plan = plan_for(tmp_path, azure_sandbox, f"broken-after-{after}")
    env = sandbox_env(odin_env, tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "tests.drill_interrupted", str(plan), str(SCALE), after],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=30)
    assert process.returncode == 4, err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["outcome"] == "failed" and f"injected failure after {after}" in summary["detail"]
    entries = drill_journal(odin_env["ODIN_HOME"], f"broken-after-{after}")
    changed = {f"{e['phase']}/{e['step']}" for e in entries if e["kind"] == "step_finished" and e["data"]["status"] == "ok"
               and e["data"].get("undo")}
    assert len(changed) == 2  # the SQL failover group and Front Door both moved before the failure ...
    assert undone_once(entries) == Counter({key: 1 for key in changed})  # ... and each was undone once
    assert all(e["phase"] == "cleanup" for e in entries if e["kind"] == "undo_started")
    assert sql_failovers(azure_sandbox) == Counter({"odin-sql-westus": 1, "odin-sql-eastus": 1})
    assert_put_back(azure_sandbox)


def test_the_azure_injector_s_outage_is_undone_by_the_cleanup(azure_sandbox: Any, tmp_path: Path) -> None:
    """On an Azure target the outage is the primary taken out of Front Door (a journaled change):
    ``clear()`` changes nothing itself, the cleanup runs its undo, once."""
    from odin_drills.flows.drill_target import sandbox_resources as resolved
    from odin_drills.plan.drill import load_drill
    from odin_drills.plan.models import SandboxTarget
    from odin_drills.steps.clock import ScaledClock
    from odin_drills.steps.dr.cleanup import clean_up
    from odin_drills.steps.dr.outage import FrontDoorOutage
    from odin_drills.steps.dr.run import DrillOptions, DrillRun
    from odin_drills.steps.journal import Journal

    info = azure_sandbox.info()
    plan = load_drill(plan_for(tmp_path, azure_sandbox, "azure-injector"))
    resources, _, problems = resolved(plan, info)
    assert not problems
    clock = ScaledClock(SCALE)
    journal = Journal(tmp_path / "journal.jsonl", clock)
    run = DrillRun(plan=plan, drill_id="d1", mode="drill", options=DrillOptions(), clock=clock, journal=journal,
                   endpoints=plan.resolve_endpoints(info), resources=resources,
                   target=SandboxTarget(arm_url=info["arm_url"], ca_cert=info["ca_cert"],
                                        subscription_id=info["subscription_id"]))
    try:
        run.outage = FrontDoorOutage(run)
        run.outage.inject()
        assert origins(azure_sandbox)["app-eastus"][0] == "Disabled"
        intent = [e for e in journal.entries() if e.kind == "step_intent"]
        assert len(intent) == 1 and intent[0].phase == "detect"  # write-ahead, before Front Door was touched
        run.outage.clear()
        assert origins(azure_sandbox)["app-eastus"][0] == "Disabled"  # clear() alone changes nothing
        done = clean_up(run, "the outage was not confirmed")
        assert done.undone == [(intent[0].step, True)]
        assert origins(azure_sandbox) == PRIMARY_ORIGINS
        assert clean_up(run, "again").undone == []  # never undone twice
        assert origin_updates(azure_sandbox) == Counter({"app-eastus": 2})
    finally:
        run.close()


# ---------------------------------------------------------------- after a crash: odin rollback

@pytest.mark.parametrize(("kill", "what"), [
    ("step_intent:2", "SQL failed over; Front Door's intent journaled, not yet sent"),
    ("step_finished:2", "both failovers done, before validation"),
    ("outage_injected:1", "the outage injected, nothing failed over"),
])
def test_a_killed_drill_is_undone_by_odin_rollback(kill: str, what: str, azure_sandbox: Any, odin_env: dict,
                                                   tmp_path: Path) -> None:
    plan = plan_for(tmp_path, azure_sandbox, "killed-drill")
    env = sandbox_env(odin_env, tmp_path)
    crashed = odin(["drill", str(plan), "--time-scale", str(SCALE), "--quiet"], env, crash=kill, timeout=240)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    assert active_faults(azure_sandbox), "the kill left the injected outage in place"

    back = run_odin(["rollback", str(plan), "--reason", "drill killed", "--by", "erin", "--time-scale", str(SCALE)],
                    env=env)
    assert back.returncode == 3, back.stdout[-2000:] + back.stderr[-3000:]
    assert "rolled back, healthy" in back.stdout
    assert_put_back(azure_sandbox)
    entries = drill_journal(odin_env["ODIN_HOME"], "killed-drill")
    assert all(n == 1 for n in undone_once(entries).values())
    if kill == "step_intent:2":  # the Front Door intent with no outcome: seen not to have happened, not undone
        verdicts = [e["data"]["verdict"] for e in entries if e["kind"] == "step_reconciled"]
        assert verdicts == ["not_happened"]
        assert origin_updates(azure_sandbox) == Counter()

    again = run_odin(["rollback", str(plan), "--reason", "again", "--by", "erin"], env=env)
    assert again.returncode == 0 and "nothing to undo" in again.stdout, again.stderr[-3000:]


def test_a_killed_drill_on_its_own_sandbox_has_nothing_left_to_undo(odin_env: dict, tmp_path: Path) -> None:
    """A drill that started its sandbox in-process took it down with it when killed: the rollback
    says so (exit 0) instead of failing on an endpoint that no longer exists."""
    plan = write_drill(tmp_path, "own-sandbox-drill", canary={"enabled": False})
    env = {k: v for k, v in odin_env.items() if not k.startswith("ODIN_SANDBOX_")}
    crashed = odin(["drill", str(plan), "--time-scale", str(SCALE), "--quiet"], env, crash="outage_injected:1",
                   timeout=240)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    entries = drill_journal(env["ODIN_HOME"], "own-sandbox-drill")
    assert [e["data"]["action"] for e in entries if e["kind"] == "sandbox"] == ["started in-process"]
    back = run_odin(["rollback", str(plan), "--reason", "drill killed", "--by", "erin"], env=env)
    assert back.returncode == 0, back.stderr[-3000:]
    assert "nothing to undo: the sandbox the drill started stopped with it" in back.stdout


def test_rollback_of_a_drill_names_a_missing_drill_in_one_line(azure_sandbox: Any, odin_env: dict,
                                                              tmp_path: Path) -> None:
    plan = plan_for(tmp_path, azure_sandbox, "no-such-drill")
    result = run_odin(["rollback", str(plan), "--reason", "x", "--by", "erin", "--drill", "20200101T000000Z-abcd"],
                      env=sandbox_env(odin_env, tmp_path))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and "no drill '20200101T000000Z-abcd' of 'no-such-drill'" in errors[0], result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- killed at the newer boundaries

def journal_file(home: str, plan: str) -> Path:
    return sorted((Path(home) / "drills" / plan).glob("*/journal.jsonl"))[-1]


def nothing_pending(home: str, plan: str) -> bool:
    """No change awaiting its undo, no intent awaiting its verdict, no injected fault left (odin's own reading)."""
    from odin_drills.steps.dr.cleanup import nothing_to_undo
    from odin_drills.steps.journal import read_journal

    return nothing_to_undo(read_journal(journal_file(home, plan)))


def rollback_args(plan: Path, *extra: str) -> list[str]:
    return ["rollback", str(plan), "--reason", "drill killed", "--by", "erin", "--time-scale", str(SCALE), *extra]


def test_a_drill_killed_while_validation_measures_is_undone_by_odin_rollback(azure_sandbox: Any, odin_env: dict,
                                                                             tmp_path: Path) -> None:
    """Killed right after the first ``validation_criterion`` (failed over, the DR region measured)."""
    info = azure_sandbox.info()
    plan = plan_for(tmp_path, azure_sandbox, "killed-measuring-drill",
                    metrics={"kind": "synthetic_probe", "url": info["regions"]["westus"] + "/health",
                             "rate_per_second": 200, "timeout": "2s", "min_window_wall_seconds": 1.0},
                    validation={"watch": "8m", "interval": "1m"},
                    policy={"floors": {"latency_ms": 10_000}, "absolute": {"p95_latency_ms": None}},
                    decision={"on_worse_after_failover": "fail_back"})
    env = sandbox_env(odin_env, tmp_path)
    crashed = odin(["drill", str(plan), "--time-scale", str(SCALE), "--quiet"], env, crash="validation_criterion:1",
                   timeout=240)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    entries = drill_journal(odin_env["ODIN_HOME"], "killed-measuring-drill")
    assert entries[-1]["kind"] == "validation_criterion" and entries[-1]["phase"] == "validate"
    assert active_faults(azure_sandbox) and sql_failovers(azure_sandbox) == Counter({"odin-sql-westus": 1})

    back = odin(rollback_args(plan), env)
    assert back.returncode == 3 and "rolled back, healthy" in back.stdout, back.stdout[-2000:] + back.stderr[-3000:]
    assert_put_back(azure_sandbox)
    entries = drill_journal(odin_env["ODIN_HOME"], "killed-measuring-drill")
    changed = {f"{e['phase']}/{e['step']}" for e in entries
               if e["kind"] == "step_finished" and e["data"]["status"] == "ok" and e["data"].get("undo")}
    assert len(changed) == 2 and undone_once(entries) == Counter({key: 1 for key in changed})
    assert nothing_pending(odin_env["ODIN_HOME"], "killed-measuring-drill")


def test_an_incident_killed_at_its_service_health_reading_leaves_nothing_to_undo_and_can_run_again(
        azure_sandbox: Any, odin_env: dict, tmp_path: Path) -> None:
    """Killed right after it journaled what Azure says (``service_health``), before deciding: nothing
    of the world is odin's, so the rollback undoes nothing and leaves the real outage alone; the
    incident run started again is not blocked by the dead one and fails over, once."""
    from tests.test_incident_failover import incident_plan

    plan = incident_plan(tmp_path, azure_sandbox.info(), "killed-incident")
    outage = azure_sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
    azure_sandbox.set_resolution_eta("eastus", 3 * 3600 / SCALE)  # beyond the 30 min limit: fail over
    env = sandbox_env(odin_env, tmp_path)
    failover = ["failover", str(plan), "--incident", "--no-confirm", "--time-scale", str(SCALE), "--quiet"]
    crashed = odin(failover, env, crash="service_health:1", timeout=240)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    entries = drill_journal(odin_env["ODIN_HOME"], "killed-incident")
    assert entries[-1]["kind"] == "service_health" and entries[-1]["data"]["event_id"]
    assert not any(e["kind"] in ("decision", "step_intent", "step_started") for e in entries)

    back = odin(rollback_args(plan), env)
    assert back.returncode == 0 and "nothing to undo" in back.stdout, back.stdout[-2000:] + back.stderr[-3000:]
    assert [f["id"] for f in active_faults(azure_sandbox)] == [outage["id"]]  # the outage was never odin's
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "eastus"
    assert sql_failovers(azure_sandbox) == Counter() and origin_updates(azure_sandbox) == Counter()

    again = odin(failover, env, timeout=240)
    assert again.returncode in (0, 3), again.stdout[-2000:] + again.stderr[-3000:]
    assert sql_failovers(azure_sandbox) == Counter({"odin-sql-westus": 1})
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "westus"
    rerun = drill_journal(odin_env["ODIN_HOME"], "killed-incident")
    assert [e["data"]["action"] for e in rerun if e["kind"] == "decision"] == ["fail_over"]


def test_a_drill_killed_while_waiting_for_its_failback_window_still_keeps_to_it(azure_sandbox: Any, odin_env: dict,
                                                                               tmp_path: Path) -> None:
    """Killed right after it journaled the ``failback_window`` wait: the service stays in the DR region;
    ``odin rollback`` outside the window is refused (one line, journal and world untouched), with
    ``--force`` it fails back, journaled as forced, and nothing is left pending."""
    from datetime import datetime, timedelta, timezone

    opens = (datetime.now(timezone.utc) + timedelta(minutes=40)).replace(microsecond=0)
    closes = opens + timedelta(hours=2)
    plan = plan_for(tmp_path, azure_sandbox, "killed-waiting-drill",
                    failback={"enabled": True, "wait_healthy": "2m", "window_wait": "3h",
                              "window": {"start": f"{opens:%H:%M:%S}", "end": f"{closes:%H:%M:%S}", "timezone": "UTC"}})
    env = sandbox_env(odin_env, tmp_path)
    crashed = odin(["drill", str(plan), "--time-scale", str(SCALE), "--quiet"], env, crash="failback_window:1",
                   timeout=240)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    home = odin_env["ODIN_HOME"]
    wait = drill_journal(home, "killed-waiting-drill")[-1]
    assert (wait["kind"], wait["data"]["action"]) == ("failback_window", "wait")
    assert active_faults(azure_sandbox) == []  # the outage was over: only the failback waited
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "westus"

    def world_and_journal() -> tuple[str, Any, int]:
        return (journal_file(home, "killed-waiting-drill").read_text(), origins(azure_sandbox),
                len(azure_sandbox.operations()))

    before = world_and_journal()
    refused = odin(rollback_args(plan), env)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1, refused.stdout[-2000:] + refused.stderr[-3000:]
    assert "failback.window" in lines[0] and "wait for it, or pass --force" in lines[0]
    assert world_and_journal() == before
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "westus"

    forced = odin(rollback_args(plan, "--force"), env)
    assert forced.returncode == 3 and "rolled back, healthy" in forced.stdout, \
        forced.stdout[-2000:] + forced.stderr[-3000:]
    entries = drill_journal(home, "killed-waiting-drill")
    said = [e["data"] for e in entries if e["kind"] == "failback_window"]
    assert [s["action"] for s in said] == ["wait", "forced"] and said[-1]["by"] == "erin"
    assert said[-1]["reason"].endswith("forced with --force by erin: drill killed")
    assert_put_back(azure_sandbox)
    assert all(n == 1 for n in undone_once(entries).values()) and len(undone_once(entries)) == 2
    assert nothing_pending(home, "killed-waiting-drill")


# ---------------------------------------------------------------- the drill's own outage, outside failback.window

def window_plan(tmp_path: Path, sandbox: Any, name: str) -> Path:
    """A drill whose ``failback.window`` opens 40 minutes from now: every rollback here runs outside it."""
    from datetime import datetime, timedelta, timezone

    opens = (datetime.now(timezone.utc) + timedelta(minutes=40)).replace(microsecond=0)
    closes = opens + timedelta(hours=2)
    return plan_for(tmp_path, sandbox, name,
                    failback={"enabled": True, "wait_healthy": "2m", "window_wait": "3h",
                              "window": {"start": f"{opens:%H:%M:%S}", "end": f"{closes:%H:%M:%S}", "timezone": "UTC"}})


def window_actions(entries: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["action"] for e in entries if e["kind"] == "failback_window"]


def killed_with_its_outage_in_place(sandbox: Any, odin_env: dict, tmp_path: Path, name: str,
                                    crash: str) -> tuple[Path, dict, str]:
    """A ``window_plan`` drill killed at ``crash`` with its fault still in place: (plan, env, ODIN_HOME)."""
    plan = window_plan(tmp_path, sandbox, name)
    env, home = sandbox_env(odin_env, tmp_path), odin_env["ODIN_HOME"]
    crashed = odin(["drill", str(plan), "--time-scale", str(SCALE), "--quiet"], env, crash=crash, timeout=240)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-3000:]
    assert active_faults(sandbox), "the kill left the drill's outage in place"
    return plan, env, home


def test_a_drill_killed_after_failing_over_has_its_own_outage_ended_outside_its_failback_window_and_the_failback_waits(
        azure_sandbox: Any, odin_env: dict, tmp_path: Path) -> None:
    """Killed with both failovers done and its fault still in place: ``odin rollback`` outside
    ``failback.window`` removes the fault at once (the outage was the drill's own), leaves the failover
    group and Front Door in the DR region and exits 5 with one line naming the window; a second one is
    refused as before (only the failback is left); ``--force`` puts the rest back, each undo once,
    without removing the outage again."""
    plan, env, home = killed_with_its_outage_in_place(azure_sandbox, odin_env, tmp_path, "killed-failed-over-drill",
                                                      "step_finished:2")
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "westus"
    failed_over = origins(azure_sandbox)
    assert failed_over["app-eastus"][0] == "Disabled"

    ended = odin(rollback_args(plan), env)
    assert ended.returncode == 5, ended.stdout[-2000:] + ended.stderr[-3000:]
    said = [line for line in ended.stdout.splitlines() if line.startswith("drill ")]
    assert len(said) == 1 and "Traceback" not in ended.stderr, ended.stdout[-2000:] + ended.stderr[-3000:]
    assert "the drill's own outage was ended (1 injected fault(s) removed)" in said[0]
    assert "failback.window" in said[0] and "it opens next at" in said[0] and "--force" in said[0], said[0]
    assert "(exit 5)" in said[0] and "rolled back" not in said[0]
    assert active_faults(azure_sandbox) == []  # the outage is over ...
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "westus"  # ... the failover stays
    assert origins(azure_sandbox) == failed_over
    entries = drill_journal(home, "killed-failed-over-drill")
    assert window_actions(entries) == ["outage_ended_outside_window"]
    mark = next(e for e in entries if e["kind"] == "failback_window")
    assert mark["data"]["by"] == "erin" and mark["data"]["reason"].endswith(
        "the drill's own outage was ended at once by erin: drill killed; the failback keeps to the window")
    assert [e["kind"] for e in entries].count("outage_cleared") == 1
    assert not any(e["kind"] in ("undo_started", "rollback_started") for e in entries)
    assert [e["data"]["outcome"] for e in entries if e["kind"] == "run_finished"][-1] == "outage_ended"
    assert not nothing_pending(home, "killed-failed-over-drill")

    before = (journal_file(home, "killed-failed-over-drill").read_text(), len(azure_sandbox.operations()))
    refused = odin(rollback_args(plan), env)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1, refused.stdout[-2000:] + refused.stderr[-3000:]
    assert "failback.window" in lines[0] and "wait for it, or pass --force" in lines[0]
    assert (journal_file(home, "killed-failed-over-drill").read_text(), len(azure_sandbox.operations())) == before

    forced = odin(rollback_args(plan, "--force"), env)
    assert forced.returncode == 3 and "rolled back, healthy" in forced.stdout, \
        forced.stdout[-2000:] + forced.stderr[-3000:]
    assert "0 injected fault(s) removed" in forced.stdout
    entries = drill_journal(home, "killed-failed-over-drill")
    assert window_actions(entries) == ["outage_ended_outside_window", "forced"]
    assert [e["kind"] for e in entries].count("outage_cleared") == 1  # never removed twice
    assert_put_back(azure_sandbox)
    assert all(n == 1 for n in undone_once(entries).values()) and len(undone_once(entries)) == 2
    assert nothing_pending(home, "killed-failed-over-drill")


def test_a_drill_killed_right_after_its_outage_began_is_put_back_outside_its_failback_window(
        azure_sandbox: Any, odin_env: dict, tmp_path: Path) -> None:
    """Killed at ``outage_injected:1``: nothing failed over, so ending the outage is the whole rollback —
    outside the window too (the window is for the failback): the fault removed, the service re-checked,
    exit 3; the next rollback, ``--force`` or not, has nothing to undo."""
    plan, env, home = killed_with_its_outage_in_place(azure_sandbox, odin_env, tmp_path, "killed-injected-drill",
                                                      "outage_injected:1")

    back = odin(rollback_args(plan), env)
    assert back.returncode == 3 and "rolled back, healthy" in back.stdout, back.stdout[-2000:] + back.stderr[-3000:]
    assert "nothing had failed over, so nothing waits for failback.window" in back.stdout
    assert_put_back(azure_sandbox)
    assert sql_failovers(azure_sandbox) == Counter() and origin_updates(azure_sandbox) == Counter()
    entries = drill_journal(home, "killed-injected-drill")
    assert window_actions(entries) == ["outage_ended_outside_window"]
    assert [e["kind"] for e in entries].count("outage_cleared") == 1
    assert nothing_pending(home, "killed-injected-drill")

    for extra in ((), ("--force",)):
        again = odin(rollback_args(plan, *extra), env)
        assert again.returncode == 0 and "nothing to undo" in again.stdout, again.stdout[-2000:] + again.stderr[-3000:]
    assert [e["kind"] for e in drill_journal(home, "killed-injected-drill")].count("outage_cleared") == 1


def test_an_azure_drill_s_own_outage_is_ended_alone_unless_front_door_has_failed_over_since(
        azure_sandbox: Any, tmp_path: Path) -> None:
    """On an Azure target the outage is the primary taken out of Front Door: ``end_outage`` runs that
    change's undo once and no other; once the failover moved Front Door too, putting the primary back
    would move traffic home — the failback's — so the outage counts as not the drill's alone to end."""
    from odin_drills.flows.drill_target import sandbox_resources as resolved
    from odin_drills.plan.drill import load_drill
    from odin_drills.plan.models import SandboxTarget
    from odin_drills.steps.clock import ScaledClock
    from odin_drills.steps.dr.cleanup import clean_up, end_outage, outage_in_place, own_outage_undo
    from odin_drills.steps.dr.failover import execute_action, frontdoor_step
    from odin_drills.steps.dr.outage import FrontDoorOutage
    from odin_drills.steps.dr.run import Action, DrillOptions, DrillRun
    from odin_drills.steps.journal import Journal

    info = azure_sandbox.info()
    plan = load_drill(plan_for(tmp_path, azure_sandbox, "azure-own-outage"))
    resources, _, problems = resolved(plan, info)
    assert not problems
    target = SandboxTarget(arm_url=info["arm_url"], ca_cert=info["ca_cert"], subscription_id=info["subscription_id"])

    def drill_run(name: str) -> DrillRun:
        clock = ScaledClock(SCALE)
        return DrillRun(plan=plan, drill_id=name, mode="drill", options=DrillOptions(), clock=clock,
                        journal=Journal(tmp_path / name / "journal.jsonl", clock),
                        endpoints=plan.resolve_endpoints(info), resources=resources, target=target)

    alone = drill_run("alone")
    try:
        FrontDoorOutage(alone).inject()
        assert outage_in_place(alone.journal.entries())
        done = end_outage(alone.journal, drill="alone", target=target, client=alone.client, clock=alone.clock,
                          faults=None)
        assert [ok for _, ok in done.undone] == [True] and origins(azure_sandbox) == PRIMARY_ORIGINS
        entries = alone.journal.entries()
        assert own_outage_undo(entries) is None and not outage_in_place(entries)
        assert all(e.phase == "outage" for e in entries if e.kind in ("undo_started", "undo_finished"))
        assert end_outage(alone.journal, drill="alone", target=target, client=alone.client, clock=alone.clock,
                          faults=None).undone == []  # never undone twice
    finally:
        alone.close()

    moved = drill_run("moved")
    try:
        FrontDoorOutage(moved).inject()
        failover = Action("frontdoor -> westus", frontdoor_step(moved, primary_enabled=False, dr_priority=1))
        assert execute_action(moved, failover, "failover").succeeded
        assert own_outage_undo(moved.journal.entries()) is None and not outage_in_place(moved.journal.entries())
        assert clean_up(moved, "test over").all_undone  # the failover's undo, then the outage's: home again
        assert origins(azure_sandbox) == PRIMARY_ORIGINS
    finally:
        moved.close()
