"""Long-running operations and the log of every ARM mutation.

Azure accepts a failover with 202 and finishes it later; the client polls. Here an operation is
a record with a due time and two callbacks: ``apply`` (the change to the world, which may raise
``OperationError``) and ``release`` (always run: frees the resource for the next operation).
Nothing runs on a timer: the world finishes due operations whenever anyone looks (an ARM
request, the demo app, the admin API), at their *due* time, so the outcome does not depend on
how fast a client polls — and nobody polling does not leave Azure stuck either.

The same records are the operations log (``GET /operations``): one entry per mutation that
reached the resource provider, with its result. Requests turned away before that (throttled,
injected 5xx, unauthenticated) are not mutations and are not logged, which is what lets a test
prove that a retried request ran exactly once. Requests the provider itself refused (a conflict,
a failover to the current primary) are logged with result ``Rejected``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .clock import iso
from .errors import OperationError

IN_PROGRESS, SUCCEEDED, FAILED, REJECTED = "InProgress", "Succeeded", "Failed", "Rejected"


@dataclass
class Operation:
    """One mutation: a long-running operation, or a request the provider refused."""

    id: str
    name: str
    resource_id: str
    location: str
    provider: str
    started_at: float
    due_at: float
    status: str = IN_PROGRESS
    ended_at: float | None = None
    error: dict[str, str] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    apply: Callable[[float], None] | None = None
    release: Callable[[], None] | None = None

    @property
    def done(self) -> bool:
        return self.status != IN_PROGRESS

    def to_log(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": iso(self.started_at),
            "time_epoch": self.started_at,
            "resource_id": self.resource_id,
            "operation": self.name,
            "result": self.status,
            "finished_at": iso(self.ended_at) if self.ended_at is not None else None,
            "finished_at_epoch": self.ended_at,
            "error": self.error,
            "details": dict(self.details),
        }


class OperationEngine:
    """Starts, finishes and remembers operations. Callers hold the world's lock."""

    def __init__(self, new_id: Callable[[], str]) -> None:
        self._new_id = new_id
        self._operations: list[Operation] = []
        self._by_id: dict[str, Operation] = {}

    def start(self, *, name: str, resource_id: str, location: str, provider: str, now: float,
              seconds: float, apply: Callable[[float], None], release: Callable[[], None] | None = None,
              details: dict[str, Any] | None = None) -> Operation:
        op = Operation(id=self._new_id(), name=name, resource_id=resource_id, location=location,
                       provider=provider, started_at=now, due_at=now + max(0.0, seconds),
                       details=dict(details or {}), apply=apply, release=release)
        self._operations.append(op)
        self._by_id[op.id] = op
        return op

    def reject(self, *, name: str, resource_id: str, now: float, code: str, message: str,
               details: dict[str, Any] | None = None) -> Operation:
        op = Operation(id=self._new_id(), name=name, resource_id=resource_id, location="",
                       provider="", started_at=now, due_at=now, status=REJECTED, ended_at=now,
                       error={"code": code, "message": message}, details=dict(details or {}))
        self._operations.append(op)
        return op

    def due(self, now: float) -> list[Operation]:
        return sorted((op for op in self._operations if op.status == IN_PROGRESS and op.due_at <= now),
                      key=lambda op: op.due_at)

    def finish(self, op: Operation, failure: tuple[str, str] | None) -> None:
        """Run the operation's change at its due time; an injected failure skips the change."""
        try:
            if failure is not None:
                raise OperationError(*failure)
            if op.apply is not None:
                op.apply(op.due_at)
            op.status = SUCCEEDED
        except OperationError as exc:
            op.status = FAILED
            op.error = {"code": exc.code, "message": exc.message}
        finally:
            op.ended_at = op.due_at
            if op.release is not None:
                op.release()

    def get(self, op_id: str) -> Operation | None:
        return self._by_id.get(op_id)

    def log(self) -> list[dict[str, Any]]:
        return [op.to_log() for op in self._operations]

    def clear(self) -> None:
        self._operations.clear()
        self._by_id.clear()
