"""Ready-made webhook bodies: Slack incoming webhook, Teams Adaptive Card, generic JSON.

Each is a pure function of a :class:`Message`, so what a channel would receive can be checked
without sending anything.

- Slack incoming webhook: ``{"text": fallback, "blocks": [header, section…, context]}``
  (header ≤ 150 chars, section text ≤ 3000, mrkdwn with ``& < >`` escaped).
- Teams incoming webhook / Workflows: ``{"type": "message", "attachments": [{"contentType":
  "application/vnd.microsoft.card.adaptive", "content": AdaptiveCard 1.4}]}`` with the fields as
  a ``FactSet``.
- generic: ``{"source": "odin-drills", "template", "minute", "headline", "text", "fields"}``.
"""

from __future__ import annotations

from typing import Any, Literal

from odin_drills.plan.channels import ChannelKind
from odin_drills.steps.comms.templates import Message

SOURCE = "odin-drills"
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
_SLACK_HEADER_MAX = 150
_SLACK_SECTION_MAX = 3000
_TEAMS_COLOR = {"initial": "Attention", "update": "Warning", "resolution": "Good", "notice": "Accent"}


def payload(channel_kind: ChannelKind, message: Message) -> dict[str, Any]:
    """The JSON body to POST to a ``channel_kind`` webhook."""
    if channel_kind == "slack":
        return slack_payload(message)
    if channel_kind == "teams":
        return teams_payload(message)
    if channel_kind == "generic":
        return generic_payload(message)
    raise ValueError(f"unknown channel kind {channel_kind!r}: use slack, teams or generic")


def _when(message: Message) -> str:
    return f"{SOURCE} · {message.template}" + ("" if message.minute is None else f" · T+{message.minute}")


def slack_payload(message: Message) -> dict[str, Any]:
    lines = [f"*{_slack_escape(label)}:* {_slack_escape(value)}" for label, value in message.fields.items()]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(message.headline, _SLACK_HEADER_MAX), "emoji": True}}
    ]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": chunk}} for chunk in _chunks(lines, _SLACK_SECTION_MAX)]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _slack_escape(_when(message))}]})
    return {"text": _slack_escape(message.text), "blocks": blocks}


def teams_payload(message: Message) -> dict[str, Any]:
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "fallbackText": message.text,
        "body": [
            {
                "type": "TextBlock",
                "text": message.headline,
                "size": "Large",
                "weight": "Bolder",
                "color": _TEAMS_COLOR[message.template],
                "wrap": True,
            },
            {"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in message.fields.items()]},
            {"type": "TextBlock", "text": _when(message), "isSubtle": True, "size": "Small", "wrap": True},
        ],
    }
    return {"type": "message", "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}]}


def generic_payload(message: Message) -> dict[str, Any]:
    return {"source": SOURCE, **message.model_dump(mode="json")}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _chunks(lines: list[str], limit: int) -> list[str]:
    """Lines joined into as few texts of at most ``limit`` characters as keeps each line whole."""
    chunks: list[str] = []
    current = ""
    for line in (_cut(line, limit) for line in lines):
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks
