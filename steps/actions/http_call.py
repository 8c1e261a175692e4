"""The ``http`` step: one HTTP call whose status says whether it worked."""

from __future__ import annotations

import time

import httpx

from odin_drills.plan.steps import HttpStep
from odin_drills.steps.actions.outcome import StepOutcome


def _expected(step: HttpStep) -> list[int]:
    return [step.expect_status] if isinstance(step.expect_status, int) else list(step.expect_status)


def run_http(step: HttpStep, client: httpx.Client) -> StepOutcome:
    url = str(step.url)
    started = time.perf_counter()
    try:
        response = client.request(
            step.method,
            url,
            headers=step.headers,
            json=step.json_body if step.json_body is not None else None,
            content=step.body.encode() if step.body is not None else None,
            timeout=step.timeout,
        )
    except httpx.TimeoutException:
        return StepOutcome(status="failed", detail=f"{step.method} {url} timed out after {step.timeout:g} s")
    except httpx.HTTPError as exc:
        return StepOutcome(status="failed", detail=f"{step.method} {url} failed: {exc.__class__.__name__}: {exc}")
    elapsed_ms = (time.perf_counter() - started) * 1000
    output = {"status": response.status_code, "elapsed_ms": round(elapsed_ms, 2), "body": response.text[:500]}
    if response.status_code not in _expected(step):
        return StepOutcome(
            status="failed",
            detail=f"{step.method} {url} answered {response.status_code}, expected {_expected(step)}",
            output=output,
        )
    return StepOutcome(status="ok", detail=f"{step.method} {url} -> {response.status_code}", output=output)


def describe_http(step: HttpStep) -> str:
    body = f" with {step.json_body!r}" if step.json_body is not None else (" with a body" if step.body else "")
    return f"would {step.method} {step.url}{body}"
