"""The building blocks of a region-failover DR drill, used by the runbook flow.

    OutageDetector   probes each region and Front Door; confirms outages (not glitches) and the
                     recovery that ends the RTO                                  (``detection``)
    CanaryWriter     acknowledged writes through the service, read back after the failover:
                     lost, corrupted, verified                                    (``canary``)
    score            DrillTimeline + CanaryResult + targets -> Scorecard (RTO, RPO, criteria)
                                                                                  (``scorecard``)
    DrillHistory     scorecards per plan, and the trend over earlier drills       (``history``)

and the run the runbook flow (``odin_drills.flows.region_failover``) drives, phase by phase:

    DrillRun         one run's plan, clock, journal, target; its Moments and Findings; score_run
                                                                                  (``run``)
    OutageInjector   how a drill causes its outage and ends it: SandboxOutage (fault API),
                     FrontDoorOutage (real Azure: the primary's origin disabled)  (``outage``)
    failover_waves   the failover's actions, each run journaled with its undo; the failback's undos
                                                                                  (``failover``)
    Stakeholders     the incident state every message renders from, and the comms cadence
                                                                                  (``stakeholders``)
    await_window     the failback in the plan's low-traffic window: wait for it, bounded, or no
                     failback; ``odin rollback`` outside it                      (``failback_window``)
    partner_server, read_replication   read-only questions to Azure                (``azure_reads``)

Nothing here uses Prefect. Azure changes only through ``odin_drills.steps.actions.run_action``.
"""

from odin_drills.steps.dr.canary import CanaryResult, CanaryWrite, CanaryWriter, ReadBack
from odin_drills.steps.dr.detection import DetectionResult, Glitch, OutageDetector, Probe, ProbeRound, failover_due_at
from odin_drills.steps.dr.history import DrillHistory, TrendPoint
from odin_drills.steps.dr.scorecard import CRITERIA, Criterion, DrillTimeline, ReplicationEvidence, Scorecard, score

__all__ = [
    "CRITERIA",
    "CanaryResult",
    "CanaryWrite",
    "CanaryWriter",
    "Criterion",
    "DetectionResult",
    "DrillHistory",
    "DrillTimeline",
    "Glitch",
    "OutageDetector",
    "Probe",
    "ProbeRound",
    "ReadBack",
    "ReplicationEvidence",
    "Scorecard",
    "TrendPoint",
    "failover_due_at",
    "score",
]
