"""Azure Monitor's regional metrics data plane (``metrics:getBatch``), fed by the demo apps' real requests.

What ``azure-monitor-querymetrics``' real ``MetricsClient`` talks to, over HTTPS with the sandbox CA::

    POST {endpoint}/subscriptions/{subscriptionId}/metrics:getBatch
         ?metricnamespace=Microsoft.Web/sites&metricnames=Requests,Http5xx&starttime=..&endtime=..
         &interval=PT1M&aggregation=Total&api-version=2024-02-01
    {"resourceids": ["/subscriptions/../providers/Microsoft.Web/sites/app-eastus", ...]}

answered with ``{"values": [{starttime, endtime, interval, value: [metric], namespace, resourceregion,
resourceid}]}``, one item per resource, the shape of Microsoft's published example
(``tests/contract/azure-rest-examples/metrics``). Azure's endpoint is regional
(``https://{region}.metrics.monitor.azure.com``) and answers only for resources in its region; the
sandbox serves every region on one port under a path, ``{metrics_url}/{region}``, and refuses a
resource of another region as Azure does.

The metrics are App Service's (``Microsoft.Web/sites``), computed from the same request records
the Log Analytics endpoint serves (``log_analytics.RequestTelemetry``, one per request a regional
app answered): ``Requests``, ``Http2xx``/``Http3xx``/``Http4xx``/``Http5xx`` (counts) and
``HttpResponseTime`` (seconds). An unknown metric name or namespace is Azure's 400; a dimension
``filter``/``rollupby`` is refused with a 400 (the sandbox has no dimensions), so a test never
passes on a query the sandbox silently misread.

One deliberate difference: Azure aligns data points to the grain (whole minutes), the sandbox
starts them at ``starttime``, so a window of a few real seconds under a scaled clock reads exactly
its own requests.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .log_analytics import RequestRecord, RequestTelemetry

NAMESPACE = "Microsoft.Web/sites"
MAX_RESOURCES = 50
MAX_POINTS = 20_000
"""Data points one answer may hold (per resource and metric): a guard, not Azure's exact limit."""
AGGREGATIONS = ("average", "count", "minimum", "maximum", "total")


@dataclass(frozen=True)
class MetricDefinition:
    """One App Service metric: how each request samples it, its unit and primary aggregation."""

    name: str
    display: str
    unit: str
    primary: str
    description: str

    def sample(self, record: RequestRecord) -> float:
        if self.name == "HttpResponseTime":
            return record.duration_ms / 1000.0
        if self.name == "Requests":
            return 1.0
        return 1.0 if record.result_code // 100 == int(self.name[4]) else 0.0  # Http2xx .. Http5xx


METRICS = {m.name.lower(): m for m in (
    MetricDefinition("Requests", "Requests", "Count", "Total", "The total number of requests regardless of "
                     "their resulting HTTP status code."),
    MetricDefinition("Http2xx", "Http 2xx", "Count", "Total", "Requests resulting in an HTTP status code >= 200 "
                     "but < 300."),
    MetricDefinition("Http3xx", "Http 3xx", "Count", "Total", "Requests resulting in an HTTP status code >= 300 "
                     "but < 400."),
    MetricDefinition("Http4xx", "Http 4xx", "Count", "Total", "Requests resulting in an HTTP status code >= 400 "
                     "but < 500."),
    MetricDefinition("Http5xx", "Http Server Errors", "Count", "Total", "Requests resulting in an HTTP status "
                     "code >= 500 but < 600."),
    MetricDefinition("HttpResponseTime", "Response Time", "Seconds", "Average", "The time taken for the app to "
                     "serve requests, in seconds."),
)}


class MetricsError(Exception):
    """An answer in ARM's error shape (``{"error": {"code", "message"}}``, the spec's ErrorResponse)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class PlatformMetricsApi:
    """Starlette app for ``POST /{region}/subscriptions/{subscriptionId}/metrics:getBatch``."""

    def __init__(self, telemetry: RequestTelemetry, *, subscription_id: str, web_apps: dict[str, str]) -> None:
        """:param web_apps: region -> the ARM id of that region's web app (whose requests it counts)."""
        self.telemetry = telemetry
        self.subscription_id = subscription_id
        self.region_of = {resource_id.lower(): region for region, resource_id in web_apps.items()}
        self.web_apps = dict(web_apps)
        self.app = Starlette(routes=[Route("/{region}/subscriptions/{subscription}/metrics:getBatch", self.batch,
                                           methods=["POST"])])

    async def batch(self, request: Request) -> Response:
        try:
            body = await request.body()
            return self._json(200, self._answer(request, body))
        except MetricsError as exc:
            return self._json(exc.status, {"error": {"code": exc.code, "message": exc.message}})

    def _answer(self, request: Request, raw: bytes) -> dict[str, Any]:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise MetricsError(401, "InvalidAuthenticationToken",
                               "The access token is missing or invalid: a bearer token is required.")
        region = request.path_params["region"].lower()
        if region not in self.web_apps:
            raise MetricsError(404, "NotFound", f"No metrics endpoint for region {region!r} here "
                                                f"(regions: {', '.join(sorted(self.web_apps))}).")
        query = request.query_params
        for unsupported in ("filter", "rollupby"):
            if query.get(unsupported):
                raise MetricsError(400, "BadRequest", f"sandbox: {unsupported} is not supported (its metrics "
                                                      "have no dimensions)")
        namespace = query.get("metricnamespace") or ""
        if namespace.lower() != NAMESPACE.lower():
            raise MetricsError(400, "BadRequest", f"Metric namespace {namespace!r} is not a supported platform "
                                                  f"metric namespace; supported: {NAMESPACE}")
        definitions = self._metrics(query.get("metricnames") or "")
        aggregations = self._aggregations(query.get("aggregation"))
        now = self.telemetry.clock()
        start, end = _span(query.get("starttime"), query.get("endtime"), now)
        grain = _grain(query.get("interval") or "PT1M", end - start)
        if math.ceil((end - start) / grain) > MAX_POINTS:
            raise MetricsError(400, "BadRequest", f"the query asks for more than {MAX_POINTS} data points: "
                                                  "use a larger interval or a shorter timespan")
        resource_ids = self._resources(raw, request.path_params["subscription"], region)
        rows = [r for r in self.telemetry.between(start, end) if r.region == region]
        interval = query.get("interval") or "PT1M"
        if interval.upper() == "FULL":  # Azure answers with the span the one point covers (the SDK parses it)
            interval = _iso_duration(end - start)
        return {"values": [self._resource(rid, region, definitions, aggregations, rows, start, end, grain,
                                          interval) for rid in resource_ids]}

    @staticmethod
    def _metrics(text: str) -> list[MetricDefinition]:
        names = [n.strip().replace("%2", ",") for n in text.split(",") if n.strip()]
        if not names:
            raise MetricsError(400, "BadRequest", "metricnames is required")
        unknown = [n for n in names if n.lower() not in METRICS]
        if unknown:
            valid = ", ".join(m.name for m in METRICS.values())
            raise MetricsError(400, "BadRequest", f"Failed to find metric configuration for provider: "
                                                  f"Microsoft.Web, resource Type: sites, metric: {unknown[0]}, "
                                                  f"Valid metrics: {valid}")
        return [METRICS[n.lower()] for n in names]

    @staticmethod
    def _aggregations(text: str | None) -> list[str] | None:
        """The requested aggregations (lower case); None: each metric's primary one."""
        if not text:
            return None
        wanted = [a.strip().lower() for a in text.split(",") if a.strip()]
        bad = [a for a in wanted if a not in (*AGGREGATIONS, "none")]
        if bad:
            raise MetricsError(400, "BadRequest", f"Invalid aggregation {bad[0]!r}: one of Average, Count, "
                                                  "Minimum, Maximum, Total, None")
        return [a for a in wanted if a != "none"]

    def _resources(self, raw: bytes, subscription: str, region: str) -> list[str]:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise MetricsError(400, "BadRequest", "the request body is not JSON") from None
        ids = body.get("resourceids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise MetricsError(400, "BadRequest", 'the body must be {"resourceids": ["/subscriptions/..."]}')
        if len(ids) > MAX_RESOURCES:
            raise MetricsError(400, "BadRequest", f"at most {MAX_RESOURCES} resource ids per request")
        for resource_id in ids:
            if f"/subscriptions/{subscription.lower()}/" not in resource_id.lower() + "/":
                raise MetricsError(400, "BadRequest", f"resource {resource_id} is not in subscription {subscription}")
            home = self.region_of.get(resource_id.rstrip("/").lower())
            if home is None:
                raise MetricsError(404, "ResourceNotFound", f"The Resource '{resource_id}' was not found.")
            if home != region:
                raise MetricsError(400, "BadRequest", f"resource {resource_id} is in region {home}, not {region}: "
                                                      f"query it at the {home} metrics endpoint")
        return ids

    def _resource(self, resource_id: str, region: str, definitions: list[MetricDefinition],
                  aggregations: list[str] | None, rows: list[RequestRecord], start: float, end: float,
                  grain: float, interval: str) -> dict[str, Any]:
        buckets: list[list[RequestRecord]] = [[] for _ in range(max(1, math.ceil((end - start) / grain)))]
        for record in rows:
            buckets[min(len(buckets) - 1, int((record.at - start) // grain))].append(record)
        metrics = []
        for definition in definitions:
            wanted = aggregations if aggregations is not None else [definition.primary.lower()]
            data = []
            for index, bucket in enumerate(buckets):
                point: dict[str, Any] = {"timeStamp": _iso(start + index * grain)}
                if bucket:
                    point.update(_aggregate([definition.sample(r) for r in bucket], wanted))
                data.append(point)
            metrics.append({
                "id": f"{resource_id}/providers/Microsoft.Insights/metrics/{definition.name}",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": definition.name, "localizedValue": definition.display},
                "displayDescription": definition.description,
                "unit": definition.unit,
                "timeseries": [{"metadatavalues": [], "data": data}],
                "errorCode": "Success",
            })
        return {"starttime": _iso(start), "endtime": _iso(end), "interval": interval, "value": metrics,
                "namespace": NAMESPACE.lower(), "resourceregion": region, "resourceid": resource_id}

    @staticmethod
    def _json(status: int, body: Any) -> Response:
        return Response(json.dumps(body), status_code=status, media_type="application/json; charset=utf-8",
                        headers={"x-ms-request-id": str(uuid.uuid4())})


def _aggregate(samples: list[float], wanted: list[str]) -> dict[str, float]:
    values = {"total": sum(samples), "count": float(len(samples)), "minimum": min(samples),
              "maximum": max(samples)}
    values["average"] = values["total"] / len(samples)
    return {name: values[name] for name in wanted}


_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def _grain(text: str, span: float) -> float:
    """``PT1M``-style seconds; ``FULL`` is the whole timespan as one point."""
    if text.upper() == "FULL":
        return max(span, 1e-6)
    match = _DURATION.match(text.upper())
    if not match or text.upper() in ("P", "PT"):
        raise MetricsError(400, "BadRequest", f"interval {text!r} is not an ISO 8601 duration or FULL")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    grain = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds).total_seconds()
    if grain <= 0:
        raise MetricsError(400, "BadRequest", f"interval {text!r} must be positive")
    return grain


def _span(start: str | None, end: str | None, now: float) -> tuple[float, float]:
    """The timespan: both ends, a start until now, or the last hour (the API's default)."""
    end_at = _instant(end) if end else now
    start_at = _instant(start) if start else end_at - 3600
    if end and not start:
        raise MetricsError(400, "BadRequest", "starttime is required when endtime is given")
    if end_at <= start_at:
        raise MetricsError(400, "BadRequest", "endtime must be after starttime")
    return start_at, end_at


def _instant(text: str) -> float:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MetricsError(400, "BadRequest", f"{text!r} is not an ISO 8601 time") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).timestamp()


def _iso_duration(seconds: float) -> str:
    """``PT4H``, ``PT3.25S``: an ISO 8601 duration (hours, minutes, seconds) the SDK reads back."""
    hours, rest = divmod(round(seconds, 3), 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT" + (f"{int(hours)}H" if hours else "") + (f"{int(minutes)}M" if minutes else "")
    if secs or text == "PT":
        text += f"{secs:.3f}".rstrip("0").rstrip(".") + "S"
    return text


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


__all__ = ["METRICS", "NAMESPACE", "MetricsError", "PlatformMetricsApi"]
