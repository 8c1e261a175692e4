"""Real Prefect deployments for tests: a work pool, `prefect deploy --all`, process workers.

Every worker is started in its own process group and stopped by PID (two signals: an idle worker
ignores the first), on success and failure alike.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT

PREFECT = [sys.executable, "-m", "prefect"]


def prefect(args: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PREFECT, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def deploy_all(env: dict[str, str], pool: str = "odin") -> None:
    created = prefect(["work-pool", "create", pool, "--type", "process"], env)
    assert created.returncode == 0 or "already exists" in (created.stdout + created.stderr), created.stderr
    deployed = prefect(["--no-prompt", "deploy", "--all"], env, timeout=300)
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]


@contextmanager
def worker(env: dict[str, str], pool: str = "odin", name: str = "w1") -> Iterator[subprocess.Popen[str]]:
    log = Path(env["ODIN_HOME"]) / f"worker-{name}.log"
    handle = log.open("w")
    process = subprocess.Popen([*PREFECT, "worker", "start", "--pool", pool, "--name", name], cwd=ROOT,
                               env={**env, "PREFECT_WORKER_QUERY_SECONDS": "1", "PREFECT_WORKER_PREFETCH_SECONDS": "2"},
                               stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield process
    finally:
        for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):
            if process.poll() is not None:
                break
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                continue
        handle.close()


def run_deployment(name: str, params: dict[str, object], env: dict[str, str]) -> str:
    args = ["deployment", "run", name]
    for key, value in params.items():
        args += ["--param", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    done = prefect(args, env)
    assert done.returncode == 0, done.stdout + done.stderr
    for line in done.stdout.splitlines():
        if "UUID:" in line:
            return line.split("UUID:")[1].strip()
    raise AssertionError(f"no flow run id in: {done.stdout}")


def wait_for_runs(env: dict[str, str], flow_run_ids: list[str], timeout: float = 240) -> dict[str, str]:
    """Wait until each run is final; return id -> state type."""
    code = (
        "import sys, json\n"
        "from prefect.client.orchestration import get_client\n"
        "ids = sys.argv[1:]\n"
        "with get_client(sync_client=True) as c:\n"
        "    print(json.dumps({i: c.read_flow_run(i).state.type.value for i in ids}))\n"
    )
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        done = subprocess.run([sys.executable, "-c", code, *flow_run_ids], env=env, capture_output=True, text=True, timeout=60)
        if done.returncode == 0:
            states = json.loads(done.stdout.strip().splitlines()[-1])
            if all(s in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states.values()):
                return states
        time.sleep(1)
    raise AssertionError(f"runs not final after {timeout} s: {states}")
