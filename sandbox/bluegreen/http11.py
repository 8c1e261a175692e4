"""A small HTTP/1.1 server on ``asyncio.Protocol``: the wire under every demo server.

Why not uvicorn + starlette: on this 2-core machine, with the two versions, the router and
the load all sharing one interpreter, uvicorn (pure-Python h11, no httptools here) + starlette
+ a shared ``httpx.AsyncClient`` proxied only ≈ 650 req/s with 25 ms average latency, below
the 1000 req/s a migration probe must drive. This protocol plus ``upstream.py`` does the same
job at several thousand req/s (see ``bench.py``), because a request costs one parse, one task
and one ``transport.write``.

It implements what the demo's clients need, and rejects the rest plainly:
- request bodies by ``Content-Length`` or ``Transfer-Encoding: chunked`` (up to ``max_body``),
  ``Expect: 100-continue``;
- keep-alive (HTTP/1.1 default, HTTP/1.0 on request) and pipelining (answered in order);
- ``HEAD`` on any route answers the headers of the ``GET`` without the body;
- malformed requests get 400 (or 413/431/501) and the connection is closed;
- a handler that raises gets a JSON 500 and the connection stays usable;
- idle connections are closed after ``idle_timeout``; ``stop()`` closes idle connections at
  once, lets in-flight requests finish for ``grace`` seconds, then aborts the rest.
No TLS, no HTTP/2, no upgrades, no trailers.
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

log = logging.getLogger("odin_drills.sandbox.bluegreen")

MAX_HEAD_BYTES = 64 * 1024
DEFAULT_MAX_BODY = 1024 * 1024

Headers = list[tuple[str, str]]


@dataclass(slots=True)
class HttpRequest:
    """One parsed request. Header names are lower-case, in arrival order."""

    method: str
    target: str  # raw request-target as sent: path plus query, still percent-encoded
    path: str  # percent-decoded path, for routing
    query: str  # raw query string without '?'
    http_version: str
    headers: Headers
    body: bytes
    client: str = ""

    def header(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return default


@dataclass(slots=True)
class HttpResponse:
    status: int
    body: bytes = b""
    headers: Headers = field(default_factory=list)


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


def json_response(status: int, payload: object, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return HttpResponse(status, body, [("content-type", "application/json"), *headers])


_REASONS = {status.value: status.phrase for status in http.HTTPStatus}


def reason(status: int) -> str:
    return _REASONS.get(status, "Unknown")


class ProtocolError(Exception):
    """A request that cannot be parsed; answered with ``status`` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def origin_form(target: str) -> str:
    """The path-and-query of a request-target; an absolute-form target is reduced to it."""
    if target.startswith("/") or target == "*":
        return target
    rest = target.split("://", 1)[1] if "://" in target else target
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    tail = rest[cut:]
    return tail if tail.startswith("/") else "/" + tail


def split_target(target: str) -> tuple[str, str]:
    """Split a request-target into (percent-decoded path, raw query)."""
    raw_path, _, query = origin_form(target).partition("?")
    return unquote(raw_path) or "/", query


def parse_head(head: bytes) -> tuple[str, Headers]:
    """Parse a request or status line and its headers: (first line, headers)."""
    text = head.decode("latin-1")
    lines = text.split("\r\n")
    headers: Headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name[-1] in " \t" or name[0] in " \t":
            raise ProtocolError(400, f"malformed header line {line[:60]!r}")
        headers.append((name.lower(), value.strip(" \t")))
    return lines[0], headers


def connection_tokens(headers: Headers) -> set[str]:
    tokens: set[str] = set()
    for name, value in headers:
        if name == "connection":
            tokens.update(token.strip().lower() for token in value.split(","))
    return tokens


def body_framing(headers: Headers, max_body: int) -> tuple[str, int]:
    """How the body is delimited: ("length", n) or ("chunked", 0). Rejects ambiguity."""
    lengths = {value for name, value in headers if name == "content-length"}
    codings = [value for name, value in headers if name == "transfer-encoding"]
    if codings:
        if lengths:
            raise ProtocolError(400, "both Content-Length and Transfer-Encoding sent")
        last = ",".join(codings).split(",")[-1].strip().lower()
        if last != "chunked":
            raise ProtocolError(501, f"unsupported transfer-encoding {last!r}")
        return "chunked", 0
    if not lengths:
        return "length", 0
    if len(lengths) > 1:
        raise ProtocolError(400, "conflicting Content-Length headers")
    raw = lengths.pop().strip()
    if not raw.isdigit():
        raise ProtocolError(400, f"invalid Content-Length {raw!r}")
    length = int(raw)
    if length > max_body:
        raise ProtocolError(413, f"body of {length} bytes exceeds the limit of {max_body}")
    return "length", length


def decode_chunked(buffer: bytearray | bytes, start: int, max_body: int) -> tuple[bytes, int] | None:
    """Decode a chunked body beginning at ``start``; (body, end offset) or None if incomplete."""
    pos = start
    parts: list[bytes] = []
    total = 0
    while True:
        line_end = buffer.find(b"\r\n", pos)
        if line_end < 0:
            if len(buffer) - pos > 1024:
                raise ProtocolError(400, "chunk size line too long")
            return None
        size_field = bytes(buffer[pos:line_end]).split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            raise ProtocolError(400, f"invalid chunk size {size_field[:20]!r}") from None
        if size < 0:
            raise ProtocolError(400, "invalid chunk size")
        pos = line_end + 2
        if size == 0:
            # trailers (ignored) end with an empty line
            while True:
                line_end = buffer.find(b"\r\n", pos)
                if line_end < 0:
                    return None
                if line_end == pos:
                    return b"".join(parts), line_end + 2
                pos = line_end + 2
        total += size
        if total > max_body:
            raise ProtocolError(413, f"chunked body exceeds the limit of {max_body} bytes")
        if len(buffer) < pos + size + 2:
            return None
        parts.append(bytes(buffer[pos : pos + size]))
        if buffer[pos + size : pos + size + 2] != b"\r\n":
            raise ProtocolError(400, "chunk not followed by CRLF")
        pos += size + 2


def encode_response(response: HttpResponse, *, keep_alive: bool, head_only: bool, http10: bool) -> bytes:
    """Serialise a response into one buffer so it leaves in one write (no Nagle stalls)."""
    lines = [f"HTTP/1.1 {response.status} {reason(response.status)}"]
    for name, value in response.headers:
        lines.append(f"{name}: {value}")
    if response.status >= 200 and response.status not in (204, 304):
        # a proxied HEAD keeps the upstream's length: the body it describes was never sent
        if not (head_only and any(name == "content-length" for name, _ in response.headers)):
            lines.append(f"content-length: {len(response.body)}")
    if not keep_alive:
        lines.append("connection: close")
    elif http10:
        lines.append("connection: keep-alive")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if head_only or response.status in (204, 304):
        return head
    return head + response.body


class _Connection(asyncio.Protocol):
    """One client connection: parse, hand each request to the handler in order, write back."""

    __slots__ = (
        "_server",
        "_transport",
        "_buffer",
        "_pending_head",
        "_busy",
        "_closing",
        "_sent_continue",
        "_task",
        "last_activity",
        "_peer",
    )

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._pending_head: tuple | None = None
        self._busy = False
        self._closing = False
        self._sent_continue = False
        self._task: asyncio.Task | None = None
        self.last_activity = 0.0
        self._peer = ""

    # asyncio callbacks -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self._peer = f"{peer[0]}" if peer else ""
        self.last_activity = self._server.loop.time()
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._transport = None
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        self.last_activity = self._server.loop.time()
        if not self._busy:
            self._process()
        elif len(self._buffer) > MAX_HEAD_BYTES + self._server.max_body and self._transport:
            self._transport.pause_reading()

    def eof_received(self) -> bool | None:
        if not self._busy:
            self.close()
        else:
            self._closing = True
        return True  # keep the write side open until the in-flight response is written

    # state used by the server --------------------------------------------------------------
    @property
    def idle(self) -> bool:
        return not self._busy

    def close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def close_when_idle(self) -> None:
        self._closing = True
        if not self._busy:
            self.close()

    # request loop ----------------------------------------------------------------------------
    def _process(self) -> None:
        while not self._busy and self._transport is not None and not self._closing:
            try:
                request = self._next_request()
            except ProtocolError as exc:
                self._reject(exc)
                return
            if request is None:
                if self._transport is not None and len(self._buffer) < MAX_HEAD_BYTES:
                    self._transport.resume_reading()
                return
            self._busy = True
            self._task = self._server.loop.create_task(self._respond(request))

    def _next_request(self) -> HttpRequest | None:
        buf = self._buffer
        if self._pending_head is None:
            while buf.startswith(b"\r\n"):  # tolerated before a request line (RFC 9112 2.2)
                del buf[:2]
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD_BYTES:
                    raise ProtocolError(431, "request head too large")
                return None
            if end > MAX_HEAD_BYTES:
                raise ProtocolError(431, "request head too large")
            first_line, headers = parse_head(bytes(buf[:end]))
            del buf[: end + 4]
            parts = first_line.split(" ")
            if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
                raise ProtocolError(400, f"malformed request line {first_line[:80]!r}")
            method, target, version = parts
            if version not in ("HTTP/1.1", "HTTP/1.0"):
                raise ProtocolError(505, f"unsupported HTTP version {version[:16]!r}")
            framing, length = body_framing(headers, self._server.max_body)
            self._pending_head = (method, target, version, headers, framing, length)
            self._sent_continue = False
        method, target, version, headers, framing, length = self._pending_head
        if framing == "length":
            if len(buf) < length:
                self._maybe_continue(headers)
                return None
            body = bytes(buf[:length])
            del buf[:length]
        else:
            decoded = decode_chunked(buf, 0, self._server.max_body)
            if decoded is None:
                self._maybe_continue(headers)
                return None
            body, end = decoded
            del buf[:end]
        self._pending_head = None
        path, query = split_target(target)
        return HttpRequest(method, target, path, query, version, headers, body, self._peer)

    def _maybe_continue(self, headers: Headers) -> None:
        if self._sent_continue or self._transport is None:
            return
        for name, value in headers:
            if name == "expect" and value.lower() == "100-continue":
                self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                self._sent_continue = True
                return

    async def _respond(self, request: HttpRequest) -> None:
        tokens = connection_tokens(request.headers)
        http10 = request.http_version == "HTTP/1.0"
        keep_alive = ("keep-alive" in tokens) if http10 else ("close" not in tokens)
        try:
            response = await self._server.handler(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the handler's bug must not kill the connection
            log.exception("%s: handler failed on %s %s", self._server.name, request.method, request.target)
            response = json_response(500, {"error": f"internal error: {type(exc).__name__}"})
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        keep_alive = keep_alive and not self._closing and not self._server.stopping
        transport.write(
            encode_response(response, keep_alive=keep_alive, head_only=request.method == "HEAD", http10=http10)
        )
        self.last_activity = self._server.loop.time()
        self._busy = False
        self._task = None
        if not keep_alive:
            self.close()
        elif self._buffer:
            self._process()
        else:
            transport.resume_reading()

    def _reject(self, exc: ProtocolError) -> None:
        if self._transport is None:
            return
        response = json_response(exc.status, {"error": str(exc)})
        self._transport.write(encode_response(response, keep_alive=False, head_only=False, http10=False))
        self._closing = True
        self.close()


class HttpServer:
    """One listening socket on the running loop, serving one handler.

    ``port=0`` asks the OS for a free port; ``port`` holds the real one after ``start()``.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        idle_timeout: float = 75.0,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.handler = handler
        self.name = name
        self.host = host
        self.port = port
        self.idle_timeout = idle_timeout
        self.max_body = max_body
        self.connections: set[_Connection] = set()
        self.stopping = False
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._server: asyncio.base_events.Server | None = None
        self._sweeper: asyncio.Task | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._server = await self.loop.create_server(
            lambda: _Connection(self), self.host, self.port, reuse_address=True, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._sweeper = self.loop.create_task(self._sweep_idle())

    async def _sweep_idle(self) -> None:
        """Close connections idle past ``idle_timeout``; one timer for all connections is cheaper
        than one per request."""
        interval = min(1.0, self.idle_timeout / 2)
        while True:
            await asyncio.sleep(interval)
            deadline = self.loop.time() - self.idle_timeout
            for conn in list(self.connections):
                if conn.idle and conn.last_activity < deadline:
                    conn.close()

    async def stop(self, grace: float = 0.5) -> None:
        """Stop listening, close idle connections, give in-flight requests ``grace`` seconds."""
        self.stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.close_when_idle()
        deadline = self.loop.time() + grace
        while self.connections and self.loop.time() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(self.connections):
            conn.abort()
        if self._server is not None:
            await self._server.wait_closed()
        self._server = None
