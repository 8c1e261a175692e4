"""Before a change: can each undo actually reach what it must put back?"""

from __future__ import annotations

import shutil
from typing import Any

import httpx

from odin_drills.plan.azure_steps import is_azure_step
from odin_drills.plan.steps import CommandStep, HttpStep, WaitStep


def undo_target_problem(undo: Any, client: httpx.Client, timeout: float = 5.0, *, step: Any = None,
                        target: Any = None) -> str | None:
    """None when the undo's target answers; otherwise one line saying what is wrong.

    Azure undos GET the resource they will act on, through the plan's ``target``; an Azure step
    without a declared undo (``undo: auto``) is checked through ``step`` itself.
    """
    if undo is None and is_azure_step(step):
        from odin_drills.steps.azure import azure_reachability_problem

        return azure_reachability_problem(step, target, auto_undo=True)
    if is_azure_step(undo):
        from odin_drills.steps.azure import azure_reachability_problem

        return azure_reachability_problem(undo, target)
    if isinstance(undo, HttpStep):
        url = str(undo.url)
        try:
            # Any HTTP answer proves the endpoint is there; the undo itself is not run.
            client.request("HEAD", url, timeout=timeout)
        except httpx.HTTPError as exc:
            return f"{url}: {exc.__class__.__name__}"
        return None
    if isinstance(undo, CommandStep):
        program = "/bin/sh" if undo.shell else undo.argv[0]
        if shutil.which(program) is None:
            return f"program {program!r} not found on PATH"
        return None
    if isinstance(undo, WaitStep):
        return None
    check = getattr(undo, "reachability_problem", None)
    return check(client) if callable(check) else None
