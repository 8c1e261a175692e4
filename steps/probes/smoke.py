"""Smoke journeys: a handful of real requests that say whether the service works end to end.

Each journey sends one request and checks its status, body and latency, and tries again up to
``retries`` times before it counts as failed (one dropped request is noise). A failing service never
raises here: every problem becomes a plain sentence in the journey's ``failures``, and the report
counts critical and non-critical failures for the rollback ladder. Failure messages name the URL
and header *names* at most, never header values (they often carry tokens); userinfo in a URL is
left out too.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from jsonpath_ng import parse as parse_jsonpath
from pydantic import BaseModel, ConfigDict, Field

from odin_drills.plan.journeys import BodyAssertion, SmokeJourney

_MISSING = object()


class JourneyResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    critical: bool
    passed: bool
    status: int | None = Field(default=None, description="HTTP status, or None when no response came back")
    latency_ms: float = Field(ge=0, description="time to the full response, or to the failure")
    failures: list[str] = Field(default_factory=list)


class SmokeReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    results: list[JourneyResult]
    critical_failed: int = Field(ge=0)
    noncritical_failed: int = Field(ge=0)
    passed: bool

    @classmethod
    def of(cls, results: list[JourneyResult]) -> "SmokeReport":
        critical = sum(1 for r in results if not r.passed and r.critical)
        noncritical = sum(1 for r in results if not r.passed and not r.critical)
        return cls(
            results=results,
            critical_failed=critical,
            noncritical_failed=noncritical,
            passed=critical == 0 and noncritical == 0,
        )


def run_journeys(journeys: list[SmokeJourney], *, client: httpx.Client | None = None) -> SmokeReport:
    """Run every journey in order and report; only a bug in odin itself can raise."""
    own_client = client is None
    session = client or httpx.Client(follow_redirects=False)
    try:
        return SmokeReport.of([run_with_retries(journey, session) for journey in journeys])
    finally:
        if own_client:
            session.close()


def run_with_retries(journey: SmokeJourney, client: httpx.Client) -> JourneyResult:
    """A journey passes if any of its ``1 + retries`` attempts passes: one dropped request is noise.

    The result of a failed journey keeps the failures of every attempt, so the report shows
    whether it failed the same way each time.
    """
    attempts: list[JourneyResult] = []
    for attempt in range(journey.retries + 1):
        if attempt:
            time.sleep(journey.retry_delay)
        result = run_journey(journey, client)
        attempts.append(result)
        if result.passed:
            break
    last = attempts[-1]
    if len(attempts) > 1 and not last.passed:
        failures = [f"attempt {i + 1}: {f}" for i, r in enumerate(attempts) for f in r.failures]
        last = last.model_copy(update={"failures": failures})
    return last


def run_journey(journey: SmokeJourney, client: httpx.Client) -> JourneyResult:
    url = str(journey.url)
    shown = display_url(url)
    started = time.perf_counter()
    try:
        response = client.request(
            journey.method,
            url,
            headers=journey.headers,
            content=journey.body,
            json=journey.json_body,
            timeout=journey.timeout,
        )
    except Exception as exc:  # noqa: BLE001  (a failing service must not stop the other journeys)
        latency = (time.perf_counter() - started) * 1000
        return JourneyResult(
            name=journey.name,
            critical=journey.critical,
            passed=False,
            latency_ms=round(latency, 3),
            failures=[transport_failure(exc, shown, journey.timeout)],
        )
    latency = (time.perf_counter() - started) * 1000

    failures: list[str] = []
    expected = journey.expect_status if isinstance(journey.expect_status, list) else [journey.expect_status]
    if response.status_code not in expected:
        wanted = " or ".join(str(s) for s in expected)
        failures.append(f"expected status {wanted}, got {response.status_code}")
    failures += body_failures(journey.assertions, response)
    if journey.latency_budget_ms is not None and latency > journey.latency_budget_ms:
        failures.append(f"took {latency:.0f} ms > budget {journey.latency_budget_ms:g} ms")
    return JourneyResult(
        name=journey.name,
        critical=journey.critical,
        passed=not failures,
        status=response.status_code,
        latency_ms=round(latency, 3),
        failures=failures,
    )


def body_failures(assertions: list[BodyAssertion], response: httpx.Response) -> list[str]:
    failures: list[str] = []
    document: Any = _MISSING
    for assertion in assertions:
        if assertion.contains is not None:
            if assertion.contains not in response.text:
                failures.append(f"body does not contain {assertion.contains!r}")
            continue
        if document is _MISSING:
            try:
                document = json.loads(response.content)
            except ValueError:
                document = None
                failures.append("body is not JSON, so JSONPath assertions cannot be checked")
        if document is None:
            continue
        failures += jsonpath_failures(assertion, document)
    return failures


def jsonpath_failures(assertion: BodyAssertion, document: Any) -> list[str]:
    """``jsonpath`` alone: the path must match. With ``equals``: its value must equal it.

    One match is compared as a value; several are compared as the list of their values.
    ``equals: null`` cannot be told from no ``equals`` in a plan, so it means "exists".
    """
    path = assertion.jsonpath
    matches = [m.value for m in parse_jsonpath(path).find(document)]
    if not matches:
        return [f"{path} not found in body"]
    if assertion.equals is None:
        return []
    actual = matches[0] if len(matches) == 1 else matches
    if not same_value(actual, assertion.equals):
        return [f"{path} is {short(actual)}, expected {short(assertion.equals)}"]
    return []


def same_value(actual: Any, expected: Any) -> bool:
    """JSON equality: ``true`` is not ``1``."""
    return actual == expected and isinstance(actual, bool) == isinstance(expected, bool)


def transport_failure(exc: Exception, url: str, timeout: float) -> str:
    """One sentence for a request that got no response. Never quotes request headers."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer from {url} within {timeout:g} s ({type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        reason = str(exc).lower()
        if "refused" in reason:
            return f"connection refused to {url}"
        if "name" in reason or "resolution" in reason or "nodename" in reason:
            return f"cannot resolve the host of {url}"
        return f"cannot connect to {url}: {exc}"
    if isinstance(exc, httpx.LocalProtocolError):
        return f"request to {url} could not be sent: its method, headers or body are not valid HTTP"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{url} closed the connection or sent a malformed response: {exc}"
    if isinstance(exc, httpx.HTTPError):
        return f"request to {url} failed: {type(exc).__name__}"
    # Not the service: the request itself could not be built (a bad header, say). The exception's
    # text may quote the offending value, so only its type is shown.
    return f"request to {url} could not be sent: {type(exc).__name__}"


def display_url(url: str) -> str:
    """The URL without any ``user:password@`` part."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
