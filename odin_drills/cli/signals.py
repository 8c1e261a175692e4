"""SIGTERM and Ctrl-C while a run is in progress: stop gracefully; a second signal aborts at once.

Python's default turns Ctrl-C into ``KeyboardInterrupt`` wherever the main thread happens to be —
between an Azure call and its journal entry, inside the lock's release — and Prefect's engine
turns SIGTERM into a crash it then tries to report to its API. Neither is a stop an operator can
trust. While a run is in progress (``graceful_stop``) odin handles both itself:

1. the first signal asks the run to stop (``odin_drills.steps.stop``): the step in flight finishes
   and is journaled, no new world-changing step starts, the lock is released, the run ends
   ``interrupted`` (exit 5, ``odin_drills.outcomes``) and says how to resume or roll back;
2. a second one aborts at once: children are killed and the process exits 5 without unwinding.
   The journal stays consistent — every intent is journaled (and fsynced) before it acts — so
   ``--resume`` and ``odin rollback`` reconcile it, as after a kill -9.

The flow runs in a worker thread (``odin_drills.flows.in_process``), so the handlers, which Python
runs in the main thread, fire at once however long the step in flight takes.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from odin_drills.outcomes import EXIT_INTERRUPTED

HANDLED = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def graceful_stop(how_to_go_on: str,
                  first: str = "stopping after the step in flight (no new step starts)") -> Iterator[None]:
    """Handle SIGINT and SIGTERM as above for the block; ``first`` says what the first signal does,
    ``how_to_go_on`` is printed on an abort."""
    from odin_drills.cli.processes import kill_children
    from odin_drills.steps import stop

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stop.reset()
    received: list[str] = []

    def handler(signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        received.append(name)
        if len(received) == 1:
            stop.request(name)
            print(f"odin: {name}: {first}; "
                  f"{'Ctrl-C' if signum == signal.SIGINT else 'the signal'} again aborts at once", file=sys.stderr,
                  flush=True)
            return
        print(f"odin: {name} again: aborted at once; the journal holds every intent: {how_to_go_on}",
              file=sys.stderr, flush=True)
        kill_children()
        sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)

    previous = {sig: signal.signal(sig, handler) for sig in HANDLED}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
