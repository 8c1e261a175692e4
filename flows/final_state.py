"""The Prefect state a run ends in, named after its outcome, so the UI's runs list tells them apart.

A rolled-back migration returning its summary would end as a green ``Completed`` run, the same as
a success. Each flow instead returns ``final_state(outcome, summary)``: a state named by the
outcome table (``RolledBack``, ``CriteriaFailed``, …; see ``odin_drills.outcomes``), Failed-type
where a person must act. Callers in-process use ``return_state=True`` and ``summary_of(state)``,
so a Failed state never raises into the CLI: the summary is the state's data either way.

The summary is also kept per thread as the flow returns it (``returned_summary``): the journal,
not the Prefect API, decides the outcome, so when the API dies and the engine cannot record the
final state, the in-process caller (``flows.in_process``) still has the run's true summary.
"""

from __future__ import annotations

import threading
from typing import Any, TypeVar

from prefect.states import Completed, Failed, State

from odin_drills.outcomes import info

T = TypeVar("T")

_returned: dict[int, Any] = {}
_returned_lock = threading.Lock()


def final_state(outcome: str, summary: Any, message: str = "") -> State:
    with _returned_lock:  # the outermost flow of the thread returns last, so its summary stays
        _returned[threading.get_ident()] = summary
    row = info(outcome)
    text = message or f"{row.text} (exit {row.exit_code})"
    if row.failed_state:
        return Failed(data=summary, name=row.state_name, message=text)
    return Completed(data=summary, name=row.state_name, message=text)


def summary_of(state: State, kind: type[T]) -> T:
    """The run's summary from its final state, whatever its type."""
    data = state.result(raise_on_failure=False)
    if not isinstance(data, kind):
        raise RuntimeError(f"the flow run ended in {state.name!r} without a summary: {state.message or data!r}")
    return data


def returned_summary(thread_id: int) -> Any:
    """The summary the flow body running in thread ``thread_id`` returned (None: it has not yet)."""
    with _returned_lock:
        return _returned.get(thread_id)


def forget_summary(thread_id: int) -> None:
    with _returned_lock:
        _returned.pop(thread_id, None)
