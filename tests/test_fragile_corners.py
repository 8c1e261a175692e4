"""The fragile corners of issue 8, one test each: a T-1w that failed gates T-0; a change window with a
UTC offset; ``deadlines.rollback`` enforced; the hold deadline survives a Prefect API blip; a
Prefect API outage during a T-0 step orphans nothing. (``odin rollback``'s re-check and outcome:
``tests/test_migration_e2e.py::test_odin_rollback_undoes_a_migration_left_behind``; a torn last
journal line: ``tests/test_journal.py``.)

Real parts: the real CLI in subprocesses, the real Prefect server (and, for the outage, one of its
own, stopped and started by PID), the demo service over real HTTP, a real reverse proxy in front
of the Prefect API injecting the blip.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from odin_drills.plan.models import ChangeWindow
from tests.conftest import ODIN, ROOT, free_port, run_odin
from tests.http_servers import refusing_url, serve
from tests.test_migration_e2e import (FAST, journal, kinds, migrate, shop,  # noqa: F401 - shop is a fixture
                                     straight_to_green, write_plan)


# ------------------------------------------------------------------ change windows with a UTC offset

@pytest.mark.parametrize("window", [
    {"start": "22:00", "end": "04:00", "timezone": "+02:00"},
    {"start": "22:00", "end": "04:00", "timezone": "UTC+2"},
    {"start": "22:00+02:00", "end": "04:00+02:00"},
])
def test_a_change_window_with_a_utc_offset_is_read_in_that_offset(window: dict) -> None:
    w = ChangeWindow.model_validate(window)
    at = datetime(2026, 3, 2, tzinfo=timezone.utc)  # a Monday
    assert w.contains(at.replace(hour=20, minute=30))       # 22:30 at +02:00
    assert w.contains(at.replace(hour=1, minute=59))        # 03:59 at +02:00
    assert not w.contains(at.replace(hour=19, minute=59))   # 21:59 at +02:00
    assert not w.contains(at.replace(hour=2, minute=0))     # 04:00 at +02:00


def test_a_change_window_offset_that_is_no_zone_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        ChangeWindow.model_validate({"start": "22:00", "end": "04:00", "timezone": "Mars/Olympus"})
    with pytest.raises(ValueError, match="same UTC offset"):
        ChangeWindow.model_validate({"start": "22:00+02:00", "end": "04:00+01:00"})


# ------------------------------------------------------------------ T-1w gates T-0

@pytest.mark.parametrize("broken", ["undo", "smoke"])
def test_a_t_minus_1w_that_failed_leaves_no_baseline_and_t0_refuses_with_its_reason(
        tmp_path: Path, odin_env: dict, shop, broken: str) -> None:
    with refusing_url("/_admin/weights") as dead:
        t0 = None
        if broken == "undo":
            t0 = [{"name": "shift-10", "kind": "http", "method": "PUT", "url": f"{shop.router_url}/_admin/weights",
                   "json": {"blue": 90, "green": 10},
                   "undo": {"kind": "http", "method": "PUT", "url": dead, "json": {"blue": 100, "green": 0}}}]
        plan = write_plan(tmp_path, shop.router_url, t0=t0)
        if broken == "smoke":
            text = plan.read_text().replace(f"{shop.router_url}/health", f"{shop.router_url}/no-such-page")
            plan.write_text(text)
        week = migrate(plan, odin_env, "--phase", "t-1w")
        assert week.returncode == 2, week.stderr[-2000:]
        folder = next((Path(odin_env["ODIN_HOME"]) / "migrations" / "shop-move").glob("2*"))
        assert not (folder / "baseline.json").exists()  # checks first: no baseline was written
        finished = [e for e in kinds(journal(odin_env, "shop-move"), "phase_finished") if e["phase"] == "t-1w"]
        assert finished[-1]["data"]["outcome"] == "unusable" and finished[-1]["data"]["detail"]
        refused = migrate(plan, odin_env, "--phase", "t0")
    assert refused.returncode == 2
    assert "left no usable baseline" in refused.stderr and finished[-1]["data"]["detail"][:40] in refused.stderr
    assert shop.weights() == {"blue": 100, "green": 0}  # refused before touching anything
    entries = journal(odin_env, "shop-move")
    assert not kinds(entries, "step_intent") and not kinds(entries, "lock")


# ------------------------------------------------------------------ deadlines.rollback

def test_a_confirmed_rollback_starts_within_deadlines_rollback(tmp_path: Path, odin_env: dict, shop) -> None:
    """A grace of 1000 h for a person to override would delay a confirmed rollback past its deadline:
    the grace is cut to ``deadlines.rollback`` and the rollback starts within it."""
    plan = write_plan(tmp_path, shop.router_url, policy={"rollback_grace": "1000h", "deadlines": {"rollback": "2h"}},
                      t0=straight_to_green(shop.router_url))  # T-0 only sets the stage: one step
    assert migrate(plan, odin_env, "--phase", "t-1w").returncode == 0
    assert migrate(plan, odin_env, "--phase", "t0").returncode == 0
    shop.add_fault("green", error_rate=0.3)
    started = time.monotonic()
    result = migrate(plan, odin_env, "--phase", "t+1h", scale=3600)  # 2 h of plan time = 2 s
    assert result.returncode == 3, result.stderr[-3000:]
    assert time.monotonic() - started < 120
    entries = journal(odin_env, "shop-move")
    assert any("rollback grace cut to deadlines.rollback" in e["data"].get("message", "") for e in kinds(entries, "note"))
    hold = kinds(entries, "hold_started")[-1]
    assert hold["data"]["hold"] == "rollback-grace"
    held = datetime.fromisoformat(hold["data"]["deadline"]) - datetime.fromisoformat(hold["time"])
    assert timedelta(hours=1, minutes=58) <= held < timedelta(hours=2)  # cut to the deadline, less a margin
    assert kinds(entries, "human_input")[-1]["data"]["by"] == "odin (deadline)"
    rollback = kinds(entries, "rollback_started")[-1]["data"]
    deadline = datetime.fromisoformat(rollback["deadline"]) - datetime.fromisoformat(rollback["confirmed_at"])
    assert deadline == timedelta(hours=2) and rollback["late"] is False
    assert shop.weights() == {"blue": 100, "green": 0}


# ------------------------------------------------------------------ the hold deadline and a Prefect API blip

class BlipProxy:
    """A real reverse proxy in front of the Prefect API that fails the first ``resume_failures``
    resumes with 500 and answers every read of a flow run 503 for ``read_blip`` seconds after the
    first failed resume — the API blipping exactly at the hold's deadline."""

    def __init__(self, upstream: str, resume_failures: int = 3, read_blip: float = 2.0) -> None:
        self.upstream = upstream.rstrip("/")
        self.resume_failures = resume_failures
        self.read_blip = read_blip
        self.failed_resumes = 0
        self.failed_reads = 0
        self.blip_until = 0.0
        self.lock = threading.Lock()

    def app(self):  # noqa: ANN201
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        async def forward(request: Request) -> Response:
            path = request.url.path
            with self.lock:
                if request.method == "POST" and path.endswith("/resume") and self.failed_resumes < self.resume_failures:
                    self.failed_resumes += 1
                    self.blip_until = max(self.blip_until, time.monotonic() + self.read_blip)
                    return Response("injected blip", status_code=500)
                if request.method == "GET" and "/flow_runs/" in path and time.monotonic() < self.blip_until:
                    self.failed_reads += 1
                    return Response("injected blip", status_code=503)
            async with httpx.AsyncClient(timeout=30) as client:
                upstream = await client.request(
                    request.method, f"{self.upstream}{path.removeprefix('/api')}", params=request.query_params,
                    content=await request.body(),
                    headers={k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")})
            headers = {k: v for k, v in upstream.headers.items()
                       if k.lower() not in ("content-length", "content-encoding", "transfer-encoding", "connection")}
            return Response(upstream.content, status_code=upstream.status_code, headers=headers)

        return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])


HOLD_FLOW = textwrap.dedent("""
    import json, sys, time
    from prefect import flow
    from odin_drills.flows.human import wait_for_decision

    @flow
    def hold() -> dict:
        started = time.monotonic()
        decision, _ = wait_for_decision(deadline_wall_seconds=2.0, default="rollback")
        return {"action": decision.action, "by": decision.by, "seconds": time.monotonic() - started}

    print("RESULT " + json.dumps(hold()), flush=True)
""")


def test_the_hold_deadline_applies_the_default_through_a_prefect_api_blip(tmp_path: Path, odin_env: dict,
                                                                          prefect_api: str) -> None:
    proxy = BlipProxy(prefect_api)
    script = tmp_path / "hold_flow.py"
    script.write_text(HOLD_FLOW)
    with serve(proxy.app()) as url:
        env = dict(odin_env, PREFECT_API_URL=f"{url}/api")
        done = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=240, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])
    assert proxy.failed_resumes == 3 and proxy.failed_reads >= 1  # the blip happened, at the deadline
    assert (result["action"], result["by"]) == ("rollback", "odin (deadline)")
    # applied right after the blip, long before Prefect's own pause timeout (deadline + 120 s)
    assert result["seconds"] < 60, result


# ------------------------------------------------------------------ a Prefect API outage during a T-0 step

def _port_free(port: int) -> bool:
    """Nothing listens there any more (connections in TIME_WAIT do not count: servers reuse the port)."""
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _restart_prefect(server_home: Path, port: int) -> subprocess.Popen[bytes]:
    """``prefect server start`` again on the same port and database (what ``odin server start`` runs)."""
    from odin_drills.cli.server import server_environment

    env = dict(os.environ, ODIN_HOME=str(server_home))
    saved = os.environ.get("ODIN_HOME")
    os.environ["ODIN_HOME"] = str(server_home)
    try:
        env.update(server_environment(port))
    finally:
        if saved is None:
            os.environ.pop("ODIN_HOME", None)
        else:
            os.environ["ODIN_HOME"] = saved
    process = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
                                str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        assert process.poll() is None, "the Prefect server did not start again"
        time.sleep(0.3)
    raise AssertionError("the Prefect server did not come back")


def _server(env: dict, action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ODIN, "server", action], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL)


def test_a_prefect_api_outage_longer_than_a_lease_renewal_orphans_nothing(tmp_path: Path, shop) -> None:
    """The API goes away (its server stopped by PID) while T-0 waits in a step, for longer than one
    renewal of the environment lease; it comes back; the run finishes its steps and journals them
    — or, if it could not, ``--resume`` reconciles its intents. Every intent ends with an outcome."""
    from odin_drills.steps.intent import open_intents
    from odin_drills.steps.journal import read_journal
    from odin_drills.steps.lock import LEASE_SECONDS

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
        weights = f"{shop.router_url}/_admin/weights"
        t0 = [{"name": "shift-10", "kind": "http", "method": "PUT", "url": weights, "json": {"blue": 90, "green": 10},
               "undo": {"kind": "http", "method": "PUT", "url": weights, "json": {"blue": 100, "green": 0}}},
              {"name": "soak", "kind": "wait", "duration": "75m"},  # 75 s at --time-scale 60
              {"name": "shift-100", "kind": "http", "method": "PUT", "url": weights, "json": {"blue": 0, "green": 100},
               "undo": {"kind": "http", "method": "PUT", "url": weights, "json": {"blue": 90, "green": 10}}}]
        plan = write_plan(tmp_path, shop.router_url, name="outage", t0=t0)
        assert run_odin(["migrate", str(plan), "--phase", "t-1w", "--time-scale", str(FAST)], env=run_env).returncode == 0
        runner = subprocess.Popen([*ODIN, "migrate", str(plan), "--phase", "t0", "--time-scale", "60"], cwd=ROOT,
                                  env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  stdin=subprocess.DEVNULL)
        home = {"ODIN_HOME": run_env["ODIN_HOME"]}
        deadline = time.monotonic() + 120
        while not any(e["kind"] == "step_started" and e["step"] == "soak" for e in journal(home, "outage")):
            assert time.monotonic() < deadline and runner.poll() is None, "T-0 never reached its soak step"
            time.sleep(0.5)
        went_down = time.monotonic()
        os.killpg(info["pid"], signal.SIGTERM)  # the API goes away: the server's process group, by its PID
        while not _port_free(port):  # (its PID may linger as a zombie of whoever adopted it)
            assert time.monotonic() - went_down < 60, "the Prefect server did not stop"
            time.sleep(0.2)
        time.sleep(max(0.0, LEASE_SECONDS / 2 + 10 - (time.monotonic() - went_down)))  # longer than one renewal
        restarted = _restart_prefect(server_home, port)  # same port and database: the run finds it again
        out, err = runner.communicate(timeout=300)
        entries = journal(home, "outage")
        finished = {e["step"] for e in kinds(entries, "step_finished")}
        print(f"outage: the T-0 run ended with exit {runner.returncode}; steps finished {sorted(finished)}")
        if runner.returncode != 0:  # it could not finish: the resume reconciles and finishes it
            resumed = run_odin(["migrate", str(plan), "--resume", "--time-scale", str(FAST)], env=run_env)
            assert resumed.returncode == 0, f"{err[-2000:]}\n---\n{resumed.stderr[-2000:]}"
        else:
            assert {"shift-10", "soak", "shift-100"} <= finished, err[-3000:]
        folder = Path(run_env["ODIN_HOME"]) / "migrations" / "outage"
        contents = read_journal(folder / (folder / "current").read_text().strip() / "journal.jsonl")
        assert open_intents(contents) == []  # nothing orphaned
        assert shop.weights() == {"blue": 0, "green": 100}
        assert kinds(journal(home, "outage"), "run_finished")[-1]["data"]["outcome"] == "completed"
    finally:
        if runner is not None and runner.poll() is None:
            runner.kill()
            runner.communicate(timeout=30)
        if restarted is not None and restarted.poll() is None:
            os.killpg(restarted.pid, signal.SIGTERM)
            restarted.wait(timeout=60)
        _server(env, "stop")
