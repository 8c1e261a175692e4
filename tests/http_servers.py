"""Small real HTTP servers for tests: an ASGI app on uvicorn in a thread, on 127.0.0.1.

The server is stopped when the ``with`` block ends, on success and on failure.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


def tcp_socket() -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it every response stalls ~40 ms (Nagle + delayed ACK).
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)


@contextmanager
def serve(app: object, **config: object) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL, ``http://127.0.0.1:PORT``.

    ``config`` goes to ``uvicorn.Config``; with ``ssl_certfile`` the URL is ``https://``.
    """
    sock = tcp_socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = {"log_level": "warning", "access_log": False, "lifespan": "off", **config}
    server = uvicorn.Server(uvicorn.Config(app, **settings))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"test server :{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"test server on port {port} did not start")
            time.sleep(0.01)
        yield f"{'https' if 'ssl_certfile' in config else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def refusing_url(path: str = "/") -> Iterator[str]:
    """A URL on 127.0.0.1 where connections are refused: a port held bound but never listening."""
    sock = tcp_socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}{path}"
    finally:
        sock.close()
