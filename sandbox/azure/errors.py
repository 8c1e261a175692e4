"""How the sandbox's world says no.

::

    SandboxError
    ├── ArmError              an ARM request is refused at once: HTTP status + ARM error body
    │                         (404 ResourceNotFound, 409 a conflicting operation, 503 region down…)
    ├── OperationError        a long-running operation ends Failed: {"status": "Failed",
    │                         "error": {"code", "message"}} — poller.result() raises
    └── DataPlaneUnavailable  the demo service cannot reach its database/storage primary → 503

The world raises them; the HTTP layers (``arm_app``, ``region_app``) turn them into responses.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Base of the sandbox's refusals."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def body(self) -> dict[str, dict[str, str]]:
        """The ARM error shape: ``{"error": {"code": ..., "message": ...}}``."""
        return {"error": {"code": self.code, "message": self.message}}


class ArmError(SandboxError):
    """An ARM request answered with an error status straight away."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.status = status


class OperationError(SandboxError):
    """A long-running operation that ends in status Failed."""


class DataPlaneUnavailable(SandboxError):
    """The demo service's backing store (SQL primary, storage primary) does not answer."""
