"""The ``notify`` step: a JSON webhook POST. The URL is a secret (it is the credential)."""

from __future__ import annotations

import httpx

from odin_drills.plan.steps import NotifyStep
from odin_drills.steps.actions.outcome import StepOutcome
from urllib.parse import urlsplit


def run_notify(step: NotifyStep, client: httpx.Client, context: dict[str, object] | None = None) -> StepOutcome:
    payload = {"text": step.message, **step.payload, **(context or {})}
    parts = urlsplit(str(step.url))
    shown = f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}/…"  # the path is the secret
    try:
        response = client.post(str(step.url), json=payload, timeout=step.timeout)
    except httpx.HTTPError as exc:
        return StepOutcome(status="failed", detail=f"webhook {shown} failed: {exc.__class__.__name__}")
    if response.status_code >= 300:
        return StepOutcome(status="failed", detail=f"webhook {shown} answered {response.status_code}")
    return StepOutcome(status="ok", detail=f"notified {shown} ({response.status_code})", output={"message": step.message})
