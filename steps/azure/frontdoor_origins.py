"""``azure.frontdoor.origins``: set enabled state, priority and weight of Front Door origins.

Observe (list the origin group's origins), decide (only the fields that differ, and in stages
when asked), act (PATCH each origin with just the changed properties and wait until deployed),
verify (read them back). The undo restores exactly the fields that were changed, from what was
read before the change.

A staged shift moves weights linearly over ``stages`` steps, ``stage_interval`` of plan time
apart; an origin is enabled in the first stage and disabled in the last, and within a stage
enabling comes first and disabling last, so the route never loses every origin. Each stage is
reported through ``progress`` (the flow journals it) and kept in the outcome. If a stage fails,
what earlier stages changed is put back before the step reports the failure. ``timeout``
bounds each stage.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from odin_drills.errors import AzureOperationFailed, OdinError
from odin_drills.plan.azure_steps import FrontDoorOriginsStep
from odin_drills.steps.actions.outcome import StepOutcome
from odin_drills.steps.azure.clients import AzureSession
from odin_drills.steps.azure.errors import azure_failure, code_of, one_line, plain
from odin_drills.steps.azure.operation import Deadline, Intent, OnOperation, Progress, finish, no_progress, token_of

KIND = "azure.frontdoor.origins"
Patch = dict[str, Any]  # REST property name → value, e.g. {"enabledState": "Disabled", "weight": 500}


@dataclass
class OriginView:
    name: str  # as ARM spells it
    enabled: bool
    priority: int
    weight: int
    provisioning_state: str | None

    def rest(self, key: str) -> Any:
        return {"enabledState": "Enabled" if self.enabled else "Disabled",
                "priority": self.priority, "weight": self.weight}[key]


def observe(step: FrontDoorOriginsStep, session: AzureSession, deadline: Deadline) -> dict[str, OriginView]:
    """The named origins (keyed as the step names them)."""
    ref = step.ref()
    where = f"{KIND} {ref.origin_group}"
    try:
        listed = list(session.cdn(ref.subscription_id).afd_origins.list_by_origin_group(
            ref.resource_group, ref.profile, ref.origin_group, **deadline.call(where)))
    except Exception as exc:
        raise azure_failure(KIND, ref.origin_group, exc) from None
    by_name = {o.name.lower(): o for o in listed}
    missing = [name for name in step.origins if name.lower() not in by_name]
    if missing:
        failure = AzureOperationFailed(one_line(
            f"{where}: OriginNotFound: {', '.join(missing)} not in origin group {ref.origin_group} "
            f"(it has {', '.join(sorted(o.name for o in listed)) or 'no origins'})"))
        failure.code = "OriginNotFound"  # type: ignore[attr-defined]
        raise failure
    views = {}
    for name in step.origins:
        o = by_name[name.lower()]
        p = o.properties
        views[name] = OriginView(name=o.name, enabled=plain(p.enabled_state) == "Enabled", priority=int(p.priority),
                                 weight=int(p.weight), provisioning_state=plain(p.provisioning_state))
    return views


def stage_plan(step: FrontDoorOriginsStep, current: dict[str, OriginView]) -> list[dict[str, Patch]]:
    """The PATCHes per stage (empty list: nothing to change). Keys are ARM origin names."""
    count = step.stages
    stages: list[dict[str, Patch]] = [{} for _ in range(count)]
    for name, want in step.origins.items():
        now = current[name]
        if want.enabled is not None and want.enabled != now.enabled:
            stage = stages[0] if want.enabled else stages[-1]
            stage.setdefault(now.name, {})["enabledState"] = "Enabled" if want.enabled else "Disabled"
        if want.priority is not None and want.priority != now.priority:
            stages[0].setdefault(now.name, {})["priority"] = want.priority
        if want.weight is not None and want.weight != now.weight:
            previous = now.weight
            for k in range(1, count + 1):
                weight = min(1000, max(1, round(now.weight + (want.weight - now.weight) * k / count)))
                if weight != previous:
                    stages[k - 1].setdefault(now.name, {})["weight"] = weight
                    previous = weight
    return [stage for stage in stages if stage]


def _ordered(stage: dict[str, Patch]) -> list[tuple[str, Patch]]:
    """Enable first, disable last: the route always keeps an enabled origin."""
    def rank(item: tuple[str, Patch]) -> int:
        state = item[1].get("enabledState")
        return 0 if state == "Enabled" else (2 if state == "Disabled" else 1)
    return sorted(stage.items(), key=rank)


def _text(patches: Iterable[tuple[str, Patch]], before: dict[str, OriginView] | None = None) -> str:
    parts = []
    for name, patch in patches:
        view = next((v for v in (before or {}).values() if v.name == name), None)
        fields = []
        for key, value in patch.items():
            fields.append(f"{key} {view.rest(key)}→{value}" if view else f"{key} {value}")
        parts.append(f"{name} {', '.join(fields)}")
    return "; ".join(parts)


def _state_text(views: dict[str, OriginView]) -> str:
    return ", ".join(f"{v.name} {'Enabled' if v.enabled else 'Disabled'} p{v.priority} w{v.weight}"
                     for v in views.values())


def change_text(step: FrontDoorOriginsStep, current: dict[str, OriginView]) -> str:
    stages = stage_plan(step, current)
    if not stages:
        return f"no change: origins already as wanted ({_state_text(current)})"
    merged: dict[str, Patch] = {}
    for stage in stages:
        for name, patch in stage.items():
            merged.setdefault(name, {}).update(patch)
    how = ""
    if len(stages) > 1:
        how = f" in {len(stages)} stages" + (f", {step.stage_interval:g} s apart" if step.stage_interval else "")
    return f"would set {_text(_ordered(merged), current)}{how}"


def describe(step: FrontDoorOriginsStep, session: AzureSession) -> str:
    try:
        current = observe(step, session, Deadline(min(step.timeout, 30.0)))
    except OdinError as exc:
        return f"would set origins {', '.join(step.origins)} of {step.ref().origin_group}; current state unknown: {exc.message}"
    return change_text(step, current)


def _patch(step: FrontDoorOriginsStep, session: AzureSession, name: str, patch: Patch, deadline: Deadline,
           on_operation: OnOperation | None = None) -> None:
    ref = step.ref()
    where = f"{KIND} {ref.origin_group}/{name}"
    try:
        poller = session.cdn(ref.subscription_id).afd_origins.begin_update(
            ref.resource_group, ref.profile, ref.origin_group, name, {"properties": patch}, **deadline.call(where, lro=True))
        if on_operation is not None:
            on_operation(operation="begin_update", resource=f"{_origin_group_id(step, session)}/origins/{name}",
                         continuation_token=token_of(poller))
        finish(poller, deadline, where)
    except Exception as exc:
        raise azure_failure(KIND, f"{ref.origin_group}/{name}", exc) from None


def _restore(step: FrontDoorOriginsStep, session: AzureSession, originals: dict[str, Patch]) -> str:
    """Put back what earlier stages changed; say how that went."""
    deadline = Deadline(step.timeout)
    failed = []
    for name, patch in _ordered(originals):
        try:
            _patch(step, session, name, patch, deadline)
        except OdinError as exc:
            failed.append(exc.message)
    if failed:
        return f"restoring the previous settings failed too: {'; '.join(failed)}"
    return f"restored the previous settings of {', '.join(originals)}"


def run(step: FrontDoorOriginsStep, session: AzureSession, *, clock: Any,
        progress: Progress = no_progress, intent: Intent | None = None,
        on_operation: OnOperation | None = None) -> StepOutcome:
    """Observe ▸ plan the stages ▸ compute the undo (every field any stage changes, as read
    before) ▸ ``intent`` (journaled before the first PATCH) ▸ PATCH stage by stage (each
    operation's continuation token to ``on_operation``) ▸ verify."""
    ref = step.ref()
    where = f"{KIND} {ref.origin_group}"
    output: dict[str, Any] = {"stages": []}
    originals: dict[str, Patch] = {}  # ARM name → REST field → value before this step (what was PATCHed so far)
    try:
        before = observe(step, session, Deadline(step.timeout))
        output["before"] = {name: asdict(v) for name, v in before.items()}
        stages = stage_plan(step, before)
        if not stages:
            return StepOutcome(status="noop", detail=change_text(step, before), output=output)
        by_arm_name = {v.name: v for v in before.values()}
        planned: dict[str, Patch] = {}
        for stage in stages:
            for name, patch in stage.items():
                for key in patch:
                    planned.setdefault(name, {}).setdefault(key, by_arm_name[name].rest(key))
        undo = {"kind": KIND, "origin_group": _origin_group_id(step, session),
                "origins": {name: _settings(patch) for name, patch in planned.items()}, "timeout": step.timeout}
        if intent is not None:
            intent(prior=output["before"], undo=undo, change=change_text(step, before))
        for number, stage in enumerate(stages, start=1):
            if number > 1 and step.stage_interval:
                clock.sleep(step.stage_interval)
            deadline = Deadline(step.timeout)
            for name, patch in _ordered(stage):
                for key in patch:
                    originals.setdefault(name, {}).setdefault(key, by_arm_name[name].rest(key))
                _patch(step, session, name, patch, deadline, on_operation)
            record = {"stage": number, "of": len(stages), "at": clock.now().isoformat(), "set": stage}
            output["stages"].append(record)
            progress(f"{where}: stage {number}/{len(stages)}: {_text(_ordered(stage))}", stage=record)
        after = observe(step, session, Deadline(step.timeout))
        output["after"] = {name: asdict(v) for name, v in after.items()}
        if stage_plan(step.model_copy(update={"stages": 1}), after):
            raise AzureOperationFailed(one_line(
                f"{where}: the origins do not show the wanted settings after the update ({_state_text(after)})"))
    except OdinError as exc:
        output["error"] = {"type": exc.__class__.__name__, "code": code_of(exc), "message": exc.message}
        detail = exc.message
        if originals:
            detail += f"; {_restore(step, session, originals)}"
            output["restored"] = originals
        return StepOutcome(status="failed", detail=one_line(detail), output=output)
    changed = ", ".join(originals)
    staged = f" in {len(stages)} stages" if len(stages) > 1 else ""
    return StepOutcome(status="ok", output=output, undo=undo,
                       detail=one_line(f"set {changed}{staged}: now {_state_text(after)}"))


def reached(step: FrontDoorOriginsStep, session: AzureSession) -> tuple[bool, dict[str, Any]]:
    """Reconcile: do the origins show the wanted settings, deployed? An origin still ``Updating``
    (an operation in flight) is waited for, within the step's timeout."""
    deadline = Deadline(step.timeout)
    while True:
        views = observe(step, session, Deadline(min(max(deadline.left(), 1.0), 60.0)))
        if not any((v.provisioning_state or "").lower() == "updating" for v in views.values()) or deadline.left() <= 0:
            break
        time.sleep(0.2)
    done = not stage_plan(step.model_copy(update={"stages": 1}), views)
    return done, {name: asdict(v) for name, v in views.items()}


def follow(step: FrontDoorOriginsStep, session: AzureSession, operation: str, continuation_token: str,
           seconds: float | None = None, resource: str = "") -> None:
    """Reconcile: poll one journaled origin update (``resource`` is the origin's id) until it ends."""
    ref = step.ref()
    name = resource.rstrip("/").rsplit("/", 1)[-1]
    deadline = Deadline(seconds or step.timeout)
    try:
        poller = session.cdn(ref.subscription_id).afd_origins.begin_update(
            ref.resource_group, ref.profile, ref.origin_group, name, {}, continuation_token=continuation_token)
        finish(poller, deadline, f"{KIND} {ref.origin_group}/{name}")
    except Exception as exc:
        raise azure_failure(KIND, f"{ref.origin_group}/{name}", exc) from None


def _settings(patch: Patch) -> dict[str, Any]:
    """REST fields back to the step's own vocabulary (enabled, priority, weight)."""
    out: dict[str, Any] = {}
    if "enabledState" in patch:
        out["enabled"] = patch["enabledState"] == "Enabled"
    for key in ("priority", "weight"):
        if key in patch:
            out[key] = patch[key]
    return out


def _origin_group_id(step: FrontDoorOriginsStep, session: AzureSession) -> str:
    ref = step.ref()
    return (f"/subscriptions/{ref.subscription_id or session.subscription_id}/resourceGroups/{ref.resource_group}"
            f"/providers/Microsoft.Cdn/profiles/{ref.profile}/originGroups/{ref.origin_group}")


def reachability_problem(step: FrontDoorOriginsStep, session: AzureSession) -> str | None:
    try:
        observe(step, session, Deadline(min(step.timeout, 15.0)))
    except OdinError as exc:
        return exc.message
    return None
