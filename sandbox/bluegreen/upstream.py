"""A keep-alive HTTP/1.1 connection pool to one upstream: the router's way to reach a version.

Why not ``httpx.AsyncClient``: HTTP-NOTES measured one shared client at ≈ 550 req/s with 16
requests in flight, falling as concurrency rises; the router would be the bottleneck of every
drill. This pool costs one write and one parse per request and holds up at several thousand
req/s on the same machine (``bench.py``). It speaks only what our own servers answer:
``Content-Length``, chunked, or read-until-close bodies; interim 1xx responses are skipped.

A pooled connection the server has just closed is retried once on a fresh connection, but only
if not one byte of a response came back - the request was then never processed, so even a POST
is safe to resend.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from .http11 import MAX_HEAD_BYTES, Headers, ProtocolError, connection_tokens, decode_chunked, parse_head


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    headers: Headers
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return default


class UpstreamError(Exception):
    """The upstream could not give an answer; ``status`` is what a proxy should reply (502/504)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _StaleConnection(Exception):
    """The connection closed before any byte of the response arrived."""


class _ClientConnection(asyncio.Protocol):
    """One upstream connection carrying one request at a time."""

    def __init__(self, max_body: int) -> None:
        self.transport: asyncio.Transport | None = None
        self.max_body = max_body
        self.buffer = bytearray()
        self.waiter: asyncio.Future[UpstreamResponse] | None = None
        self.method = "GET"
        self.reusable = True
        self.got_bytes = False
        self.idle_since = 0.0
        self._head: tuple[int, Headers, str, int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.reusable = False
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self._head is not None and self._head[2] == "close":
            status, headers, _, _ = self._head
            waiter.set_result(UpstreamResponse(status, headers, bytes(self.buffer)))
        elif not self.got_bytes:
            waiter.set_exception(_StaleConnection())
        else:
            waiter.set_exception(UpstreamError(502, "upstream closed the connection mid-response"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.got_bytes = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        try:
            response = self._parse()
        except (ProtocolError, ValueError, IndexError) as exc:
            self.reusable = False
            waiter.set_exception(UpstreamError(502, f"malformed upstream response: {exc}"))
            self.abort()
            return
        if response is not None:
            waiter.set_result(response)

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def abort(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    def send(self, payload: bytes, method: str) -> asyncio.Future[UpstreamResponse]:
        assert self.transport is not None
        self.method = method
        self.got_bytes = False
        self._head = None
        self.buffer.clear()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return self.waiter

    def _parse(self) -> UpstreamResponse | None:
        buf = self.buffer
        while self._head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD_BYTES:
                    raise ProtocolError(502, "upstream response head too large")
                return None
            first_line, headers = parse_head(bytes(buf[:end]))
            del buf[: end + 4]
            version, status_text = first_line.split(" ", 2)[:2]
            status = int(status_text)
            if 100 <= status < 200:
                continue  # interim response: the real one follows
            tokens = connection_tokens(headers)
            if "close" in tokens or (version == "HTTP/1.0" and "keep-alive" not in tokens):
                self.reusable = False
            framing, length = "length", 0
            if self.method == "HEAD" or status in (204, 304):
                pass
            elif any(name == "transfer-encoding" for name, _ in headers):
                framing = "chunked"
            else:
                raw = next((value for name, value in headers if name == "content-length"), None)
                if raw is None:
                    framing = "close"
                    self.reusable = False
                else:
                    length = int(raw)
            self._head = (status, headers, framing, length)
        status, headers, framing, length = self._head
        if framing == "length":
            if len(buf) < length:
                return None
            body = bytes(buf[:length])
            del buf[:length]
        elif framing == "chunked":
            decoded = decode_chunked(buf, 0, self.max_body)
            if decoded is None:
                return None
            body, end = decoded
            del buf[:end]
        else:
            return None  # read until close: completed in connection_lost
        if buf:
            self.reusable = False  # bytes we did not ask for: do not trust this connection
        return UpstreamResponse(status, headers, body)


class UpstreamPool:
    """Keep-alive connections to ``host:port``, at most ``max_connections`` in use at once."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 5.0,
        max_connections: int = 512,
        idle_timeout: float = 15.0,
        max_body: int = 16 * 1024 * 1024,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.max_body = max_body
        self._authority = f"{host}:{port}".encode("latin-1")
        self._idle: deque[_ClientConnection] = deque()
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False

    async def request(
        self, method: str, target: str, headers: Headers = (), body: bytes = b""  # type: ignore[assignment]
    ) -> UpstreamResponse:
        """Send one request and return the whole response; raises ``UpstreamError``."""
        payload = self._encode(method, target, headers, body)
        async with self._slots:
            for attempt in (1, 2):
                conn, reused = await self._acquire()
                try:
                    response = await self._exchange(conn, payload, method)
                except _StaleConnection:
                    conn.abort()
                    if reused and attempt == 1:
                        continue
                    raise UpstreamError(502, "upstream closed the connection without answering") from None
                except BaseException:
                    conn.abort()
                    raise
                self._release(conn)
                return response
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close idle connections; connections in use are closed when they come back."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()

    def _encode(self, method: str, target: str, headers: Headers, body: bytes) -> bytes:
        lines = [f"{method} {target} HTTP/1.1".encode("latin-1"), b"host: " + self._authority]
        lines.extend(f"{name}: {value}".encode("latin-1") for name, value in headers)
        if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
            lines.append(b"content-length: %d" % len(body))
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    async def _acquire(self) -> tuple[_ClientConnection, bool]:
        loop = asyncio.get_running_loop()
        stale_before = loop.time() - self.idle_timeout
        while self._idle:
            conn = self._idle.pop()  # most recently used first: warmest, least likely closed
            if conn.open and conn.idle_since >= stale_before:
                return conn, True
            conn.close()
        if self._closed:
            raise UpstreamError(502, "upstream pool is closed")
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(
                    lambda: _ClientConnection(self.max_body), self.host, self.port
                )
        except TimeoutError:
            raise UpstreamError(504, f"connecting to {self.host}:{self.port} timed out") from None
        except OSError as exc:
            raise UpstreamError(502, f"cannot connect to {self.host}:{self.port}: {exc.strerror or exc}") from None
        return conn, False

    async def _exchange(self, conn: _ClientConnection, payload: bytes, method: str) -> UpstreamResponse:
        future = conn.send(payload, method)
        loop = asyncio.get_running_loop()
        timer = loop.call_later(self.timeout, _expire, future, self.timeout)
        try:
            return await future
        finally:
            timer.cancel()
            conn.waiter = None

    def _release(self, conn: _ClientConnection) -> None:
        if conn.reusable and conn.open and not self._closed:
            conn.idle_since = asyncio.get_running_loop().time()
            self._idle.append(conn)
        else:
            conn.close()


def _expire(future: asyncio.Future, timeout: float) -> None:
    if not future.done():
        future.set_exception(UpstreamError(504, f"upstream did not answer within {timeout:g} s"))
