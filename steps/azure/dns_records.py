"""``azure.dns.records``: point an A or CNAME record set of an Azure DNS zone at new targets.

Why a DNS step beside Front Door: services not behind Front Door fail over by name (``app``
CNAME from the primary region's host to the DR one), and a DR runbook has to move that name and
know when clients can follow. ARM accepting the PUT says nothing about that, so the step's
verification is the name servers' answer (``dns_propagation``), not ARM's.

Observe (``record_sets.get``; 404 is "there is none"), decide (targets and TTL already as wanted:
nothing to change, but propagation is still verified — a rerun after a crash must not report
success for a change the servers never picked up), compute the undo from what was read (the old
targets and TTL, or ``delete: true`` when there was no record set), ``intent`` (journaled before
the change), act (``record_sets.create_or_update``, or ``delete``), read it back, and wait for the
zone's name servers to answer the new targets within ``max(2 × ttl, 30 s)`` (at most 10 minutes) of plan time on the
engine's clock. A missed deadline is a failed step whose one line names the record and what the
servers still answer; as with Front Door's stages, a step that fails after changing the record set
puts back what it read first (a failed step leaves no change behind: the journal keeps undos only
for steps that succeeded).
"""

from __future__ import annotations

from typing import Any

from odin_drills.errors import AzureOperationFailed, OdinError
from odin_drills.plan.azure_steps import DnsRecordsStep
from odin_drills.steps.actions.outcome import StepOutcome, failed_but_changed
from odin_drills.steps.azure.clients import AzureSession
from odin_drills.steps.azure.dns_propagation import deadline_seconds, parse_name_server, wait_for
from odin_drills.steps.azure.errors import azure_failure, failure_output, one_line
from odin_drills.steps.azure.operation import Deadline, Intent, OnOperation, Progress, no_progress

KIND = "azure.dns.records"
MAX_TTL = 86400  # what a plan's ttl may say; an undo of a longer-lived record set restores this much


def fqdn_of(step: DnsRecordsStep) -> str:
    ref = step.ref()
    return ref.zone if ref.record_set == "@" else f"{ref.record_set}.{ref.zone}"


def _where(step: DnsRecordsStep) -> str:
    return f"{KIND} {fqdn_of(step)} {step.type}"


def zone_id(step: DnsRecordsStep, session: AzureSession) -> str:
    ref = step.ref()
    return (f"/subscriptions/{ref.subscription_id or session.subscription_id}/resourceGroups/{ref.resource_group}"
            f"/providers/Microsoft.Network/dnsZones/{ref.zone}")


def _view(found: Any, record_type: str) -> dict[str, Any]:
    """A ``RecordSet`` as plain JSON: TTL and targets (sorted; CNAME lower case, no trailing dot).

    An alias record set (pointing at a Front Door, Traffic Manager profile or public IP rather than
    holding records) is refused: it would read as "no targets", the PUT would turn it into static
    records and its undo would delete the name."""
    alias = getattr(found, "target_resource", None)
    profile = getattr(found, "traffic_management_profile", None)
    if (alias is not None and getattr(alias, "id", None)) or (profile is not None and getattr(profile, "id", None)):
        raise AzureOperationFailed(one_line(
            f"{KIND} {found.fqdn or found.name} {record_type}: an alias record set (pointing at "
            f"{getattr(alias, 'id', None) or getattr(profile, 'id', None)}); odin does not rewrite alias records: "
            "change the alias's target resource instead, or remove the alias first"))
    if record_type == "A":
        targets = sorted(str(r.ipv4_address) for r in (found.a_records or []))
    else:
        targets = [found.cname_record.cname.rstrip(".").lower()] if found.cname_record is not None else []
    return {"ttl": found.ttl, "targets": targets, "fqdn": found.fqdn, "metadata": dict(found.metadata or {})}


def observe(step: DnsRecordsStep, session: AzureSession, deadline: Deadline) -> dict[str, Any] | None:
    """The record set now, or None when the zone has none of that name and type."""
    from azure.core.exceptions import ResourceNotFoundError

    ref = step.ref()
    try:
        found = session.dns(ref.subscription_id).record_sets.get(
            ref.resource_group, ref.zone, ref.record_set, step.type, **deadline.call(_where(step)))
    except ResourceNotFoundError:
        return None
    except Exception as exc:
        raise azure_failure(KIND, fqdn_of(step), exc) from None
    return _view(found, step.type)


def at_target(step: DnsRecordsStep, current: dict[str, Any] | None) -> bool:
    if step.delete:
        return current is None
    return current is not None and current["targets"] == sorted(step.targets) and current["ttl"] == step.ttl


def wanted_answer(step: DnsRecordsStep) -> list[str]:
    return [] if step.delete else sorted(step.targets)


def change_text(step: DnsRecordsStep, current: dict[str, Any] | None = None, known: bool = False) -> str:
    now = ""
    if known:
        now = (" (now: no such record set)" if current is None
               else f" (now: {', '.join(current['targets'])}, TTL {current['ttl']})")
    if step.delete:
        return f"would delete {step.type} record set {fqdn_of(step)}{now}"
    return f"would set {step.type} {fqdn_of(step)} to {', '.join(step.targets)}, TTL {step.ttl}{now}"


def undo_for(step: DnsRecordsStep, session: AzureSession, before: dict[str, Any] | None) -> dict[str, Any]:
    """What was read, put back: the old targets and TTL, or a delete when there was no record set."""
    undo: dict[str, Any] = {"kind": KIND, "name": f"undo {step.name}", "zone": zone_id(step, session),
                            "record_set": step.record_set, "type": step.type, "timeout": step.timeout}
    if before is None or not before["targets"]:
        return {**undo, "delete": True}
    return {**undo, "targets": before["targets"], "ttl": min(max(int(before["ttl"] or 1), 1), MAX_TTL)}


def describe(step: DnsRecordsStep, session: AzureSession) -> str:
    try:
        current = observe(step, session, Deadline(min(step.timeout, 30.0)))
    except OdinError as exc:
        return f"{change_text(step)}; current state unknown: {exc.message}"
    if at_target(step, current):
        return f"no change: {step.type} {fqdn_of(step)} already {', '.join(step.targets) or 'absent'}"
    return change_text(step, current, known=True)


def _act(step: DnsRecordsStep, session: AzureSession, before: dict[str, Any] | None, deadline: Deadline) -> None:
    from azure.mgmt.dns import models

    ref = step.ref()
    operations = session.dns(ref.subscription_id).record_sets
    try:
        if step.delete:
            operations.delete(ref.resource_group, ref.zone, ref.record_set, step.type, **deadline.call(_where(step)))
            return
        body = models.RecordSet(ttl=step.ttl, metadata=(before or {}).get("metadata") or None)
        if step.type == "A":
            body.a_records = [models.ARecord(ipv4_address=address) for address in step.targets]
        else:
            body.cname_record = models.CnameRecord(cname=step.targets[0])
        operations.create_or_update(ref.resource_group, ref.zone, ref.record_set, step.type, body,
                                    **deadline.call(_where(step)))
    except Exception as exc:
        raise azure_failure(KIND, fqdn_of(step), exc) from None


def name_servers(step: DnsRecordsStep, session: AzureSession, deadline: Deadline) -> list[tuple[str, int]]:
    """The zone's name servers (``host``, ``port``), as the zone resource names them."""
    ref = step.ref()
    try:
        zone = session.dns(ref.subscription_id).zones.get(ref.resource_group, ref.zone, **deadline.call(_where(step)))
    except Exception as exc:
        raise azure_failure(KIND, ref.zone, exc) from None
    servers = [parse_name_server(name) for name in (zone.name_servers or [])]
    if not servers:
        failure = AzureOperationFailed(f"{_where(step)}: the zone {ref.zone} names no name servers to ask")
        failure.code = "NoNameServers"  # type: ignore[attr-defined]
        raise failure
    return servers


def reachability_problem(step: DnsRecordsStep, session: AzureSession) -> str | None:
    """Does the zone the undo writes answer? Its record set alone would not say: a zone that does
    not exist answers that read with the same 404 as a name that has no record set yet."""
    deadline = Deadline(min(step.timeout, 15.0))
    try:
        name_servers(step, session, deadline)  # the zone exists, and names the servers verification asks
        observe(step, session, deadline)
    except OdinError as exc:
        return exc.message
    return None


def run(step: DnsRecordsStep, session: AzureSession, *, clock: Any, progress: Progress = no_progress,
        intent: Intent | None = None, on_operation: OnOperation | None = None) -> StepOutcome:
    """Observe ▸ decide ▸ undo ▸ ``intent`` ▸ PUT (or DELETE) ▸ read back ▸ wait for the name servers."""
    where = _where(step)
    deadline = Deadline(step.timeout)
    output: dict[str, Any] = {"fqdn": fqdn_of(step), "type": step.type, "wanted": wanted_answer(step),
                              "ttl": None if step.delete else step.ttl}
    undo = None
    acted = False
    try:
        before = observe(step, session, deadline)
        output["before"] = before
        changed = not at_target(step, before)
        if changed:
            undo = None if step.is_undo else undo_for(step, session, before)
            if intent is not None:
                intent(prior=before, undo=undo, change=change_text(step, before, known=True))
            acted = True
            _act(step, session, before, deadline)
            after = observe(step, session, deadline)
            output["after"] = after
            if not at_target(step, after):
                raise AzureOperationFailed(one_line(
                    f"{where}: ARM does not show the change after the update "
                    f"({'absent' if after is None else ', '.join(after['targets'])})"))
            progress(f"{where}: {'deleted' if step.delete else 'set to ' + ', '.join(step.targets)}; "
                     "waiting for the name servers", fqdn=fqdn_of(step))
        servers = name_servers(step, session, deadline)
        limit = deadline_seconds(step.ttl)
        seen = wait_for(servers, fqdn_of(step), step.type, wanted_answer(step), clock=clock, seconds=limit)
        output["name_servers"] = seen.answers
        output["propagated_after_seconds"] = seen.waited if seen.done else None
        if not seen.done:
            failure = AzureOperationFailed(one_line(
                f"{where}: not propagated after {limit:g} s: {seen.stale(wanted_answer(step))}"))
            failure.code = "DnsNotPropagated"  # type: ignore[attr-defined]
            raise failure
    except OdinError as exc:
        detail = exc.message
        if acted and undo is not None:
            restored, said = _restore(step, session, undo, before)
            detail += f"; {said}"
            if not restored:  # the change stays: its undo must stay in the journal
                return failed_but_changed(one_line(detail), {**output, **failure_output(exc)}, undo)
            output["restored"] = undo
        return StepOutcome(status="failed", detail=one_line(detail), output={**output, **failure_output(exc)})
    answer = ", ".join(step.targets) or "no such record"
    if not changed:
        return StepOutcome(status="noop", output=output,
                           detail=f"{where}: already {answer}; the name servers answer it")
    return StepOutcome(status="ok", output=output, undo=undo, detail=one_line(
        f"{'deleted' if step.delete else 'set'} {step.type} {fqdn_of(step)}{'' if step.delete else ' to ' + answer}; "
        f"the name servers answered it after {seen.waited:g} s"))


def _restore(step: DnsRecordsStep, session: AzureSession, undo: dict[str, Any],
             before: dict[str, Any] | None) -> tuple[bool, str]:
    """Put back the record set read before the change (its metadata too); whether it worked, and how."""
    back = DnsRecordsStep.model_validate(undo)
    try:
        _act(back, session, before, Deadline(step.timeout))
    except OdinError as exc:
        return False, f"restoring the previous record set failed too: {exc.message}"
    return True, ("deleted the record set again (there was none)" if back.delete
                  else f"restored the previous record set ({', '.join(back.targets)}, TTL {back.ttl})")


def reached(step: DnsRecordsStep, session: AzureSession) -> tuple[bool, dict[str, Any]]:
    """Reconcile: does ARM show the record set as wanted? (DNS is synchronous in ARM.)"""
    current = observe(step, session, Deadline(min(step.timeout, 60.0)))
    return at_target(step, current), {"record_set": current}


