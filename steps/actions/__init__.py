"""World-changing and helper steps, dispatched by kind. Each returns a :class:`StepOutcome`.

The undo a step declares is recorded in the journal with its outcome, so a rollback (possibly in
another process, days later) runs exactly what was declared for exactly the steps that completed.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import TypeAdapter

from odin.plan.steps import CommandStep, HttpStep, NotifyStep, UndoStep, WaitStep
from steps.actions.command import describe_command, run_command
from steps.actions.http_call import describe_http, run_http
from steps.actions.notify import run_notify
from steps.actions.outcome import StepOutcome

__all__ = ["StepOutcome", "run_action", "describe_action", "undo_spec", "parse_undo"]

_UNDO = TypeAdapter(UndoStep)


def undo_spec(step: Any) -> dict[str, Any] | None:
    """The undo to journal for ``step``: a step spec as plain JSON, or None."""
    undo = getattr(step, "undo", None)
    if undo is None or undo == "none":
        return None
    return undo.model_dump(mode="json", by_alias=True, exclude_none=True)


def parse_undo(spec: dict[str, Any]) -> Any:
    return _UNDO.validate_python(spec)


def run_action(step: Any, *, client: httpx.Client, clock: Any) -> StepOutcome:
    """Run a world-changing (or wait/notify) step once and say what happened."""
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


def describe_action(step: Any) -> str:
    """What ``odin plan`` says this step would change."""
    if isinstance(step, HttpStep):
        return describe_http(step)
    if isinstance(step, CommandStep):
        return describe_command(step)
    if isinstance(step, WaitStep):
        return f"would wait {step.duration:g} s"
    if isinstance(step, NotifyStep):
        return "would POST a notification"
    return f"would run {getattr(step, 'kind', type(step).__name__)}"
