"""``azure.sql.database.delete``: the undo of ``azure.sql.restore`` — delete the restored copy.

Only an undo (no plan may delete a database as a step): it deletes the database only when it
carries every tag in ``require_tags`` (the tags the restore put on its copy), so replaying an undo
can never remove a database someone else created under that name. Already gone is done (``noop``):
the undo is idempotent, as every undo must be.
"""

from __future__ import annotations

from typing import Any

from odin_drills.errors import AzureOperationFailed, OdinError
from odin_drills.plan.azure_steps import SqlDatabaseDeleteUndo
from odin_drills.steps.actions.outcome import StepOutcome
from odin_drills.steps.azure.clients import AzureSession
from odin_drills.steps.azure.errors import azure_failure, code_of
from odin_drills.steps.azure.operation import Deadline, Intent, OnOperation, Progress, finish, no_progress, token_of
from odin_drills.steps.azure.sql_restore import read_database

KIND = "azure.sql.database.delete"
BEGIN = "begin_delete"


def _read(step: SqlDatabaseDeleteUndo, session: AzureSession, deadline: Deadline) -> dict[str, Any] | None:
    ref = step.ref()
    return read_database(session, ref.subscription_id, ref.resource_group, ref.server, ref.database, deadline,
                         f"{KIND} {ref.server}/{ref.database}")


def _tags_match(step: SqlDatabaseDeleteUndo, found: dict[str, Any]) -> bool:
    return all(found["tags"].get(k) == v for k, v in step.require_tags.items())


def describe(step: SqlDatabaseDeleteUndo, session: AzureSession) -> str:
    ref = step.ref()
    return f"would delete database {ref.server}/{ref.database} (only if tagged {step.require_tags})"


def run(step: SqlDatabaseDeleteUndo, session: AzureSession, *, progress: Progress = no_progress,
        intent: Intent | None = None, on_operation: OnOperation | None = None) -> StepOutcome:
    ref = step.ref()
    where = f"{KIND} {ref.server}/{ref.database}"
    deadline = Deadline(step.timeout)
    output: dict[str, Any] = {}
    try:
        found = _read(step, session, deadline)
        output["before"] = found
        if found is None:
            return StepOutcome(status="noop", output=output, detail=f"{where}: already gone")
        if not _tags_match(step, found):
            failure = AzureOperationFailed(f"{where}: refused: the database does not carry the tags "
                                           f"{step.require_tags} of the copy odin made (it has {found['tags']})")
            failure.code = "NotOdinsCopy"  # type: ignore[attr-defined]
            raise failure
        if intent is not None:
            intent(prior=found, undo=None, change=f"delete {ref.server}/{ref.database}")
        try:
            poller = session.sql(ref.subscription_id).databases.begin_delete(
                ref.resource_group, ref.server, ref.database, **deadline.call(where, lro=True))
            if on_operation is not None:
                on_operation(operation=BEGIN, resource=found["id"], continuation_token=token_of(poller))
            finish(poller, deadline, where)
        except Exception as exc:
            raise azure_failure(KIND, f"{ref.server}/{ref.database}", exc) from None
        if _read(step, session, deadline) is not None:
            return StepOutcome(status="failed", output=output, detail=f"{where}: the delete finished but it is still there")
    except OdinError as exc:
        output["error"] = {"type": exc.__class__.__name__, "code": code_of(exc), "message": exc.message}
        return StepOutcome(status="failed", detail=exc.message, output=output)
    return StepOutcome(status="ok", output=output, detail=f"deleted database {ref.server}/{ref.database}")


def reached(step: SqlDatabaseDeleteUndo, session: AzureSession) -> tuple[bool, dict[str, Any]]:
    """Reconcile: is the copy gone?"""
    found = _read(step, session, Deadline(min(step.timeout, 60.0)))
    return found is None, {"target": found}


def follow(step: SqlDatabaseDeleteUndo, session: AzureSession, operation: str, continuation_token: str,
           seconds: float | None = None) -> None:
    ref = step.ref()
    deadline = Deadline(seconds or step.timeout)
    try:
        poller = session.sql(ref.subscription_id).databases.begin_delete(
            ref.resource_group, ref.server, ref.database, continuation_token=continuation_token)
        finish(poller, deadline, f"{KIND} {ref.server}/{ref.database}")
    except Exception as exc:
        raise azure_failure(KIND, f"{ref.server}/{ref.database}", exc) from None


def reachability_problem(step: SqlDatabaseDeleteUndo, session: AzureSession) -> str | None:
    try:
        _read(step, session, Deadline(min(step.timeout, 15.0)))
    except OdinError as exc:
        return exc.message
    return None
