"""The migration runbook end to end: real CLI, real Prefect server, real HTTP to the demo service.

Phases run in separate processes (as they would days apart), so these tests also prove that the
baseline and the T-0 journal survive a process restart.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from tests.conftest import ODIN, ROOT, run_odin

FAST = 60000.0  # a week of plan time in 10 s


@pytest.fixture
def shop() -> Iterator[object]:
    from odin_drills.sandbox.bluegreen import BlueGreenDemo

    # 10 % background errors: the power rule can clear a 2x error breach with a few hundred
    # requests, so windows stay short on a 2-core machine shared with the Prefect server.
    # A 30 ms median keeps a few ms of CPU jitter on a busy 2-core machine from looking like a
    # latency regression to the Mann-Whitney test.
    demo = BlueGreenDemo(seed=11, port=0, error_rate=0.10, latency_median_ms=30)
    with demo:
        yield demo


LATENCY_FLOOR_OFF_MS = 10_000
"""The latency floor of plans whose test is not about latency. On a two-core CI machine shared with
the Prefect server a second-long CPU stall inside a two-second window is a *real* 4x p95 for that
window, and the sequential judge rightly holds on it (seen in CI: p95 226 ms vs 54 ms at T-0). Those
tests are about errors, locks and journals; the latency tests judge latency at the default floor."""


def write_plan(tmp_path: Path, url: str, *, name: str = "shop-move", environment: str | None = None,
               policy: dict | None = None, t0: list | None = None, change_window: dict | None = None,
               judge_latency: bool = False, extra: dict | None = None) -> Path:
    weights = f"{url}/_admin/weights"
    policy = dict(policy or {})
    if not judge_latency:
        policy.setdefault("floors", {}).setdefault("latency_ms", LATENCY_FLOOR_OFF_MS)
        policy.setdefault("absolute", {}).setdefault("p95_latency_ms", None)  # a CPU stall is no SLO breach either

    def shift(step: str, to: dict, back: dict) -> dict:
        return {"name": step, "kind": "http", "method": "PUT", "url": weights, "json": to,
                "undo": {"kind": "http", "method": "PUT", "url": weights, "json": back}}

    plan = {
        "name": name,
        "environment": environment or name,
        "service": {"name": "shop", "endpoints": {"router": url}},
        "metrics": {"kind": "synthetic_probe", "url": f"{url}/api/orders/1", "rate_per_second": 150,
                    "min_window_wall_seconds": 2},
        "smoke": [{"name": "health", "url": f"{url}/health", "retries": 5, "retry_delay": 0.05,
                   "assert": [{"jsonpath": "$.status", "equals": "ok"}]}],
        "policy": {"windows": {"baseline": "1w", "step": "5m", "interval": "5m", "validation": "1h", "final": "23h"},
                   **policy},
        "phases": {"t0": t0 if t0 is not None else [
            shift("shift-10", {"blue": 90, "green": 10}, {"blue": 100, "green": 0}),
            shift("shift-50", {"blue": 50, "green": 50}, {"blue": 90, "green": 10}),
            shift("shift-100", {"blue": 0, "green": 100}, {"blue": 50, "green": 50}),
        ]},
    }
    if change_window:
        plan["change_window"] = change_window
    plan.update(extra or {})
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def straight_to_green(url: str) -> list[dict]:
    """A T-0 of one step, all traffic to green, its undo all back to blue: for tests where T-0 only
    sets the stage for what they judge later (T+1h, a hold, a refusal, a rollback's deadline). Each
    T-0 step costs a gate of real-time windows; the three-step T-0 of ``write_plan``, and its undos
    walked back in order, are proven by the tests that judge them (clean, error breach, rollback)."""
    weights = f"{url}/_admin/weights"
    return [{"name": "shift-100", "kind": "http", "method": "PUT", "url": weights, "json": {"blue": 0, "green": 100},
             "undo": {"kind": "http", "method": "PUT", "url": weights, "json": {"blue": 100, "green": 0}}}]


def migrate(plan: Path, env: dict, *args: str, scale: float = FAST, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return run_odin(["migrate", str(plan), "--time-scale", str(scale), *args], env=env, timeout=timeout)


def journal(env: dict, plan_name: str) -> list[dict]:
    root = Path(env["ODIN_HOME"]) / "migrations" / plan_name
    current = (root / "current").read_text().strip()
    lines = (root / current / "journal.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def kinds(entries: list[dict], kind: str) -> list[dict]:
    return [e for e in entries if e["kind"] == kind]


def final_states(env: dict, entries: list[dict]) -> list[tuple[str, str]]:
    """(type, name) of each flow run's final state in this journal, read back from the Prefect API."""
    import httpx

    states = []
    for started in kinds(entries, "run_started"):
        run = httpx.get(f"{env['PREFECT_API_URL']}/flow_runs/{started['data']['flow_run_id']}", timeout=10).json()
        states.append((run["state"]["type"], run["state"]["name"]))
    return states


def test_clean_migration_completes(tmp_path: Path, odin_env: dict, shop) -> None:
    url = shop.router_url
    plan = write_plan(tmp_path, url, extra={"canary": {"url": f"{url}/api/orders", "read_url": f"{url}/api/orders/{{id}}"}})
    result = migrate(plan, odin_env, scale=200000)
    assert result.returncode == 0, result.stderr[-3000:]
    assert shop.weights() == {"blue": 0, "green": 100}
    entries = journal(odin_env, "shop-move")
    phases = [e["phase"] for e in kinds(entries, "phase_finished")]
    assert phases == ["t-1w", "t0", "t+1h", "t+24h"]
    assert kinds(entries, "run_finished")[-1]["data"]["outcome"] == "completed"
    assert len(kinds(entries, "gate")) >= 5  # one per T-0 step, T+1h, T+24h
    # a single noisy window may say rollback; only confirmed decisions act, and none did here
    assert [d["data"]["action"] for d in kinds(entries, "decision")] == ["proceed"] * 5
    assert not kinds(entries, "undo_started")
    # the canary writes before each step, read back after it and at T+1h: none lost or changed
    checks = [(e["phase"], e["step"], e["data"]["lost"], e["data"]["corrupted"]) for e in kinds(entries, "canary_verified")]
    assert checks == [("t0", "shift-10", 0, 0), ("t0", "shift-50", 0, 0), ("t0", "shift-100", 0, 0),
                      ("t+1h", "validation", 0, 0)]
    assert kinds(entries, "canary_verified")[-1]["data"]["verified"] >= 6  # of up to 9 (10 % of writes fail)
    assert final_states(odin_env, entries) == [("COMPLETED", "Completed")]
    # plan time advanced by (at least) the week between T-1w and T+24h
    first, last = entries[0]["time"], entries[-1]["time"]
    from datetime import datetime
    assert (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds() >= 8 * 86400
    report = Path(result.stdout.strip().split("report ")[-1])
    text = report.read_text()
    assert "Outcome: Completed" in text and "## Gate evaluations" in text and "## Baseline" in text


def test_error_breach_at_t_plus_1h_rolls_back_to_blue(tmp_path: Path, odin_env: dict, shop) -> None:
    plan = write_plan(tmp_path, shop.router_url)
    assert migrate(plan, odin_env, "--phase", "t-1w").returncode == 0
    baseline_file = Path(odin_env["ODIN_HOME"]) / "migrations" / "shop-move"
    baseline_file = baseline_file / (baseline_file / "current").read_text().strip() / "baseline.json"
    baseline = json.loads(baseline_file.read_text())["snapshot"]
    r = migrate(plan, odin_env, "--phase", "t0")
    assert r.returncode == 0, r.stderr[-3000:]
    assert shop.weights() == {"blue": 0, "green": 100}

    shop.add_fault("green", error_rate=0.3)  # ~3.7x the 10 % baseline
    result = migrate(plan, odin_env, "--phase", "t+1h")
    assert result.returncode == 3, result.stderr[-3000:]
    assert shop.weights() == {"blue": 100, "green": 0}

    entries = journal(odin_env, "shop-move")
    gates = [g for g in kinds(entries, "gate") if g["phase"] == "t+1h"]
    assert gates[0]["data"]["decision"]["metrics"]["error_rate"]["baseline"] == pytest.approx(
        baseline["errors"] / baseline["requests"])  # the baseline from another process, days earlier
    # The default judge is sequential (issue 11): it acts on the window that made the evidence
    # conclusive, with no confirming window (the fixed judge needed two consecutive ones).
    watched = [g for g in gates if isinstance(g["data"]["window"], int)]  # not the re-check after the rollback
    rollback_gates = [g for g in watched if g["data"]["decision"]["decision"] in ("rollback", "rollback_now")]
    assert len(rollback_gates) == 1 and rollback_gates[0] is watched[-1]
    assert rollback_gates[0]["data"]["decision"]["judge"] == "sequential"
    decision = [d for d in kinds(entries, "decision") if d["phase"] == "t+1h"][-1]["data"]
    assert decision["action"] == "rollback" and "e-value" in decision["reason"]
    undone = [e["step"] for e in kinds(entries, "undo_finished")]
    assert undone == ["shift-100", "shift-50", "shift-10"]
    assert all(e["data"]["status"] == "ok" for e in kinds(entries, "undo_finished"))
    assert kinds(entries, "rollback_finished")[-1]["data"]["healthy"] is True
    # the runs list tells the rolled-back phase from the ones that completed
    assert final_states(odin_env, entries) == [("COMPLETED", "Completed"), ("COMPLETED", "Completed"),
                                               ("FAILED", "RolledBack")]


def _start_t_plus_1h(plan: Path, env: dict, scale: float) -> subprocess.Popen[str]:
    return subprocess.Popen([*ODIN, "migrate", str(plan), "--phase", "t+1h", "--time-scale", str(scale)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)


def _wait_for(env: dict, plan: str, kind: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = kinds(journal(env, plan), kind)
        except FileNotFoundError:  # the migration has not started yet
            found = []
        if found:
            return found[-1]
        time.sleep(0.3)
    raise AssertionError(f"no {kind} entry within {timeout} s")


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=30)


def test_latency_rise_holds_and_a_person_proceeds(tmp_path: Path, odin_env: dict, shop) -> None:
    plan = write_plan(tmp_path, shop.router_url, policy={"deadlines": {"hold": "1000h"}}, judge_latency=True,
                      t0=straight_to_green(shop.router_url))
    assert migrate(plan, odin_env, "--phase", "t-1w").returncode == 0
    assert migrate(plan, odin_env, "--phase", "t0").returncode == 0
    base_p95 = json.loads(next(iter(
        (Path(odin_env["ODIN_HOME"]) / "migrations" / "shop-move").glob("*/baseline.json"))).read_text())["snapshot"]["latency_ms"]["p95"]
    shop.add_fault("green", latency_ms=round(base_p95 * 0.7))  # p95 about 1.6-1.7x
    process = _start_t_plus_1h(plan, odin_env, FAST)
    try:
        hold = _wait_for(odin_env, "shop-move", "hold_started")
        decision = hold["data"]["decision"] if "decision" in hold["data"] else None
        assert decision is None and hold["data"]["default"] == "rollback"
        decided = run_odin(["decide", hold["data"]["flow_run_id"], "proceed", "--reason", "latency accepted for now",
                            "--by", "alice"], env=odin_env)
        assert decided.returncode == 0, decided.stderr
        out, err = process.communicate(timeout=120)
    finally:
        _stop(process)
    assert process.returncode == 0, err[-3000:]
    entries = journal(odin_env, "shop-move")
    # The hold rests on the latency evidence. With the sequential judge (issue 11) a 1.6-1.7x rise is
    # conclusively above 1.1x the baseline's p95 bound at once, but 1.5x only if the data show it, so
    # the hold comes either during the watch or, from the watch rung, at its end.
    watched = [g for g in kinds(entries, "gate") if g["phase"] == "t+1h" and isinstance(g["data"]["window"], int)]
    flagged = [g for g in watched if g["data"]["decision"]["evidence"]["latency_p95_ms"]["tier"] != "ok"]
    assert flagged and flagged[0]["data"]["decision"]["metrics"]["latency_p95_ms"]["ratio"] > 1.5
    assert [d["data"]["action"] for d in kinds(entries, "decision") if d["phase"] == "t+1h"][0] == "hold"
    human = kinds(entries, "human_input")[-1]["data"]
    assert (human["action"], human["by"], human["reason"]) == ("proceed", "alice", "latency accepted for now")
    assert shop.weights() == {"blue": 0, "green": 100}


def test_hold_deadline_applies_the_default(tmp_path: Path, odin_env: dict, shop) -> None:
    plan = write_plan(tmp_path, shop.router_url, policy={"deadlines": {"hold": "4h"}, "on_hold_timeout": "rollback"},
                      judge_latency=True, t0=straight_to_green(shop.router_url))
    assert migrate(plan, odin_env, "--phase", "t-1w").returncode == 0
    assert migrate(plan, odin_env, "--phase", "t0").returncode == 0
    base_p95 = json.loads(next(iter(
        (Path(odin_env["ODIN_HOME"]) / "migrations" / "shop-move").glob("*/baseline.json"))).read_text())["snapshot"]["latency_ms"]["p95"]
    shop.add_fault("green", latency_ms=round(base_p95 * 0.7))
    result = migrate(plan, odin_env, "--phase", "t+1h", scale=3600)  # 4 h of plan time = 4 s
    assert result.returncode == 3, result.stderr[-3000:]
    human = kinds(journal(odin_env, "shop-move"), "human_input")[-1]["data"]
    assert human["action"] == "rollback" and human["by"] == "odin (deadline)"
    assert shop.weights() == {"blue": 100, "green": 0}


def test_second_run_on_a_locked_environment_refuses(tmp_path: Path, odin_env: dict, shop) -> None:
    weights = f"{shop.router_url}/_admin/weights"
    slow = [{"name": "pin-blue", "kind": "http", "method": "PUT", "url": weights, "json": {"blue": 100, "green": 0},
             "undo": {"kind": "http", "method": "PUT", "url": weights, "json": {"blue": 100, "green": 0}}},
            {"name": "soak", "kind": "wait", "duration": "10h"}]
    first_plan = write_plan(tmp_path, shop.router_url, name="first", environment="shared-env", t0=slow)
    second_plan = write_plan(tmp_path, shop.router_url, name="second", environment="shared-env", t0=slow)
    # T-1w takes no reservation (only T-0 does): both baselines are measured at once
    with ThreadPoolExecutor(max_workers=2) as pool:
        weeks = list(pool.map(lambda plan: migrate(plan, odin_env, "--phase", "t-1w"), (first_plan, second_plan)))
    assert [week.returncode for week in weeks] == [0, 0], [week.stderr[-2000:] for week in weeks]
    first = subprocess.Popen([*ODIN, "migrate", str(first_plan), "--phase", "t0", "--time-scale", "3600"],
                             cwd=ROOT, env=odin_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(odin_env, "first", "lock")
        second = migrate(second_plan, odin_env, "--phase", "t0", scale=3600)
        assert second.returncode == 2
        assert "environment 'shared-env' is reserved by migration" in second.stderr and "of plan first" in second.stderr
        assert "--wait" in second.stderr and "Traceback" not in second.stderr
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, err[-3000:]
    finally:
        _stop(first)
    # the first migration is now between T-0 and T+24h: it keeps the environment, named as the holder
    first_id = journal(odin_env, "first")[0]["data"]["migration"]
    held = migrate(second_plan, odin_env, "--phase", "t0", scale=360000)
    assert held.returncode == 2, held.stderr[-3000:]
    assert f"reserved by migration {first_id} of plan first" in held.stderr
    # its own next phase still runs (the reservation is the migration's, not the process's)
    assert migrate(first_plan, odin_env, "--phase", "t+1h", "--migration", first_id, scale=360000).returncode == 0
    # once the first is rolled back, the environment is free again
    back = run_odin(["rollback", str(first_plan), "--migration", first_id, "--reason", "make room", "--by", "erin",
                     "--time-scale", "360000"], env=odin_env)
    assert back.returncode == 3, back.stderr[-3000:]
    again = migrate(second_plan, odin_env, "--phase", "t0", scale=360000)
    assert again.returncode == 0, again.stderr[-3000:]


def test_t0_outside_the_change_window_refuses_unless_forced(tmp_path: Path, odin_env: dict, shop) -> None:
    window = {"start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"}
    plan = write_plan(tmp_path, shop.router_url, change_window=window, t0=straight_to_green(shop.router_url))
    assert migrate(plan, odin_env, "--phase", "t-1w").returncode == 0
    refused = migrate(plan, odin_env, "--phase", "t0")
    assert refused.returncode == 2 and "outside the change window" in refused.stderr and "--force" in refused.stderr
    assert shop.weights() == {"blue": 100, "green": 0}  # nothing changed
    forced = migrate(plan, odin_env, "--phase", "t0", "--force")
    assert forced.returncode == 0, forced.stderr[-3000:]


def test_an_escalation_during_a_hold_rolls_back_without_waiting_for_a_person(tmp_path: Path, odin_env: dict, shop) -> None:
    plan = write_plan(tmp_path, shop.router_url, policy={"deadlines": {"hold": "1000h"}}, judge_latency=True,
                      t0=straight_to_green(shop.router_url))
    assert migrate(plan, odin_env, "--phase", "t-1w").returncode == 0
    assert migrate(plan, odin_env, "--phase", "t0").returncode == 0
    base_p95 = json.loads(next(iter(
        (Path(odin_env["ODIN_HOME"]) / "migrations" / "shop-move").glob("*/baseline.json"))).read_text())["snapshot"]["latency_ms"]["p95"]
    shop.add_fault("green", latency_ms=round(base_p95 * 0.7))  # a hold ...
    process = _start_t_plus_1h(plan, odin_env, FAST)
    try:
        _wait_for(odin_env, "shop-move", "hold_started")
        shop.add_fault("green", error_rate=0.35)  # ... then errors climb past 2x while nobody has decided
        out, err = process.communicate(timeout=180)
    finally:
        _stop(process)
    assert process.returncode == 3, err[-3000:]
    human = kinds(journal(odin_env, "shop-move"), "human_input")[-1]["data"]
    assert human["action"] == "rollback" and human["by"] == "odin (escalation)"
    assert shop.weights() == {"blue": 100, "green": 0}


def test_an_approval_step_waits_for_a_person(tmp_path: Path, odin_env: dict, shop) -> None:
    weights = f"{shop.router_url}/_admin/weights"
    t0 = [{"name": "go-no-go", "kind": "approval", "prompt": "Shift 10 % to green?", "timeout": "1000h"},
          {"name": "shift-10", "kind": "http", "method": "PUT", "url": weights, "json": {"blue": 90, "green": 10},
           "undo": {"kind": "http", "method": "PUT", "url": weights, "json": {"blue": 100, "green": 0}}}]
    plan = write_plan(tmp_path, shop.router_url, t0=t0)
    assert migrate(plan, odin_env, "--phase", "t-1w").returncode == 0
    process = subprocess.Popen([*ODIN, "migrate", str(plan), "--phase", "t0", "--time-scale", str(FAST)], cwd=ROOT,
                               env=odin_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        hold = _wait_for(odin_env, "shop-move", "hold_started")
        assert hold["data"]["hold"] == "approval" and shop.weights() == {"blue": 100, "green": 0}  # nothing before the yes
        decided = run_odin(["decide", hold["data"]["flow_run_id"], "proceed", "--reason", "CAB approved", "--by", "bob"],
                           env=odin_env)
        assert decided.returncode == 0, decided.stderr
        out, err = process.communicate(timeout=120)
    finally:
        _stop(process)
    assert process.returncode == 0, err[-3000:]
    assert shop.weights() == {"blue": 90, "green": 10}
    human = kinds(journal(odin_env, "shop-move"), "human_input")[-1]["data"]
    assert (human["action"], human["by"]) == ("proceed", "bob")


def test_a_person_can_override_a_confirmed_rollback_within_the_grace(tmp_path: Path, odin_env: dict, shop) -> None:
    plan = write_plan(tmp_path, shop.router_url, policy={"rollback_grace": "1000h", "deadlines": {"rollback": "1000h"}},
                      t0=straight_to_green(shop.router_url))
    assert migrate(plan, odin_env, "--phase", "t-1w").returncode == 0
    assert migrate(plan, odin_env, "--phase", "t0").returncode == 0
    shop.add_fault("green", error_rate=0.3)
    process = _start_t_plus_1h(plan, odin_env, FAST)
    try:
        hold = _wait_for(odin_env, "shop-move", "hold_started")
        assert hold["data"]["hold"] == "rollback-grace" and hold["data"]["default"] == "rollback"
        decided = run_odin(["decide", hold["data"]["flow_run_id"], "proceed", "--reason", "known issue, fix rolling out",
                            "--by", "carol"], env=odin_env)
        assert decided.returncode == 0, decided.stderr
        out, err = process.communicate(timeout=120)
    finally:
        _stop(process)
    assert process.returncode == 0, err[-3000:]
    assert shop.weights() == {"blue": 0, "green": 100}  # overridden: nothing undone
    assert not kinds(journal(odin_env, "shop-move"), "undo_started")


def test_odin_rollback_undoes_a_migration_left_behind(tmp_path: Path, odin_env: dict, shop) -> None:
    """After T-0 (say the process that would run T+1h died), one command puts the world back."""
    plan = write_plan(tmp_path, shop.router_url)
    assert migrate(plan, odin_env, "--phase", "t-1w").returncode == 0
    assert migrate(plan, odin_env, "--phase", "t0").returncode == 0
    assert shop.weights() == {"blue": 0, "green": 100}
    result = run_odin(["rollback", str(plan), "--reason", "T+1h runner died", "--by", "dave",
                       "--time-scale", str(FAST)], env=odin_env)
    # the steady state is checked again afterwards: exit 3 "rolled back, healthy", never "Completed (exit 0)"
    assert result.returncode == 3, result.stderr
    assert "rolled back, healthy (exit 3)" in result.stdout
    assert shop.weights() == {"blue": 100, "green": 0}
    entries = journal(odin_env, "shop-move")
    undone = [e["step"] for e in kinds(entries, "undo_finished")]
    assert undone == ["shift-100", "shift-50", "shift-10"]
    recheck = [g for g in kinds(entries, "gate") if g["data"]["window"] == "recheck"]
    assert recheck and recheck[-1]["data"]["decision"]["metrics"]["error_rate"]["baseline"] is not None
    assert kinds(entries, "run_finished")[-1]["data"]["outcome"] == "rolled_back_healthy"
    report = Path(result.stdout.strip().split("report ")[-1]).read_text()
    assert "Outcome: rolled back, healthy" in report or "Outcome: Rolled back, healthy" in report, report[:400]
    again = run_odin(["rollback", str(plan), "--reason", "again", "--by", "dave"], env=odin_env)
    assert again.returncode == 0 and "nothing to undo" in again.stdout  # undone steps are never undone twice


@pytest.fixture
def alertmanager_stub() -> Iterator[tuple[str, list]]:
    """A minimal Alertmanager API v2 (``GET /api/v2/alerts``) answering the list the test puts in ``alerts``."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    alerts: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(alerts).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="alertmanager stub", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", alerts
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_people_side_on_call_notice_reviews_and_lessons(tmp_path: Path, odin_env: dict, shop, alertmanager_stub) -> None:
    """T-0 waits for the on-call person and tells stakeholders before its first step; T+1h checks the SLO
    and reviews the logs; T+24h counts the alerts fired since T-0; the report has lessons to fill in.
    All four phases in one process (each phase in its own is proven above), to keep it short."""
    from datetime import datetime, timezone

    from tests.webhook_receiver import WebhookReceiver, refused_url

    am_url, alerts = alertmanager_stub
    with WebhookReceiver() as receiver, refused_url() as broken:
        people = {"on_call_confirmation": {"who": "shop on-call", "timeout": "1000h"},
                  "stakeholder_notice": {"channels": [{"name": "shop-news", "kind": "generic", "url": receiver.url()},
                                                      {"name": "broken", "kind": "generic", "url": broken}]}}
        plan = write_plan(tmp_path, shop.router_url, extra={
            "people": people, "alerts": {"kind": "alertmanager", "url": am_url, "filter": ['service="shop"']}})
        run = subprocess.Popen([*ODIN, "migrate", str(plan), "--time-scale", str(FAST)], cwd=ROOT, env=odin_env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        try:
            on_call = _wait_for(odin_env, "shop-move", "hold_started")["data"]
            assert on_call["hold"] == "on-call" and "shop on-call" in on_call["reason"]
            assert shop.weights() == {"blue": 100, "green": 0} and receiver.received() == []  # nothing before the yes
            # an alert someone silenced fires after T-0 began: the gates skip it, the incident count does not
            alerts.append({"labels": {"alertname": "CheckoutSlow", "service": "shop", "severity": "warning"},
                           "fingerprint": "c1", "status": {"state": "suppressed"},
                           "startsAt": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")})
            confirmed = run_odin(["decide", on_call["flow_run_id"], "proceed", "--reason", "on standby", "--by", "ann"],
                                 env=odin_env)
            assert confirmed.returncode == 0, confirmed.stderr
            out, err = run.communicate(timeout=180)
        finally:
            _stop(run)
        assert run.returncode == 0, err[-3000:]
        (notice,) = receiver.received()
        assert notice.body["text"].startswith("Change window starting: shop-move (shop)")
        assert "On call: ann (confirmed)" in notice.body["text"]
    entries = journal(odin_env, "shop-move")
    sent = [e for e in kinds(entries, "comms") if e["data"]["status"] == "sent"]
    assert sent[0]["seq"] < kinds(entries, "step_intent")[0]["seq"]  # stakeholders heard before anything changed
    (slo,) = kinds(entries, "slo_check")
    assert slo["data"]["objective"] is None and slo["data"]["windows"]["windows"] >= 4  # T-0's gates and T+1h's
    (logs,) = kinds(entries, "log_review")
    assert logs["data"]["prefect_unavailable"] is None  # the run's Prefect logs were read
    assert any(i["what"].startswith("message to broken failed") for i in logs["data"]["items"])
    (incidents,) = kinds(entries, "incident_count")
    assert incidents["data"]["count"] == 1 and incidents["data"]["alerts"][0]["name"] == "CheckoutSlow"
    report = Path(out.strip().split("report ")[-1]).read_text()
    assert "**confirmed** by ann" in report and "Stakeholder notice to shop-news" in report
    lessons = report.split("## Lessons learned")[1]
    assert "**Holds:** 1 hold(s) (on-call); 1 answered by a person" in lessons
    assert "**Alerts (incident count):** 1 alert(s) fired since T-0: CheckoutSlow (warning)" in lessons
