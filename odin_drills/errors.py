"""Every way odin can fail, the one line a user sees, and the exit code.

::

    OdinError                       exit 4 unless a subclass says otherwise
    ├── UsageError                  exit 2: nothing ran, nothing changed
    │   ├── PlanInvalid             a plan file failed validation (one line per problem)
    │   ├── InputInvalid            a snapshot/policy/flag given on the command line is wrong
    │   ├── OutsideChangeWindow     T-0 asked outside the plan's change window (use --force)
    │   ├── LockHeld                another run holds the environment lock (use --wait)
    │   ├── StateMissing            a later phase cannot find the baseline or T-0 journal
    │   └── OptInRequired           a dangerous action was not explicitly allowed
    ├── TargetUnreachable           an endpoint or the Prefect server did not answer
    └── AzureOperationFailed        an Azure call or long-running operation failed

Exit codes and what each outcome means are one table, ``odin_drills.outcomes``. Messages never include secrets: callers pass them through ``odin_drills.steps.redact``.
"""

from __future__ import annotations

from odin_drills.outcomes import EXIT_FAILED, EXIT_NOT_ACHIEVED, EXIT_OK, EXIT_USAGE

__all__ = ["EXIT_FAILED", "EXIT_NOT_ACHIEVED", "EXIT_OK", "EXIT_USAGE"]


class OdinError(Exception):
    exit_code = EXIT_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def lines(self) -> list[str]:
        return [self.message]


class UsageError(OdinError):
    exit_code = EXIT_USAGE


class PlanInvalid(UsageError):
    """Every problem found, one line each, ``FILE: field: what is wrong``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0] if problems else "invalid plan")
        self.problems = problems

    def lines(self) -> list[str]:
        return list(self.problems)


class InputInvalid(UsageError):
    pass


class OutsideChangeWindow(UsageError):
    pass


class LockHeld(UsageError):
    pass


class StateMissing(UsageError):
    pass


class OptInRequired(UsageError):
    pass


class TargetUnreachable(OdinError):
    pass


class AzureOperationFailed(OdinError):
    pass

