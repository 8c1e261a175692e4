"""Prefect as a dependency (issue 15): the journal decides the outcome, no hang, signals.

Real parts only: the real ``odin`` CLI in subprocesses, a real Prefect server (for the outage, one
of this test's own, killed by its PID), the demo service over real HTTP. Every process a test
starts is stopped by its PID in a ``finally``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import ODIN, ROOT, free_port, run_odin
from tests.test_fragile_corners import _port_free, _restart_prefect, _server
from tests.test_migration_e2e import FAST, journal, kinds, shop, write_plan  # noqa: F401 - shop is a fixture

EXIT_BOUND_SECONDS = 30.0
"""From the journal's ``run_finished`` to the process gone, with the Prefect API dead: the engine's
grace (10 s) and the services' drain (5 s), with room for a busy two-core machine."""


def _plan(tmp_path: Path, url: str, name: str, soak: str) -> Path:
    weights = f"{url}/_admin/weights"
    t0 = [{"name": "shift-10", "kind": "http", "method": "PUT", "url": weights, "json": {"blue": 90, "green": 10},
           "undo": {"kind": "http", "method": "PUT", "url": weights, "json": {"blue": 100, "green": 0}}},
          {"name": "soak", "kind": "wait", "duration": soak},
          {"name": "shift-100", "kind": "http", "method": "PUT", "url": weights, "json": {"blue": 0, "green": 100},
           "undo": {"kind": "http", "method": "PUT", "url": weights, "json": {"blue": 90, "green": 10}}}]
    return write_plan(tmp_path, url, name=name, t0=t0)


def _start_t0(plan: Path, env: dict) -> subprocess.Popen[str]:
    return subprocess.Popen([*ODIN, "migrate", str(plan), "--phase", "t0", "--time-scale", "60"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def _wait_for_soak(runner: subprocess.Popen[str], env: dict, name: str) -> None:
    deadline = time.monotonic() + 180
    while not any(e["kind"] == "step_started" and e["step"] == "soak" for e in _entries(env, name)):
        assert time.monotonic() < deadline and runner.poll() is None, "T-0 never reached its soak step"
        time.sleep(0.2)


def _entries(env: dict, name: str) -> list[dict]:
    try:
        return journal(env, name)
    except (FileNotFoundError, ValueError):
        return []


def _stop(runner: subprocess.Popen[str] | None) -> None:
    if runner is not None and runner.poll() is None:
        runner.kill()
        runner.communicate(timeout=30)


def _open_intents(env: dict, name: str) -> list:
    from odin_drills.steps.intent import open_intents
    from odin_drills.steps.journal import read_journal

    folder = Path(env["ODIN_HOME"]) / "migrations" / name
    return open_intents(read_journal(folder / (folder / "current").read_text().strip() / "journal.jsonl"))


# ------------------------------------------------------------------ the Prefect server dies during a T-0 step

def test_the_prefect_server_killed_during_a_t0_step_changes_neither_the_outcome_nor_the_exit(
        tmp_path: Path, shop) -> None:
    """SIGKILL to the Prefect server (its process group, by PID) while T-0 soaks: the run finishes
    every step, journals ``completed``, exits 0 within a bound after its last entry, and says once,
    in one line, that Prefect could not record it. Restarted, the server shows the run, and the next
    ``odin`` command back-fills its final state."""
    server_home = tmp_path / "server-home"
    port = free_port()
    env = dict(os.environ, ODIN_HOME=str(server_home), ODIN_SERVER_PORT=str(port), PYTHONPATH=str(ROOT),
               PREFECT_HOME=str(tmp_path / "prefect-client"), PREFECT_LOGGING_LEVEL="WARNING",
               PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    (tmp_path / "prefect-client").mkdir()
    runner: subprocess.Popen[str] | None = None
    restarted: subprocess.Popen[bytes] | None = None
    try:
        assert _server(env, "start").returncode == 0
        info = json.loads((server_home / "server.json").read_text())
        run_env = dict(env, PREFECT_API_URL=info["url"], ODIN_HOME=str(tmp_path / "home"))
        plan = _plan(tmp_path, shop.router_url, "api-dies", "10m")  # 10 s at --time-scale 60
        assert run_odin(["migrate", str(plan), "--phase", "t-1w", "--time-scale", str(FAST)], env=run_env).returncode == 0
        runner = _start_t0(plan, run_env)
        _wait_for_soak(runner, run_env, "api-dies")
        os.killpg(info["pid"], signal.SIGKILL)  # the API dies mid-step, without a goodbye
        went_down = time.monotonic()
        while not _port_free(port):
            assert time.monotonic() - went_down < 30, "the Prefect server did not die"
            time.sleep(0.1)
        out, err = runner.communicate(timeout=240)
        exited = datetime.now().astimezone()
        entries = journal(run_env, "api-dies")
        finished = kinds(entries, "run_finished")[-1]
        print(f"api-dies: exit {runner.returncode} {(exited - datetime.fromisoformat(finished['wall'])).total_seconds():.1f} s "
              f"after run_finished; stderr:\n{err[-8000:]}")
        assert runner.returncode == 0, err[-3000:]
        assert finished["data"]["outcome"] == "completed" and finished["data"]["exit_code"] == 0, finished
        assert {e["step"] for e in kinds(entries, "step_finished")} >= {"shift-10", "soak", "shift-100"}
        assert _open_intents(run_env, "api-dies") == []
        assert shop.weights() == {"blue": 0, "green": 100}
        assert (exited - datetime.fromisoformat(finished["wall"])).total_seconds() < EXIT_BOUND_SECONDS
        notices = [line for line in err.splitlines() if "could not be recorded in Prefect" in line]
        assert len(notices) == 1, err[-3000:]  # once, one line, naming the journal
        assert "journal" in notices[0] and info["url"] in notices[0]
        assert "Traceback" not in err and "completed: report" in out
        assert "next odin command" in notices[0]
        # the server comes back (same port, same database): the run it started is there, still Running;
        # the next odin command (the migration's T+1h) back-fills its final state before it starts
        restarted = _restart_prefect(server_home, port)
        flow_run_id = kinds(entries, "run_started")[-1]["data"]["flow_run_id"]
        run = httpx.get(f"{info['url']}/flow_runs/{flow_run_id}", timeout=10)
        assert run.status_code == 200 and run.json()["state"]["type"] == "RUNNING", run.text[:300]
        later = run_odin(["migrate", str(plan), "--phase", "t+1h", "--time-scale", str(FAST)], env=run_env)
        assert later.returncode == 0, later.stderr[-3000:]
        state = httpx.get(f"{info['url']}/flow_runs/{flow_run_id}", timeout=10).json()["state"]
        assert (state["type"], state["name"]) == ("COMPLETED", "Completed"), state
        assert any("back-filled into Prefect" in e["data"].get("message", "")
                   for e in kinds(journal(run_env, "api-dies"), "note"))
        assert not (Path(run_env["ODIN_HOME"]) / "prefect-backlog.jsonl").read_text().strip()
    finally:
        _stop(runner)
        if restarted is not None and restarted.poll() is None:
            os.killpg(restarted.pid, signal.SIGTERM)
            restarted.wait(timeout=60)
        _server(env, "stop")


# ------------------------------------------------------------------ signals

def test_sigterm_during_a_step_stops_after_it_and_resume_finishes_the_migration(
        tmp_path: Path, odin_env: dict, shop) -> None:
    """SIGTERM while T-0 soaks: the step in flight finishes and is journaled, shift-100 never starts,
    the lock is released, the run ends ``interrupted`` (exit 5) saying how to go on; ``--resume``
    then finishes the migration without running a step twice."""
    plan = _plan(tmp_path, shop.router_url, "sigterm", "6m")
    assert run_odin(["migrate", str(plan), "--phase", "t-1w", "--time-scale", str(FAST)], env=odin_env).returncode == 0
    runner: subprocess.Popen[str] | None = None
    try:
        runner = _start_t0(plan, odin_env)
        _wait_for_soak(runner, odin_env, "sigterm")
        runner.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        out, err = runner.communicate(timeout=120)
        took = time.monotonic() - sent
    finally:
        _stop(runner)
    assert runner.returncode == 5, err[-3000:]
    assert took < 6 + EXIT_BOUND_SECONDS, took  # the rest of the 6 s soak, then out
    entries = journal(odin_env, "sigterm")
    finished = kinds(entries, "run_finished")[-1]["data"]
    assert finished["outcome"] == "interrupted" and finished["exit_code"] == 5
    assert "--resume" in finished["detail"] and "odin rollback" in finished["detail"]
    assert {e["step"] for e in kinds(entries, "step_finished")} == {"shift-10", "soak"}  # in flight: finished
    assert not [e for e in entries if e["step"] == "shift-100" and e["phase"] == "t0"]  # no new step started
    assert [e["data"]["action"] for e in kinds(entries, "lock")][-1] == "released"
    assert "--resume" in err and "Traceback" not in err
    assert shop.weights() == {"blue": 90, "green": 10}

    resumed = run_odin(["migrate", str(plan), "--resume", "--time-scale", "60"], env=odin_env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    entries = journal(odin_env, "sigterm")
    assert kinds(entries, "run_finished")[-1]["data"]["outcome"] == "completed"
    assert [e["step"] for e in kinds(entries, "step_finished")].count("shift-10") == 1  # never twice
    assert _open_intents(odin_env, "sigterm") == []
    assert shop.weights() == {"blue": 0, "green": 100}


def test_a_second_sigint_aborts_at_once_and_resume_reconciles(tmp_path: Path, odin_env: dict, shop) -> None:
    """Ctrl-C twice during a long soak: out within seconds, not after the step; the journal is
    consistent (no run_finished, every intent before the abort has its outcome or is reconciled)
    and ``--resume`` finishes the migration."""
    plan = _plan(tmp_path, shop.router_url, "sigint", "60m")  # a minute at --time-scale 60
    assert run_odin(["migrate", str(plan), "--phase", "t-1w", "--time-scale", str(FAST)], env=odin_env).returncode == 0
    runner: subprocess.Popen[str] | None = None
    try:
        runner = _start_t0(plan, odin_env)
        _wait_for_soak(runner, odin_env, "sigint")
        runner.send_signal(signal.SIGINT)
        time.sleep(1.0)
        assert runner.poll() is None  # the first one only asks: the soak goes on
        runner.send_signal(signal.SIGINT)
        sent = time.monotonic()
        out, err = runner.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        _stop(runner)
    assert runner.returncode == 5, err[-3000:]
    assert took < 10, took
    assert "aborted at once" in err and "--resume" in err and "Traceback" not in err
    entries = journal(odin_env, "sigint")
    assert not kinds(entries, "run_finished")[1:]  # only T-1w's: the abort wrote nothing more
    assert shop.weights() == {"blue": 90, "green": 10}

    resumed = run_odin(["migrate", str(plan), "--resume", "--time-scale", "600"], env=odin_env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    entries = journal(odin_env, "sigint")
    assert kinds(entries, "run_finished")[-1]["data"]["outcome"] == "completed"
    assert _open_intents(odin_env, "sigint") == []
    assert shop.weights() == {"blue": 0, "green": 100}


@pytest.mark.parametrize("command", [["migrate", "--phase", "t-1w"], ["drill"], ["rollback", "--reason", "x", "--by", "y"]])
def test_a_prefect_server_down_at_start_is_refused_in_one_line(tmp_path: Path, command: list[str]) -> None:
    """PREFECT_API_URL points at a server that is not there: one line saying what to do, exit 2, at once."""
    plan = ROOT / "drills" / ("quarterly-dr-test.yaml" if command[0] == "drill" else "migration-demo.yaml")
    env = dict(os.environ, ODIN_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT),
               PREFECT_API_URL=f"http://127.0.0.1:{free_port()}/api", PREFECT_HOME=str(tmp_path / "prefect-client"))
    started = time.monotonic()
    done = run_odin([command[0], str(plan), *command[1:]], env=env, timeout=60)
    assert time.monotonic() - started < 30
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "PREFECT_API_URL" in lines[0] and "Traceback" not in done.stderr, done.stderr


def _quick_sandbox(tmp_path: Path):  # noqa: ANN202 - AzureSandbox, imported lazily like the tests do
    """A started sandbox with fast probes and no LRO delay, for the drill signal tests."""
    from odin_drills.sandbox.azure import AzureSandbox

    sandbox = AzureSandbox(state_dir=tmp_path / "sandbox", seed=0, replication_lag_seconds=1.0, lro_retry_after=0,
                           probe_interval_seconds=0.1, probe_timeout_seconds=0.5)
    sandbox.start()
    return sandbox


def _latest_drill_journal(folder: Path) -> list[dict]:
    """The entries of the newest drill journal under ``folder`` ([] before the drill writes one)."""
    journals = sorted(folder.glob("*/journal.jsonl"))
    if not journals:
        return []
    return [json.loads(line) for line in journals[-1].read_text().splitlines() if line.strip()]


def test_sigterm_during_a_drill_stops_before_the_failover_and_clears_the_outage(
        tmp_path: Path, odin_env: dict) -> None:
    """SIGTERM while a drill confirms its outage: the detect phase finishes, no failover starts, the
    injected outage is cleared, the lock released, the drill ends ``interrupted`` (exit 5)."""
    from tests.test_drill_e2e import sandbox_env, sandbox_resources, write_drill

    sandbox = _quick_sandbox(tmp_path)
    runner: subprocess.Popen[str] | None = None
    try:
        plan = write_drill(tmp_path, "stopped-drill", resources=sandbox_resources(sandbox.info(), "forced", True),
                           detection={"interval": "30s", "confirmation": "10m", "timeout": "2s",
                                      "frontdoor_probe": {"method": "POST", "path": "/api/orders",
                                                          "json": {"probe": "rto"}}})
        env = sandbox_env(odin_env, tmp_path)
        runner = subprocess.Popen([*ODIN, "drill", str(plan), "--time-scale", "60", "--json"], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        folder = Path(env["ODIN_HOME"]) / "drills" / "stopped-drill"
        deadline = time.monotonic() + 180

        def entries() -> list[dict]:
            return _latest_drill_journal(folder)

        while not any(e["kind"] == "phase_started" and e["phase"] == "detect" for e in entries()):
            assert time.monotonic() < deadline and runner.poll() is None, "the drill never reached detect"
            time.sleep(0.2)
        runner.send_signal(signal.SIGTERM)
        out, err = runner.communicate(timeout=180)
        assert runner.returncode == 5, err[-3000:]
        found = entries()
        finished = kinds(found, "run_finished")[-1]["data"]
        assert (finished["outcome"], finished["exit_code"]) == ("interrupted", 5), finished
        started = [e["phase"] for e in kinds(found, "phase_started")]
        assert "detect" in started and "failover" not in started  # no new world-changing phase
        assert [e["data"]["action"] for e in kinds(found, "lock")][-1] == "released"
        assert not [op for op in sandbox.operations() if "failover" in str(op.get("operation", "")).lower()]
        assert not sandbox.faults.list()  # the injected outage was cleared on the way out
        assert "Traceback" not in err
    finally:
        _stop(runner)
        sandbox.stop()


def test_sigterm_during_the_drills_failover_confirmation_vetoes_it_even_if_the_default_fails_over(
        tmp_path: Path, odin_env: dict) -> None:
    """SIGTERM while a drill waits for a person to confirm its failover (default at the deadline:
    fail over): the wait ends within seconds as a veto by the signal, no failover starts, the outage
    is cleared and the drill ends ``vetoed`` (exit 3), the veto signed by the signal."""
    from tests.test_drill_e2e import sandbox_env, sandbox_resources, write_drill

    sandbox = _quick_sandbox(tmp_path)
    runner: subprocess.Popen[str] | None = None
    try:
        plan = write_drill(tmp_path, "confirm-drill", resources=sandbox_resources(sandbox.info(), "forced", True),
                           decision={"human_confirm": True, "confirm_timeout": "10h", "on_confirm_timeout": "fail-over"},
                           # a wait longer than the decision budget is refused at load: the budget grows with it
                           targets={"rto": "12h", "rpo": "15m", "budgets": {"decision": "11h"}})
        env = sandbox_env(odin_env, tmp_path)
        runner = subprocess.Popen([*ODIN, "drill", str(plan), "--time-scale", "60", "--json"], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        folder = Path(env["ODIN_HOME"]) / "drills" / "confirm-drill"
        deadline = time.monotonic() + 240

        def entries() -> list[dict]:
            return _latest_drill_journal(folder)

        while not any(e["kind"] == "hold_started" for e in entries()):
            assert time.monotonic() < deadline and runner.poll() is None, "the drill never asked for confirmation"
            time.sleep(0.2)
        signalled = time.monotonic()
        runner.send_signal(signal.SIGTERM)
        out, err = runner.communicate(timeout=180)
        assert runner.returncode == 3, err[-3000:]
        assert time.monotonic() - signalled < 120  # not the 10 h (10 min at 60x) confirmation deadline
        finished = kinds(entries(), "run_finished")[-1]["data"]
        assert finished["outcome"] == "vetoed", finished
        found = entries()
        answer = kinds(found, "human_input")[-1]["data"]
        assert answer["action"] == "rollback" and answer["by"] == "odin (SIGTERM)", answer
        assert "failover" not in [e["phase"] for e in kinds(found, "phase_started")]
        assert not [op for op in sandbox.operations() if "failover" in str(op.get("operation", "")).lower()]
        assert not sandbox.faults.list()
        assert "Traceback" not in err
    finally:
        _stop(runner)
        sandbox.stop()


# ------------------------------------------------------------------ the pieces, alone

def test_only_messages_about_a_lost_api_are_kept_off_the_terminal() -> None:
    import logging

    from odin_drills.cli.prefect_noise import LOST, ApiLostFilter

    LOST.clear()
    keep = ApiLostFilter()

    def record(text: str) -> logging.LogRecord:
        return logging.LogRecord("prefect.events.clients", logging.WARNING, __file__, 1, text, None, None)

    assert keep.filter(record("Service 'ConcurrencySlotAcquisitionWithLeaseService' failed to process item (1,)"))
    assert not LOST  # lock contention is not an outage
    assert not keep.filter(record("Service 'EventsWorker' failed to process item Event(...)"))
    assert not LOST  # the shipper giving up says nothing about why
    assert not keep.filter(record("Unable to connect to 'ws://127.0.0.1:1/api/events/in'. Reason: Connect call failed"))
    assert LOST and LOST[0].startswith("Unable to connect to")
    assert keep.filter(record("gate shift-10: proceed"))
    LOST.clear()


def test_the_backlog_takes_the_final_state_the_journal_names(tmp_path: Path) -> None:
    from odin_drills.cli.backfill import final_state_of

    path = tmp_path / "journal.jsonl"
    lines = [{"seq": 1, "kind": "run_started", "data": {"flow_run_id": "abc"}},
             {"seq": 2, "kind": "run_finished", "data": {"outcome": "rolled_back_healthy", "exit_code": 3,
                                                        "detail": ""}}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + '\n{"seq": 3, "kind": "no')  # a torn last line
    item = final_state_of(str(path))
    assert item is not None and item["flow_run_id"] == "abc"
    assert item["state"]["type"] == "FAILED" and item["state"]["name"] == "RolledBack"
    path.write_text(json.dumps(lines[0]) + "\n")  # still running: nothing to back-fill
    assert final_state_of(str(path)) is None
