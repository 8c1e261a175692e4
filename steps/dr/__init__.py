"""The building blocks of a region-failover DR drill, used by the runbook flow.

    OutageDetector   probes each region and Front Door; confirms outages (not glitches) and the
                     recovery that ends the RTO                                  (``detection``)
    CanaryWriter     acknowledged writes through the service, read back after the failover:
                     lost, corrupted, verified                                    (``canary``)
    score            DrillTimeline + CanaryResult + targets -> Scorecard (RTO, RPO, criteria)
                                                                                  (``scorecard``)
    DrillHistory     scorecards per plan, and the trend over earlier drills       (``history``)

Nothing here uses Prefect or changes Azure: the failover actions live in ``odin_drills.steps.azure``.
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
