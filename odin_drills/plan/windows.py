"""When a recurring window opens next: a migration's ``change_window``, a drill's ``failback.window``.

Both are :class:`~odin_drills.plan.models.ChangeWindow` (times of day on some weekdays in a time zone
or UTC offset, or one fixed span). ``ChangeWindow.contains`` answers "may it start now?"; a run
that may *wait* for its window (a drill's automatic failback) also needs "when does it open next?",
and a refusal ("outside failback.window, next opens at …") needs the same answer to be useful.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from odin_drills.plan.models import ChangeWindow

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def opens_at(window: ChangeWindow, moment: datetime) -> datetime | None:
    """``moment`` itself when it falls in the window, else the window's next start after it (aware,
    in the window's zone); None when it never opens again (a fixed span already over, no days)."""
    if window.contains(moment):
        return moment
    if isinstance(window.start, datetime):
        return window.start if window.start > moment else None
    assert isinstance(window.start, time)
    zone = window.zone()
    start = window.start.replace(tzinfo=None)
    today = moment.astimezone(zone).date()
    for offset in range(8):  # every weekday once, and today's again a week later
        day = today + timedelta(days=offset)
        if _DAYS[day.weekday()] not in window.days:
            continue
        candidate = datetime.combine(day, start, tzinfo=zone)
        if candidate > moment:
            return candidate
    return None


def describe(window: ChangeWindow) -> str:
    """One line for journals, errors and reports: ``02:00–05:00 UTC (mon, tue)``."""
    if isinstance(window.start, datetime) and isinstance(window.end, datetime):
        return f"{window.start:%Y-%m-%d %H:%M %Z} – {window.end:%Y-%m-%d %H:%M %Z}"
    assert isinstance(window.start, time) and isinstance(window.end, time)
    zone = window.timezone if window.start.tzinfo is None else f"UTC{window.start:%z}"
    days = "every day" if len(window.days) == 7 else ", ".join(window.days)
    return f"{window.start:%H:%M}–{window.end:%H:%M} {zone} ({days})"


def at_utc(moment: datetime) -> str:
    """``2026-12-01 02:00 UTC`` (seconds only when there are some): a moment as people read it in a
    one-line error or a journal line."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%d %H:%M:%S UTC" if utc.second or utc.microsecond else "%Y-%m-%d %H:%M UTC")
