"""Fixtures for the Azure sandbox tests: sandboxes that always stop, and the real SDK clients.

Every sandbox a test starts is stopped in a ``finally`` (success or failure). Clients are the
real ``azure-mgmt-*`` classes pointed at the sandbox with ``base_url`` + its CA; nothing in the
SDK is patched. ``polling_interval=0`` and a tiny retry backoff keep the suite fast.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from azure.core.credentials import AccessToken
from azure.mgmt.cdn import CdnManagementClient
from azure.mgmt.sql import SqlManagementClient
from azure.mgmt.storage import StorageManagementClient

from odin_drills.sandbox.azure import AzureSandbox

FAST = {"replication_lag_seconds": 1.0, "lro_retry_after": 0, "probe_interval_seconds": 0.1,
        "probe_timeout_seconds": 0.5}


class FakeCredential:
    """The trivial credential: the sandbox accepts any bearer token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("fake", int(time.time()) + 3600 * 24 * 365)


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., AzureSandbox]]:
    """Start sandboxes with chosen options; all are stopped when the test ends."""
    started: list[AzureSandbox] = []

    def start(**options: Any) -> AzureSandbox:
        sandbox = AzureSandbox(seed=options.pop("seed", 1), **{**FAST, **options})
        started.append(sandbox)
        return sandbox.start()

    try:
        yield start
    finally:
        for sandbox in started:
            sandbox.stop()


@pytest.fixture
def sandbox(start_sandbox: Callable[..., AzureSandbox]) -> AzureSandbox:
    return start_sandbox()


@dataclass
class Arm:
    """Real SDK clients bound to one sandbox."""

    sql: SqlManagementClient
    storage: StorageManagementClient
    cdn: CdnManagementClient
    rg: str
    info: dict[str, Any]

    def close(self) -> None:
        for client in (self.sql, self.storage, self.cdn):
            client.close()


def sdk_kwargs(info: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"base_url": info["arm_url"], "connection_verify": info["ca_cert"], "polling_interval": 0,
            "retry_backoff_factor": 0.01, **extra}


def make_arm(sandbox: AzureSandbox, **extra: Any) -> Arm:
    info = sandbox.info()
    kwargs = sdk_kwargs(info, **extra)
    credential = FakeCredential()
    sub = info["subscription_id"]
    return Arm(sql=SqlManagementClient(credential, sub, **kwargs),
               storage=StorageManagementClient(credential, sub, **kwargs),
               cdn=CdnManagementClient(credential, sub, **kwargs),
               rg=info["resource_group"], info=info)


@pytest.fixture
def arm(sandbox: AzureSandbox) -> Iterator[Arm]:
    clients = make_arm(sandbox)
    try:
        yield clients
    finally:
        clients.close()


def trust(info: dict[str, Any]) -> ssl.SSLContext:
    """An SSL context trusting the sandbox CA, for plain-HTTPS calls to the ARM endpoint."""
    return ssl.create_default_context(cafile=info["ca_cert"])


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy; fail the test with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s: {predicate}")
        time.sleep(interval)
