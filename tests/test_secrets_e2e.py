"""Credentials end to end: a migration whose steps and undos need secrets, rolled back.

The real CLI in its own process, the real Prefect server of the test session, the sandbox's Key
Vault read through the real SDK over HTTPS, and a real HTTP server on 127.0.0.1 recording every
request. T-0 calls an API with a Bearer token and a basic-auth URL, notifies a webhook whose path
is a secret, runs a command that prints a secret, then a step fails and odin rolls back. The undos
must reach their targets with the **real** credentials, resolved again from the references in the
journal, and no secret value may appear in any file under ``$ODIN_HOME``, in the Prefect server's
database, or on the console.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.http_servers import serve
from tests.test_migration_e2e import journal, kinds, migrate

SECRETS = {  # Key Vault name -> value
    "api-token": "kv-api-token-7f3a9c1e",
    "deploy-pw": "deploy-pw-c0ffee42",
    "hook-path": "T7SECRET/B7SECRET/hook9d8e7f6a",
    "cmd-token": "cmd-token-b16b00b5",
}
FN_CODE = "fn-code-0ddba11e"  # from the environment, ${env:FN_CODE}


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]


class Recorder:
    """Records every request; echoes the Authorization header back (odin must mask the echo)."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/{path:path}", self.handle, methods=["GET", "HEAD", "POST", "PUT"])])

    async def handle(self, request: Request) -> Response:
        with self._lock:
            self.seen.append(Seen(request.method, request.url.path, request.url.query, dict(request.headers)))
        if request.url.path == "/api/fail":
            return JSONResponse({"error": "the change broke"}, status_code=500)
        return JSONResponse({"echo": request.headers.get("authorization", "")})

    def requests(self, method: str, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.method == method and s.path == path]


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, str]]:
    rec = Recorder()
    with serve(rec.app) as url:
        yield rec, url


@pytest.fixture
def shop() -> Iterator[Any]:
    from odin_drills.sandbox.bluegreen import BlueGreenDemo

    with BlueGreenDemo(seed=5, port=0, error_rate=0.10, latency_median_ms=30) as demo:
        yield demo


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    from odin_drills.sandbox.azure import AzureSandbox

    with AzureSandbox(state_dir=tmp_path / "sandbox", seed=9) as sandbox:
        admin = sandbox.info()["admin_url"]
        for name, value in SECRETS.items():  # seeded as an operator would, through the admin API
            assert httpx.put(f"{admin}/secrets/{name}", json={"value": value}, timeout=5).status_code == 201
        yield sandbox, tmp_path / "sandbox" / "sandbox.json"


def write_plan(tmp_path: Path, shop_url: str, api: str) -> Path:
    host = api.removeprefix("http://")
    undo_token = tmp_path / "undo-saw-token"
    auth = {"Authorization": "Bearer ${secret:api-token}"}
    plan = {
        "name": "secret-move",
        "environment": "secret-move",
        "target": {"kind": "sandbox"},
        "secrets": {"kind": "keyvault"},
        "service": {"name": "shop", "endpoints": {"router": shop_url}},
        "metrics": {"kind": "synthetic_probe", "url": f"{shop_url}/api/orders/1", "rate_per_second": 150,
                    "min_window_wall_seconds": 2},
        "smoke": [{"name": "health", "url": f"{shop_url}/health", "retries": 5, "retry_delay": 0.05}],
        # latency is not what this test is about: a CPU stall on a busy 2-core machine must not roll back early
        "policy": {"windows": {"baseline": "1w", "step": "5m", "interval": "5m", "validation": "1h", "final": "23h"},
                   "floors": {"latency_ms": 10_000}, "absolute": {"p95_latency_ms": None}},
        "phases": {"t0": [
            {"name": "call-api", "kind": "http", "method": "POST",
             "url": f"http://deploy:${{secret:deploy-pw}}@{host}/api/change?code=${{env:FN_CODE}}",
             "headers": auth, "json": {"blue": 0},
             "undo": {"kind": "http", "method": "POST", "url": f"http://deploy:${{secret:deploy-pw}}@{host}/api/undo",
                      "headers": auth, "json": {"blue": 100}}},
            {"name": "announce", "kind": "notify", "url": f"{api}/hooks/${{secret:hook-path}}",
             "message": "cut-over starts", "payload": {"routing_key": "${secret:cmd-token}"}},
            {"name": "print-secret", "kind": "command",
             "argv": [sys.executable, "-c", "import os; print('token is', os.environ['TOKEN'])"],
             "env": {"TOKEN": "${secret:cmd-token}"},
             "undo": {"kind": "command", "env": {"TOKEN": "${secret:cmd-token}"},
                      "argv": [sys.executable, "-c",
                               f"import os; open({str(undo_token)!r}, 'w').write(os.environ['TOKEN']); "
                               "print('undo used', os.environ['TOKEN'])"]}},
            {"name": "break", "kind": "http", "method": "POST", "url": f"{api}/api/fail", "headers": auth,
             "undo": "none", "undo_reason": "it never changes anything: it fails"},
        ]},
    }
    path = tmp_path / "secret-move.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def forbidden() -> list[bytes]:
    """Every secret, as bytes, in the forms it could leak in (raw, URL-encoded, in a Basic header)."""
    values = [*SECRETS.values(), FN_CODE]
    forms = [v.encode() for v in values]
    forms.append(SECRETS["hook-path"].replace("/", "%2F").encode())
    forms.append(base64.b64encode(f"deploy:{SECRETS['deploy-pw']}".encode()))
    return forms


def leaks_in_tree(root: Path) -> list[str]:
    found = []
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        data = file.read_bytes()
        found += [f"{file}: {form.decode()}" for form in forbidden() if form in data]
    return found


def test_a_rolled_back_migration_replays_undos_with_real_credentials_and_leaks_none(
        tmp_path: Path, odin_env: dict, session_home: Path, shop: Any, recorder: tuple[Recorder, str],
        vault: tuple[Any, Path]) -> None:
    rec, api = recorder
    sandbox, info_file = vault
    # INFO: every journal line also goes to Prefect's logs, which must be masked too
    env = {**odin_env, "ODIN_SANDBOX_INFO": str(info_file), "FN_CODE": FN_CODE, "PREFECT_LOGGING_LEVEL": "INFO"}
    plan = write_plan(tmp_path, shop.router_url, api)

    baseline = migrate(plan, env, "--phase", "t-1w")
    assert baseline.returncode == 0, baseline.stderr[-3000:]
    result = migrate(plan, env, "--phase", "t0")
    assert result.returncode == 3, result.stderr[-3000:]  # rolled back, healthy

    entries = journal(env, "secret-move")
    assert [e["step"] for e in kinds(entries, "undo_finished")] == ["print-secret", "call-api"]
    assert all(e["data"]["status"] == "ok" for e in kinds(entries, "undo_finished"))
    assert "break" in kinds(entries, "rollback_started")[0]["data"]["reason"]

    # the change and its undo reached the API with the real credentials
    basic = "Basic " + base64.b64encode(f"deploy:{SECRETS['deploy-pw']}".encode()).decode()
    change, = rec.requests("POST", "/api/change")
    undo, = rec.requests("POST", "/api/undo")
    for request in (change, undo):
        assert request.headers["authorization"] in (basic, f"Bearer {SECRETS['api-token']}")
    assert change.query == f"code={FN_CODE}" and undo.headers["authorization"] == basic  # URL userinfo wins
    assert rec.requests("HEAD", "/api/undo")  # T-1w checked the undo's target, credentials resolved
    hook, = rec.requests("POST", f"/hooks/{SECRETS['hook-path']}")
    assert hook.headers["content-type"] == "application/json"
    assert (tmp_path / "undo-saw-token").read_text() == SECRETS["cmd-token"]
    fail, = rec.requests("POST", "/api/fail")
    assert fail.headers["authorization"] == f"Bearer {SECRETS['api-token']}"
    assert sandbox.secrets.reads("api-token") >= 3  # each call resolved the reference again

    # the journal holds the references, so the replay above could resolve them
    call_api = next(e for e in kinds(entries, "step_finished") if e["step"] == "call-api")
    assert call_api["data"]["undo"]["headers"] == {"Authorization": "Bearer ${secret:api-token}"}
    assert "${secret:deploy-pw}" in call_api["data"]["undo"]["url"]
    printed = next(e for e in kinds(entries, "step_finished") if e["step"] == "print-secret")
    assert printed["data"]["output"]["stdout"] == "token is ***\n"

    # and no value anywhere: state, Prefect's database and logs, the console
    assert leaks_in_tree(Path(env["ODIN_HOME"])) == []
    assert leaks_in_tree(Path(env["PREFECT_HOME"])) == []
    assert leaks_in_tree(session_home) == []  # the Prefect server's SQLite database (and its WAL)
    runs = httpx.post(f"{env['PREFECT_API_URL']}/flow_runs/filter", json={"limit": 200}, timeout=10).json()
    ids = [e["data"]["flow_run_id"] for e in kinds(entries, "run_started")]
    assert set(ids) <= {r["id"] for r in runs}
    logs = httpx.post(f"{env['PREFECT_API_URL']}/logs/filter",
                      json={"logs": {"flow_run_id": {"any_": ids}}, "limit": 200}, timeout=10).json()
    assert logs, "the flow runs logged nothing to Prefect"
    log_text = json.dumps(logs).encode()
    assert [f for f in forbidden() if f in log_text] == []
    console = (baseline.stdout + baseline.stderr + result.stdout + result.stderr).encode()
    assert [f for f in forbidden() if f in console] == []
