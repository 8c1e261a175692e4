"""Who decided: the typed ``--by`` name and, beside it, the identity odin could check.

* ``odin decide`` records the OS user (``pwd`` entry of the real uid) or, against Prefect Cloud,
  the API key's account (``GET /me/``, here a real HTTP endpoint on 127.0.0.1 standing in for Cloud);
* the Prefect UI form has no ``verified_as`` field, and a decision sent the way the UI sends it is
  journaled as not verified;
* the Markdown and HTML reports show both.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.conftest import ODIN, ROOT, run_odin
from tests.http_servers import serve
from tests.test_migration_e2e import FAST, _stop, journal, kinds, migrate, shop, write_plan  # noqa: F401

ME = f"os:{pwd.getpwuid(os.getuid()).pw_name} (uid {os.getuid()})"


# ------------------------------------------------------------------ the identity itself

@pytest.fixture
def fake_cloud() -> Iterator[str]:
    """Prefect Cloud's ``/api/me/`` on 127.0.0.1: answers for key ``pnu_good``, 401 otherwise."""

    async def me(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != "Bearer pnu_good":
            return JSONResponse({"detail": "Unauthorized"}, status_code=401)
        return JSONResponse({"id": "u-1", "handle": "alice-sre", "email": "alice@example.com"})

    with serve(Starlette(routes=[Route("/api/me/", me)])) as url:
        yield f"{url}/api"


def _identity_with(settings: dict[str, str]) -> str:
    from prefect.settings import PREFECT_API_KEY, PREFECT_API_URL, PREFECT_CLOUD_API_URL, temporary_settings

    from odin_drills.steps.identity import verified_identity

    names = {"key": PREFECT_API_KEY, "api": PREFECT_API_URL, "cloud": PREFECT_CLOUD_API_URL}
    with temporary_settings(updates={names[k]: v for k, v in settings.items()}):
        return verified_identity()


def test_against_cloud_the_identity_is_the_api_keys_account(fake_cloud: str) -> None:
    workspace = f"{fake_cloud}/accounts/a1/workspaces/w1"
    assert _identity_with({"key": "pnu_good", "api": workspace, "cloud": fake_cloud}) == \
        "prefect-cloud:alice-sre (alice@example.com)"
    with pytest.raises(PermissionError, match="refused the configured API key"):
        _identity_with({"key": "pnu_stolen", "api": workspace, "cloud": fake_cloud})


def test_without_cloud_the_identity_is_the_os_user(fake_cloud: str) -> None:
    # an API key for a self-hosted server proves nothing odin can check: the OS user it is
    assert _identity_with({"key": "pnu_good", "api": "http://127.0.0.1:9/api", "cloud": fake_cloud}) == ME


def test_the_os_identity_is_not_taken_from_environment_variables() -> None:
    env = {**os.environ, "USER": "mallory", "LOGNAME": "mallory", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", "from odin_drills.steps.identity import os_identity; print(os_identity())"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == ME, done.stderr


# ------------------------------------------------------------------ end to end: CLI and UI form

def _hold_at(env: dict, step: str, timeout: float = 120) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        holds = [h for h in kinds(journal(env, "who-decided"), "hold_started") if h["step"] == step]
        if holds:
            return holds[-1]
        time.sleep(0.3)
    raise AssertionError(f"no hold at {step} within {timeout} s")


def _resume_like_the_ui(api: str, flow_run_id: str) -> dict:
    """What the Prefect UI does: read the paused run's form schema, submit the fields it shows."""
    end = time.monotonic() + 60
    while True:
        run = httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=10).json()
        if run["state"]["type"] == "PAUSED" or time.monotonic() > end:
            break
        time.sleep(0.2)
    keyset = run["state"]["state_details"]["run_input_keyset"]
    schema = httpx.get(f"{api}/flow_runs/{flow_run_id}/input/{keyset['schema']}", timeout=10).json()
    answer = {"action": "proceed", "reason": "approved in the UI", "by": "carol"}
    for _ in range(5):  # a busy server answers 503 (its database locked): a person clicks again, so does this
        resumed = httpx.post(f"{api}/flow_runs/{flow_run_id}/resume", json={"run_input": answer}, timeout=10)
        if resumed.status_code != 503:
            break
        time.sleep(1.0)
    assert resumed.status_code in (200, 201) and resumed.json()["status"] == "ACCEPT", resumed.text
    return schema


def test_decisions_record_the_typed_name_and_the_verified_identity(tmp_path: Path, odin_env: dict, shop) -> None:
    weights = f"{shop.router_url}/_admin/weights"
    t0 = [{"name": "cab", "kind": "approval", "prompt": "CAB approved?", "timeout": "1000h"},
          {"name": "go-no-go", "kind": "approval", "prompt": "Shift 10 % to green?", "timeout": "1000h"},
          {"name": "shift-10", "kind": "http", "method": "PUT", "url": weights, "json": {"blue": 90, "green": 10},
           "undo": {"kind": "http", "method": "PUT", "url": weights, "json": {"blue": 100, "green": 0}}}]
    plan = write_plan(tmp_path, shop.router_url, name="who-decided", t0=t0)
    assert migrate(plan, odin_env, "--phase", "t-1w").returncode == 0
    process = subprocess.Popen([*ODIN, "migrate", str(plan), "--phase", "t0", "--time-scale", str(FAST)], cwd=ROOT,
                               env=odin_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL)
    try:
        first = _hold_at(odin_env, "cab")
        decided = run_odin(["decide", first["data"]["flow_run_id"], "proceed", "--reason", "CAB approved",
                            "--by", "bob"], env=odin_env)
        assert decided.returncode == 0, decided.stderr
        assert decided.stdout.strip().endswith(f"proceed by bob (verified as {ME})")
        second = _hold_at(odin_env, "go-no-go")
        schema = _resume_like_the_ui(odin_env["PREFECT_API_URL"], second["data"]["flow_run_id"])
        out, err = process.communicate(timeout=180)
    finally:
        _stop(process)
    assert process.returncode == 0, err[-3000:]
    assert {"action", "reason", "by"} <= set(schema["properties"]) and "verified_as" not in schema["properties"]
    humans = [(h["step"], h["data"]["by"], h["data"]["verified_as"])
              for h in kinds(journal(odin_env, "who-decided"), "human_input")]
    assert humans == [("cab", "bob", ME), ("go-no-go", "carol", "not verified (entered in the Prefect UI form)")]
    assert shop.weights() == {"blue": 90, "green": 10}

    folder = Path(odin_env["ODIN_HOME"]) / "migrations" / "who-decided"
    folder = folder / (folder / "current").read_text().strip()
    markdown = (folder / "report.md").read_text()
    assert "| by | verified as | why |" in markdown
    assert f"| bob | {ME} | CAB approved |" in markdown
    assert "| carol | not verified (entered in the Prefect UI form) | approved in the UI |" in markdown
    html = (folder / "report.html").read_text()
    assert "<th>verified as</th>" in html and ME in html and "not verified (entered in the Prefect UI form)" in html
