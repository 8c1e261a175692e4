"""Running ASGI apps on background threads: start fast, stop fast, refuse connections on cue.

Each sandbox server is a ``uvicorn.Server`` on its own thread and event loop, so the ARM
endpoint, the edge, the region apps and the admin API keep answering while a test (or the
product's flow) blocks on an SDK call in the main thread. The listening socket is bound before
the thread starts, so the port is known at once (port 0 picks a free one) and the socket already
accepts (queues) connections while uvicorn starts.

``RestartableServer`` is what a region outage needs: its listener is closed (clients get
"connection refused", as from a dead region) and later reopened on the same port.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from typing import Any

import uvicorn

log = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; ``port=0`` picks a free port.

    The protocol is named explicitly: asyncio sets TCP_NODELAY on accepted connections only when
    ``sock.proto == IPPROTO_TCP``, and without it every response stalls ~40 ms (Nagle + delayed
    ACK, headers and body being two writes).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class BackgroundServer:
    """One uvicorn server on a daemon thread."""

    def __init__(self, app: Any, sock: socket.socket, *, name: str,
                 ssl_context: ssl.SSLContext | None = None, lifespan: str = "off") -> None:
        self.name = name
        self._sock = sock
        self.host, self.port = sock.getsockname()[:2]
        kwargs: dict[str, Any] = {}
        if ssl_context is not None:
            kwargs["ssl_context_factory"] = lambda _config, _default: ssl_context
        config = uvicorn.Config(app, lifespan=lifespan, log_config=None, log_level="warning",
                                access_log=False, timeout_graceful_shutdown=1, timeout_keep_alive=5,
                                **kwargs)
        self._server = uvicorn.Server(config)
        # Without a lifespan there is nothing to shut down gracefully, and waiting is harmful:
        # an idle TLS keep-alive connection closes only when the client answers close_notify,
        # which an SDK client holding its pool never does, so shutdown would hang for seconds.
        self._force_on_stop = lifespan == "off"
        self._thread = threading.Thread(target=self._run, name=f"sandbox-{name}", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self._error = exc

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"sandbox server {self.name!r} failed to start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sandbox server {self.name!r} did not start within {timeout} s")
            time.sleep(0.005)

    def signal_stop(self) -> None:
        """Ask the server to stop (returns at once; ``join`` waits)."""
        self._server.should_exit = True
        if self._force_on_stop:
            self._server.force_exit = True

    def join(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        if not self._thread.is_alive():
            self._sock.close()
        else:
            log.warning("sandbox server %s did not stop", self.name)

    def stop(self, timeout: float = 5.0) -> None:
        self.signal_stop()
        self.join(timeout)


class RestartableServer:
    """A server whose listener can be closed and reopened on the same port."""

    def __init__(self, app: Any, sock: socket.socket, *, name: str) -> None:
        self.name = name
        self._app = app
        self.host, self.port = sock.getsockname()[:2]
        self._lock = threading.Lock()
        self._server: BackgroundServer | None = BackgroundServer(app, sock, name=name)

    def start(self) -> None:
        assert self._server is not None
        self._server.start()

    def set_listening(self, listening: bool) -> None:
        """Close (``False``) or reopen (``True``) the listener; idempotent."""
        with self._lock:
            if listening and self._server is None:
                server = BackgroundServer(self._app, bind(self.host, self.port), name=self.name)
                server.start()
                self._server = server
            elif not listening and self._server is not None:
                self._server.stop()
                self._server = None

    def signal_stop(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.signal_stop()

    def join(self, timeout: float = 5.0) -> None:
        with self._lock:
            if self._server is not None:
                self._server.join(timeout)
                self._server = None
