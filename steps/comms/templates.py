"""Incident message templates: initial notification, update, resolution.

A message is rendered from the incident state *at the moment it is sent*, never from the state the
schedule was built with: people reading T+60 must see T+60's status. Every value goes through
``redact_text`` on the way in, because chat channels are read by more people than journals are.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from odin_drills.plan.durations import human_duration
from odin_drills.steps.redact import redact_text

Template = Literal["initial", "update", "resolution", "notice"]
"""``notice``: the DR test-window notice, sent ahead of a drill (``steps.dr.notice`` builds it)."""

UPDATE_MINUTES: tuple[int, ...] = (0, 15, 60, 90)
"""When stakeholders hear from us, in plan minutes after the start: T+0, T+15, T+60, T+90."""

AZURE_LABEL = "Azure Service Health"
"""The line quoting Azure's own word on the outage (incident mode), in every message that has one."""


class IncidentState(BaseModel):
    """What stakeholders are told, as the runbook knows it right now."""

    title: str = Field(min_length=1)
    status: str = Field(min_length=1, description="investigating | failing over | validating | monitoring | resolved")
    impact: str
    next_step: str = Field(description="what we are doing now / next")
    eta: str | None = Field(default=None, description="when we expect service to be restored, as people say it")
    azure_service_health: str | None = Field(
        default=None, description="incident mode: what Azure Service Health says (event, full or partial, Azure's "
        "ETA), quoted from the latest reading; None when the run made no reading")
    started_at: datetime
    region_primary: str
    region_dr: str
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="free-form; the resolution shows rto/rpo (seconds or text) and rto_target/rpo_target",
    )
    summary: str | None = Field(default=None, description="what happened (initial) / how it ended (resolution)")
    progress: str | None = Field(default=None, description="what has been done since the last update")
    follow_ups: list[str] = Field(default_factory=list)
    resolved_at: datetime | None = None

    @field_validator("started_at", "resolved_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Message(BaseModel):
    """One rendered stakeholder message; payloads for each channel kind are built from it."""

    template: Template
    minute: int | None = Field(description="plan minutes after the start (T+N); None when not scheduled")
    headline: str
    text: str = Field(description="the whole message as plain text: headline, then one 'Label: value' line per field")
    fields: dict[str, str] = Field(description="labelled facts, in reading order")


class _Auto:
    pass


AUTO: Any = _Auto()


def render(
    template: Template,
    state: IncidentState,
    minute: int | None = None,
    *,
    next_minute: int | None = AUTO,
    origin: datetime | None = None,
    now: datetime | None = None,
) -> Message:
    """The ``template`` message for ``state``.

    ``next_minute`` is when the next update is due (T+N); by default the next of ``UPDATE_MINUTES``
    after ``minute``, and None means "at resolution". ``origin`` is T+0 (default: the incident's
    ``started_at``). ``now`` (plan time) ends the duration of a resolution without ``resolved_at``.
    """
    origin = origin or state.started_at
    if next_minute is AUTO:
        next_minute = next((m for m in UPDATE_MINUTES if minute is not None and m > minute), None)
    next_update = "at resolution, or sooner if the status changes"
    if next_minute is not None:
        next_update = f"T+{next_minute} ({_clock(origin + timedelta(minutes=next_minute))})"
    regions = f"{state.region_primary} → {state.region_dr} (primary → DR)"

    if template == "initial":
        headline = f"Incident: {state.title}"
        fields = {
            "Status": state.status,
            "What happened": state.summary or state.title,
            "Started": _stamp(state.started_at),
            "Impact": state.impact,
            "Regions": regions,
            "What we are doing": state.next_step,
            "ETA": state.eta,
            AZURE_LABEL: state.azure_service_health,
            "Next update": next_update,
        }
    elif template == "update":
        headline = f"Update{'' if minute is None else f' T+{minute}'}: {state.title} — {state.status}"
        fields = {
            "Status": state.status,
            "Impact": state.impact,
            "Progress": state.progress,
            "Next step": state.next_step,
            "ETA": state.eta or "not yet known",
            AZURE_LABEL: state.azure_service_health,
            "Regions": regions,
            "Next update": next_update,
        }
    elif template == "resolution":
        ended = state.resolved_at or now or datetime.now(timezone.utc)
        headline = f"Resolved: {state.title}"
        fields = {
            "Status": "resolved",
            "Summary": state.summary or "Service restored.",
            "Duration": f"{_human((ended - state.started_at).total_seconds())} "
            f"({_stamp(state.started_at)} → {_clock(ended)})",
            "Impact": state.impact,
            AZURE_LABEL: state.azure_service_health,
            "Regions": regions,
            "RTO": _objective(state.details, "rto"),
            "RPO": _objective(state.details, "rpo"),
            "Follow-ups": "; ".join(state.follow_ups) or None,
        }
    else:
        raise ValueError(f"unknown template {template!r}: use initial, update or resolution")

    shown = {label: redact_text(str(value)) for label, value in fields.items() if value not in (None, "")}
    headline = redact_text(headline)
    text = "\n".join([headline, *(f"{label}: {value}" for label, value in shown.items())])
    return Message(template=template, minute=minute, headline=headline, text=text, fields=shown)



def _objective(details: dict[str, Any], name: str) -> str | None:
    """``rto``/``rpo`` as measured, against its target when one is given: '4m 12s (target 15m, met)'."""
    value = details.get(f"{name}_seconds", details.get(name))
    if value is None:
        return None
    target = details.get(f"{name}_target_seconds", details.get(f"{name}_target"))
    shown = _human(value) if _is_number(value) else str(value)
    if target is None:
        return shown
    verdict = ""
    if _is_number(value) and _is_number(target):
        verdict = ", met" if float(value) <= float(target) else ", missed"
    return f"{shown} (target {_human(target) if _is_number(target) else target}{verdict})"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _human(seconds: float) -> str:
    """'1h 23m', '4m 12s', '37s', '0.4s': how people say a duration (the one formatter of every report)."""
    return human_duration(max(0.0, float(seconds)))


def _clock(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%H:%M UTC")


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
