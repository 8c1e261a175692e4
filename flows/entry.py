"""The checks every flow makes on its parameters before it reads a plan (``odin_drills.plan.safety``).

Flows are entered three ways: the ``odin`` command in the user's shell (in-process, no
deployment), a deployment run from the Prefect UI or ``prefect deployment run``, and a schedule.
The last two are runs by a deployment: there the plan file must lie under the plan root, and a
production plan needs the run's ``allow_production`` parameter. The command line passes its
``--allow-production`` flag as that same parameter, so the flow refuses for every entry point.
"""

from __future__ import annotations

from typing import Any

from odin_drills.plan.safety import plan_under_root, require_production_opt_in

OPT_IN_HOW = "set the run's allow_production parameter to true (--allow-production on the command line)"


def started_by_deployment() -> bool:
    """Whether this flow run belongs to a deployment (UI, schedule, ``prefect deployment run``)."""
    from prefect.runtime import deployment

    return deployment.id is not None


def entry_plan_file(plan_file: str) -> str:
    """The plan file this run may read: under a deployment only from under the plan root (its
    resolved path, which the run then opens); from the shell, the path as given."""
    return plan_under_root(plan_file) if started_by_deployment() else plan_file


def require_opt_in(plan: Any, allow_production: bool, source: str) -> None:
    """The flow's production opt-in: the ``allow_production`` parameter."""
    require_production_opt_in(plan, allow_production, source, OPT_IN_HOW)
