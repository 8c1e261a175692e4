"""``azure.sql.restore``: restore a database to a point in time as a new database on its server.

Observe (GET the source database, and the target name: a copy already there with this step's tags
is this step's own — done; anything else of that name is refused, never overwritten), compute the
undo (delete the copy, only if it still carries these tags), ``intent``, act (``databases.
begin_create_or_update`` with ``createMode: PointInTimeRestore``, ``sourceDatabaseId``,
``restorePointInTime``; the continuation token goes to ``on_operation``), wait, verify (GET: the
copy is ``Online``).

The output says when the request was made and when the copy was online (``time.time()``, the
same clock ARM and a drill's canary share), which is the restore's RTO.
"""

from __future__ import annotations

import time
from typing import Any

from odin_drills.errors import AzureOperationFailed, OdinError
from odin_drills.plan.azure_steps import SqlRestoreStep
from odin_drills.steps.actions.outcome import StepOutcome
from odin_drills.steps.azure.clients import AzureSession
from odin_drills.steps.azure.errors import azure_failure, failure_output, plain
from odin_drills.steps.azure.operation import Deadline, Intent, OnOperation, Progress, finish, no_progress, token_of

KIND = "azure.sql.restore"
BEGIN = "begin_create_or_update"


def _database_id(step: SqlRestoreStep, session: AzureSession, database: str) -> str:
    ref = step.ref()
    return (f"/subscriptions/{ref.subscription_id or session.subscription_id}/resourceGroups/{ref.resource_group}"
            f"/providers/Microsoft.Sql/servers/{ref.server}/databases/{database}")


def read_database(session: AzureSession, subscription: str | None, resource_group: str, server: str, database: str,
                  deadline: Deadline, where: str) -> dict[str, Any] | None:
    """The database as ``{"location", "status", "tags", "id"}``, or None when it does not exist."""
    from azure.core.exceptions import ResourceNotFoundError

    try:
        db = session.sql(subscription).databases.get(resource_group, server, database, **deadline.call(where))
    except ResourceNotFoundError:
        return None
    except Exception as exc:
        raise azure_failure(KIND, f"{server}/{database}", exc) from None
    return {"id": db.id, "location": db.location, "status": plain(db.properties.status) if db.properties else None,
            "tags": dict(db.tags or {})}


def observe(step: SqlRestoreStep, session: AzureSession, deadline: Deadline) -> dict[str, Any]:
    ref = step.ref()
    where = f"{KIND} {ref.server}/{ref.database}"
    source = read_database(session, ref.subscription_id, ref.resource_group, ref.server, ref.source_database,
                           deadline, where)
    if source is None:
        missing = AzureOperationFailed(f"{where}: the source database {ref.server}/{ref.source_database} does not exist")
        missing.code = "ResourceNotFound"  # type: ignore[attr-defined]
        raise missing
    target = read_database(session, ref.subscription_id, ref.resource_group, ref.server, ref.database, deadline, where)
    return {"source": source, "target": target}


def ours(step: SqlRestoreStep, target: dict[str, Any] | None) -> bool:
    """Is the existing target this step's copy (it carries every tag the step puts on it)?"""
    return target is not None and bool(step.tags) and all(target["tags"].get(k) == v for k, v in step.tags.items())


def undo_for(step: SqlRestoreStep, session: AzureSession) -> dict[str, Any]:
    ref = step.ref()
    server_id = _database_id(step, session, ref.database).rsplit("/databases/", 1)[0]
    return {"kind": "azure.sql.database.delete", "server": server_id, "database": ref.database,
            "require_tags": dict(step.tags), "timeout": min(step.timeout, 3600.0)}


def change_text(step: SqlRestoreStep) -> str:
    ref = step.ref()
    return (f"would restore {ref.server}/{ref.source_database} to {step.restore_point.isoformat()} as new database "
            f"{ref.database}")


def describe(step: SqlRestoreStep, session: AzureSession) -> str:
    try:
        seen = observe(step, session, Deadline(min(step.timeout, 30.0)))
    except OdinError as exc:
        return f"{change_text(step)}; current state unknown: {exc.message}"
    if seen["target"] is not None:
        what = "already restored by this step" if ours(step, seen["target"]) else "REFUSED: a database of that name exists"
        return f"{change_text(step)}: {what}"
    return change_text(step)


def run(step: SqlRestoreStep, session: AzureSession, *, progress: Progress = no_progress,
        intent: Intent | None = None, on_operation: OnOperation | None = None) -> StepOutcome:
    """Observe ▸ decide ▸ undo ▸ ``intent`` ▸ restore ▸ wait until online ▸ verify."""
    from azure.mgmt.sql import models

    ref = step.ref()
    where = f"{KIND} {ref.server}/{ref.database}"
    deadline = Deadline(step.timeout)
    output: dict[str, Any] = {"restore_point": step.restore_point.isoformat(),
                              "database_id": _database_id(step, session, ref.database)}
    try:
        seen = observe(step, session, deadline)
        output["before"] = seen
        if seen["target"] is not None:
            if ours(step, seen["target"]):
                return StepOutcome(status="noop", output=output,
                                   detail=f"{where}: already restored (it carries this step's tags)")
            return StepOutcome(status="failed", output=output, detail=(
                f"{where}: a database named {ref.database} already exists and is not this step's copy: "
                "pick another name (odin never overwrites a database)"))
        undo = undo_for(step, session)
        if intent is not None:
            intent(prior=seen, undo=undo, change=change_text(step))
        body = models.Database(
            location=seen["source"]["location"], tags=dict(step.tags) or None,
            properties=models.DatabaseProperties(create_mode="PointInTimeRestore",
                                                 source_database_id=seen["source"]["id"],
                                                 restore_point_in_time=step.restore_point))
        output["requested_at_epoch"] = time.time()
        try:
            poller = session.sql(ref.subscription_id).databases.begin_create_or_update(
                ref.resource_group, ref.server, ref.database, body, **deadline.call(where, lro=True))
            if on_operation is not None:
                on_operation(operation=BEGIN, resource=output["database_id"], continuation_token=token_of(poller))
            progress(f"{where}: restore of {ref.source_database} to {step.restore_point.isoformat()} accepted")
            finish(poller, deadline, where)
        except Exception as exc:
            raise azure_failure(KIND, f"{ref.server}/{ref.database}", exc) from None
        after = read_database(session, ref.subscription_id, ref.resource_group, ref.server, ref.database, deadline, where)
        output["online_at_epoch"] = time.time()
        output["after"] = after
        if after is None or str(after.get("status")).lower() != "online":
            return StepOutcome(status="failed", output=output, undo=undo,
                               detail=f"{where}: the restore finished but the database is {after and after.get('status')}")
    except OdinError as exc:
        return StepOutcome(status="failed", detail=exc.message, output={**output, **failure_output(exc)})
    took = output["online_at_epoch"] - output["requested_at_epoch"]
    return StepOutcome(status="ok", output=output, undo=undo, detail=(
        f"restored {ref.server}/{ref.source_database} to {step.restore_point.isoformat()} as {ref.database} "
        f"(online after {took:.1f} s)"))


def reached(step: SqlRestoreStep, session: AzureSession) -> tuple[bool, dict[str, Any]]:
    """Reconcile: does this step's copy exist (it may still be creating: its undo must be kept)?"""
    ref = step.ref()
    target = read_database(session, ref.subscription_id, ref.resource_group, ref.server, ref.database,
                           Deadline(min(step.timeout, 60.0)), f"{KIND} {ref.server}/{ref.database}")
    return ours(step, target) or (target is not None and not step.tags), {"target": target}


def follow(step: SqlRestoreStep, session: AzureSession, operation: str, continuation_token: str,
           seconds: float | None = None) -> None:
    """Reconcile: poll the journaled restore to its end (raises when it failed or outlives ``seconds``)."""
    ref = step.ref()
    where = f"{KIND} {ref.server}/{ref.database}"
    deadline = Deadline(seconds or step.timeout)
    try:
        poller = session.sql(ref.subscription_id).databases.begin_create_or_update(
            ref.resource_group, ref.server, ref.database, None, continuation_token=continuation_token)
        finish(poller, deadline, where)
    except Exception as exc:
        raise azure_failure(KIND, f"{ref.server}/{ref.database}", exc) from None


def reachability_problem(step: SqlRestoreStep, session: AzureSession) -> str | None:
    """Does the source database answer (the undo deletes on the same server)?"""
    try:
        observe(step, session, Deadline(min(step.timeout, 15.0)))
    except OdinError as exc:
        return exc.message
    return None
