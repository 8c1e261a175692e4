"""World-changing and helper steps, dispatched by kind. Each returns a :class:`StepOutcome`.

The undo a step declares is recorded in the journal with its outcome, so a rollback (possibly in
another process, days later) runs exactly what was declared for exactly the steps that completed.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import TypeAdapter

from odin_drills.plan.azure_steps import is_azure_step
from odin_drills.plan.steps import CommandStep, HttpStep, NotifyStep, UndoStep, WaitStep
from odin_drills.steps.actions.command import describe_command, run_command
from odin_drills.steps.actions.http_call import describe_http, run_http
from odin_drills.steps.actions.notify import run_notify
from odin_drills.steps.actions.outcome import StepOutcome

__all__ = ["StepOutcome", "run_action", "describe_action", "undo_spec", "parse_undo"]

_UNDO = TypeAdapter(UndoStep)


def undo_spec(step: Any) -> dict[str, Any] | None:
    """The undo the plan declared for ``step``, as plain JSON; None for none (or automatic)."""
    undo = getattr(step, "undo", None)
    if undo is None or undo == "none":
        return None
    return undo.model_dump(mode="json", by_alias=True, exclude_none=True)


def parse_undo(spec: dict[str, Any]) -> Any:
    return _UNDO.validate_python(spec)


def run_action(step: Any, *, client: httpx.Client, clock: Any, target: Any = None, progress: Any = None) -> StepOutcome:
    """Run a world-changing (or wait/notify) step once and say what happened.

    ``target`` is the plan's target (Azure steps need it); ``progress(message, **data)``, when
    given, hears what a long step reports while it runs (data at risk, each stage).
    """
    if is_azure_step(step):
        return _run_azure(step, clock=clock, target=target, progress=progress)
    if isinstance(step, HttpStep):
        outcome = run_http(step, client)
    elif isinstance(step, CommandStep):
        outcome = run_command(step)
    elif isinstance(step, WaitStep):
        clock.sleep(step.duration)
        outcome = StepOutcome(status="ok", detail=f"waited {step.duration:g} s of plan time")
    elif isinstance(step, NotifyStep):
        outcome = run_notify(step, client)
    else:
        raise TypeError(f"{type(step).__name__} is not an action")
    if outcome.succeeded:
        outcome.undo = undo_spec(step)
    return outcome


def _run_azure(step: Any, *, clock: Any, target: Any, progress: Any) -> StepOutcome:
    """Azure steps compute their undo from what they read; a declared undo overrides it."""
    from odin_drills.steps.azure import run_azure_step

    outcome = run_azure_step(step, target=target, clock=clock, progress=progress)
    if step.is_undo or step.undo == "none" or outcome.status != "ok":
        outcome.undo = None
    elif step.undo is not None:
        outcome.undo = undo_spec(step)
    return outcome


def describe_action(step: Any, target: Any = None) -> str:
    """What ``odin plan`` says this step would change; Azure steps look at the real state when
    ``target`` is given. ``step`` may also be a step's ``undo`` (None: computed when it runs)."""
    if step is None or step == "auto":
        return "automatic: put back what the step read before changing it"
    if is_azure_step(step):
        from odin_drills.steps.azure import describe_azure_step, static_description

        return describe_azure_step(step, target) if target is not None else static_description(step)
    if isinstance(step, HttpStep):
        return describe_http(step)
    if isinstance(step, CommandStep):
        return describe_command(step)
    if isinstance(step, WaitStep):
        return f"would wait {step.duration:g} s"
    if isinstance(step, NotifyStep):
        return "would POST a notification"
    return f"would run {getattr(step, 'kind', type(step).__name__)}"
