"""Fixtures for the DR building blocks: sandboxes that always stop, and the real SQL client.

Every sandbox a test starts is stopped in a ``finally``. The SQL client is the real
``azure-mgmt-sql`` class pointed at the sandbox with ``base_url`` and its CA; nothing is patched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.mgmt.sql import SqlManagementClient

from odin_drills.sandbox.azure import AzureSandbox, SandboxCredential

FAST = {"lro_retry_after": 0, "probe_interval_seconds": 0.1, "probe_timeout_seconds": 0.5}


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., AzureSandbox]]:
    """Start sandboxes with chosen options; all are stopped when the test ends."""
    started: list[AzureSandbox] = []

    def start(**options: Any) -> AzureSandbox:
        sandbox = AzureSandbox(seed=options.pop("seed", 1), **{"replication_lag_seconds": 1.0, **FAST, **options})
        started.append(sandbox)
        return sandbox.start()

    try:
        yield start
    finally:
        for sandbox in started:
            sandbox.stop()


def restore_ctx(sandbox: AzureSandbox, tmp_path: Path, client: httpx.Client, scale: float, *, restore: dict | None = None,
                blob_restore: dict | None = None) -> Any:
    """A restore drill's context on ``sandbox``: a ``ScaledClock``, a fresh journal, the sandbox's database
    (and, with ``blob_restore``, its storage account), canaries at 20 writes per second."""
    from odin_drills.plan.models import SandboxTarget
    from odin_drills.plan.restore_drill import parse_restore_drill
    from odin_drills.steps.clock import ScaledClock
    from odin_drills.steps.dr.restore import RestoreContext
    from odin_drills.steps.journal import Journal

    info = sandbox.info()
    plan = parse_restore_drill({
        "name": "restore-test", "environment": "restore-test", "kind": "restore",
        "restore": {"warm_up": "10s", **(restore or {})}, "canary": {"rate_per_second": 20},
        "targets": {"rto": "30m", "rpo": "5s"},
        **({"blob_restore": {"rate_per_second": 20, **blob_restore}} if blob_restore is not None else {})})
    clock = ScaledClock(scale)
    return RestoreContext(
        plan=plan, drill_id="d1", journal=Journal(tmp_path / "journal.jsonl", clock), clock=clock,
        target=SandboxTarget(arm_url=info["arm_url"], ca_cert=info["ca_cert"], subscription_id=info["subscription_id"]),
        service_url=info["frontdoor_url"], source_database=info["resources"]["databases"][0], client=client,
        storage_account=info["resources"]["storage_accounts"][0] if blob_restore is not None else "")


def sql_client(sandbox: AzureSandbox) -> SqlManagementClient:
    info = sandbox.info()
    return SqlManagementClient(SandboxCredential(), info["subscription_id"], base_url=info["arm_url"],
                               connection_verify=info["ca_cert"], polling_interval=0, retry_backoff_factor=0.01)


def fail_over(sandbox: AzureSandbox, *, forced: bool) -> None:
    """Fail the sandbox's SQL failover group over to westus with the real SDK."""
    info = sandbox.info()
    with sql_client(sandbox) as sql:
        groups = sql.failover_groups
        begin = groups.begin_force_failover_allow_data_loss if forced else groups.begin_failover
        begin(info["resource_group"], "odin-sql-westus", "odin-fg").result()


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s: {predicate}")
        time.sleep(interval)
