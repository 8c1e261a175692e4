"""Delivering one message to one channel: POST, bounded retries, one journal entry, never a raise.

A broken webhook must not stop a failover, so every failure becomes a ``failed`` result (and a
journal entry) instead of an exception. The webhook URL is the channel's credential: it is never
journaled, logged or shown — entries name the channel.

Retried (up to ``RetryPolicy.attempts``): connection errors and timeouts, 5xx, 429 (waiting what
``Retry-After`` asks, up to ``max_delay``), and Teams' "200 OK" that carries
``Webhook message delivery failed with error: …`` in its body (O365 connectors answer 200 for what
they consider retryable). Other 4xx fail at once: the URL or payload is wrong and will stay wrong.
A retry after a timeout can deliver a message twice; in an incident that beats not delivering it.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from odin_drills.plan.channels import Channel, ChannelKind
from odin_drills.steps.comms.payloads import payload
from odin_drills.steps.comms.templates import Message, Template
from odin_drills.steps.redact import redact_text

_TEAMS_FAILED = re.compile(r"^\s*Webhook message delivery failed", re.IGNORECASE)
_TEAMS_CODE = re.compile(r"HTTP error (\d{3})")


class RetryPolicy(BaseModel):
    attempts: int = Field(default=3, ge=1, le=10)
    backoff: float = Field(default=0.5, ge=0, description="wall seconds before the 2nd attempt; doubles after")
    max_delay: float = Field(default=10.0, ge=0, description="cap on any wait, Retry-After included")


class DeliveryResult(BaseModel):
    channel: str
    channel_kind: ChannelKind
    template: Template
    minute: int | None
    status: Literal["sent", "failed"]
    http_status: int | None = None
    attempts: int
    detail: str

    @property
    def sent(self) -> bool:
        return self.status == "sent"


def deliver(
    channel: Channel,
    message: Message,
    client: httpx.Client,
    journal: Any,
    *,
    retry: RetryPolicy | None = None,
    cancel: threading.Event | None = None,
    phase: str | None = None,
    step: str | None = None,
) -> DeliveryResult:
    """POST ``message`` to ``channel`` and journal one ``comms`` entry. Never raises for delivery.

    ``cancel``, when set, ends the waits between retries (the message is then ``failed``).
    """
    retry = retry or RetryPolicy()
    url = str(channel.url)
    attempts = 0
    http_status: int | None = None
    sent = False
    detail = ""
    try:
        body = payload(channel.kind, message)
    except Exception as exc:  # a bad message is recorded like a bad webhook
        body, detail = None, f"payload not built: {type(exc).__name__}"
    while body is not None:
        attempts += 1
        retryable, wait_hint = False, None
        try:
            response = client.post(url, json=body, timeout=channel.timeout)
        except httpx.TransportError as exc:
            http_status, retryable, detail = None, True, type(exc).__name__
        except Exception as exc:
            http_status, detail = None, type(exc).__name__
        else:
            http_status = response.status_code
            sent, retryable, detail = _judge(channel.kind, response)
            wait_hint = _retry_after(response.headers.get("retry-after"))
        if sent or not retryable or attempts >= retry.attempts:
            break
        delay = min(retry.max_delay, wait_hint if wait_hint is not None else retry.backoff * 2 ** (attempts - 1))
        if _wait(delay, cancel):
            detail += "; retries cancelled"
            break

    detail = redact_text(detail.replace(url, "<webhook-url>"))
    result = DeliveryResult(
        channel=channel.name,
        channel_kind=channel.kind,
        template=message.template,
        minute=message.minute,
        status="sent" if sent else "failed",
        http_status=http_status,
        attempts=attempts,
        detail=detail,
    )
    journal.append(
        "comms",
        phase=phase,
        step=step,
        channel=result.channel,
        channel_kind=result.channel_kind,
        template=result.template,
        minute=result.minute,
        status=result.status,
        http_status=result.http_status,
        attempts=result.attempts,
        detail=result.detail,
        text=message.text,
    )
    return result


def _judge(kind: ChannelKind, response: httpx.Response) -> tuple[bool, bool, str]:
    """(sent, worth retrying, detail) for one answer."""
    status = response.status_code
    excerpt = " ".join(response.text[:200].split())
    if 200 <= status < 300:
        if kind == "teams" and _TEAMS_FAILED.match(response.text):
            code = _TEAMS_CODE.search(response.text)
            return False, True, f"answered {status} but Teams says delivery failed" + (
                f" (HTTP error {code.group(1)})" if code else ""
            )
        return True, False, f"answered {status}"
    retryable = status == 429 or status >= 500
    return False, retryable, f"answered {status}" + (f": {excerpt}" if excerpt else "")


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _wait(seconds: float, cancel: threading.Event | None) -> bool:
    """Wait ``seconds`` of wall time; True if cancelled. Webhook servers live in real time."""
    if cancel is None:
        time.sleep(seconds)
        return False
    return cancel.wait(seconds)
