"""The checks every flow makes on its parameters before it reads a plan (``odin_drills.plan.safety``).

Flows are entered three ways: the ``odin`` command in the user's shell (in-process, no
deployment), a deployment run from the Prefect UI or ``prefect deployment run``, and a schedule.
The last two are runs by a deployment: there the plan file must lie under the plan root, and a
production plan needs the run's ``allow_production`` parameter. The command line passes its
``--allow-production`` flag as that same parameter, so the flow refuses for every entry point.
The emergency override of an exhausted error budget (``emergency_override``) is checked the same
way: by the command line before any server starts, and by the flow for every entry point.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from odin_drills.errors import UsageError
from odin_drills.plan.safety import plan_under_root, require_production_opt_in
from odin_drills.plan.slo import EmergencyOverride

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


RUN_FORM_NAMES = ("emergency", "emergency_reason", "emergency_by")
"""The emergency override's fields as the flow's parameters (the deployment's run form) name them."""


def emergency_override(plan: Any, emergency: bool, reason: str | None, by: str | None,
                       names: tuple[str, str, str] = RUN_FORM_NAMES) -> EmergencyOverride | None:
    """The run's emergency override of an exhausted error budget, checked at the entry (the
    command line's ``--emergency --reason TEXT [--by NAME]``, or the run form's ``emergency``,
    ``emergency_reason``, ``emergency_by``), or None when the run is no emergency.

    Why refused rather than ignored: an emergency without its reason and who decided is the
    unrecorded override the handbook's policy exists to prevent; a reason without ``emergency``
    reads like an override that is not one; and an emergency on a plan without ``slo`` has no
    budget gate to override, so saying nothing would pretend it did. Each refusal is one line
    naming the field (exit 2)."""
    flag, reason_name, by_name = names
    reason, by = (reason or "").strip() or None, (by or "").strip() or None
    if not emergency:
        given = [name for name, value in ((reason_name, reason), (by_name, by)) if value]
        if given:
            raise UsageError(f"{given[0]}: only with {flag} (it is the emergency's record)")
        return None
    if reason is None:
        raise UsageError(f"{flag} needs {reason_name} TEXT: why this change may run with the error budget exhausted")
    if by is None:
        raise UsageError(f"{flag} needs {by_name} NAME: who decided the emergency")
    if getattr(plan, "slo", None) is None:
        raise UsageError(f"{flag}: the plan sets no slo, so there is no error-budget gate to override")
    try:
        return EmergencyOverride(reason=reason, by=by)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = {"reason": reason_name, "by": by_name}.get(str(error["loc"][0]), flag)
        raise UsageError(f"{field}: {error['msg']}") from None
