"""``python -m odin_drills.sandbox.azure``: one JSON line on stdout, serve, stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_its_info_serves_and_stops_on_a_signal(tmp_path: Path, stop_signal: signal.Signals):
    state = tmp_path / "state"
    process = subprocess.Popen(
        [sys.executable, "-m", "odin_drills.sandbox.azure", "--state-dir", str(state), "--seed", "5"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        info = json.loads(process.stdout.readline())
        assert set(info) >= {"arm_url", "ca_cert", "subscription_id", "frontdoor_url", "admin_url",
                             "regions", "resources"}
        assert Path(info["ca_cert"]) == state / "ca.pem" and Path(info["ca_cert"]).is_file()
        assert json.loads((state / "sandbox.json").read_text()) == info
        assert set(info["regions"]) == {"eastus", "westus"}
        assert {"failover_groups", "storage_accounts", "frontdoor_origin_groups"} <= set(info["resources"])
        assert httpx.get(f"{info['admin_url']}/health").json() == {"status": "ok"}
        assert httpx.get(f"{info['frontdoor_url']}/health").headers["x-odin-region"] == "eastus"
        fg = info["resources"]["failover_groups"][0]
        response = httpx.get(info["arm_url"] + fg, params={"api-version": "2025-01-01"},
                             headers={"Authorization": "Bearer x"},
                             verify=ssl.create_default_context(cafile=info["ca_cert"]))
        assert response.json()["properties"]["replicationRole"] == "Primary"

        started = time.monotonic()
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
        assert not (state / "ca.pem").exists() and not (state / "sandbox.json").exists()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{info['admin_url']}/health", timeout=2)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()
