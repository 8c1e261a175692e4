"""Child services odin starts for a run (the demo service, the embedded sandbox) and stops by PID."""

from __future__ import annotations

import signal
import subprocess


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL: a child never outlives the run that started it."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
