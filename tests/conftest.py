"""Shared fixtures: one real Prefect server for the whole run, isolated homes, the demo service.

Every process a fixture starts is stopped by its PID in a ``finally``, on success and failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ODIN = [sys.executable, "-m", "odin_drills.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("odin-home")


@pytest.fixture(scope="session")
def prefect_api(session_home: Path) -> Iterator[str]:
    """A real ``prefect server start`` on SQLite under an isolated home, shared by all tests."""
    from odin_drills.cli import server

    saved = {k: os.environ.get(k) for k in ("ODIN_HOME", "ODIN_SERVER_PORT", "PREFECT_API_URL")}
    os.environ["ODIN_HOME"] = str(session_home)
    os.environ["ODIN_SERVER_PORT"] = str(free_port())
    os.environ.pop("PREFECT_API_URL", None)
    try:
        info = server.start(timeout=300)  # a loaded 2-core runner has taken 80-135 s; one slow start must not error every test
        yield info.url
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def odin_env(prefect_api: str, tmp_path: Path) -> dict[str, str]:
    """Environment for an ``odin`` subprocess: the shared server, a fresh ODIN_HOME per test."""
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ)
    env.update({
        "ODIN_HOME": str(home),
        "PREFECT_API_URL": prefect_api,
        "PREFECT_HOME": str(tmp_path / "prefect-client"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    })
    (tmp_path / "prefect-client").mkdir()
    return env


def run_odin(args: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ODIN, *args], cwd=ROOT, env=env or dict(os.environ, PYTHONPATH=str(ROOT)),
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
