"""The Prefect state a run ends in, named after its outcome, so the UI's runs list tells them apart.

A rolled-back migration returning its summary would end as a green ``Completed`` run, the same as
a success. Each flow instead returns ``final_state(outcome, summary)``: a state named by the
outcome table (``RolledBack``, ``CriteriaFailed``, …; see ``odin_drills.outcomes``), Failed-type
where a person must act. Callers in-process use ``return_state=True`` and ``summary_of(state)``,
so a Failed state never raises into the CLI: the summary is the state's data either way.
"""

from __future__ import annotations

from typing import Any, TypeVar

from prefect.states import Completed, Failed, State

from odin_drills.outcomes import info

T = TypeVar("T")


def final_state(outcome: str, summary: Any, message: str = "") -> State:
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
