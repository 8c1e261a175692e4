"""Bounded time for one Azure step: every ARM call and every long-running operation shares it.

The SDK's retry policy reads ``timeout`` as the absolute bound on a call and its retries; a
poller is waited on for what is left. An operation still running when the time is up is
reported with its continuation token, because Azure may still finish it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from odin_drills.errors import AzureOperationFailed

Progress = Callable[..., None]
"""``progress(message, **data)``: what a step reports while it runs (the flow journals it)."""


def no_progress(message: str, **data: Any) -> None:
    pass


Intent = Callable[..., None]
"""``intent(prior=..., undo=..., change=...)``: called once the step has observed the world and
computed its undo, right before its first world-changing call; the caller journals it (fsynced).
If it raises, the step does not act."""

OnOperation = Callable[..., None]
"""``on_operation(operation=..., resource=..., continuation_token=...)``: an operation ARM accepted;
the caller journals its token so a later run can poll it instead of starting another."""


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self._end = time.monotonic() + self.seconds

    def left(self) -> float:
        return max(0.0, self._end - time.monotonic())

    def call(self, where: str, *, lro: bool = False) -> dict[str, Any]:
        """Keywords bounding one SDK call by what is left of the step's time. A ``begin_*`` call
        (``lro``) cannot take ``timeout`` (the SDK hands it to the poller as its interval), so
        its bound is the socket timeouts plus :func:`finish`'s wait."""
        left = self.left()
        if left <= 0:
            failure = AzureOperationFailed(f"{where}: Timeout: the step's timeout of {self.seconds:g} s is used up")
            failure.code = "Timeout"  # type: ignore[attr-defined]
            raise failure
        sockets = {"connection_timeout": min(left, 30.0), "read_timeout": min(left, 120.0)}
        return sockets if lro else {"timeout": left, **sockets}


def finish(poller: Any, deadline: Deadline, where: str) -> Any:
    """Wait for a long-running operation within the deadline; its result, or the SDK's error."""
    poller.wait(deadline.left())
    if not poller.done():
        token = _token(poller)
        failure = AzureOperationFailed(
            f"{where}: Timeout: the operation was still running after {deadline.seconds:g} s; Azure may "
            "still finish it (check the resource before re-running)")
        failure.code = "Timeout"  # type: ignore[attr-defined]
        failure.continuation_token = token  # type: ignore[attr-defined]
        raise failure
    return poller.result()


def token_of(poller: Any) -> str | None:
    """The poller's continuation token (None if the SDK cannot give one)."""
    return _token(poller)


def _token(poller: Any) -> str | None:
    try:
        return poller.continuation_token()
    except Exception:  # noqa: BLE001 - the token is a courtesy
        return None
