"""Stakeholder communication for a region failover: who hears what, and when.

    state_provider() ──▶ render(template, state, minute) ──▶ Message
    Message ──▶ payload(kind, message) ──▶ Slack blocks | Teams Adaptive Card | generic JSON
    deliver(channel, message, client, journal) ──▶ POST, bounded retries, one ``comms`` entry
    CommsSchedule: initial at T+0, updates at T+15/60/90 (plan time), resolution on ``resolve()``

Nothing here raises into the runbook because a webhook failed: a failed delivery is a
``DeliveryResult(status="failed")`` and a journal entry. Webhook URLs are secrets: entries name the
channel, never its URL.

Journal entry ``comms`` (one per message per channel): channel, channel_kind, template, minute,
status (sent|failed), http_status, attempts, detail, text.
"""

from odin_drills.steps.comms.delivery import Channel, DeliveryResult, RetryPolicy, deliver
from odin_drills.steps.comms.payloads import generic_payload, payload, slack_payload, teams_payload
from odin_drills.steps.comms.schedule import CommsSchedule
from odin_drills.steps.comms.templates import UPDATE_MINUTES, IncidentState, Message, Template, render

__all__ = [
    "UPDATE_MINUTES",
    "Channel",
    "CommsSchedule",
    "DeliveryResult",
    "IncidentState",
    "Message",
    "RetryPolicy",
    "Template",
    "deliver",
    "generic_payload",
    "payload",
    "render",
    "slack_payload",
    "teams_payload",
]
