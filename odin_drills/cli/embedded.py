"""The embedded default: with no Azure account, a plan whose target is ``sandbox`` gets one.

When a sandbox plan runs and no sandbox is named (no ``arm_url`` in the plan, no
``ODIN_SANDBOX_INFO``), odin starts ``odin sandbox up`` in its own process for the length of the
run and points the plan at it through environment variables a plan can use:

    ODIN_SANDBOX_INFO           path of sandbox.json (the SDK clients read ARM URL and CA from it)
    ODIN_SANDBOX_FRONTDOOR_URL  the Front Door edge
    ODIN_SANDBOX_DNS_SERVER     its DNS zone's name server, 127.0.0.1:PORT (UDP)
    ODIN_SANDBOX_EASTUS_URL, ODIN_SANDBOX_WESTUS_URL   each region's app

Its own process, so the probe measuring the service never shares an interpreter with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from odin_drills.cli.processes import CHILDREN, stop
from odin_drills.errors import TargetUnreachable
from odin_drills.home import PRIVATE_UMASK, odin_home, private_dir


def needs_sandbox(target: Any) -> bool:
    return getattr(target, "kind", None) == "sandbox" and not getattr(target, "arm_url", None) \
        and not os.environ.get("ODIN_SANDBOX_INFO")


def sandbox_environment(info: dict[str, Any], info_file: str) -> dict[str, str]:
    env = {"ODIN_SANDBOX_INFO": info_file, "ODIN_SANDBOX_FRONTDOOR_URL": info["frontdoor_url"]}
    if info.get("dns_server"):
        env["ODIN_SANDBOX_DNS_SERVER"] = info["dns_server"]
    for region, url in info.get("regions", {}).items():
        env[f"ODIN_SANDBOX_{region.upper()}_URL"] = url
    return env


@contextmanager
def embedded_sandbox(target: Any, seed: int = 0) -> Iterator[dict[str, Any] | None]:
    """Run a sandbox for the block if the target needs one; yield its info (or None)."""
    if not needs_sandbox(target):
        yield None
        return
    state = odin_home() / "sandbox" / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    private_dir(state)
    process = subprocess.Popen(
        [sys.executable, "-m", "odin_drills.sandbox.azure", "--state-dir", str(state), "--seed", str(seed)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, umask=PRIVATE_UMASK,
        start_new_session=True,  # Ctrl-C at the terminal reaches odin only: it stops the run, then the sandbox
    )
    CHILDREN.add(process)
    saved = {}
    try:
        line = process.stdout.readline() if process.stdout else ""
        if not line:
            err = process.stderr.read() if process.stderr else ""
            raise TargetUnreachable(f"the embedded Azure sandbox did not start: {err.strip()[-300:] or 'no output'}")
        info = json.loads(line)
        env = sandbox_environment(info, str(state / "sandbox.json"))
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        print(f"odin: embedded Azure sandbox: ARM {info['arm_url']}, Front Door {info['frontdoor_url']}", file=sys.stderr)
        yield info
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        stop(process, timeout=15)
