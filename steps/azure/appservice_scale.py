"""``azure.appservice.scale``: set an App Service plan's instance count (``sku.capacity``).

Why a step of its own: a DR region is often kept at one instance for cost, and the runbook's
"scale up DR region App Services" has to happen before traffic arrives there, and be undone at
failback (the count read before is the undo, not a number the plan guesses).

Observe (``app_service_plans.get``), decide (already at the count: nothing to change, but the
count is still read and reported), compute the undo (the count read), ``intent`` (journaled before
the change), act (the plan read, its ``sku.capacity`` set, ``begin_create_or_update`` — what
``az appservice plan update --number-of-workers`` does: the PATCH model has no ``sku``), read it
back: the verification is that the plan reports the wanted capacity.
"""

from __future__ import annotations

from typing import Any

from odin_drills.errors import AzureOperationFailed, OdinError
from odin_drills.plan.azure_steps import AppServiceScaleStep
from odin_drills.steps.actions.outcome import StepOutcome, failed_but_changed
from odin_drills.steps.azure.clients import AzureSession
from odin_drills.steps.azure.errors import azure_failure, failure_output, one_line
from odin_drills.steps.azure.operation import Deadline, Intent, OnOperation, Progress, finish, no_progress

KIND = "azure.appservice.scale"
MAX_CAPACITY = 100  # what a plan's capacity may say; an undo of a larger plan restores this much


def _where(step: AppServiceScaleStep) -> str:
    return f"{KIND} {step.ref().plan}"


def plan_id(step: AppServiceScaleStep, session: AzureSession) -> str:
    ref = step.ref()
    return (f"/subscriptions/{ref.subscription_id or session.subscription_id}/resourceGroups/{ref.resource_group}"
            f"/providers/Microsoft.Web/serverfarms/{ref.plan}")


def _read(step: AppServiceScaleStep, session: AzureSession, deadline: Deadline) -> Any:
    ref = step.ref()
    try:
        return session.web(ref.subscription_id).app_service_plans.get(ref.resource_group, ref.plan,
                                                                      **deadline.call(_where(step)))
    except Exception as exc:
        raise azure_failure(KIND, ref.plan, exc) from None


def _view(found: Any) -> dict[str, Any]:
    sku = found.sku
    props = found.properties
    return {"capacity": sku.capacity if sku is not None else None,
            "sku": sku.name if sku is not None else None,
            "maximum": props.maximum_number_of_workers if props is not None else None,
            "status": props.status if props is not None else None}


def observe(step: AppServiceScaleStep, session: AzureSession, deadline: Deadline) -> dict[str, Any]:
    return _view(_read(step, session, deadline))


def change_text(step: AppServiceScaleStep, current: dict[str, Any] | None = None) -> str:
    now = f" (now: {current['capacity']})" if current is not None else ""
    return f"would scale App Service plan {step.ref().plan} to {step.capacity} instances{now}"


def undo_for(step: AppServiceScaleStep, session: AzureSession, before: dict[str, Any]) -> dict[str, Any]:
    capacity = min(max(int(before["capacity"] or 1), 1), MAX_CAPACITY)
    return {"kind": KIND, "name": f"undo {step.name}", "plan": plan_id(step, session), "capacity": capacity,
            "timeout": step.timeout}


def describe(step: AppServiceScaleStep, session: AzureSession) -> str:
    try:
        current = observe(step, session, Deadline(min(step.timeout, 30.0)))
    except OdinError as exc:
        return f"{change_text(step)}; current state unknown: {exc.message}"
    if current["capacity"] == step.capacity:
        return f"no change: App Service plan {step.ref().plan} already runs {step.capacity} instances"
    return change_text(step, current)


def _act(step: AppServiceScaleStep, session: AzureSession, deadline: Deadline) -> None:
    ref = step.ref()
    plans = session.web(ref.subscription_id).app_service_plans
    found = _read(step, session, deadline)
    found.sku.capacity = step.capacity
    try:
        poller = plans.begin_create_or_update(ref.resource_group, ref.plan, found,
                                              **deadline.call(_where(step), lro=True))
        finish(poller, deadline, _where(step))
    except OdinError:
        raise
    except Exception as exc:
        raise azure_failure(KIND, ref.plan, exc) from None


def run(step: AppServiceScaleStep, session: AzureSession, *, progress: Progress = no_progress,
        intent: Intent | None = None, on_operation: OnOperation | None = None) -> StepOutcome:
    """Observe ▸ decide ▸ undo ▸ ``intent`` ▸ PUT the plan with the new capacity ▸ read back."""
    where = _where(step)
    deadline = Deadline(step.timeout)
    output: dict[str, Any] = {"plan": step.ref().plan, "wanted": step.capacity}
    undo = None
    acted = False
    try:
        before = observe(step, session, deadline)
        output["before"] = before
        changed = before["capacity"] != step.capacity
        if changed:
            undo = None if step.is_undo else undo_for(step, session, before)
            if intent is not None:
                intent(prior=before, undo=undo, change=change_text(step, before))
            acted = True
            _act(step, session, deadline)
            progress(f"{where}: scaled to {step.capacity}; reading it back")
        after = observe(step, session, deadline)
        output["after"] = after
        output["capacity"] = after["capacity"]
        if after["capacity"] != step.capacity:
            failure = AzureOperationFailed(one_line(
                f"{where}: the plan reports {after['capacity']} instances after the update, not {step.capacity}"))
            failure.code = "NotScaled"  # type: ignore[attr-defined]
            raise failure
    except OdinError as exc:
        if acted:  # the PUT may have landed (or land later): the undo puts the count back either way
            return failed_but_changed(one_line(exc.message), {**output, **failure_output(exc)}, undo)
        return StepOutcome(status="failed", detail=one_line(exc.message), output={**output, **failure_output(exc)})
    if not changed:
        return StepOutcome(status="noop", output=output,
                           detail=f"{where}: already {step.capacity} instances; the plan reports {after['capacity']}")
    return StepOutcome(status="ok", output=output, undo=undo, detail=one_line(
        f"scaled App Service plan {step.ref().plan} from {before['capacity']} to {step.capacity} instances; "
        f"the plan reports {after['capacity']}"))


def reached(step: AppServiceScaleStep, session: AzureSession) -> tuple[bool, dict[str, Any]]:
    """Reconcile: does the plan report the wanted capacity?"""
    current = observe(step, session, Deadline(min(step.timeout, 60.0)))
    return current["capacity"] == step.capacity, {"plan": current}


