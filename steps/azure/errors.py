"""SDK exceptions → one line naming the step kind, the resource and Azure's error code.

::

    azure.sql.failover odin-fg: FailoverGroupPrimaryUnreachable: Planned failover of … failed: …
    azure.storage.failover odindrillsdata: ARM did not answer (ServiceRequestError: …)

``HttpResponseError`` (any ≥ 400 answer, or a long-running operation that ended Failed) becomes
:class:`~odin.errors.AzureOperationFailed` with ``code`` set; a connection that never got an
answer becomes :class:`~odin.errors.TargetUnreachable`; our own ``OdinError`` passes through.
"""

from __future__ import annotations

import re
from typing import Any

from odin_drills.errors import AzureOperationFailed, OdinError, TargetUnreachable

MAX_MESSAGE = 400


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_code_and_message(exc: BaseException) -> tuple[str, str]:
    """Azure's error code and message, or the best stand-ins the exception offers."""
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    message = getattr(error, "message", None)
    status = getattr(exc, "status_code", None)
    if not code:
        code = getattr(exc, "reason", None) or (f"HTTP {status}" if status else exc.__class__.__name__)
    if not message:
        message = getattr(exc, "message", None) or str(exc)
        message = str(message).split("\n")[0]
        message = re.sub(r"^\(\w+\)\s*", "", message)
    return str(code), str(message)


def azure_failure(kind: str, resource: str, exc: BaseException) -> OdinError:
    """The one-line error a user sees for ``exc`` raised while ``kind`` worked on ``resource``."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, OdinError):
        return exc
    where = f"{kind} {resource}"
    if isinstance(exc, ClientAuthenticationError) and getattr(exc, "response", None) is None:
        failure = AzureOperationFailed(one_line(f"{where}: AuthenticationFailed: {exc}"))
        failure.code = "AuthenticationFailed"  # type: ignore[attr-defined]
        return failure
    if isinstance(exc, HttpResponseError):
        code, message = error_code_and_message(exc)
        failure = AzureOperationFailed(one_line(f"{where}: {code}: {message}"))
        failure.code = code  # type: ignore[attr-defined]
        return failure
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        unreachable = TargetUnreachable(one_line(f"{where}: ARM did not answer ({exc.__class__.__name__}: {exc})"))
        unreachable.code = exc.__class__.__name__  # type: ignore[attr-defined]
        return unreachable
    failure = AzureOperationFailed(one_line(f"{where}: {exc.__class__.__name__}: {exc}"))
    failure.code = exc.__class__.__name__  # type: ignore[attr-defined]
    return failure


def plain(value: Any) -> Any:
    """An SDK enum member as the string Azure sent (``CATCH_UP``, not ``ReplicationState.CATCH_UP``)."""
    return getattr(value, "value", value)


def code_of(exc: BaseException) -> Any:
    return getattr(exc, "code", None)


def failure_output(exc: OdinError) -> dict[str, Any]:
    """What a failed step's output records about ``exc``: its error, and the continuation token of an
    operation still running (reconcile follows it instead of starting another)."""
    out: dict[str, Any] = {"error": {"type": exc.__class__.__name__, "code": code_of(exc), "message": exc.message}}
    if getattr(exc, "continuation_token", None):
        out["continuation_token"] = exc.continuation_token  # type: ignore[attr-defined]
    return out
