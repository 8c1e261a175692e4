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
    """The shortest exact text form, as a plan file writes it (``parse_duration`` reads it back):
    for JSON and schema defaults. People read ``human_duration``."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{seconds:g}s"


def human_duration(seconds: float | None) -> str:
    """A duration as people say it, the one form of every report and message.

    ``0s``, ``0.25s``, ``3.2s``, ``45s``, ``1m 30s``, ``1h 5m``, ``6d 23h``, ``2d``: two units at most,
    seconds dropped from an hour up and minutes from a day up (rounded). ``None`` and non-finite
    values are ``–``.
    """
    if seconds is None or isinstance(seconds, bool):
        return "–"
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        return "–"
    if value != value or value in (float("inf"), float("-inf")):
        return "–"
    sign, value = ("-", -value) if value < 0 else ("", value)
    if value < 1:
        return f"{sign}{value:.2g}s" if value else "0s"
    if value < 10 and round(value, 1) < 10:
        return f"{sign}{round(value, 1):g}s"
    whole = round(value)
    if whole < 60:
        return f"{sign}{whole}s"
    if whole < 3600:
        minutes, secs = divmod(whole, 60)
        return f"{sign}{minutes}m" + (f" {secs}s" if secs else "")
    whole = round(value / 60)
    if whole < 1440:
        hours, minutes = divmod(whole, 60)
        return f"{sign}{hours}h" + (f" {minutes}m" if minutes else "")
    days, hours = divmod(round(value / 3600), 24)
    return f"{sign}{days}d" + (f" {hours}h" if hours else "")


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(lambda s: format_duration(s), return_type=str, when_used="json"),
]
"""A pydantic field type: accepts ``5m`` or ``300``, holds float seconds, writes ``5m`` to JSON."""
