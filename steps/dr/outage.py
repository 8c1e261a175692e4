"""How a drill causes its outage, confirms it and ends it: one interface, chosen by the target kind.

    OutageInjector     inject() -> the outage start (plan time: the RTO clock starts there);
                       wait_confirmed(since, max_wait) -> DetectionResult; clear() ends the outage
                       if it is the injector's to end (idempotent, never needed twice)
    SandboxOutage      the sandbox's fault API: a ``region_outage`` fault in the primary region; the
                       sandbox's own timestamp starts the clock; the primary fails every probe;
                       clear() removes the fault (``outage_cleared``)
    FrontDoorOutage    real Azure: the primary's origin disabled in Front Door through the
                       ``azure.frontdoor.origins`` action, write-ahead journaled (phase detect) with
                       its undo. The primary still answers directly, so the outage counts as
                       confirmed when no probe through Front Door is served by it for the
                       confirmation period. clear() changes nothing itself: the outage *is* a
                       journaled change, and whatever ends the drill puts the primary back by
                       running the journaled undos newest first (the Front Door failover's, then
                       this one's) — the failback, the drill's cleanup when it ends early or fails
                       (``steps.dr.cleanup.clean_up``), or ``odin rollback`` after a crash
    injector_for(run, faults)   None when the run waits for a real outage (incident mode, or
                       outage.inject / the inject_outage option off)
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any, Protocol

from odin_drills.errors import UsageError
from odin_drills.steps.dr.detection import FRONTDOOR, DetectionResult
from odin_drills.steps.dr.failover import execute_action, frontdoor_step
from odin_drills.steps.dr.run import Action, DrillRun

PHASE = "detect"


class OutageInjector(Protocol):
    how: str

    def inject(self) -> datetime: ...

    def wait_confirmed(self, since: datetime, max_wait: float) -> DetectionResult: ...

    def clear(self) -> None: ...


class FaultApi(Protocol):
    """The sandbox's admin API for faults (``odin_drills.flows.drill_target.SandboxLink``)."""

    def add_fault(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def remove_fault(self, fault_id: str) -> bool: ...

    def fault(self, fault_id: str) -> dict[str, Any] | None: ...


def injector_for(run: DrillRun, faults: FaultApi | None) -> OutageInjector | None:
    if not (run.mode == "drill" and run.plan.outage.inject and run.options.inject_outage):
        return None
    if run.plan.target.kind == "sandbox":
        assert faults is not None, "a sandbox drill runs with its sandbox"
        return SandboxOutage(run, faults)
    return FrontDoorOutage(run)


class SandboxOutage:
    how = "sandbox region_outage fault"

    def __init__(self, run: DrillRun, faults: FaultApi) -> None:
        self.run, self.faults = run, faults
        self.region = run.plan.outage_region
        self.fault_id: str | None = None
        # outage.kind app: only the region's app fails (every request 500); its SQL server and storage
        # keep answering, so a planned failover (no data loss) can go through
        self.app_only = getattr(run.plan.outage, "kind", "region") == "app"
        if self.app_only:
            self.how = "sandbox error_rate 1.0 fault (the app only; the data tier answers)"

    def _fault(self) -> dict[str, Any]:
        if self.app_only:
            return {"kind": "error_rate", "region": self.region, "rate": 1.0}
        return {"kind": "region_outage", "region": self.region}

    def inject(self) -> datetime:
        run = self.run
        # write-ahead: a drill killed between the request and the next entry still has its fault removed
        run.journal.append("outage_injecting", phase=PHASE, region=self.region, how=self.how)
        fault = self.faults.add_fault(self._fault())
        self.fault_id = fault["id"]
        # the sandbox's own timestamp is the ground truth; carried over to plan time
        ago = max(0.0, time.time() - float(fault["injected_at_epoch"]))
        started = run.clock.now() - timedelta(seconds=ago * run.clock.scale)
        run.journal.append("outage_injected", phase=PHASE, region=self.region, how=self.how, fault_id=fault["id"],
                           injected_at=fault["injected_at"], outage_started_at=started)
        return started

    def wait_confirmed(self, since: datetime, max_wait: float) -> DetectionResult:
        assert self.run.detector is not None
        return self.run.detector.wait_for_outage(max_wait, since=since)

    def clear(self) -> None:
        if self.fault_id is None:
            return
        fault_id, self.fault_id = self.fault_id, None
        self.faults.remove_fault(fault_id)
        fault = self.faults.fault(fault_id) or {}
        self.run.journal.append("outage_cleared", phase="failback", region=self.region, fault_id=fault_id,
                                cleared_at=fault.get("cleared_at"))


class FrontDoorOutage:
    how = "primary origin disabled in Front Door"

    def __init__(self, run: DrillRun) -> None:
        if run.resources.frontdoor is None:
            raise UsageError("outage.inject on an Azure target takes the primary out of Front Door: "
                             "resources.frontdoor is required")
        self.run = run
        self.region = run.plan.outage_region

    def inject(self) -> datetime:
        run = self.run
        action = Action(f"take {self.region} out of Front Door",
                        frontdoor_step(run, primary_enabled=False, dr_priority=None))
        outcome = execute_action(run, action, PHASE)
        if not outcome.succeeded:
            raise UsageError(f"could not take {self.region} out of Front Door: {outcome.detail}")
        started = run.clock.now()
        run.journal.append("outage_injected", phase=PHASE, region=self.region, how=self.how, outage_started_at=started)
        return started

    def wait_confirmed(self, since: datetime, max_wait: float) -> DetectionResult:
        """The primary counts as out when no probe through Front Door is served by it (failed, or
        answered by another region) for the whole confirmation period."""
        run, detector = self.run, self.run.detector
        assert detector is not None
        confirmation = run.plan.detection.confirmation
        deadline = run.clock.now() + timedelta(seconds=max_wait)
        start: datetime | None = None
        count = seen = 0
        while True:
            rounds = [r for r in detector.rounds() if r.at >= since]
            for round_ in rounds[seen:]:
                probe = round_.probes[FRONTDOOR]
                if probe.ok and probe.served_by in (None, run.primary):
                    start, count = None, 0
                    continue
                start = start or round_.at
                count += 1
                if (round_.at - start).total_seconds() >= confirmation:
                    run.journal.append("outage_confirmed", phase=PHASE, region=run.primary, via="frontdoor",
                                       first_failure_at=start, confirmed_at=round_.at, failed_probes=count,
                                       last_error=probe.error, served_by=probe.served_by)
                    return DetectionResult(region=run.primary, confirmed=True, first_failure_at=start,
                                           confirmed_at=round_.at, confirmation_seconds=confirmation,
                                           failed_probes=count, last_error=probe.error,
                                           frontdoor_served_by=probe.served_by, rounds=len(rounds))
            seen = len(rounds)
            if run.clock.now() >= deadline:
                run.journal.append("outage_not_confirmed", phase=PHASE, region=run.primary, via="frontdoor",
                                   waited_seconds=max_wait)
                return DetectionResult(region=run.primary, confirmed=False, first_failure_at=start,
                                       confirmation_seconds=confirmation, failed_probes=count, rounds=len(rounds))
            run.clock.sleep(run.plan.detection.interval / 2)

    def clear(self) -> None:
        """Nothing here: the injection is a journaled change whose undo the failback, the cleanup
        (``steps.dr.cleanup``) or ``odin rollback`` runs, exactly once (see the module)."""
