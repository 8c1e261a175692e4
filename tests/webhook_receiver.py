"""A real webhook endpoint on 127.0.0.1 for tests: records every POST with its arrival time.

Replies are scripted per path (``receiver.reply("/hook", Reply(500), Reply(200))``); once a path's
script runs out it answers ``200 ok``. The server is stopped (shutdown, server_close, join) when the
``with`` block ends, on success and failure; ``server_close`` also joins the request threads.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    path: str
    body: Any
    headers: dict[str, str]
    at: float  # time.monotonic() when the request had been read


class WebhookReceiver:
    def __init__(self) -> None:
        self._received: list[Received] = []
        self._replies: dict[str, deque[Reply]] = {}
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- set up and inspect ------------------------------------------------------------------

    def url(self, path: str = "/hook") -> str:
        assert self._server is not None, "receiver not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def reply(self, path: str, *replies: Reply) -> None:
        with self._changed:
            self._replies.setdefault(path, deque()).extend(replies)

    def received(self, path: str | None = None) -> list[Received]:
        with self._changed:
            return [r for r in self._received if path is None or r.path == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 10.0) -> list[Received]:
        """The first ``count`` requests (on ``path``), waiting up to ``timeout`` s; AssertionError if fewer came."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                got = [r for r in self._received if path is None or r.path == path]
                left = deadline - time.monotonic()
                if len(got) >= count or left <= 0:
                    break
                self._changed.wait(left)
        assert len(got) >= count, f"expected {count} webhook calls on {path or 'any path'}, got {len(got)}"
        return got[:count]

    # -- the server --------------------------------------------------------------------------

    def _record(self, path: str, raw: bytes, headers: dict[str, str]) -> Reply:
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._changed:
            self._received.append(Received(path=path, body=body, headers=headers, at=time.monotonic()))
            script = self._replies.get(path)
            reply = script.popleft() if script else Reply()
            self._changed.notify_all()
        return reply

    def __enter__(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers at close
            timeout = 10

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                reply = receiver._record(self.path, raw, {k.lower(): v for k, v in self.headers.items()})
                data = reply.body.encode()
                self.send_response(reply.status)
                self.send_header("content-type", "text/plain; charset=utf-8")
                self.send_header("content-length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = False
        server.block_on_close = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="webhook receiver", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        server, thread = self._server, self._thread
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=10)


@contextmanager
def refused_url(path: str = "/hook") -> Iterator[str]:
    """A URL on 127.0.0.1 that refuses connections: a port held bound but never listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}{path}"
    finally:
        sock.close()
