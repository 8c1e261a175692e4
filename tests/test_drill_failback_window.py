"""The failback in its low-traffic window (issue 12), end to end against the Azure sandbox:

  * a drill whose ``failback.window`` opens later in plan time waits for it — the wait journaled
    before, with the window's start — and then fails back: the undos and the drill file's
    ``steps.failback`` all after the window's start; DNS answers the primary again only because
    that failback step moved it (the failover's DNS step says ``undo: none``);
  * a window that does not open within ``failback.window_wait``: no failback, said in the journal
    and the scorecard, the service left in the DR region; then ``odin rollback --drill ID`` outside
    the window is refused in one line (exit 2, nothing touched), with ``--force`` it fails back —
    data tier, traffic, then ``steps.failback`` — journaling who forced it, and a second rollback
    has nothing to do.

Real parts: the CLI in subprocesses, the session's Prefect server, the SDK over HTTPS to a sandbox
each test owns and stops (``azure_sandbox``), the sandbox's name server over UDP. Plan time runs
60× (a plan minute per wall second), and the window is placed in plan time from the wall clock,
since a drill's plan clock starts at the wall clock's now.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tests.azure.test_azure_dns_records import EAST, WEST
from tests.conftest import run_odin
from tests.test_drill_cleanup import PRIMARY_ORIGINS, origins
from tests.test_drill_custom_steps import dns_now, dns_step, dns_watched
from tests.test_drill_e2e import (SCALE, at, azure_sandbox, journal_of, only, run_drill, sandbox_env,  # noqa: F401
                                  sandbox_resources, write_drill)

WAIT_FOR = timedelta(minutes=40)
"""How far in plan time the window opens after the drill starts: well past its failback (about 8–10
plan minutes in at 60× on a quiet machine; a loaded CI worker takes longer), so the drill waits the rest (a wall
second per plan minute)."""


def home_steps(info: dict[str, Any]) -> dict[str, Any]:
    """The failover moves DNS to the DR host for good (``undo: none``); the failback's own step brings it home."""
    return {"failover": [dns_step(info, undo="none", undo_reason="steps.failback moves app. home")],
            "failback": [dns_step(info, name="app-dns-home", targets=[EAST])]}


def failback(start: datetime, hours: float, window_wait: str) -> dict[str, Any]:
    end = start + timedelta(hours=hours)
    return {"enabled": True, "wait_healthy": "2m", "window_wait": window_wait,
            "window": {"start": f"{start:%H:%M:%S}", "end": f"{end:%H:%M:%S}", "timezone": "UTC"}}


def test_a_drill_waits_for_the_failback_window_then_fails_back_inside_it(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:
    info = azure_sandbox.info()
    opens = (datetime.now(timezone.utc) + WAIT_FOR).replace(microsecond=0)
    plan = write_drill(tmp_path, "window-wait", resources=sandbox_resources(info, "forced", True),
                       steps=home_steps(info), failback=failback(opens, 2, "3h"))
    with dns_watched(info) as seen:
        result = run_drill(plan, sandbox_env(odin_env, tmp_path), timeout=240)
    assert result.returncode == 0, result.stderr[-4000:]
    card = json.loads(result.stdout)
    assert all(card["criteria"].values()), card["criteria"]
    assert card["criteria"]["failback_in_window"] is True

    entries = journal_of(card["report"])
    wait = only(entries, "failback_window")
    assert wait["phase"] == "failback" and wait["data"]["action"] == "wait"
    assert at(wait["data"]["opens_at"]) == opens and at(wait["time"]) < opens  # journaled before the wait
    assert "is outside failback.window" in wait["data"]["reason"]
    back = [e for e in entries if e["kind"] in ("undo_started", "step_started") and e["phase"] == "failback"]
    assert [e["step"].split()[0] for e in back] == ["sql", "frontdoor", "app-dns-home"], back
    assert all(at(e["time"]) >= opens for e in back), [(e["step"], e["time"]) for e in back]
    assert seen == [EAST, WEST, EAST] and dns_now(info) == [EAST]  # home only through steps.failback
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "eastus"
    assert origins(azure_sandbox) == PRIMARY_ORIGINS


def test_an_unreachable_window_keeps_the_service_in_dr_and_odin_rollback_keeps_to_it_unless_forced(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:
    info = azure_sandbox.info()
    env = sandbox_env(odin_env, tmp_path)
    opens = (datetime.now(timezone.utc) + timedelta(hours=10)).replace(second=0, microsecond=0)
    plan = write_drill(tmp_path, "window-far", resources=sandbox_resources(info, "forced", True),
                       steps=home_steps(info), failback=failback(opens, 1, "1h"))
    result = run_drill(plan, env, timeout=240)
    assert result.returncode == 3, result.stderr[-4000:]  # criteria_failed: the failback did not happen
    card = json.loads(result.stdout)
    assert {k for k, ok in card["criteria"].items() if not ok} == {"failback_completed", "failback_in_window"}
    entries = journal_of(card["report"])
    drill_id = Path(card["report"]).parent.name
    refused = only(entries, "failback_window")["data"]
    assert refused["action"] == "no_failback" and at(refused["opens_at"]) == opens
    assert refused["reason"].endswith("beyond failback.window_wait (1h): no failback, the service stays in westus")
    score = only(entries, "scorecard")["data"]["criteria"]
    assert score["failback_completed"]["evidence"] == f"failback did not complete: {refused['reason']}"
    assert not any(e["kind"] == "undo_started" for e in entries)
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "westus"
    assert dns_now(info) == [WEST]

    # outside the window: one line naming failback.window and its next start; nothing written, nothing touched
    journal = Path(card["report"]).parent / "journal.jsonl"
    before = journal.read_text()
    rollback = ["rollback", str(plan), "--drill", drill_id, "--reason", "primary healthy", "--by", "erin",
                "--time-scale", str(SCALE)]
    outside = run_odin(rollback, env=env)
    assert outside.returncode == 2 and outside.stdout == "", outside.stdout + outside.stderr[-3000:]
    lines = outside.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"odin: error: {plan}: failback.window: "), lines
    assert f"it opens next at {opens:%Y-%m-%d %H:%M} UTC: wait for it, or pass --force" in lines[0]
    assert journal.read_text() == before and dns_now(info) == [WEST]

    forced = run_odin([*rollback, "--force"], env=env)
    assert forced.returncode == 3 and "rolled back, healthy" in forced.stdout, forced.stdout + forced.stderr[-3000:]
    assert "steps.failback: 1 of 1 run, all ok" in forced.stdout
    entries = [json.loads(line) for line in journal.read_text().splitlines() if line.strip()]
    override = [e["data"] for e in entries if e["kind"] == "failback_window"][-1]
    assert (override["action"], override["by"]) == ("forced", "erin") and override["reason"].endswith(
        "forced with --force by erin: primary healthy")
    order = [(e["kind"], e["step"].split()[0]) for e in entries
             if e["kind"] in ("undo_finished", "step_finished") and e["phase"] in ("rollback", "failback")]
    assert order == [("undo_finished", "sql"), ("undo_finished", "frontdoor"), ("step_finished", "app-dns-home")]
    assert dns_now(info) == [EAST] and origins(azure_sandbox) == PRIMARY_ORIGINS
    assert azure_sandbox.state()["failover_groups"]["odin-fg"]["primary_region"] == "eastus"

    again = run_odin(rollback, env=env)  # still outside the window, and nothing left: said, not refused
    assert again.returncode == 0, again.stdout + again.stderr[-3000:]
    assert "nothing to undo; steps.failback already done (1)" in again.stdout
