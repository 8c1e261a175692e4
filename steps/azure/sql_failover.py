"""``azure.sql.failover``: make a server the primary of its SQL failover group.

Observe (GET the group through the server to become primary, and its replication links),
decide (already primary: nothing to do), act (POST failover / forceFailoverAllowDataLoss /
tryPlannedBeforeForcedFailover to that server and wait for the operation), verify (GET again:
the server is Primary). The undo is a planned failover back to the server that was primary.

ARM reports each link's ``replicationState`` (CATCH_UP, SEEDING, SUSPENDED) but no lag figure,
so what a forced failover may lose is stated from the state: with CATCH_UP, the writes the
asynchronous link had not shipped yet; otherwise everything since the link stopped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from odin_drills.errors import OdinError
from odin_drills.plan.azure_steps import SqlFailoverStep
from odin_drills.steps.actions.outcome import StepOutcome
from odin_drills.steps.azure.clients import AzureSession
from odin_drills.steps.azure.errors import azure_failure, code_of, one_line, plain
from odin_drills.plan.arm_ids import parse_arm_id, region_name
from odin_drills.steps.azure.operation import Deadline, Intent, OnOperation, Progress, finish, no_progress, token_of

KIND = "azure.sql.failover"
BEGIN = {
    "planned": "begin_failover",
    "forced": "begin_force_failover_allow_data_loss",
    "try-planned": "begin_try_planned_before_forced_failover",
}
MODE_TEXT = {
    "planned": "planned",
    "forced": "forced, allowing data loss",
    "try-planned": "try-planned: forced if planned is impossible, allowing data loss",
}


@dataclass
class FailoverGroupView:
    """The failover group as the server to become primary sees it."""

    name: str
    to_server: str
    to_region: str
    to_role: str
    partner_server: str
    partner_server_id: str
    partner_region: str
    replication_state: str | None
    databases: list[str]
    links: list[dict[str, Any]] = field(default_factory=list)

    @property
    def already_primary(self) -> bool:
        return self.to_role.lower() == "primary"

    @property
    def replication(self) -> str:
        states = sorted({str(link["state"]) for link in self.links if link.get("state")})
        return "/".join(states) or self.replication_state or "unknown"


def observe(step: SqlFailoverStep, session: AzureSession, deadline: Deadline, *, links: bool) -> FailoverGroupView:
    ref = step.ref()
    where = f"{KIND} {ref.failover_group}"
    sql = session.sql(ref.subscription_id)
    try:
        group = sql.failover_groups.get(ref.resource_group, ref.to_server, ref.failover_group, **deadline.call(where))
    except Exception as exc:
        raise azure_failure(KIND, ref.failover_group, exc) from None
    props = group.properties
    partner = props.partner_servers[0]
    view = FailoverGroupView(
        name=group.name or ref.failover_group,
        to_server=ref.to_server,
        to_region=region_name(group.location),
        to_role=str(plain(props.replication_role) or "unknown"),
        partner_server=parse_arm_id(partner.id).name,
        partner_server_id=partner.id,
        partner_region=region_name(partner.location),
        replication_state=plain(props.replication_state),
        databases=[parse_arm_id(db).name for db in (props.databases or [])],
    )
    if links:
        view.links = _links(sql, ref.resource_group, ref.to_server, view.databases, deadline, where)
    return view


def _links(sql: Any, resource_group: str, server: str, databases: list[str], deadline: Deadline,
           where: str) -> list[dict[str, Any]]:
    """Each database's geo link as ``server`` sees it; a read that fails is recorded, not fatal."""
    found: list[dict[str, Any]] = []
    for database in databases:
        try:
            for link in sql.replication_links.list_by_database(resource_group, server, database, **deadline.call(where)):
                p = link.properties
                found.append({"database": database, "role": plain(p.role), "partner_server": p.partner_server,
                              "partner_role": plain(p.partner_role), "state": plain(p.replication_state),
                              "percent_complete": p.percent_complete,
                              "start_time": p.start_time.isoformat() if p.start_time else None})
        except Exception as exc:  # noqa: BLE001 - the failover decision does not depend on it
            found.append({"database": database, "error": azure_failure(KIND, f"{where} links", exc).message})
    return found


def data_at_risk(view: FailoverGroupView) -> dict[str, Any]:
    state = view.replication
    if state == "CATCH_UP":
        summary = ("replication CATCH_UP: writes the asynchronous link has not shipped yet are lost "
                   "(ARM reports no lag figure)")
    else:
        summary = f"replication {state}: every write the primary acknowledged since the link stopped is lost"
    return {"summary": summary, "replication_state": state, "links": view.links,
            "primary": view.partner_server, "primary_region": view.partner_region}


def change_text(step: SqlFailoverStep, view: FailoverGroupView) -> str:
    if view.already_primary:
        return f"no change: {view.name} already primary in {view.to_region} ({view.to_server})"
    detail = f"replication {view.replication}"
    if step.mode != "planned":
        detail = data_at_risk(view)["summary"]
    elif view.replication == "SUSPENDED":
        detail += ": a planned failover fails while replication is suspended"
    return (f"would fail over {view.name} from {view.partner_region} to {view.to_region} "
            f"({MODE_TEXT[step.mode]}; {detail})")


def describe(step: SqlFailoverStep, session: AzureSession) -> str:
    try:
        view = observe(step, session, Deadline(min(step.timeout, 30.0)), links=True)
    except OdinError as exc:
        ref = step.ref()
        return (f"would fail over {ref.failover_group} to {ref.to_server} ({MODE_TEXT[step.mode]}); "
                f"current state unknown: {exc.message}")
    return change_text(step, view)


def undo_for(step: SqlFailoverStep, before: FailoverGroupView) -> dict[str, Any]:
    """The automatic undo, from the state read before acting: a planned failover back to the
    server that was primary. The partner's id carries its own subscription and resource group."""
    return {"kind": KIND, "failover_group": step.ref().failover_group, "to_server": before.partner_server_id,
            "mode": "planned", "timeout": step.timeout}


def run(step: SqlFailoverStep, session: AzureSession, *, progress: Progress = no_progress,
        intent: Intent | None = None, on_operation: OnOperation | None = None) -> StepOutcome:
    """Observe ▸ decide ▸ compute the undo ▸ ``intent`` (journaled before acting) ▸ act (the
    operation's continuation token goes to ``on_operation`` as soon as ARM accepts it) ▸ verify."""
    ref = step.ref()
    where = f"{KIND} {ref.failover_group}"
    deadline = Deadline(step.timeout)
    output: dict[str, Any] = {"mode": step.mode}
    try:
        before = observe(step, session, deadline, links=True)
        output["before"] = asdict(before)
        if before.already_primary:
            return StepOutcome(status="noop", detail=change_text(step, before), output=output)
        risk = None
        if step.mode != "planned":
            risk = data_at_risk(before)
            output["data_at_risk"] = risk
            progress(f"{where}: {step.mode} failover allows data loss: {risk['summary']}", data_at_risk=risk)
        undo = undo_for(step, before)
        if intent is not None:
            intent(prior=asdict(before), undo=undo, change=change_text(step, before))
        begin = getattr(session.sql(ref.subscription_id).failover_groups, BEGIN[step.mode])
        try:
            poller = begin(ref.resource_group, ref.to_server, ref.failover_group, **deadline.call(where, lro=True))
            if on_operation is not None:
                on_operation(operation=BEGIN[step.mode], resource=_group_id(step, session),
                             continuation_token=token_of(poller))
            finish(poller, deadline, where)
        except Exception as exc:
            raise azure_failure(KIND, ref.failover_group, exc) from None
        after = observe(step, session, deadline, links=False)
        output["after"] = asdict(after)
        if not after.already_primary:
            return StepOutcome(status="failed", output=output, detail=one_line(
                f"{where}: the {step.mode} failover finished but {after.to_server} is still {after.to_role}"))
    except OdinError as exc:
        output["error"] = {"type": exc.__class__.__name__, "code": code_of(exc), "message": exc.message}
        if getattr(exc, "continuation_token", None):
            output["continuation_token"] = exc.continuation_token  # type: ignore[attr-defined]
        return StepOutcome(status="failed", detail=exc.message, output=output)
    detail = f"failed over {before.name} from {before.partner_region} to {before.to_region} ({step.mode}"
    detail += f"; {risk['summary']})" if risk else ")"
    return StepOutcome(status="ok", detail=one_line(detail), output=output, undo=undo)


def _group_id(step: SqlFailoverStep, session: AzureSession) -> str:
    ref = step.ref()
    return (f"/subscriptions/{ref.subscription_id or session.subscription_id}/resourceGroups/{ref.resource_group}"
            f"/providers/Microsoft.Sql/servers/{ref.to_server}/failoverGroups/{ref.failover_group}")


def reached(step: SqlFailoverStep, session: AzureSession) -> tuple[bool, dict[str, Any]]:
    """Reconcile: is ``to_server`` primary now? And what was read."""
    view = observe(step, session, Deadline(min(step.timeout, 60.0)), links=False)
    return view.already_primary, asdict(view)


def follow(step: SqlFailoverStep, session: AzureSession, operation: str, continuation_token: str,
           seconds: float | None = None) -> None:
    """Reconcile: poll a journaled operation (by its continuation token) until it ends; raises
    (OdinError) when it ended Failed or is still running after ``seconds`` (default: the step's timeout)."""
    ref = step.ref()
    where = f"{KIND} {ref.failover_group}"
    deadline = Deadline(seconds or step.timeout)
    begin = getattr(session.sql(ref.subscription_id).failover_groups, operation)
    try:
        poller = begin(ref.resource_group, ref.to_server, ref.failover_group, continuation_token=continuation_token)
        finish(poller, deadline, where)
    except Exception as exc:
        raise azure_failure(KIND, ref.failover_group, exc) from None


def reachability_problem(step: SqlFailoverStep, session: AzureSession, *, auto_undo: bool) -> str | None:
    """Can the undo reach its servers? An explicit undo POSTs to its ``to_server``; the automatic
    one to the server that is primary now, so both members must answer."""
    deadline = Deadline(min(step.timeout, 15.0))
    try:
        view = observe(step, session, deadline, links=False)
        if auto_undo:
            partner = step.model_copy(update={"to_server": view.partner_server_id})
            observe(partner, session, deadline, links=False)
    except OdinError as exc:
        return exc.message
    return None
