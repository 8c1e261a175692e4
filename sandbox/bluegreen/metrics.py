"""The demo's own telemetry in Prometheus' text format: ``GET /_admin/metrics`` on the router.

What real users got through the router, as a service instrumented with the official
``prometheus-client`` exports it: ``odin_demo_requests_total{version, code}`` and the latency
histogram ``odin_demo_request_duration_seconds{version}`` (router time: from request parsed to
response ready). A real Prometheus scrapes it, so odin's Prometheus metric source and the
Alertmanager alert source are tested against real servers. Each demo has its own registry
(several demos run in one test process); everything runs on the demo's event loop thread.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

BUCKETS_SECONDS = (0.002, 0.004, 0.006, 0.008, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1,
                   0.15, 0.25, 0.5, 1.0, 2.5, 5.0)
"""Fine around the demo's 8 ms median, so a 2x latency rise moves whole buckets."""


class DemoMetrics:
    """One demo's counters and histogram, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("odin_demo_requests", "Requests the router answered, by version and status code",
                                ["version", "code"], registry=self.registry)
        self.duration = Histogram("odin_demo_request_duration_seconds", "Router time per request",
                                  ["version"], buckets=BUCKETS_SECONDS, registry=self.registry)

    def observe(self, version: str, status: int, seconds: float) -> None:
        self.requests.labels(version=version, code=str(status)).inc()
        self.duration.labels(version=version).observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The text format and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
