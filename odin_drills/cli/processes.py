"""Child services odin starts for a run (the demo service, the embedded sandbox) and stops by PID."""

from __future__ import annotations

import signal
import subprocess


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL: a child never outlives the run that started it."""
    CHILDREN.discard(process)
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


CHILDREN: set[subprocess.Popen] = set()
"""Children running for the current command; an abort (a second Ctrl-C) kills them before exiting."""


def kill_children() -> None:
    """SIGKILL every tracked child (an abort does not wait): none outlives odin."""
    for process in list(CHILDREN):
        if process.poll() is None:
            try:
                process.kill()
            except OSError:
                pass
    CHILDREN.clear()
