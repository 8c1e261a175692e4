"""Before a change: can each undo actually reach what it must put back?"""

from __future__ import annotations

import shutil
from typing import Any

import httpx

from odin_drills.plan.azure_steps import is_azure_step
from odin_drills.plan.steps import CommandStep, HttpStep, WaitStep


def undo_target_problem(undo: Any, client: httpx.Client, timeout: float = 5.0, *, step: Any = None,
                        target: Any = None, secrets: Any = None) -> str | None:
    """None when the undo's target answers; otherwise one line saying what is wrong.

    Azure undos GET the resource they will act on, through the plan's ``target``; an Azure step
    without a declared undo (``undo: auto``) is checked through ``step`` itself. The secret
    references an undo holds must resolve now (``secrets``: the plan's ``secrets:``), a week
    before they are needed, not for the first time in the middle of a rollback.
    """
    from odin_drills.steps.secrets import SecretUnavailable, resolver_for

    resolver = resolver_for(secrets, target)
    if undo is None and is_azure_step(step):
        from odin_drills.steps.azure import azure_reachability_problem

        return azure_reachability_problem(step, target, auto_undo=True)
    if is_azure_step(undo):
        from odin_drills.steps.azure import azure_reachability_problem

        return azure_reachability_problem(undo, target)
    if isinstance(undo, HttpStep):
        from odin_drills.steps.actions.http_call import resolved_url, shown_url

        shown = shown_url(str(undo.url))
        try:
            url = resolved_url(str(undo.url), resolver)
            resolver.data(undo.headers)
            resolver.data(undo.json_body)
            resolver.text(undo.body or "")
        except SecretUnavailable as exc:
            return str(exc)
        try:
            # Any HTTP answer proves the endpoint is there; the undo itself is not run.
            client.request("HEAD", url, timeout=timeout)
        except httpx.HTTPError as exc:
            return f"{shown}: {exc.__class__.__name__}"
        return None
    if isinstance(undo, CommandStep):
        try:
            program = "/bin/sh" if undo.shell else resolver.text(undo.argv[0])
            resolver.data(undo.argv)
            resolver.data(undo.env)
        except SecretUnavailable as exc:
            return str(exc)
        if shutil.which(program) is None:
            return f"program {'/bin/sh' if undo.shell else undo.argv[0]!r} not found on PATH"
        return None
    if isinstance(undo, WaitStep):
        return None
    check = getattr(undo, "reachability_problem", None)
    return check(client) if callable(check) else None
