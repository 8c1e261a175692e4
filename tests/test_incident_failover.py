"""Incident mode from every entry point (issue 12): ``odin failover PLAN --incident`` against the
Azure sandbox, deciding on Azure Service Health / Resource Health read through the real
``azure-mgmt-resourcehealth`` client over HTTPS, with the real Prefect server and the real CLI:

  * an outage Azure expects resolved in 10 min (limit 30 min): no failover; the run waits, journals
    the decision with the event, the ETA and the numbers, and ends once the region answers again;
  * no ETA published: fail over after a person confirms (``odin decide``), full region outage in the
    reason, never failing back by itself;
  * an ETA that slips past the limit while the run waits: fail over;
  * Service Health unreachable: said in the journal, the threshold rule decides;
  * the stakeholder messages of a run that read Service Health quote Azure's latest word (event,
    full or partial, Azure's ETA), or that it was unreachable;
  * ``odin failover`` without ``--incident``: one line, exit 2.

The outage is the test's (a ``region_outage`` fault), never the run's. Plan time runs 60× (a probe
round every 0.5 s; 30 plan minutes are 30 wall seconds); the sandbox's ETAs are wall seconds, so
10 plan minutes are 10 of them.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from datetime import datetime, timezone
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from odin_drills.outcomes import exit_code
from tests.conftest import ODIN, ROOT, run_odin
from tests.test_drill_e2e import (SCALE, azure_sandbox, only, sandbox_env, sandbox_resources,  # noqa: F401
                                  write_drill)
from tests.webhook_receiver import WebhookReceiver

DETECTION = {"interval": "30s", "confirmation": "1m", "timeout": "2s"}


def incident_plan(tmp_path: Path, info: dict[str, Any], name: str, *, comms: dict[str, Any] | None = None,
                  **decision: Any) -> Path:
    resources = sandbox_resources(info, "forced", True)  # in an incident: the group named through the DR server
    group = resources["failover_groups"][0]
    group["id"] = group["id"].replace("/servers/odin-sql-eastus/", "/servers/odin-sql-westus/")
    detection = {**DETECTION, "threshold": decision.pop("threshold", "2h")}
    return write_drill(tmp_path, name, resources=resources, canary={"enabled": False}, detection=detection,
                       decision={"fail_over_if_eta_beyond": "30m", "confirm_timeout": "30m", **decision},
                       **({"comms": comms} if comms else {}))


def incident_room(receiver: WebhookReceiver) -> dict[str, Any]:
    """A generic channel; T+0, then updates a plan minute apart (a wall second at 60x), so some go
    out while the run waits on Azure's ETA."""
    return {"channels": [{"name": "incident-room", "kind": "generic", "url": receiver.url("/hook")}],
            "minutes": [0, 1, 2, 3]}


def azure_lines(entries: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """Each message sent (template, its 'Azure Service Health:' lines), in order, from the journal."""
    return [(e["data"]["template"], [line for line in e["data"]["text"].splitlines()
                                     if line.startswith("Azure Service Health: ")])
            for e in entries if e["kind"] == "comms" and e["data"]["status"] == "sent"]


def start_failover(plan: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*ODIN, "failover", str(plan), "--incident", "--time-scale", str(SCALE), "--json", *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)


def entries_of(env: dict[str, str], name: str) -> list[dict[str, Any]]:
    found = sorted((Path(env["ODIN_HOME"]) / "drills" / name).glob("*/journal.jsonl"))
    if not found:
        return []
    return [json.loads(line) for line in found[-1].read_text().splitlines() if line.strip().endswith("}")]


def wait_for(runner: subprocess.Popen[str], env: dict[str, str], name: str,
             seen: Callable[[dict[str, Any]], bool], what: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        hit = next((e for e in entries_of(env, name) if seen(e)), None)
        if hit is not None:
            return hit
        if runner.poll() is not None or time.monotonic() > deadline:
            out, err = runner.communicate(timeout=30) if runner.poll() is not None else ("", "")
            raise AssertionError(f"no {what}: exit {runner.poll()}\n{out[-2000:]}\n{err[-4000:]}")
        time.sleep(0.1)


def finish(runner: subprocess.Popen[str], timeout: float = 180) -> tuple[int, dict[str, Any], str]:
    try:
        out, err = runner.communicate(timeout=timeout)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate(timeout=30)
    return runner.returncode, json.loads(out.strip().splitlines()[-1]) if out.strip() else {}, err


def decisions(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["data"] for e in entries if e["kind"] == "decision"]


def is_wait(entry: dict[str, Any]) -> bool:
    return entry["kind"] == "decision" and entry["data"]["action"] == "wait"


def primary_of(sandbox: Any) -> str:
    return sandbox.state()["failover_groups"]["odin-fg"]["primary_region"]


def test_an_outage_azure_expects_resolved_within_the_limit_is_not_failed_over(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:
    plan = incident_plan(tmp_path, azure_sandbox.info(), "eta-ten-minutes")
    azure_sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
    azure_sandbox.set_resolution_eta("eastus", 600 / SCALE)  # 10 plan minutes after the outage began
    env = sandbox_env(odin_env, tmp_path)
    runner = start_failover(plan, env, "--no-confirm")
    try:
        waiting = wait_for(runner, env, "eta-ten-minutes", is_wait, "wait decision")
        azure_sandbox.faults.clear()  # Azure was right: East US is back
        code, card, err = finish(runner)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert code == exit_code("no_failover_needed"), err[-4000:]
    entries = entries_of(env, "eta-ten-minutes")
    finished = only(entries, "run_finished")["data"]
    assert finished["outcome"] == "no_failover_needed", finished
    evidence = waiting["data"]["evidence"]
    assert evidence["event_id"] and evidence["resolution_eta"] and evidence["scope"] == "full"
    assert abs(evidence["expected_outage_seconds"] - 600) < 1 and evidence["limit_seconds"] == 1800
    assert "within the 30 min limit" in waiting["data"]["reason"] and "10 min" in waiting["data"]["reason"]
    final = decisions(entries)[-1]
    assert final["action"] == "no_failover" and final["evidence"]["event_id"] == evidence["event_id"]
    assert "answered again within Azure's ETA" in final["reason"]
    health = [e["data"] for e in entries if e["kind"] == "service_health"]
    assert health[0]["event_id"] == evidence["event_id"] and health[0]["unavailable"]
    assert not any(e["kind"] == "step_started" for e in entries)  # nothing was failed over
    assert primary_of(azure_sandbox) == "eastus"
    assert [op for op in azure_sandbox.operations() if op["operation"] == "forceFailoverAllowDataLoss"] == []


def test_no_eta_fails_over_once_a_person_confirms_and_never_fails_back(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:
    plan = incident_plan(tmp_path, azure_sandbox.info(), "no-eta")
    ours = azure_sandbox.faults.add({"kind": "region_outage", "region": "eastus"})  # no ETA published
    env = sandbox_env(odin_env, tmp_path)
    runner = start_failover(plan, env)
    try:
        hold = wait_for(runner, env, "no-eta", lambda e: e["kind"] == "hold_started", "confirmation hold")
        assert "no ETA for resolution published" in hold["data"]["reason"], hold["data"]
        assert "full region outage (5 of 5 eastus resources unavailable)" in hold["data"]["reason"]
        deadline = time.monotonic() + 60
        while httpx.get(f"{env['PREFECT_API_URL']}/flow_runs/{hold['data']['flow_run_id']}",
                        timeout=10).json()["state"]["type"] != "PAUSED":
            assert time.monotonic() < deadline and runner.poll() is None
            time.sleep(0.2)
        decided = run_odin(["decide", hold["data"]["flow_run_id"], "proceed", "--reason", "no ETA, go",
                            "--by", "erin"], env=env)
        assert decided.returncode == 0, decided.stderr[-2000:]
        code, card, err = finish(runner)
    finally:
        if runner.poll() is None:
            runner.kill()
    assert code in (0, 3), err[-4000:]
    entries = entries_of(env, "no-eta")
    assert only(entries, "run_started")["data"]["mode"] == "incident"
    assert not any(e["kind"] in ("outage_injecting", "outage_injected") for e in entries)
    final = decisions(entries)[-1]
    assert (final["action"], final["by"]) == ("fail_over", "erin") and final["evidence"]["resolution_eta"] is None
    assert only(entries, "human_input")["data"]["action"] == "proceed"
    assert "failback_completed" not in card["criteria"]
    assert not any(e["kind"] in ("undo_started", "undo_finished") for e in entries)
    assert any(e["kind"] == "note" and e["data"]["message"].startswith("incident mode: the service stays in westus")
               for e in entries)
    assert primary_of(azure_sandbox) == "westus"  # still in the DR region
    assert [f["id"] for f in azure_sandbox.faults.list()] == [ours["id"]]  # the outage was never odin's


def test_an_eta_that_slips_past_the_limit_fails_over(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:
    """Stakeholders hear Azure's word from the reading of the moment: the ETA first given while the run
    waits, the slipped one after the failover (the resolution)."""
    with WebhookReceiver() as receiver:
        plan = incident_plan(tmp_path, azure_sandbox.info(), "eta-slips", comms=incident_room(receiver))
        azure_sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
        azure_sandbox.set_resolution_eta("eastus", 600 / SCALE)
        env = sandbox_env(odin_env, tmp_path)
        runner = start_failover(plan, env, "--no-confirm")
        try:
            wait_for(runner, env, "eta-slips", is_wait, "wait decision")
            time.sleep(2.5)  # T+2 goes out while the run waits on the first ETA
            azure_sandbox.set_resolution_eta("eastus", 3 * 3600 / SCALE)  # now 3 plan hours after the start
            code, card, err = finish(runner)
        finally:
            if runner.poll() is None:
                runner.kill()
    assert code in (0, 3), err[-4000:]
    entries = entries_of(env, "eta-slips")
    actions = [d["action"] for d in decisions(entries)]
    assert actions == ["wait", "fail_over"], actions
    final = decisions(entries)[-1]
    assert "beyond the 30 min limit" in final["reason"] and "180 min" in final["reason"], final["reason"]
    assert abs(final["evidence"]["expected_outage_seconds"] - 3 * 3600) < 1
    etas = [e["data"]["expected_outage_seconds"] for e in entries if e["kind"] == "service_health"]
    assert len(etas) >= 2 and abs(etas[0] - 600) < 1 and abs(etas[-1] - 10800) < 1
    assert primary_of(azure_sandbox) == "westus"
    health = [e["data"] for e in entries if e["kind"] == "service_health"]
    event = f"Multiple services in East US (tracking id {health[-1]['event_id']}); full region outage"
    slipped = datetime.fromisoformat(health[-1]["resolution_eta"].replace("Z", "+00:00")).astimezone(timezone.utc)
    sent = azure_lines(entries)
    quoted = [lines for _, lines in sent if lines]
    assert [t for t, _ in sent][-1] == "resolution" and len(quoted) >= 2, sent
    assert [bool(lines) for _, lines in sent] == sorted(bool(lines) for _, lines in sent), sent  # from a reading on
    assert all(len(lines) == 1 and event in lines[0] and lines[0].endswith("after it began)") for lines in quoted)
    assert any(re.search(r"; Azure's ETA \d\d:\d\d UTC \((9m \d+s|10m( \d+s)?) after it began\)$", lines[0])
               for lines in quoted[:-1]), sent  # while the run waited: the first ETA
    assert sent[-1][1] == [f"Azure Service Health: ACTIVE: {event}; Azure's ETA {slipped:%H:%M} UTC (3h after it "
                           "began)"], sent[-1]


def test_service_health_unreachable_falls_back_to_the_threshold_rule_and_says_so(
        azure_sandbox: Any, odin_env: dict[str, str], tmp_path: Path) -> None:
    with WebhookReceiver() as receiver:
        plan = incident_plan(tmp_path, azure_sandbox.info(), "health-down", threshold="3m",
                             comms=incident_room(receiver))
        azure_sandbox.faults.add({"kind": "arm_error", "status": 503, "count": 1000,
                                  "path_contains": "ResourceHealth"})
        azure_sandbox.faults.add({"kind": "region_outage", "region": "eastus"})
        azure_sandbox.set_resolution_eta("eastus", 600 / SCALE)  # would say "wait", were it reachable
        env = sandbox_env(odin_env, tmp_path)
        code, card, err = finish(start_failover(plan, env, "--no-confirm"))
    assert code in (0, 3), err[-4000:]
    entries = entries_of(env, "health-down")
    health = [e["data"] for e in entries if e["kind"] == "service_health"]
    assert health and not health[0]["reachable"] and "HTTP 503" in health[0]["error"]
    notes = [e["data"]["message"] for e in entries if e["kind"] == "note" and e["phase"] == "decide"]
    assert any(n.startswith("Azure Service Health unreachable (") and "the threshold rule decides" in n for n in notes)
    final = decisions(entries)
    assert [d["action"] for d in final] == ["fail_over"], final
    assert "has lasted the 180 s threshold (Azure Service Health unreachable" in final[0]["reason"]
    assert primary_of(azure_sandbox) == "westus"
    (told,) = [lines for template, lines in azure_lines(entries) if template == "resolution"]
    assert told[0].startswith("Azure Service Health: unreachable (") and "HTTP 503" in told[0], told
    assert told[0].endswith("what Azure says of the outage and its ETA is not known"), told


def test_failover_without_incident_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run_odin(["failover", str(tmp_path / "any.yaml")])
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "odin: error: odin failover PLAN --incident: fails over for a real outage only; pass --incident to opt in"]
