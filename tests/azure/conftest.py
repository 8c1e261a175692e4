"""Fixtures for the Azure actions: one sandbox for the whole folder, reset before every test.

The actions run with the real SDK clients, built from a ``SandboxTarget`` exactly as a plan's
target builds them; only the retry backoff and polling interval are shortened (client keywords,
through ``AzureSession``). The sandbox is stopped in a ``finally`` whatever happens.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter

from odin_drills.plan.models import SandboxTarget
from odin_drills.plan.steps import Step
from odin_drills.sandbox.azure import AzureSandbox
from odin_drills.steps.actions import StepOutcome, parse_undo, run_action
from odin_drills.steps.azure.clients import AzureSession
from odin_drills.steps.clock import ManualClock

FAST = {"replication_lag_seconds": 1.0, "lro_retry_after": 0, "probe_interval_seconds": 0.1,
        "probe_timeout_seconds": 0.5}
QUICK_CLIENTS = {"polling_interval": 0, "retry_backoff_factor": 0.01}
RG = "rg-odin-drills"
STEPS = TypeAdapter(Step)


@pytest.fixture(scope="session")
def azure_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureSandbox]:
    sandbox = AzureSandbox(state_dir=tmp_path_factory.mktemp("azure-sandbox"), seed=3, **FAST)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@dataclass
class Drill:
    """One test's view of the sandbox: the target, a session on it, and the ways to run steps."""

    sb: AzureSandbox
    info: dict[str, Any]
    target: SandboxTarget
    session: AzureSession
    rg: str = RG
    clock: ManualClock = field(default_factory=ManualClock)
    progress: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def step(self, spec: dict[str, Any]) -> Any:
        return STEPS.validate_python(spec)

    def run(self, step: Any) -> StepOutcome:
        return run_action(step, client=httpx.Client(), clock=self.clock, target=self.session,
                          progress=lambda message, **data: self.progress.append((message, data)))

    def undo(self, outcome: StepOutcome) -> StepOutcome:
        """Run the outcome's journaled undo the way a rollback does: spec → parse_undo → run_action."""
        assert outcome.undo is not None, outcome
        return self.run(parse_undo(outcome.undo))

    def mutations(self) -> list[dict[str, Any]]:
        return self.sb.operations()

    def state(self) -> dict[str, Any]:
        return self.sb.state()

    @property
    def id(self) -> dict[str, Any]:
        return self.info["resources"]


def wait_for_regions(info: dict[str, Any], timeout: float = 5.0) -> None:
    """After a reset the region apps reopen their listeners on another thread; wait for them."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1) as http:
        for url in info["regions"].values():
            while True:
                try:
                    if http.get(f"{url}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"region app {url} did not come back after the sandbox reset")
                time.sleep(0.02)


@pytest.fixture
def drill(azure_sandbox: AzureSandbox) -> Iterator[Drill]:
    azure_sandbox.reset()
    info = azure_sandbox.info()
    wait_for_regions(info)
    target = SandboxTarget(arm_url=info["arm_url"], ca_cert=info["ca_cert"], subscription_id=info["subscription_id"])
    session = AzureSession(target, **QUICK_CLIENTS)
    try:
        yield Drill(sb=azure_sandbox, info=info, target=target, session=session)
    finally:
        session.close()


@pytest.fixture
def sandbox_info_file(azure_sandbox: AzureSandbox) -> Path:
    """The ``odin_drills.sandbox.json`` the sandbox wrote to its state dir."""
    return Path(azure_sandbox.info()["ca_cert"]).parent / "sandbox.json"
