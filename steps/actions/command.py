"""The ``command`` step: run a program, safely.

- **No splicing into a shell.** Without ``shell: true`` argv goes to ``execve`` as it is (``;`` is
  an argument). With it, the line is fixed text: the plan refuses ``${...}`` in it at load time,
  so values reach the script only as environment variables (``env:``, read as ``$NAME``).
- **An explicit environment.** The command sees :data:`DEFAULT_ENV` taken from odin's environment
  (what programs need to start: PATH, HOME, locale, time zone, temp dir, user) plus the plan's
  ``env:``, and nothing else: odin's own credentials (``AZURE_CLIENT_SECRET``, a Prefect API key)
  are not handed to every script.
- **References resolved at the call.** ``${secret:...}``/``${env:...}``/``${file:...}`` in argv
  (no shell) and env values are resolved just before the program starts; the journal keeps them.
- **Bounded.** A timeout kills the whole process group (a shell's children too); output is read
  with a bounded buffer, masked (registered secret values and patterns), then cut to the last
  :data:`OUTPUT_LIMIT` characters before anything stores it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from typing import IO

from odin_drills.plan.steps import CommandStep
from odin_drills.steps.actions.outcome import StepOutcome
from odin_drills.steps.redact import redact_text
from odin_drills.steps.secrets import SecretResolver, SecretUnavailable

DEFAULT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME")
"""Passed through from odin's environment when set; everything else comes from the plan's ``env:``."""

OUTPUT_LIMIT = 2000
"""Characters of stdout/stderr kept (the end: errors come last)."""

_BUFFER = OUTPUT_LIMIT * 4
"""Bytes kept while reading: more than is stored, so a secret cut at the buffer's start lies
outside what is kept after masking."""


def command_environment(step: CommandStep, resolver: SecretResolver) -> dict[str, str]:
    """The default set from odin's environment, then the plan's ``env:`` (references resolved)."""
    env = {name: os.environ[name] for name in DEFAULT_ENV if name in os.environ}
    env.update({name: resolver.text(value) for name, value in step.env.items()})
    return env


def _read_tail(stream: IO[bytes], sink: list[bytes]) -> None:
    tail = bytearray()
    while True:
        chunk = stream.read(65536)
        if not chunk:
            break
        tail += chunk
        if len(tail) > _BUFFER:
            del tail[:-_BUFFER]
    sink.append(bytes(tail))


def _shown(raw: bytes) -> str:
    """Masked first, then cut: a secret cut in half would no longer match its mask."""
    text = redact_text(raw.decode("utf-8", "replace"))
    return text if len(text) <= OUTPUT_LIMIT else "…" + text[-OUTPUT_LIMIT:]


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def run_command(step: CommandStep, resolver: SecretResolver | None = None) -> StepOutcome:
    resolver = resolver or SecretResolver()
    program = "/bin/sh" if step.shell else step.argv[0]
    try:
        argv = ["/bin/sh", "-c", step.argv[0]] if step.shell else [resolver.text(a) for a in step.argv]
        env = command_environment(step, resolver)
    except SecretUnavailable as exc:
        return StepOutcome(status="failed", detail=f"{program} not started: {exc}")
    try:
        process = subprocess.Popen(argv, cwd=step.cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)
    except FileNotFoundError:
        return StepOutcome(status="failed", detail=f"command not found: {program}")
    except OSError as exc:
        return StepOutcome(status="failed", detail=f"{program} not started: {exc.__class__.__name__}")
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [threading.Thread(target=_read_tail, args=(process.stdout, out), daemon=True),
               threading.Thread(target=_read_tail, args=(process.stderr, err), daemon=True)]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        process.wait(timeout=step.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(process)
        process.wait()
    for reader in readers:
        reader.join(timeout=5)  # a grandchild that left the group may hold a pipe; do not wait on it
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
    stdout, stderr = _shown(out[0] if out else b""), _shown(err[0] if err else b"")
    output = {"exit_code": process.returncode, "stdout": stdout, "stderr": stderr}
    if timed_out:
        return StepOutcome(status="failed", detail=f"{describe_argv(step)} did not finish in {step.timeout:g} s (killed)",
                           output=output)
    if process.returncode != step.expect_exit:
        return StepOutcome(
            status="failed",
            detail=f"{program} exited {process.returncode}, expected {step.expect_exit}: {stderr.strip()[-200:]}",
            output=output,
        )
    return StepOutcome(status="ok", detail=f"{program} exited {process.returncode}", output=output)


def describe_argv(step: CommandStep) -> str:
    """The command as written in the plan (references unresolved), redacted."""
    return redact_text(step.argv[0] if step.shell else " ".join(step.argv))


def describe_command(step: CommandStep) -> str:
    return f"would run {'(shell) ' if step.shell else ''}{describe_argv(step)}"
