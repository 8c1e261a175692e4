"""What stakeholders hear during a region failover, and when.

The cadence is ``odin_drills.steps.comms.CommsSchedule``'s: the initial message at T+0 (``start()``,
when the outage is confirmed), updates at the plan's minutes (T+15/60/90 by default, plan time)
rendered from ``state()`` at the moment each is due, the resolution at the end (``resolve()``).
The runbook moves ``status``/``progress`` on as it goes (``update()``), so each update says what
is true then; ``checkpoint()`` journals what has gone out so far.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from odin_drills.steps.comms import CommsSchedule, IncidentState
from odin_drills.steps.dr.service_health import stakeholder_line

if TYPE_CHECKING:
    from odin_drills.steps.dr.run import DrillRun

PHASE = "communicate"

NEXT_STEP = {
    "investigating": "confirming the outage and deciding on a failover",
    "failing over": "failing over the database, storage and Front Door to the DR region",
    "validating": "checking the service, the data and replication in the DR region",
    "monitoring": "watching the DR region; failing back once the primary region is healthy",
    "failing back": "moving back to the primary region (planned, no data loss)",
    "resolved": "none",
}


class Stakeholders:
    def __init__(self, run: DrillRun) -> None:
        self.run = run
        self.status = "investigating"
        self.progress: str | None = None
        self.schedule: CommsSchedule | None = None

    def update(self, status: str | None = None, progress: str | None = None) -> None:
        """What the next message says: the incident's status and what has been done since the last."""
        if status is not None:
            self.status = status
        if progress is not None:
            self.progress = progress

    def state(self) -> IncidentState:
        """What stakeholders are told right now (every message renders from this)."""
        run, m = self.run, self.run.moments
        started = m.outage_started_at or run.clock.now()
        eta = None
        if m.recovered_at is None and self.status in ("failing over", "validating"):
            eta = f"within the RTO target, by {(started + timedelta(seconds=run.plan.targets.rto)):%H:%M} UTC"
        return IncidentState(
            title=run.title, status=self.status,
            impact=(f"none: served from {run.primary} again" if m.failback_completed_at is not None
                    else f"service restored from {run.secondary}" if m.recovered_at is not None
                    else f"the service in {run.primary} does not answer; writes may fail"),
            next_step=NEXT_STEP.get(self.status, "monitoring"), eta=eta, started_at=started,
            region_primary=run.primary, region_dr=run.secondary, progress=self.progress,
            summary=(f"{'Drill: ' if run.mode == 'drill' else ''}the primary region {run.primary} stopped "
                     f"answering; failing over to {run.secondary}"),
            details={"rto_target_seconds": run.plan.targets.rto, "rpo_target_seconds": run.plan.targets.rpo},
            follow_ups=list(run.found.deferred),
            azure_service_health=self.azure_says(),
        )

    def azure_says(self) -> str | None:
        """Azure's word on the outage from the run's latest Service Health reading (incident mode
        reads it to decide, ``steps.dr.incident``); None when the run made no reading."""
        reading = self.run.found.service_health
        if reading is None:
            return None
        return stakeholder_line(reading, float(getattr(self.run.clock, "scale", 1.0)))

    def start(self) -> None:
        """T+0 is now: the initial message goes out, the updates follow on the plan's minutes."""
        channels = self.run.plan.comms.channels
        if not channels:
            self.run.note(PHASE, "comms: no channels in the plan: no stakeholder messages")
            return
        self.schedule = CommsSchedule(channels, self.run.clock, self.run.journal, self.state,
                                      self.run.plan.comms.minutes, phase=PHASE)
        self.schedule.start()

    def checkpoint(self) -> None:
        """Journal what stakeholders have heard so far, and a channel nothing reached."""
        if self.schedule is None:
            return
        results = self.schedule.results
        heard = ", ".join(dict.fromkeys(f"{r.template} T+{r.minute}" for r in results if r.sent))
        deaf = sorted({r.channel for r in results} - {r.channel for r in results if r.sent})
        failed = sum(not r.sent for r in results)
        self.run.note(PHASE, f"stakeholders heard: {heard or 'nothing yet'}"
                      + (f"; {failed} delivery(ies) failed" if failed else "")
                      + (f"; nothing reached {', '.join(deaf)}" if deaf else ""))

    def resolve(self, outcome: str, detail: str, rto_seconds: float | None, rpo_seconds: float | None) -> None:
        """The resolution: how it ended, and the RTO/RPO against their targets."""
        if self.schedule is None:
            return
        run, m = self.run, self.run.moments
        if m.failover_started_at is None:
            summary = f"no failover: {detail}"
        else:
            summary = (f"{'Drill: ' if run.mode == 'drill' else ''}failed over from {run.primary} to {run.secondary}"
                       + (f" and back at {m.failback_completed_at:%H:%M} UTC" if m.failback_completed_at else ""))
        state = self.state().model_copy(update={
            "status": "resolved", "resolved_at": run.clock.now(), "next_step": "none", "summary": summary,
            "impact": "none now" if m.recovered_at or outcome == "no_failover_needed"
            else "the service did not recover through Front Door",
            "details": {"rto_seconds": rto_seconds, "rto_target_seconds": run.plan.targets.rto,
                        "rpo_seconds": rpo_seconds, "rpo_target_seconds": run.plan.targets.rpo},
        })
        self.schedule.resolve(state)

    def stop(self) -> None:
        if self.schedule is not None:
            self.schedule.stop()
