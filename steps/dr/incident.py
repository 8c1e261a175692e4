"""Incident mode's decision on Azure's word: fail over now, or wait for the region to come back?

The handbook's DR runbook (Decision, 15 minutes): assess the impact (full region outage or
partial), estimate the duration from Azure Service Health's ETA for resolution, fail over to DR if
the outage lasts more than 30 minutes. :func:`weigh_outage` is that rule, after the outage is
confirmed by the probes (``steps.dr.detection``):

* Azure reports an active service issue for the primary region (``steps.dr.service_health``) and
  * publishes **no ETA** → fail over now: nobody can say it will be short;
  * expects it resolved **beyond** ``decision.fail_over_if_eta_beyond`` (default
    ``detection.threshold``, 30 min) from the outage's start → fail over now;
  * expects it resolved **within** that → wait (journaled as a ``decision`` ``wait`` with the event,
    the ETA and the numbers), re-reading every probe interval: an ETA that slips past the limit
    fails over; the primary answering again ends the run with no failover;
* Azure unreachable, or no service issue for the region → said in the journal, and the existing
  threshold rule decides: fail over once the outage has lasted ``detection.threshold``;
* whatever Azure says, an outage that has lasted ``detection.threshold`` fails over (an ETA that
  passed without the region coming back is an ETA that was wrong).

Every change in what Azure says is journaled (``service_health``), so the report shows what the
decision saw; the latest reading stays on ``run.found.service_health``, so each stakeholder message
quotes Azure's own event, extent and ETA (``steps.dr.stakeholders``), never one of ours. A person's confirmation (``decision.human_confirm``) still follows a fail-over
verdict: that is the runbook's, not this rule's. Nothing here uses Prefect.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from odin_drills.steps.dr.detection import DetectionResult, failover_due_at
from odin_drills.steps.dr.run import DrillRun
from odin_drills.steps.dr.service_health import HealthReading, read_health, resource_groups

Reader = Callable[..., HealthReading]


@dataclass
class Verdict:
    """What the rule decided, why (one sentence, the decision's reason), and what it saw."""

    action: Literal["fail_over", "recovered"]
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


def plan_resource_ids(run: DrillRun) -> list[str]:
    """The ARM ids the drill fails over: where its resource groups are."""
    r = run.resources
    return ([g.id for g in r.failover_groups] + [a.id for a in r.storage_accounts]
            + [g.origin_group for g in ([r.frontdoor] if r.frontdoor else []) + r.frontdoor_groups])


def evidence_of(reading: HealthReading, expected: float | None, limit: float) -> dict[str, Any]:
    """The numbers a decision is journaled with."""
    return {"event_id": reading.event_id, "reachable": reading.reachable, "error": reading.error,
            "resolution_eta": reading.resolution_eta.isoformat() if reading.resolution_eta else None,
            "impact_started_at": reading.impact_started_at.isoformat() if reading.impact_started_at else None,
            "expected_outage_seconds": expected, "limit_seconds": limit, "scope": reading.scope,
            "unavailable": len(reading.unavailable),
            "resources": len(reading.unavailable) + len(reading.degraded) + len(reading.available)}


def weigh_outage(run: DrillRun, result: DetectionResult, read: Reader = read_health) -> Verdict:
    """Read Azure until the rule decides (see the module); the primary back first is ``recovered``."""
    plan, primary = run.plan, run.primary
    limit, threshold, interval = plan.eta_threshold, plan.detection.threshold, plan.detection.interval
    due = failover_due_at(result, "incident", threshold)
    groups = resource_groups(plan_resource_ids(run))
    seen: tuple[Any, ...] | None = None
    said: str | None = None
    issue: HealthReading | None = None  # the last reading with an active service issue
    while True:
        reading = read(run.target, primary, groups)
        run.found.service_health = reading  # the stakeholder messages quote Azure's latest word
        expected = reading.expected_outage_seconds(getattr(run.clock, "scale", 1.0))
        evidence = evidence_of(reading, expected, limit)
        now_seen = (reading.reachable, reading.event_id, reading.resolution_eta, reading.scope, reading.error)
        if now_seen != seen:
            seen = now_seen
            run.journal.append("service_health", phase="decide", expected_outage_seconds=expected,
                               limit_seconds=limit, **reading.journal_fields())
        known = f"Azure Service Health {reading.event_id}: {reading.scope_text()}"
        if reading.reachable and reading.event_id:
            issue = reading
            if reading.resolution_eta is None:
                return Verdict("fail_over", f"{known}; no ETA for resolution published: failing over", evidence)
            assert expected is not None
            if expected > limit:
                return Verdict("fail_over", f"{known}; resolution expected {_minutes(expected)} after the outage "
                               f"began ({reading.resolution_eta:%H:%M:%S} UTC), beyond the {_minutes(limit)} limit",
                               evidence)
            why = (f"{known}; resolution expected {_minutes(expected)} after the outage began "
                   f"({reading.resolution_eta:%H:%M:%S} UTC), within the {_minutes(limit)} limit: waiting for "
                   f"{primary} to come back (Azure re-read every {interval:g} s)")
            if why != said:
                said = why
                run.journal.append("decision", phase="decide", action="wait", by="odin", reason=why, evidence=evidence)
        elif reading.reachable and issue is not None:
            why = (f"Azure Service Health reports {issue.event_id} resolved: waiting for {primary} to answer its "
                   "probes again")
            if why != said:
                said = why
                run.note("decide", why)
        else:
            why = (f"Azure Service Health unreachable ({reading.error})" if not reading.reachable
                   else f"Azure Service Health reports no active service issue for {primary}")
            if why != said:
                said = why
                run.note("decide", f"{why}: the threshold rule decides (fail over once the outage has lasted "
                         f"{threshold:g} s)")
        now = run.clock.now()
        if due is not None and now >= due:
            return Verdict("fail_over", f"the outage of {primary} has lasted the {threshold:g} s threshold ({said})",
                           evidence)
        if primary_back(run, result):
            basis = issue or reading
            was = basis.expected_outage_seconds(getattr(run.clock, "scale", 1.0))
            ending = (f"within Azure's ETA ({basis.event_id} expected resolved {_minutes(was)} after it began, "
                      f"limit {_minutes(limit)}; {basis.scope_text()})" if was is not None
                      else f"before the {threshold:g} s threshold")
            return Verdict("recovered", f"{primary} answered again {ending}", evidence_of(basis, was, limit))
        wait = interval if due is None else min(interval, (due - now).total_seconds())
        run.clock.sleep(max(wait, 0.0))


def primary_back(run: DrillRun, result: DetectionResult) -> bool:
    """The primary's last ``consecutive_successes`` probes since the confirmation all succeeded."""
    if run.detector is None:
        return False
    need = run.plan.targets.consecutive_successes
    since = result.confirmed_at or run.clock.now()
    rounds = [r for r in run.detector.rounds() if r.at > since]
    return len(rounds) >= need and all(r.probes[run.primary].ok for r in rounds[-need:])


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
