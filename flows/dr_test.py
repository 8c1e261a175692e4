"""The quarterly DR test: the region-failover runbook run as a drill, then scored.

The drill causes the outage itself — a ``region_outage`` fault in the sandbox (its injection
time, as the sandbox records it, starts the RTO clock), the primary's origin taken out of Front
Door in Azure (``odin_drills.steps.dr.outage``) — and the runbook responds to it exactly as it
would to a real one. Then:

* **RTO**, split into detect / decide / recover, from the journal's moments;
* **RPO** from the canary writes that were acknowledged and not found on the new primary;
* the **criteria** checklist (``odin_drills.steps.dr.scorecard.CRITERIA``) against the plan's targets
  (default RTO 4 h, RPO 15 min), and the **trend** of earlier drills (``DrillHistory``);
* ``report.md``, ``report.html`` (with the scorecard) and ``scorecard.json`` under
  ``$ODIN_HOME/drills/<plan>/<drill id>/``; Prefect artifacts: the report, the criteria table, the trend.

Against a ``kind: sandbox`` plan with no sandbox running, the drill starts one in-process (state
under ``<drill dir>/sandbox``, ``ODIN_SANDBOX_INFO`` pointing at it), takes endpoints and resource
ids from it, and stops it at the end.

Both flows end in the state their outcome names (``odin_drills.outcomes``: ``Passed``,
``CriteriaFailed`` (Failed-type), ``NotConfirmed``, ``Vetoed``, ``Refused``, ``Failed``…) with the
``DrillSummary`` as its data: call them with ``return_state=True`` and read it with
``state.result(raise_on_failure=False)`` (``flows.final_state.summary_of``).

``dr_test`` is the scheduled entry point (``prefect.yaml``: quarterly); ``region_failover_drill``
is the one started from the Prefect UI, its options a typed form.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from odin_drills.flows.drill_run import DrillOptions, DrillSummary
from odin_drills.flows.plan_choices import plan_file_type
from odin_drills.flows.region_failover import runbook_state

DrillPlanFile = plan_file_type("drill")
"""``str``; in the deployments' run form, a choice of the project's drill files (``flows.plan_choices``)."""

__all__ = ["DrillOptions", "DrillSummary", "dr_test", "region_failover_drill"]


@flow(name="dr-test", log_prints=False, validate_parameters=True)
def dr_test(plan_file: DrillPlanFile, time_scale: float = 1.0, wait_for_lock: bool = True, allow_production: bool = False) -> State:
    """The quarterly DR test: inject the outage, run the runbook as a drill, score it against the targets.

    A scheduled test queues behind another run on the same environment (``wait_for_lock``); the
    CLI refuses instead unless asked to wait. A production drill runs only with ``allow_production``
    set on the deployment (its schedule) or the run.

    Args:
        plan_file: the drill file; for a deployment or UI run, under the project's drills/ folder (or $ODIN_PLAN_ROOT on the worker)
        time_scale: run the plan clock this many times faster (rehearsals)
        wait_for_lock: queue behind another run on the same environment instead of refusing
        allow_production: required (true) to run a drill whose target is production; the run is refused otherwise
    """
    return runbook_state(plan_file, time_scale, mode="drill", options=DrillOptions(wait_for_lock=wait_for_lock),
                         record_history=True, name="dr-test", allow_production=allow_production)


@flow(name="region-failover-drill", log_prints=False, validate_parameters=True)
def region_failover_drill(plan_file: DrillPlanFile, time_scale: float = 1.0, options: DrillOptions = DrillOptions(),
                          allow_production: bool = False) -> State:
    """A region-failover drill started from the UI: the same scored drill as ``dr_test``, with options.

    Args:
        plan_file: the drill file, under the project's drills/ folder (or $ODIN_PLAN_ROOT on the worker)
        time_scale: run the plan clock this many times faster (rehearsals)
        options: human confirmation, failback, outage injection, parallelism
        allow_production: required (true) to run a drill whose target is production; the run is refused otherwise
    """
    return runbook_state(plan_file, time_scale, mode="drill", options=options or DrillOptions(), record_history=True,
                         name="region-failover-drill", allow_production=allow_production)
