"""The environment lock: two runs on one environment never overlap.

It is a Prefect global concurrency limit named ``odin-env-<environment>`` with one slot, held with
``strict=True`` — without it Prefect silently skips a limit that does not exist, which would make
the lock a no-op. The limit is created first if missing. The slot is leased: a holder that crashes
stops renewing and the environment frees itself after ``lease_seconds`` (Prefect's minimum is 60 s),
so a dead run never blocks an environment forever. Works across processes, workers and machines
that share the Prefect server.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from odin_drills.errors import LockHeld

LEASE_SECONDS = 60.0


def limit_name(environment: str) -> str:
    return f"odin-env-{environment}"


def ensure_limit(environment: str) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    name = limit_name(environment)
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            except ObjectAlreadyExists:
                pass
    return name


@contextlib.contextmanager
def environment_lock(environment: str, *, wait: bool, wait_timeout: float | None = None) -> Iterator[str]:
    """Hold the environment; refuse at once (``LockHeld``) unless ``wait``."""
    from prefect.concurrency.sync import concurrency

    name = ensure_limit(environment)
    timeout = (wait_timeout if wait else 2.0)
    try:
        manager = concurrency(name, occupy=1, strict=True, timeout_seconds=timeout, lease_duration=LEASE_SECONDS)
        manager.__enter__()
    except TimeoutError:
        raise LockHeld(
            f"environment {environment!r} is locked by another run (Prefect concurrency limit {name}); "
            "wait for it, or pass --wait to queue behind it"
        ) from None
    try:
        yield name
    finally:
        manager.__exit__(None, None, None)
