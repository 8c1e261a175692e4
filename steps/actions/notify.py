"""The ``notify`` step: a JSON webhook POST. The URL is a secret (it is the credential).

The URL and the payload may hold references (``url: ${secret:SLACK_WEBHOOK}``, a PagerDuty
``routing_key: ${secret:PD_KEY}``), resolved right before the POST. Only the webhook's scheme, host
and port are ever shown.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from odin_drills.plan.steps import NotifyStep
from odin_drills.steps.actions.http_call import resolved_url
from odin_drills.steps.actions.outcome import StepOutcome
from odin_drills.steps.secrets import SecretResolver, SecretUnavailable


def _shown(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}/…"
    except ValueError:
        return "<webhook>"


def run_notify(step: NotifyStep, client: httpx.Client, context: dict[str, object] | None = None,
               resolver: SecretResolver | None = None) -> StepOutcome:
    resolver = resolver or SecretResolver()
    try:
        url = resolved_url(str(step.url), resolver)
        payload = {"text": step.message, **resolver.data(step.payload), **(context or {})}
    except SecretUnavailable as exc:
        return StepOutcome(status="failed", detail=f"webhook not called: {exc}")
    shown = _shown(url)  # the path is the secret
    try:
        response = client.post(url, json=payload, timeout=step.timeout)
    except httpx.HTTPError as exc:
        return StepOutcome(status="failed", detail=f"webhook {shown} failed: {exc.__class__.__name__}")
    if response.status_code >= 300:
        return StepOutcome(status="failed", detail=f"webhook {shown} answered {response.status_code}")
    return StepOutcome(status="ok", detail=f"notified {shown} ({response.status_code})", output={"message": step.message})
