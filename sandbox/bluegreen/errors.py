"""What can go wrong with the blue/green demo, and what a user sees.

    BlueGreenError                      base class; never raised itself
    ├── InvalidRequest                  a payload failed validation -> HTTP 400 with its message
    │   ├── InvalidWeights              "weights must sum to 100, got 95 (blue=90, green=5)"
    │   └── InvalidFault                "error_rate must be between 0 and 1, got 1.5"
    ├── DemoStartFailed                 "cannot listen on 127.0.0.1:8710: address already in use"
    └── DemoNotRunning                  "the blue/green demo is not running: call start() or use it as a context manager"

Validation failures carry every problem found (``problems``) and a one-line ``message`` that
names the first of them, so both the admin API and the Python API can say exactly what is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError


class BlueGreenError(Exception):
    """Base of every error this package raises on purpose."""


class InvalidRequest(BlueGreenError, ValueError):
    """A payload (weights, fault) was rejected; nothing was changed."""

    #: short label put in front of the problems, e.g. "invalid weights"
    label = "invalid request"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems) or ["unknown problem"]
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.label}: " + "; ".join(self.problems)

    @classmethod
    def from_validation_error(cls, exc: ValidationError) -> InvalidRequest:
        return cls([describe_problem(err) for err in exc.errors(include_url=False)])

    def as_json(self) -> dict[str, object]:
        return {"error": self.message, "problems": self.problems}


class InvalidWeights(InvalidRequest):
    label = "invalid weights"


class InvalidFault(InvalidRequest):
    label = "invalid fault"


class DemoStartFailed(BlueGreenError, RuntimeError):
    """A server could not be started (usually: the fixed port is taken)."""


class DemoNotRunning(BlueGreenError, RuntimeError):
    """The Python API was used on a demo that is not started (or already stopped)."""

    def __init__(self) -> None:
        super().__init__(
            "the blue/green demo is not running: call start() or use it as a context manager"
        )


def describe_problem(err: dict) -> str:  # pydantic's ErrorDetails
    """Turn one pydantic error into a sentence that names the field and the bad value.

    Pydantic's own wording ("Input should be a valid integer") does not say which field or
    value; an operator reading a 400 from a drill runner needs both.
    """
    loc = ".".join(str(part) for part in err.get("loc", ()) if part != "__root__")
    kind = err.get("type", "")
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return f"unknown field {loc!r}"
    if kind == "missing":
        return f"missing field {loc!r}"
    if kind in {"int_type", "int_from_float", "int_parsing"}:
        return f"{loc} must be an integer, got {value!r}"
    if kind in {"float_type", "float_parsing"}:
        return f"{loc} must be a number, got {value!r}"
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}:
        bound = next(iter(ctx.values()), "?")
        words = {
            "greater_than_equal": ">=",
            "less_than_equal": "<=",
            "greater_than": ">",
            "less_than": "<",
        }[kind]
        return f"{loc} must be {words} {bound}, got {value!r}"
    if kind == "literal_error":
        return f"{loc} must be one of {ctx.get('expected', '?')}, got {value!r}"
    if kind == "value_error":
        # our own validators raise ValueError with a complete sentence
        return str(ctx.get("error", err.get("msg", "invalid value")))
    if kind == "model_type" or kind == "dict_type":
        return f"the body must be a JSON object, got {type(value).__name__}"
    prefix = f"{loc}: " if loc else ""
    return f"{prefix}{err.get('msg', 'invalid value')} (got {value!r})"
