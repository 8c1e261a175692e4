"""The ``command`` step: run a program (no shell unless the plan asks), bounded by a timeout."""

from __future__ import annotations

import os
import subprocess

from odin_drills.plan.steps import CommandStep
from odin_drills.steps.actions.outcome import StepOutcome


def run_command(step: CommandStep) -> StepOutcome:
    argv = ["/bin/sh", "-c", step.argv[0]] if step.shell else list(step.argv)
    env = {**os.environ, **step.env}
    try:
        done = subprocess.run(
            argv,
            cwd=step.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=step.timeout,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        return StepOutcome(status="failed", detail=f"command not found: {argv[0]}")
    except subprocess.TimeoutExpired:
        return StepOutcome(status="failed", detail=f"{' '.join(argv)} did not finish in {step.timeout:g} s (killed)")
    output = {"exit_code": done.returncode, "stdout": done.stdout[-2000:], "stderr": done.stderr[-2000:]}
    if done.returncode != step.expect_exit:
        return StepOutcome(
            status="failed",
            detail=f"{argv[0]} exited {done.returncode}, expected {step.expect_exit}: {done.stderr.strip()[-200:]}",
            output=output,
        )
    return StepOutcome(status="ok", detail=f"{argv[0]} exited {done.returncode}", output=output)


def describe_command(step: CommandStep) -> str:
    shown = step.argv[0] if step.shell else " ".join(step.argv)
    return f"would run {'(shell) ' if step.shell else ''}{shown}"
