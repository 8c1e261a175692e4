"""Durations as SREs write them in plan files: ``90s``, ``5m``, ``1h``, ``1d``, ``1w`` or plain seconds.

Plans are read by people during an incident; ``4h`` says more than ``14400``. Everything inside the
engine is float seconds of *plan time* (see ``odin_drills.steps.clock``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")


def parse_duration(value: Any) -> float:
    """Seconds from ``"5m"``-style text or a number; ValueError names the accepted forms."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m, 1h, 1d or a number of seconds")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        match = _PATTERN.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration: use 30s, 5m, 1h, 1d, 1w or seconds")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    else:
        raise ValueError("expected a duration such as 30s, 5m, 1h, 1d or a number of seconds")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact text form, for reports and schema defaults."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda s: format_duration(s), return_type=str, when_used="json"),
]
"""A pydantic field type: accepts ``5m`` or ``300``, holds float seconds, writes ``5m`` to JSON."""
