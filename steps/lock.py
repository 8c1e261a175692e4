"""The environment lock: two runs on one environment never overlap, and a migration keeps its
environment from T-0 until T+24h ends or it is rolled back.

Two parts, for two different spans:

**The reservation** (a migration's, days long). When a migration's T-0 takes the environment it
writes a record — plan, migration id, its journal, since when, the process — to
``$ODIN_HOME/locks/<environment>.json`` (and ``lock reserved`` to its journal). Every later phase of
the *same* migration (a chained T+1h run hours later, ``--resume`` after a crash, ``odin rollback``)
finds its own reservation and goes on; any other migration of the environment (from its T-1w on:
``await_free``, so ``current`` never moves under the holder), and any drill, is refused with the
holder named (``LockHeld``: plan and migration id), or with ``--wait`` queues until
it is freed. It is freed (``lock freed``) when T+24h finishes, when the migration is rolled back,
or when T-0 refuses before changing anything. A reservation whose journal no longer exists is stale
and taken over.

**The slot** (a process's, minutes long). A Prefect global concurrency limit ``odin-env-<env>``
with one slot, leased (``LEASE_SECONDS``, renewed at half of it) while a process works on the
environment: mutual exclusion between running processes, the queue ``--wait`` joins, visible in
the Prefect UI. It is acquired ``strict`` (a missing limit is created, never silently skipped). The
lease id goes to ``$ODIN_HOME/locks/<environment>.lease.json``, so the next process on this host
releases a lease whose holder died (kill -9) instead of waiting out its expiry.

Why a reservation record plus the slot, not one Prefect lease renewed by each phase:

- between phases no odin process runs (under a deployment each phase is a future flow run), so a
  lease would have to outlive a day with nobody renewing it — and a lease belongs to a lease id,
  not to a migration: a resumed or chained run could not prove it is the same holder;
- leases live in the Prefect server's lease storage; the record lives beside the journal and the
  baseline that the same later phases already read from ``$ODIN_HOME``;
- renewal failure must not kill a step: with Prefect's ``raise_on_lease_renewal_failure`` (the
  default under ``strict``) an API outage longer than a renewal raises ``CancelledError`` — a
  ``BaseException`` that passes ``except Exception`` — into the flow between an action and its
  journal entry. Here the renewal is odin's own thread: it logs, retries and never interrupts the
  run; if the slot lapses meanwhile, the reservation still keeps other migrations and drills out.

The check-and-write of the record happens under an ``flock`` on ``locks/<environment>.lock`` and
while holding the slot, so two processes cannot both reserve.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from odin_drills.errors import LockHeld
from odin_drills.home import odin_home, private_dir, write_private

LEASE_SECONDS = 60.0
RESERVATION_POLL_SECONDS = 1.0
log = logging.getLogger(__name__)


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


# ------------------------------------------------------------------ the reservation

def locks_dir() -> Path:
    return private_dir(odin_home() / "locks")


def _record_path(environment: str) -> Path:
    return locks_dir() / f"{environment}.json"


def _lease_path(environment: str) -> Path:
    return locks_dir() / f"{environment}.lease.json"


@contextlib.contextmanager
def _flocked(environment: str) -> Iterator[None]:
    import fcntl

    from odin_drills.home import open_private

    with open_private(locks_dir() / f"{environment}.lock", "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def reservation(environment: str) -> dict[str, Any] | None:
    """The environment's live reservation (None: free). A record whose journal is gone is stale."""
    record = _read(_record_path(environment))
    if record is None:
        return None
    journal = record.get("journal")
    if journal and not Path(journal).exists():
        return None
    return record


def describe_holder(record: dict[str, Any]) -> str:
    return (f"migration {record.get('migration')} of plan {record.get('plan')} (reserved since "
            f"{record.get('since')}, until its T+24h ends or it is rolled back)")


def _refusal(environment: str, record: dict[str, Any]) -> LockHeld:
    plan, migration = record.get("plan"), record.get("migration")
    return LockHeld(
        f"environment {environment!r} is reserved by {describe_holder(record)}: finish that migration or roll it "
        f"back (odin rollback PLAN --migration {migration} for plan {plan}); --wait queues behind it")


def check_reservation(environment: str, migration: str | None) -> dict[str, Any] | None:
    """Raise ``LockHeld`` naming the holder unless the environment is free or reserved by ``migration``."""
    record = reservation(environment)
    if record is not None and record.get("migration") != migration:
        raise _refusal(environment, record)
    return record


def reserve(environment: str, *, plan: str, migration: str, journal: Path) -> str:
    """Reserve the environment for ``migration`` (``reserved``), or confirm it holds it (``held``)."""
    with _flocked(environment):
        existing = check_reservation(environment, migration)
        record = {"environment": environment, "plan": plan, "migration": migration, "journal": str(journal),
                  "since": (existing or {}).get("since") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "pid": os.getpid(), "host": socket.gethostname()}
        write_private(_record_path(environment), json.dumps(record, indent=2))
        return "held" if existing else "reserved"


def free(environment: str, migration: str) -> bool:
    """Free the reservation if ``migration`` holds it; True when it did."""
    with _flocked(environment):
        record = _read(_record_path(environment))
        if record is None or record.get("migration") != migration:
            return False
        with contextlib.suppress(FileNotFoundError):
            _record_path(environment).unlink()
        return True


def _wait_for_reservation(environment: str, migration: str | None, wait: bool, wait_timeout: float | None) -> None:
    end = None if wait_timeout is None else time.monotonic() + wait_timeout
    while True:
        try:
            check_reservation(environment, migration)
            return
        except LockHeld:
            if not wait or (end is not None and time.monotonic() >= end):
                raise
        time.sleep(RESERVATION_POLL_SECONDS)


def await_free(environment: str, *, wait: bool, wait_timeout: float | None = None) -> None:
    """Before a *new* migration (its T-1w) starts: the environment is reserved by no migration, or
    ``LockHeld`` naming the holder (``wait``: poll until it is freed)."""
    _wait_for_reservation(environment, None, wait, wait_timeout)


# ------------------------------------------------------------------ the slot

def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie — dead, not yet reaped — does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _release_dead_lease(environment: str) -> None:
    """A lease left by a process of this host that is gone (kill -9): release it now."""
    from prefect.concurrency._sync import release_concurrency_slots_with_lease

    lease = _read(_lease_path(environment))
    if not lease or lease.get("host") != socket.gethostname() or _alive(int(lease.get("pid") or 0)):
        return
    try:
        release_concurrency_slots_with_lease(lease["lease_id"])
        log.warning("released the lease %s left on %s by dead process %s", lease["lease_id"], environment,
                    lease.get("pid"))
    except Exception as exc:  # noqa: BLE001 - expired already, or the API is away: it lapses by itself
        log.warning("could not release the dead lease %s on %s: %s", lease.get("lease_id"), environment, exc)
    with contextlib.suppress(FileNotFoundError):
        _lease_path(environment).unlink()


def _live_lease(environment: str) -> dict[str, Any] | None:
    """The lease record of a live process of this host holding the slot (refused at once, without
    waiting out ``SLOT_TIMEOUT_SECONDS``), else None."""
    lease = _read(_lease_path(environment))
    if not lease or lease.get("host") != socket.gethostname() or int(lease.get("pid") or 0) == os.getpid():
        return None
    return lease if _alive(int(lease.get("pid") or 0)) else None


class _Renewal(threading.Thread):
    """Renews the lease at half its duration; a failure is logged and retried, never raised into the run."""

    def __init__(self, lease_id: Any) -> None:
        super().__init__(name="odin-lock-renewal", daemon=True)
        self.lease_id = lease_id
        self.stop = threading.Event()
        self.failures = 0

    def run(self) -> None:
        from prefect.client.orchestration import get_client

        interval = LEASE_SECONDS / 2
        while not self.stop.wait(interval):
            try:
                with get_client(sync_client=True) as client:
                    client.renew_concurrency_lease(lease_id=self.lease_id, lease_duration=LEASE_SECONDS)
                self.failures, interval = 0, LEASE_SECONDS / 2
            except Exception as exc:  # noqa: BLE001 - the run goes on; the reservation still excludes others
                self.failures += 1
                interval = min(5.0, LEASE_SECONDS / 4)
                log.warning("environment lease renewal failed (%d in a row): %s", self.failures, exc)


SLOT_TIMEOUT_SECONDS = 15.0
"""How long a run that does not ``--wait`` tries to get a free slot before calling it held."""


@contextlib.contextmanager
def environment_lock(environment: str, *, wait: bool, wait_timeout: float | None = None,
                     migration: str | None = None, plan: str | None = None) -> Iterator[str]:
    """Hold the environment's slot; refuse at once (``LockHeld``) unless ``wait``.

    ``migration`` (migrations pass it): a reservation held by that migration lets this run in; one
    held by another migration refuses with the holder named (drills pass none: any reservation
    refuses them)."""
    from prefect.concurrency._asyncio import AcquireConcurrencySlotTimeoutError
    from prefect.concurrency._sync import acquire_concurrency_slots_with_lease, release_concurrency_slots_with_lease

    _wait_for_reservation(environment, migration, wait, wait_timeout)
    name = ensure_limit(environment)
    _release_dead_lease(environment)
    holder = _live_lease(environment)
    if holder is not None and not wait:
        raise LockHeld(
            f"environment {environment!r} is locked by another run (process {holder.get('pid')}"
            + (f", plan {holder['plan']}" if holder.get("plan") else "")
            + "); wait for it, or pass --wait to queue behind it"
        )
    # Not waiting still allows SLOT_TIMEOUT_SECONDS: a free slot on a busy Prefect server can take
    # seconds to grant (a 2 s limit refused a lone rollback on a loaded 2-core machine), and a slot
    # held by a live run on this host is refused earlier, from its reservation and lease records.
    timeout = wait_timeout if wait else SLOT_TIMEOUT_SECONDS
    try:
        acquired = acquire_concurrency_slots_with_lease([name], 1, timeout_seconds=timeout, strict=True,
                                                        lease_duration=LEASE_SECONDS, suppress_warnings=True)
    except (TimeoutError, AcquireConcurrencySlotTimeoutError):
        raise LockHeld(
            f"environment {environment!r} is locked by another run (Prefect concurrency limit {name}); "
            "wait for it, or pass --wait to queue behind it"
        ) from None
    lease_id = acquired.lease_id
    renewal = _Renewal(lease_id)
    renewal.start()
    try:
        with _flocked(environment):
            write_private(_lease_path(environment), json.dumps(
                {"lease_id": str(lease_id), "pid": os.getpid(), "host": socket.gethostname(),
                 "migration": migration, "plan": plan}))
        check_reservation(environment, migration)  # again, now that no other process can be between
        yield name
    finally:
        renewal.stop.set()
        try:
            release_concurrency_slots_with_lease(lease_id)
        except Exception as exc:  # noqa: BLE001 - the lease lapses by itself after LEASE_SECONDS
            # The API is away: keep the lease file, so the next process on this host releases the lease
            # as soon as this one is gone (``_release_dead_lease``) instead of waiting out its expiry.
            log.warning("could not release the lease of %s: %s", environment, exc)
        else:
            with contextlib.suppress(Exception):
                with _flocked(environment):
                    lease = _read(_lease_path(environment))
                    if lease and lease.get("lease_id") == str(lease_id):
                        _lease_path(environment).unlink()
