"""The same deployments on a PostgreSQL-backed Prefect server, two workers, one environment.

Two drills on the same environment, started at once and picked up by two workers, must not
overlap: the environment lock (a strict Prefect global concurrency limit) serialises them.
PostgreSQL runs on 127.0.0.1:5432 with trust auth on these machines; .ci/run starts it if needed.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port
from tests.deploy_helpers import deploy_all, run_deployment, wait_for_runs, worker


def _postgres(sql: str, database: str = "postgres") -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database=database, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@pytest.fixture(scope="module")
def pg_prefect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A Prefect server on a fresh PostgreSQL database, stopped by PID and the database dropped after."""
    database = f"odin_test_{secrets.token_hex(4)}"
    try:
        _postgres(f'CREATE DATABASE "{database}"')
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is needed for this test and did not answer: {exc}")
    home = tmp_path_factory.mktemp("pg-prefect")
    port = free_port()
    env = dict(os.environ)
    env.update({
        "PREFECT_HOME": str(home / "server-home"),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_ENABLED": "false",
    })
    env.pop("PREFECT_API_URL", None)
    (home / "server-home").mkdir()
    log = (home / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (home / "server.log").read_text()[-2000:]
            time.sleep(0.5)
        else:
            raise AssertionError("the PostgreSQL-backed Prefect server did not become healthy")
        client_env = dict(os.environ)
        client_env.update({"PREFECT_API_URL": url, "PREFECT_HOME": str(home / "client-home"),
                           "ODIN_HOME": str(home / "odin"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                           "PREFECT_LOGGING_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)})
        (home / "client-home").mkdir()
        (home / "odin").mkdir()
        yield client_env
    finally:
        import signal

        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        log.close()
        try:
            _postgres(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        except Exception:  # noqa: BLE001
            pass


def _drill_journals(env: dict[str, str], plan: str) -> list[list[dict]]:
    root = Path(env["ODIN_HOME"]) / "drills" / plan
    out = []
    for journal in sorted(root.glob("*/journal.jsonl")):
        out.append([json.loads(line) for line in journal.read_text().splitlines() if line.strip()])
    return out


def test_two_drills_on_one_environment_are_serialised_on_postgres(pg_prefect: dict[str, str]) -> None:
    deploy_all(pg_prefect)
    plan = str(ROOT / "drills" / "region-failover-sandbox.yaml")
    with worker(pg_prefect, name="w1"), worker(pg_prefect, name="w2"):
        runs = [run_deployment("region-failover-drill/region-failover-drill",
                               {"plan_file": plan, "time_scale": 60}, pg_prefect) for _ in range(2)]
        states = wait_for_runs(pg_prefect, runs, timeout=420)
    assert set(states.values()) == {"COMPLETED"}, states
    journals = _drill_journals(pg_prefect, "region-failover-sandbox")
    assert len(journals) == 2
    spans = []
    for entries in journals:
        locks = [e for e in entries if e["kind"] == "lock"]
        assert [l["data"]["action"] for l in locks] == ["acquired", "released"]
        spans.append((datetime.fromisoformat(locks[0]["wall"]), datetime.fromisoformat(locks[1]["wall"])))
        flow_runs = {e["data"].get("flow_run_id") for e in entries if e["kind"] == "run_started"}
        assert flow_runs & set(runs)
    spans.sort()
    assert spans[0][1] <= spans[1][0], f"the two drills overlapped: {spans}"
    # each run stored its report and criteria as artifacts on the server
    code = (
        "import json, sys\n"
        "from prefect.client.orchestration import get_client\n"
        "from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId\n"
        "with get_client(sync_client=True) as c:\n"
        "    arts = c.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=sys.argv[1:])))\n"
        "    print(json.dumps(sorted({(str(a.flow_run_id), a.key) for a in arts if a.key})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, *runs], env=pg_prefect, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    stored = {tuple(pair) for pair in json.loads(done.stdout.strip().splitlines()[-1])}
    for run in runs:
        assert (run, "region-failover-sandbox-drill-report") in stored, stored
        assert (run, "region-failover-sandbox-drill-criteria") in stored, stored
