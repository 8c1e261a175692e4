"""World-changing and helper steps, dispatched by kind. Each returns a :class:`StepOutcome`.

The undo a step declares is recorded in the journal with its outcome, so a rollback (possibly in
another process, days later) runs exactly what was declared for exactly the steps that completed.
Secret references in it stay references (``odin_drills.steps.secrets``): the replay resolves them
again, through ``secrets`` (the plan's ``secrets:`` source, or a resolver).
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
from odin_drills.steps.secrets import resolver_for

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


def run_action(step: Any, *, client: httpx.Client, clock: Any, target: Any = None, progress: Any = None,
               secrets: Any = None, intent: Any = None, on_operation: Any = None) -> StepOutcome:
    """Run a world-changing (or wait/notify) step once and say what happened.

    ``target`` is the plan's target (Azure steps need it); ``progress(message, **data)``, when
    given, hears what a long step reports while it runs (data at risk, each stage); ``secrets`` is
    the plan's ``secrets:`` (or a ``SecretResolver``) for ``${secret:...}`` references.

    Write-ahead hooks (``steps.intent`` passes them; drills run without): ``intent(prior=, undo=,
    change=)`` is called right before the first world-changing call — after an Azure step observed
    the world and computed its undo; for ``http``/``command`` (whose effect odin cannot read back)
    with ``prior=None`` and the declared undo — and the step does not act if it raises.
    ``on_operation(operation=, resource=, continuation_token=)`` hears each Azure long-running
    operation ARM accepted.
    """
    if is_azure_step(step):
        return _run_azure(step, clock=clock, target=target, progress=progress, intent=intent,
                          on_operation=on_operation, secrets=secrets)
    if intent is not None and getattr(step, "changes_world", False):
        intent(prior=None, undo=undo_spec(step), change=describe_action(step))
    if isinstance(step, HttpStep):
        outcome = run_http(step, client, resolver_for(secrets, target))
    elif isinstance(step, CommandStep):
        outcome = run_command(step, resolver_for(secrets, target))
    elif isinstance(step, WaitStep):
        clock.sleep(step.duration)
        outcome = StepOutcome(status="ok", detail=f"waited {step.duration:g} s of plan time")
    elif isinstance(step, NotifyStep):
        outcome = run_notify(step, client, resolver=resolver_for(secrets, target))
    else:
        raise TypeError(f"{type(step).__name__} is not an action")
    if outcome.succeeded:
        outcome.undo = undo_spec(step)
    return outcome


def _run_azure(step: Any, *, clock: Any, target: Any, progress: Any, intent: Any = None,
               on_operation: Any = None, secrets: Any = None) -> StepOutcome:
    """Azure steps compute their undo from what they read; a declared undo overrides it (in the
    intent too)."""
    from odin_drills.steps.azure import run_azure_step

    if intent is not None and (step.is_undo or step.undo == "none" or step.undo is not None):
        declared = None if (step.is_undo or step.undo == "none") else undo_spec(step)
        computed = intent

        def intent(**fields: Any) -> None:  # noqa: F811 - the same hook, with the declared undo
            computed(**{**fields, "undo": declared})

    outcome = run_azure_step(step, target=target, clock=clock, progress=progress, intent=intent,
                             on_operation=on_operation, secrets=secrets)
    if step.is_undo or step.undo == "none" or not (outcome.status == "ok" or outcome.left_changed):
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
