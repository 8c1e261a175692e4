"""How a run ended: one table from outcome to exit code, Prefect state and the words a person reads.

Every entry point (``odin migrate``, ``odin drill``, ``odin rollback``, ``odin gate``, the flows'
final Prefect states, the reports) reads this table, so an exit code means the same thing
wherever it appears:

====  =========================================================================================
code  meaning
====  =========================================================================================
0     done: the migration completed, the drill passed every criterion, the command succeeded
2     usage error: nothing ran, nothing changed (bad plan or flag, outside the window, locked…)
3     ended safely without reaching its goal: the migration was rolled back and the service is
      healthy, or the drill ran and a criterion failed (or the outage was not confirmed, or a
      person vetoed the failover)
4     a person must look: rolled back but still degraded, or the run failed
5     interrupted: a signal (SIGTERM, Ctrl-C) stopped the run at a safe point, after the step in
      flight was journaled; nothing new was started. Finish it with ``odin migrate PLAN --resume``
      or undo it with ``odin rollback PLAN``. Or waiting: ``odin rollback`` of a drill outside its
      ``failback.window`` ended the drill's own outage; the failback waits for the window (run
      ``odin rollback`` again in it, or with ``--force``)
====  =========================================================================================

In the Prefect UI the run's final state carries the outcome's name, so a rolled-back migration
reads ``RolledBack`` in the runs list, not ``Completed``. Green means the run did what it set out
to do: only exit-0 outcomes are Completed-type states; every other outcome is a Failed-type state
(red), named for what happened. A rolled-back migration is a change that did not go through, and
whoever watches the runs list (or a Prefect automation on failed runs) should see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NOT_ACHIEVED = 3
EXIT_FAILED = 4
EXIT_INTERRUPTED = 5


class Outcome(StrEnum):
    """The ``outcome`` of a ``run_finished`` journal entry."""

    COMPLETED = "completed"
    ROLLED_BACK_HEALTHY = "rolled_back_healthy"
    ROLLED_BACK_DEGRADED = "rolled_back_degraded"
    FAILED = "failed"
    REFUSED = "refused"
    PASSED = "passed"
    CRITERIA_FAILED = "criteria_failed"
    NOT_CONFIRMED = "not_confirmed"
    VETOED = "vetoed"
    NO_FAILOVER_NEEDED = "no_failover_needed"
    INTERRUPTED = "interrupted"
    OUTAGE_ENDED = "outage_ended"


@dataclass(frozen=True)
class OutcomeInfo:
    exit_code: int
    state_name: str
    failed_state: bool  # a Failed-type Prefect state: exactly the outcomes with a non-zero exit code
    text: str


OUTCOMES: dict[Outcome, OutcomeInfo] = {
    Outcome.COMPLETED: OutcomeInfo(EXIT_OK, "Completed", False, "completed"),
    Outcome.ROLLED_BACK_HEALTHY: OutcomeInfo(EXIT_NOT_ACHIEVED, "RolledBack", True, "rolled back, healthy"),
    Outcome.ROLLED_BACK_DEGRADED: OutcomeInfo(EXIT_FAILED, "RolledBackDegraded", True, "rolled back, still degraded"),
    Outcome.FAILED: OutcomeInfo(EXIT_FAILED, "Failed", True, "failed"),
    Outcome.REFUSED: OutcomeInfo(EXIT_USAGE, "Refused", True, "refused before changing anything"),
    Outcome.PASSED: OutcomeInfo(EXIT_OK, "Passed", False, "every criterion passed"),
    Outcome.CRITERIA_FAILED: OutcomeInfo(EXIT_NOT_ACHIEVED, "CriteriaFailed", True, "a criterion failed"),
    Outcome.NOT_CONFIRMED: OutcomeInfo(EXIT_NOT_ACHIEVED, "NotConfirmed", True, "the outage was not confirmed"),
    Outcome.VETOED: OutcomeInfo(EXIT_NOT_ACHIEVED, "Vetoed", True, "a person vetoed the failover"),
    Outcome.NO_FAILOVER_NEEDED: OutcomeInfo(EXIT_OK, "NoFailoverNeeded", False, "no failover was needed"),
    Outcome.INTERRUPTED: OutcomeInfo(EXIT_INTERRUPTED, "Interrupted", True,
                                     "interrupted by a signal: resume it or roll it back"),
    Outcome.OUTAGE_ENDED: OutcomeInfo(EXIT_INTERRUPTED, "OutageEnded", True, "outage ended, failback waiting"),
}


def info(outcome: str) -> OutcomeInfo:
    """The table's row for ``outcome`` (a journal string or an :class:`Outcome`)."""
    return OUTCOMES[Outcome(outcome)]


def exit_code(outcome: str) -> int:
    return info(outcome).exit_code


def describe(outcome: str) -> str:
    try:
        return info(outcome).text
    except ValueError:
        return str(outcome)
