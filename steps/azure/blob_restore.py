"""``azure.storage.blob.restore``: restore blob ranges of a storage account to a point in time.

Why this and not a snapshot copy: ``storage_accounts.begin_restore_blob_ranges`` is a control-plane
call of azure-mgmt-storage, the SDK odin already drives, and it restores *to any point* of the
restore policy's window — the same question a SQL point-in-time restore answers ("what did we have
at T?"). A snapshot copy needs the data-plane SDK (azure-storage-blob, not a dependency) and only
answers "does a snapshot taken earlier still read back", which is backup verification, not a
restore test.

Azure restores blob ranges *in place*, so a drill restores only its own canary range (both ends of
every range are required: a step can never restore a whole account). The undo is the same restore
to the moment just before this one was requested, which puts the ranges back as they were — the
change feed and versions record the restore like any write, so a later point sees it undone.

Observe (GET the account with ``$expand=blobRestoreStatus``: a restore still running is refused; the
latest restore being exactly this one, complete, is done — ``noop``), compute the undo, ``intent``,
act (POST ``restoreBlobRanges``; the continuation token goes to ``on_operation``), wait, verify
(the result says ``Complete``). The output says when the request was made and when the restore
completed (``time.time()``, the clock a drill's canary shares): the restore's RTO.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from odin_drills.errors import AzureOperationFailed, OdinError
from odin_drills.plan.azure_steps import BlobRestoreStep
from odin_drills.steps.actions.outcome import StepOutcome
from odin_drills.steps.azure.clients import AzureSession
from odin_drills.steps.azure.errors import azure_failure, failure_output, plain
from odin_drills.steps.azure.operation import Deadline, Intent, OnOperation, Progress, finish, no_progress, token_of

KIND = "azure.storage.blob.restore"
BEGIN = "begin_restore_blob_ranges"


def _status(found: Any) -> dict[str, Any] | None:
    """A ``BlobRestoreStatus`` as plain JSON (point as epoch seconds, ranges as pairs)."""
    if found is None:
        return None
    params = found.parameters
    point = params.time_to_restore if params is not None else None
    return {"status": plain(found.status), "restore_id": found.restore_id, "failure_reason": found.failure_reason,
            "point_epoch": point.timestamp() if point else None,
            "ranges": [[r.start_range, r.end_range] for r in (params.blob_ranges if params else [])]}


def read_restore_status(step: BlobRestoreStep, session: AzureSession, deadline: Deadline) -> dict[str, Any]:
    """The account (``{"id", "location"}``) and its latest blob restore (``latest``, or None)."""
    ref = step.ref()
    try:
        account = session.storage(ref.subscription_id).storage_accounts.get_properties(
            ref.resource_group, ref.account, expand="blobRestoreStatus", **deadline.call(f"{KIND} {ref.account}"))
    except Exception as exc:
        raise azure_failure(KIND, ref.account, exc) from None
    props = account.properties
    return {"id": account.id, "location": account.location,
            "latest": _status(props.blob_restore_status if props is not None else None)}


def is_this(step: BlobRestoreStep, latest: dict[str, Any] | None) -> bool:
    """Is the account's latest restore this step's (same point to the millisecond, same ranges)?"""
    return (latest is not None and latest["point_epoch"] is not None
            and abs(latest["point_epoch"] - step.restore_point.timestamp()) < 0.001
            and latest["ranges"] == [[r.start, r.end] for r in step.ranges])


def _ranges_text(step: BlobRestoreStep) -> str:
    return ", ".join(f"[{r.start}, {r.end})" for r in step.ranges)


def change_text(step: BlobRestoreStep) -> str:
    return f"would restore blobs {_ranges_text(step)} of {step.ref().account} to {step.restore_point.isoformat()}"


def undo_for(step: BlobRestoreStep, back_to: datetime) -> dict[str, Any]:
    """The same ranges restored to ``back_to`` (the moment before this restore was requested)."""
    spec = step.model_dump(mode="json", exclude_none=True, exclude={"undo", "undo_reason"})
    return {**spec, "name": f"undo {step.name}", "restore_point": back_to.isoformat()}


def describe(step: BlobRestoreStep, session: AzureSession) -> str:
    try:
        seen = read_restore_status(step, session, Deadline(min(step.timeout, 30.0)))
    except OdinError as exc:
        return f"{change_text(step)}; current state unknown: {exc.message}"
    latest = seen["latest"]
    if is_this(step, latest) and latest["status"] == "Complete":
        return f"{change_text(step)}: already restored by this step"
    return change_text(step)


def run(step: BlobRestoreStep, session: AzureSession, *, progress: Progress = no_progress,
        intent: Intent | None = None, on_operation: OnOperation | None = None) -> StepOutcome:
    """Observe ▸ decide ▸ undo ▸ ``intent`` ▸ restore ▸ wait ▸ verify."""
    from azure.mgmt.storage import models

    ref = step.ref()
    where = f"{KIND} {ref.account}"
    deadline = Deadline(step.timeout)
    output: dict[str, Any] = {"restore_point": step.restore_point.isoformat(), "ranges": _ranges_text(step)}
    try:
        seen = read_restore_status(step, session, deadline)
        output["before"] = seen
        latest = seen["latest"]
        if latest is not None and latest["status"] == "InProgress":
            failure = AzureOperationFailed(f"{where}: a blob restore ({latest['restore_id']}) is already in progress")
            failure.code = "BlobRestoreInProgress"  # type: ignore[attr-defined]
            raise failure
        if is_this(step, latest) and latest["status"] == "Complete":
            return StepOutcome(status="noop", output=output, detail=f"{where}: already restored to this point")
        output["requested_at_epoch"] = time.time()
        undo = None if step.is_undo else undo_for(step, datetime.fromtimestamp(output["requested_at_epoch"], timezone.utc))
        if intent is not None:
            intent(prior=seen, undo=undo, change=change_text(step))
        body = models.BlobRestoreParameters(
            time_to_restore=step.restore_point,
            blob_ranges=[models.BlobRestoreRange(start_range=r.start, end_range=r.end) for r in step.ranges])
        try:
            poller = session.storage(ref.subscription_id).storage_accounts.begin_restore_blob_ranges(
                ref.resource_group, ref.account, body, **deadline.call(where, lro=True))
            if on_operation is not None:
                on_operation(operation=BEGIN, resource=seen["id"], continuation_token=token_of(poller))
            progress(f"{where}: restore of {_ranges_text(step)} to {step.restore_point.isoformat()} accepted")
            result = _status(finish(poller, deadline, where))
        except Exception as exc:
            raise azure_failure(KIND, ref.account, exc) from None
        output["completed_at_epoch"] = time.time()
        output["after"] = result
        if result is None or result["status"] != "Complete":
            reason = (result or {}).get("failure_reason") or (result or {}).get("status")
            return StepOutcome(status="failed", output=output, undo=undo,
                               detail=f"{where}: the blob restore ended {reason}")
    except OdinError as exc:
        return StepOutcome(status="failed", detail=exc.message, output={**output, **failure_output(exc)})
    took = output["completed_at_epoch"] - output["requested_at_epoch"]
    return StepOutcome(status="ok", output=output, undo=undo, detail=(
        f"restored blobs {_ranges_text(step)} of {ref.account} to {step.restore_point.isoformat()} "
        f"(complete after {took:.1f} s)"))


def reached(step: BlobRestoreStep, session: AzureSession) -> tuple[bool, dict[str, Any]]:
    """Reconcile: is the account's latest restore this step's, complete?"""
    seen = read_restore_status(step, session, Deadline(min(step.timeout, 60.0)))
    latest = seen["latest"]
    return is_this(step, latest) and latest is not None and latest["status"] == "Complete", seen


def follow(step: BlobRestoreStep, session: AzureSession, operation: str, continuation_token: str,
           seconds: float | None = None) -> None:
    """Reconcile: poll the journaled restore to its end (raises when it failed or outlives ``seconds``)."""
    ref = step.ref()
    where = f"{KIND} {ref.account}"
    deadline = Deadline(seconds or step.timeout)
    try:
        poller = session.storage(ref.subscription_id).storage_accounts.begin_restore_blob_ranges(
            ref.resource_group, ref.account, None, continuation_token=continuation_token)
        finish(poller, deadline, where)
    except Exception as exc:
        raise azure_failure(KIND, ref.account, exc) from None


def reachability_problem(step: BlobRestoreStep, session: AzureSession) -> str | None:
    """Does the account answer (the undo restores on the same account)?"""
    try:
        read_restore_status(step, session, Deadline(min(step.timeout, 15.0)))
    except OdinError as exc:
        return exc.message
    return None
