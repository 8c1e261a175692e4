"""The weighted reverse proxy in front of blue and green: the thing a migration turns the dial on.

Each proxied request draws from the router's own seeded ``random.Random`` and goes to blue with
probability ``blue/100``, else to green. The request is forwarded as it came - method, raw
path and query, body, end-to-end headers - plus ``x-forwarded-for/-host/-proto``; the upstream's
status, body and end-to-end headers come back unchanged (``x-odin-version`` included, added if
the upstream left it out). If the chosen version cannot answer, the router itself replies
502/504 with ``x-odin-version`` naming the version it tried and ``x-odin-error: upstream``,
so a probe still attributes the failure to the right version.

Weights are one immutable ``Weights`` object swapped in a single assignment on the loop thread:
every request sees either the old split or the new one, never half of each.

Paths under ``ADMIN_PREFIX`` (``/_admin``) never reach a version: they go to the admin API.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InvalidWeights
from .faults import VERSIONS
from .metrics import DemoMetrics
from .http11 import Handler, Headers, HttpRequest, HttpResponse, connection_tokens, json_response, origin_form
from .stats import RouterStats
from .upstream import UpstreamError, UpstreamPool
from .versions import version_seed

ADMIN_PREFIX = "/_admin"

# Hop-by-hop headers (RFC 9110 7.6.1) and the ones the proxy recomputes itself.
_NOT_FORWARDED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "expect",
    }
)


class Weights(BaseModel):
    """Share of traffic per version, in percent. Both versions named, integers summing to 100."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    blue: int = Field(ge=0, le=100)
    green: int = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _sums_to_100(self) -> Weights:
        total = self.blue + self.green
        if total != 100:
            raise ValueError(f"weights must sum to 100, got {total} (blue={self.blue}, green={self.green})")
        return self

    def as_json(self) -> dict[str, int]:
        return {"blue": self.blue, "green": self.green}


def parse_weights(payload: object) -> Weights:
    """Validate a weights payload; raises ``InvalidWeights`` naming every problem."""
    if isinstance(payload, Weights):
        return payload
    if not isinstance(payload, Mapping):
        raise InvalidWeights([f"the body must be a JSON object like {{\"blue\": 90, \"green\": 10}}, got {type(payload).__name__}"])
    unknown = [key for key in payload if key not in VERSIONS]
    problems = [f"unknown version {key!r} (known versions: {', '.join(VERSIONS)})" for key in unknown]
    problems += [f"missing weight for {name!r}" for name in VERSIONS if name not in payload]
    if problems:
        raise InvalidWeights(problems)
    try:
        return Weights.model_validate(dict(payload))
    except ValidationError as exc:
        raise InvalidWeights.from_validation_error(exc) from None


class WeightedRouter:
    """The router server's handler: admin paths to the admin API, everything else proxied."""

    def __init__(
        self,
        upstreams: Mapping[str, UpstreamPool],
        weights: Weights,
        *,
        seed: int,
        stats: RouterStats,
        clock: Callable[[], float],
        admin: Handler | None = None,
    ) -> None:
        self._upstreams = dict(upstreams)
        self._weights = weights
        self.rng = random.Random(version_seed(seed, "router"))
        self.stats = stats
        self._clock = clock
        self._admin = admin
        self.metrics: DemoMetrics | None = None  # the Prometheus export, set by the demo

    def mount_admin(self, admin: Handler) -> None:
        """Serve ``admin`` under ``ADMIN_PREFIX`` (set after construction: the admin API needs
        the router to exist first)."""
        self._admin = admin

    @property
    def weights(self) -> Weights:
        return self._weights

    def set_weights(self, weights: Weights) -> Weights:
        self._weights = weights
        return weights

    def choose(self) -> str:
        return "blue" if self.rng.random() * 100.0 < self._weights.blue else "green"

    async def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.path
        if self._admin is not None and (path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")):
            return await self._admin(request)
        started = self._clock()
        version = self.choose()
        self.stats.routed[version] += 1
        try:
            upstream = await self._upstreams[version].request(
                request.method, origin_form(request.target), self._forward_headers(request), request.body
            )
        except UpstreamError as exc:
            self.stats.upstream_failures += 1
            response = json_response(
                exc.status,
                {"error": str(exc), "version": version},
                [("x-odin-version", version), ("x-odin-error", "upstream")],
            )
        else:
            keep_length = request.method == "HEAD"
            headers = [
                (name, value)
                for name, value in upstream.headers
                if name not in _NOT_FORWARDED or (keep_length and name == "content-length")
            ]
            if upstream.header("x-odin-version") is None:
                headers.append(("x-odin-version", version))
            response = HttpResponse(upstream.status, upstream.body, headers)
        elapsed = self._clock() - started
        self.stats.record(response.status, elapsed * 1000.0)
        if self.metrics is not None:
            self.metrics.observe(version, response.status, elapsed)
        return response

    def _forward_headers(self, request: HttpRequest) -> Headers:
        dropped = connection_tokens(request.headers)
        headers: Headers = []
        forwarded_for = None
        host = None
        seen: set[str] = set()
        for name, value in request.headers:
            if name == "host":
                host = value
            elif name == "x-forwarded-for":
                forwarded_for = f"{forwarded_for}, {value}" if forwarded_for else value
            elif name not in _NOT_FORWARDED and name not in dropped:
                headers.append((name, value))
                seen.add(name)
        client = request.client or "unknown"
        headers.append(("x-forwarded-for", f"{forwarded_for}, {client}" if forwarded_for else client))
        # an outer proxy's view of host and scheme is the truer one: keep it if present
        if host is not None and "x-forwarded-host" not in seen:
            headers.append(("x-forwarded-host", host))
        if "x-forwarded-proto" not in seen:
            headers.append(("x-forwarded-proto", "http"))
        return headers
