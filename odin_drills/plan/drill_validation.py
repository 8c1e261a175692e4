"""A drill file's ``validation:``: how long the DR region is watched, and the replication lag allowed.

The handbook's DR runbook validates in 15 minutes (``targets.budgets.validation``): "check error
rates and latency in DR region", "verify database replication lag is minimal", "monitor alerts".
The watch is the first of these, so its default (10 minutes in 1-minute windows, the baseline
one such window) leaves the rest of the budget to the wait for the service, the smoke journeys and the canary read-back; a
watch longer than the budget is refused at load (``DrillPlan._consistent``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from odin_drills.plan.durations import Duration


class Validation(BaseModel):
    """The DR region's watch against its pre-failover baseline, and the replication lag allowed."""

    model_config = ConfigDict(extra="forbid")

    watch: Duration = Field(
        default=600.0, gt=0,
        description="plan time the rollback ladder watches the DR region (metrics:) against the baseline captured "
                    "in prepare; at most targets.budgets.validation (15m by default)")
    interval: Duration = Field(
        default=60.0, gt=0, description="one evaluation window of that watch, and the length of the baseline window: the watch needs about 8 windows of the baseline's traffic before the ladder may proceed on a service without errors (its power rule), so keep watch / interval at 8 or more")
    max_replication_lag: Duration = Field(
        default=5.0, gt=0,
        description="the geo-secondary may trail by at most this much when validation reads it (criterion "
                    "replication_lag_within_limit, judged when the drill file sets this field; 5 s is the value to set). 5 s: Azure's "
                    "geo-replication normally trails by a few seconds, so more means the link is struggling; and "
                    "a lag is data the next outage loses, so it must sit far below the handbook's RPO (15 min) to "
                    "leave that RPO for the failover itself. Azure reports it for a storage account "
                    "(geoReplicationStats.lastSyncTime); for a SQL geo-replication link ARM reports only the "
                    "link's state, which the evidence names")
