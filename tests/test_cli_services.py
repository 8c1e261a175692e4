"""`odin sandbox up` and `odin server`: long-running services the CLI starts and stops cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx

from tests.conftest import ODIN, ROOT


def test_sandbox_up_prints_its_endpoints_and_stops_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen([*ODIN, "sandbox", "up", "--state-dir", str(tmp_path), "--seed", "3"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        info = json.loads(process.stdout.readline())
        for key in ("arm_url", "ca_cert", "subscription_id", "frontdoor_url", "admin_url", "regions", "resources"):
            assert key in info
        assert info["arm_url"].startswith("https://127.0.0.1:")
        assert set(info["regions"]) == {"eastus", "westus"}
        assert info["resources"]["failover_groups"] and info["resources"]["storage_accounts"]
        assert (tmp_path / "sandbox.json").exists()
        # the ARM endpoint speaks TLS with the generated CA
        response = httpx.get(f"{info['arm_url']}{info['resources']['failover_groups'][0]}?api-version=2023-08-01",
                             verify=__import__("ssl").create_default_context(cafile=info["ca_cert"]), headers={"Authorization": "Bearer x"})
        assert response.status_code == 200 and response.json()["properties"]["replicationRole"] == "Primary"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)
