"""What every resource of the world shares: the lock, the clock, faults, operations, time.

Each resource (``world_sql``, ``world_storage``, ``world_frontdoor``) is a mixin over
``WorldBase``, and ``world.World`` stacks them. The base holds the machinery the resources
must agree on, so none of them re-implements it:

- **one re-entrant lock** (shared with ``FaultRegistry``): the ARM server, the edge, the region
  apps and the admin API run on different threads. Every public method takes it and first
  ``advance``-s the world to now, so state is always current when read;
- **time**: ``advance`` finishes due operations *at their due time*, replicating up to that
  instant first, so a failover sees exactly the writes that had replicated when it completed;
- **refusals**: a refused mutation is still logged as an operation, the way ARM's activity log
  shows failed calls, so drills can count them;
- ARM's case-insensitive name lookup and the seeded ids that make runs reproducible.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Mapping
from typing import Any, NoReturn, TypeVar

from .clock import Clock
from .errors import ArmError
from .faults import FaultRegistry
from .operations import OperationEngine
from .topology import DISPLAY_NAMES, Topology
from .world_writes import WriteLedger

T = TypeVar("T")


class WorldBase:
    """The shared state and machinery; ``world.World`` sets it up in ``__init__``/``reset``."""

    topology: Topology
    clock: Clock
    lock: threading.RLock
    faults: FaultRegistry
    app_endpoints: dict[str, tuple[str, int]]
    replication_lag: float
    storage_lag: float
    operation_seconds: float
    probe_interval_seconds: float
    seed: object
    operations: OperationEngine
    ledger: WriteLedger
    _rng: random.Random
    _last_advance: float

    # ===================================================================== time
    def advance(self) -> None:
        """Bring the world to now: finish due operations (each at its due time), replicate."""
        with self.lock:
            now = max(self.clock(), self._last_advance)
            for op in self.operations.due(now):
                self._replicate(op.due_at)
                self.operations.finish(op, self.faults.take_operation_failure(op.name))
            self._replicate(now)

    def _replicate(self, at: float) -> None:
        at = max(at, self._last_advance)
        self._last_advance = at
        self._replicate_links(at)

    def _replicate_links(self, at: float) -> None:
        """Move every geo-replica of every resource to ``at``; ``World`` wires in the resources."""
        raise NotImplementedError

    def operations_log(self) -> list[dict[str, Any]]:
        with self.lock:
            self.advance()
            return self.operations.log()

    # ===================================================================== faults
    def region_down(self, region: str) -> bool:
        return self.faults.region_down(region)

    def _link_up(self, *regions: str) -> bool:
        return not any(self.faults.region_down(r) for r in regions)

    def _seconds(self, operation: str) -> float:
        """How long an operation takes: the configured time, unless a fault slows it down."""
        slow = self.faults.operation_seconds(operation)
        return self.operation_seconds if slow is None else slow

    # ===================================================================== helpers
    def _new_id(self) -> str:
        """A seeded UUID4: the same seed gives the same write and operation ids."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _refuse(self, operation: str, resource_id: str, status: int, code: str, message: str,
                details: dict[str, Any] | None = None) -> NoReturn:
        """Log a refused mutation as a failed operation, then answer the caller with the error."""
        self.operations.reject(name=operation, resource_id=resource_id, now=self.clock(),
                               code=code, message=message, details=details)
        raise ArmError(status, code, message)

    @staticmethod
    def _find(items: Mapping[str, T], name: str) -> T | None:
        """ARM names are case-insensitive."""
        wanted = name.lower()
        return next((v for k, v in items.items() if k.lower() == wanted), None)

    def display_name(self, region: str) -> str:
        return DISPLAY_NAMES.get(region, region)
