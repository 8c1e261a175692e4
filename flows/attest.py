"""``readiness-attest``: the Prefect form twin of ``odin attest`` — a person vouches for a
readiness item from the UI.

The form is typed: the plan is a choice of the project's migration plans (``flows.plan_choices``),
the item a choice of the handbook's checklist ids, name and evidence required text. It writes the
same attestation record as the command line (``steps.attestations``), so ``odin readiness`` and
the T-0 gate see it at once. Under a deployment the plan-root rule applies (``flows.entry``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from prefect import flow, get_run_logger
from pydantic import Field


from odin_drills.flows.entry import entry_plan_file
from odin_drills.flows.plan_choices import plan_file_type
from odin_drills.plan import load_plan
from odin_drills.plan.readiness import ITEM_IDS
from odin_drills.steps.attestations import record_attestation

MigrationPlanFile = plan_file_type("migration")
ReadinessItem = Literal[tuple(ITEM_IDS)]  # type: ignore[valid-type] - the checklist's ids, a choice in the form


@flow(name="readiness-attest", log_prints=False, validate_parameters=True)
def readiness_attest(plan_file: MigrationPlanFile, item: ReadinessItem,  # type: ignore[valid-type]
                     by: Annotated[str, Field(min_length=1)], evidence: Annotated[str, Field(min_length=1)]
                     ) -> dict[str, Any]:
    """Record that a readiness item is done: who vouches for it, and the evidence.

    Args:
        plan_file: the migration plan the review is for
        item: the checklist item (the handbook's Operational Readiness Review)
        by: your name
        evidence: a URL or a sentence a reviewer can check
    """
    plan = load_plan(entry_plan_file(plan_file))
    record = record_attestation(plan.name, item, by=by, evidence=evidence)
    get_run_logger().info("%s (%s) attested by %s: %s", item, ITEM_IDS[item].text, record.by, record.evidence)
    return record.model_dump(mode="json")
