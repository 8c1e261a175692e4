"""A Log Analytics query endpoint serving the demo service's request telemetry (Application Insights).

What ``azure-monitor-query``'s real ``LogsQueryClient`` talks to, over HTTPS with the sandbox CA:
``POST /v1/workspaces/{workspaceId}/query`` with ``{"query": KQL, "timespan": ISO 8601}`` answers
``{"tables": [{"name": "PrimaryResult", "columns": [{"name", "type"}], "rows": [[...]]}]}``, the
shape of Microsoft's published example (``tests/contract/azure-rest-examples/loganalytics``).

**This is not a KQL engine.** It answers exactly one query form, the per-window summary odin's
``azure_monitor`` metric source sends (recognised by its first line, ``// odin-drills:requests-window``)::

    // odin-drills:requests-window v1
    AppRequests                                  (or the classic table: requests)
    | where AppRoleName == "odin-demo"           (optional; cloud_RoleName in requests)
    | summarize requests = count(), failed = countif(Success == false),
        p50 = percentile(DurationMs, 50), ..., le_0 = countif(DurationMs <= 5), ...

(the ``summarize`` on one line). Every aggregate is parsed and computed over the recorded
requests of the timespan; anything else (another table, operator, function or column) is refused
with ``400 BadArgumentError`` in Log Analytics' error shape, so a test can never pass on a query
the sandbox silently misread. ``percentile`` here is exact (nearest rank); Azure's is an estimate.

Telemetry is recorded by :func:`recorded`, an ASGI wrapper around each region's demo app: one
row per request that reached the app (start time, duration, result code, success = status < 400,
as the Application Insights SDK counts it, role ``odin-demo``, instance = region). A region whose
listener is closed (an outage) records nothing, as a real app that is down sends no telemetry.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROLE_NAME = "odin-demo"
MARKER = "// odin-drills:requests-window v1"
MAX_RECORDS = 500_000
"""Rows kept (the oldest go first): hours of 1,000 req/s in well under 100 MB."""

# Column names per table: (time, success, duration in ms, role name).
_TABLES = {
    "AppRequests": ("TimeGenerated", "Success", "DurationMs", "AppRoleName"),
    "requests": ("timestamp", "success", "duration", "cloud_RoleName"),
}
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"


@dataclass(frozen=True)
class RequestRecord:
    """One request as Application Insights would log it."""

    at: float  # request start, seconds since the epoch (the sandbox clock)
    duration_ms: float
    result_code: int
    region: str
    name: str

    @property
    def success(self) -> bool:
        return self.result_code < 400


class RequestTelemetry:
    """The recorded requests; thread-safe (the region apps write, the query endpoint reads)."""

    def __init__(self, clock: Callable[[], float] = time.time, max_records: int = MAX_RECORDS) -> None:
        self.clock = clock
        self._rows: deque[RequestRecord] = deque(maxlen=max_records)
        self._lock = threading.Lock()

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._rows.append(record)

    def between(self, start: float, end: float) -> list[RequestRecord]:
        """Requests that started in ``[start, end)`` (the ground truth a test compares with)."""
        with self._lock:
            return [r for r in self._rows if start <= r.at < end]

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


def recorded(app: Any, telemetry: RequestTelemetry, region: str) -> Any:
    """``app`` (ASGI) with every HTTP request it answers recorded in ``telemetry``."""

    async def wrapper(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started_at, started = telemetry.clock(), time.perf_counter()
        status = [500]  # an app that raises before answering is a failed request

        async def send_and_note(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, send_and_note)
        finally:
            telemetry.add(RequestRecord(at=started_at, duration_ms=(time.perf_counter() - started) * 1000,
                                        result_code=status[0], region=region,
                                        name=f"{scope.get('method', 'GET')} {scope.get('path', '/')}"))

    return wrapper


# ---------------------------------------------------------------------------------- the query form

class UnsupportedQuery(ValueError):
    """A query outside the one form this endpoint answers (the message says what was not understood)."""


@dataclass(frozen=True)
class _Aggregate:
    name: str
    op: str  # count | failed | percentile | le
    value: float = 0.0


@dataclass(frozen=True)
class WindowQuery:
    table: str
    role: str | None
    aggregates: tuple[_Aggregate, ...]


def parse_query(text: str) -> WindowQuery:
    """The one supported form, or :class:`UnsupportedQuery`."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines or lines[0] != MARKER:
        raise UnsupportedQuery(f"the sandbox answers only odin's window query (first line {MARKER!r}); "
                               "it is not a KQL engine")
    body = lines[1:]
    if not body or body[0] not in _TABLES:
        raise UnsupportedQuery(f"unknown table {body[0] if body else ''!r}: AppRequests or requests")
    table = body[0]
    _, success_col, duration_col, role_col = _TABLES[table]
    role = None
    rest = body[1:]
    if rest and rest[0].startswith("| where "):
        match = re.fullmatch(rf'\| where {role_col} == "([A-Za-z0-9._:/-]+)"', rest[0])
        if not match:
            raise UnsupportedQuery(f"unsupported where clause {rest[0]!r}: only {role_col} == \"NAME\"")
        role, rest = match.group(1), rest[1:]
    if len(rest) != 1 or not rest[0].startswith("| summarize "):
        raise UnsupportedQuery("expected one '| summarize ...' line after the table (and optional where)")
    aggregates = []
    for item in re.split(rf",\s*(?={_NAME} = )", rest[0][len("| summarize "):]):
        aggregates.append(_aggregate(item.strip(), success_col, duration_col))
    names = [a.name for a in aggregates]
    if len(set(names)) != len(names):
        raise UnsupportedQuery("duplicate column names in summarize")
    return WindowQuery(table, role, tuple(aggregates))


def _aggregate(item: str, success_col: str, duration_col: str) -> _Aggregate:
    forms = [
        (rf"({_NAME}) = count\(\)", lambda m: _Aggregate(m.group(1), "count")),
        (rf"({_NAME}) = countif\({success_col} == false\)", lambda m: _Aggregate(m.group(1), "failed")),
        (rf"({_NAME}) = percentile\({duration_col}, ({_NUMBER})\)",
         lambda m: _Aggregate(m.group(1), "percentile", float(m.group(2)))),
        (rf"({_NAME}) = countif\({duration_col} <= ({_NUMBER})\)",
         lambda m: _Aggregate(m.group(1), "le", float(m.group(2)))),
    ]
    for pattern, build in forms:
        match = re.fullmatch(pattern, item)
        if match:
            aggregate = build(match)
            if aggregate.op == "percentile" and not 0 <= aggregate.value <= 100:
                raise UnsupportedQuery(f"percentile out of range in {item!r}")
            return aggregate
    raise UnsupportedQuery(f"unsupported aggregate {item!r}")


def evaluate(query: WindowQuery, rows: list[RequestRecord]) -> tuple[list[dict[str, str]], list[list[Any]]]:
    """Columns and the single row ``summarize`` yields (one row even with no requests, as in KQL;
    percentiles of nothing are null)."""
    if query.role is not None and query.role != ROLE_NAME:
        rows = []
    durations = sorted(r.duration_ms for r in rows)
    columns, row = [], []
    for aggregate in query.aggregates:
        if aggregate.op == "count":
            columns.append({"name": aggregate.name, "type": "long"})
            row.append(len(rows))
        elif aggregate.op == "failed":
            columns.append({"name": aggregate.name, "type": "long"})
            row.append(sum(1 for r in rows if not r.success))
        elif aggregate.op == "le":
            columns.append({"name": aggregate.name, "type": "long"})
            row.append(sum(1 for d in durations if d <= aggregate.value))
        else:
            columns.append({"name": aggregate.name, "type": "real"})
            if durations:
                rank = max(1, math.ceil(aggregate.value / 100 * len(durations)))
                row.append(durations[rank - 1])
            else:
                row.append(None)
    return columns, [row]


_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def parse_timespan(text: str | None, now: float) -> tuple[float, float]:
    """``start/end`` (ISO 8601 datetimes, what the SDK sends for a pair of datetimes), ``start/duration``,
    or a duration ending now (``PT12H``); None or empty: everything."""
    if not text:
        return -math.inf, math.inf
    if "/" in text:
        first, second = text.split("/", 1)
        start = _instant(first)
        end = start + _duration(second) if second.startswith("P") else _instant(second)
        return start, end
    return now - _duration(text), now


def _instant(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise UnsupportedQuery(f"timespan: {text!r} is not an ISO 8601 datetime") from None


def _duration(text: str) -> float:
    match = _DURATION.match(text)
    if not match or text == "P":
        raise UnsupportedQuery(f"timespan: {text!r} is not an ISO 8601 duration")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds).total_seconds()


# ---------------------------------------------------------------------------------- the HTTP API

class LogAnalyticsApi:
    """Starlette app for ``POST /v1/workspaces/{workspaceId}/query`` (one workspace)."""

    def __init__(self, telemetry: RequestTelemetry, *, workspace_id: str) -> None:
        self.telemetry = telemetry
        self.workspace_id = workspace_id
        self.app = Starlette(routes=[Route("/v1/workspaces/{workspace}/query", self.query, methods=["POST"])])

    async def query(self, request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self._error(401, "AuthorizationRequiredError", "Valid authentication was not provided")
        if request.path_params["workspace"].lower() != self.workspace_id.lower():
            return self._error(404, "WorkspaceNotFoundError",
                               f"The workspace could not be found: {request.path_params['workspace']}")
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return self._bad("the request body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return self._bad("the body must be {\"query\": \"...\", \"timespan\": \"...\"}")
        try:
            parsed = parse_query(body["query"])
            start, end = parse_timespan(body.get("timespan"), self.telemetry.clock())
        except UnsupportedQuery as exc:
            return self._bad(str(exc))
        columns, rows = evaluate(parsed, self.telemetry.between(start, end))
        return self._json(200, {"tables": [{"name": "PrimaryResult", "columns": columns, "rows": rows}]})

    def _json(self, status: int, body: Any) -> Response:
        return Response(json.dumps(body), status_code=status, media_type="application/json; charset=utf-8",
                        headers={"x-ms-request-id": str(uuid.uuid4())})

    def _error(self, status: int, code: str, message: str, inner: dict[str, str] | None = None) -> Response:
        error: dict[str, Any] = {"message": message, "code": code, "correlationId": str(uuid.uuid4())}
        if inner:
            error["innererror"] = inner
        return self._json(status, {"error": error})

    def _bad(self, why: str) -> Response:
        return self._error(400, "BadArgumentError", "The request had some invalid properties",
                           {"code": "SemanticError", "message": why})
