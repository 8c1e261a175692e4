"""The long-lived local Prefect server that records every run.

Prefect's no-server mode starts a throwaway server per process (~10 s) and loses most task-run
records when it stops, so runs would vanish from the UI. odin instead starts ``prefect server
start`` on SQLite under ``$ODIN_HOME/prefect`` in the background on first use and reuses it, unless
``PREFECT_API_URL`` already points at a server. ``odin server status|stop`` manage it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from pydantic import BaseModel

from odin_drills.errors import TargetUnreachable, UsageError
from odin_drills.home import PRIVATE_UMASK, odin_home, open_private, private_dir, write_private

DEFAULT_PORT = 4200
START_TIMEOUT_SECONDS = 90.0


class ServerInfo(BaseModel):
    pid: int
    port: int
    url: str  # the API URL, ending in /api
    log: str


def _info_path() -> Path:
    return odin_home() / "server.json"


def prefect_home() -> Path:
    return private_dir(odin_home() / "prefect")


def server_environment(port: int | None = None) -> dict[str, str]:
    """Environment for the server process: isolated home, no telemetry leaving loopback.

    Concurrency leases are kept on disk (see below). The UI is told its API's real port: left alone
    it calls 127.0.0.1:4200, so on any other port (the next free one, or a test's) it would show
    "Can't connect to Server API" and no runs.
    """
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_HOME"] = str(prefect_home())
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env.setdefault("PREFECT_UI_ENABLED", "true")
    env["PREFECT_LOGGING_LEVEL"] = env.get("PREFECT_LOGGING_LEVEL", "WARNING")
    # Concurrency leases (the environment lock's slot) on disk, not in the server's memory: a server
    # that dies and comes back still knows them, so they expire or are released; in memory they are
    # lost while the slot stays taken, and the environment would stay locked for good.
    env.setdefault("PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE", "prefect.server.concurrency.lease_storage.filesystem")
    if port is not None:
        env["PREFECT_SERVER_UI_API_URL"] = f"http://127.0.0.1:{port}/api"
    return env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def read_info() -> ServerInfo | None:
    try:
        return ServerInfo.model_validate_json(_info_path().read_text())
    except (FileNotFoundError, ValueError):
        return None


def status() -> tuple[str, ServerInfo | None]:
    """('running'|'starting'|'stopped'|'external', info)."""
    if os.environ.get("PREFECT_API_URL"):
        return "external", None
    info = read_info()
    if info is None or not _alive(info.pid):
        return "stopped", info
    return ("running" if healthy(info.url) else "starting"), info


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _choose_port() -> int:
    wanted = int(os.environ.get("ODIN_SERVER_PORT", DEFAULT_PORT))
    if _port_free(wanted):
        return wanted
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(timeout: float = START_TIMEOUT_SECONDS) -> ServerInfo:
    """Start the server in the background (detached, survives this process) and wait until healthy."""
    port = _choose_port()
    log = odin_home() / "server.log"
    handle = open_private(log, "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_environment(port),
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        umask=PRIVATE_UMASK,  # its SQLite database holds every run's journal-derived logs and artifacts
    )
    info = ServerInfo(pid=process.pid, port=port, url=f"http://127.0.0.1:{port}/api", log=str(log))
    write_private(_info_path(), info.model_dump_json())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TargetUnreachable(
                f"the local Prefect server exited during start-up (code {process.returncode}); see {log}"
            )
        if healthy(info.url, timeout=1.0):
            return info
        time.sleep(0.3)
    stop()
    raise TargetUnreachable(f"the local Prefect server did not become healthy in {timeout:.0f} s; see {log}")


def ensure() -> str:
    """The API URL to record runs in: PREFECT_API_URL if set (checked), else our server, started if needed."""
    external = os.environ.get("PREFECT_API_URL")
    if external:
        if not healthy(external.rstrip("/"), timeout=5.0):  # refused before anything runs: a usage error
            raise UsageError(
                f"PREFECT_API_URL={external} does not answer /health: start that Prefect server, or unset "
                "PREFECT_API_URL to record in odin's own local server (`odin server start`)"
            )
        return external
    state, info = status()
    if state == "running" and info is not None:
        return info.url
    if state == "starting" and info is not None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline and _alive(info.pid):
            if healthy(info.url, timeout=1.0):
                return info.url
            time.sleep(0.3)
    return start().url


def stop(timeout: float = 15.0) -> bool:
    """Stop our server by its PID (SIGTERM, then SIGKILL). True if one was running."""
    info = read_info()
    if info is None or not _alive(info.pid):
        _info_path().unlink(missing_ok=True)
        return False
    try:
        os.killpg(info.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(info.pid):
        try:
            os.waitpid(info.pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    if _alive(info.pid):
        try:
            os.killpg(info.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _info_path().unlink(missing_ok=True)
    return True


QUIET_CONSOLE = {
    # Run logs still go to the API (the UI shows them); the terminal shows odin's own progress.
    "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
    "PREFECT_LOGGING_HANDLERS_CONSOLE_FLOW_RUNS_LEVEL": "WARNING",
    "PREFECT_LOGGING_HANDLERS_CONSOLE_TASK_RUNS_LEVEL": "WARNING",
}


def use(url: str) -> None:
    """Point this process's Prefect client at ``url`` before prefect is imported."""
    os.environ["PREFECT_API_URL"] = url
    for key, value in QUIET_CONSOLE.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_HOME", str(prefect_home()))
    from odin_drills.cli.prefect_noise import quiet

    quiet()  # a lost API is said once, at the end, not by Prefect every few seconds
    from odin_drills.cli.backfill import replay

    try:
        replay(url)  # final states an earlier run could not record, now that the API answers
    except OSError:
        pass
