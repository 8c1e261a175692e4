"""The ``http`` step: one HTTP call whose status says whether it worked.

References in the URL, headers and body (``${secret:...}``, ``${env:...}``, ``${file:...}``) are
resolved right before the request; the step keeps them unresolved, so the journal (and a replayed
undo) holds the reference, never the value. What the step says about itself (``detail``) names
the URL as written in the plan, without its query string or password, redacted; the response
body it keeps is masked and cut.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx

from odin_drills.plan.steps import HttpStep
from odin_drills.steps.actions.outcome import StepOutcome
from odin_drills.steps.redact import redact_text, redact_url
from odin_drills.steps.secrets import SecretResolver, SecretUnavailable

BODY_LIMIT = 500


def _expected(step: HttpStep) -> list[int]:
    return [step.expect_status] if isinstance(step.expect_status, int) else list(step.expect_status)


def shown_url(url: str) -> str:
    """``url`` for a person: no password, no query string (``?…`` says there was one), path redacted."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if not parts.scheme or not parts.netloc:
        return redact_text(url)  # a whole-URL reference, ${secret:WEBHOOK}
    host = parts.netloc.rpartition("@")[2]
    return redact_url(f"{parts.scheme}://{host}{parts.path}") + ("?…" if parts.query else "")


def resolved_url(text: str, resolver: SecretResolver) -> str:
    """The URL with references resolved; refused unless it is http(s) (a secret could hold anything)."""
    url = resolver.text(text)
    try:
        scheme = httpx.URL(url).scheme
    except (httpx.InvalidURL, TypeError, ValueError):
        scheme = ""
    if scheme not in ("http", "https"):
        raise SecretUnavailable(f"{text}: the resolved value is not an http(s) URL")
    return url


def run_http(step: HttpStep, client: httpx.Client, resolver: SecretResolver | None = None) -> StepOutcome:
    resolver = resolver or SecretResolver()
    shown = f"{step.method} {shown_url(str(step.url))}"
    try:
        url = resolved_url(str(step.url), resolver)
        headers = resolver.data(step.headers)
        json_body = resolver.data(step.json_body) if step.json_body is not None else None
        body = resolver.text(step.body) if step.body is not None else None
    except SecretUnavailable as exc:
        return StepOutcome(status="failed", detail=f"{shown} not sent: {exc}")
    started = time.perf_counter()
    try:
        response = client.request(
            step.method,
            url,
            headers=headers,
            json=json_body,
            content=body.encode() if body is not None else None,
            timeout=step.timeout,
        )
    except httpx.TimeoutException:
        return StepOutcome(status="failed", detail=f"{shown} timed out after {step.timeout:g} s")
    except httpx.HTTPError as exc:
        return StepOutcome(status="failed", detail=f"{shown} failed: {exc.__class__.__name__}: {redact_text(str(exc))}")
    elapsed_ms = (time.perf_counter() - started) * 1000
    output = {"status": response.status_code, "elapsed_ms": round(elapsed_ms, 2),
              "body": redact_text(response.text[:BODY_LIMIT * 4])[:BODY_LIMIT]}
    if response.status_code not in _expected(step):
        return StepOutcome(
            status="failed",
            detail=f"{shown} answered {response.status_code}, expected {_expected(step)}",
            output=output,
        )
    return StepOutcome(status="ok", detail=f"{shown} -> {response.status_code}", output=output)


def describe_http(step: HttpStep) -> str:
    body = f" with {step.json_body!r}" if step.json_body is not None else (" with a body" if step.body else "")
    return redact_text(f"would {step.method} {step.url}{body}")
