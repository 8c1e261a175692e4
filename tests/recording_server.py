"""A TCP listener on 127.0.0.1 that records every connection made to it, whatever is sent.

For "nothing ran" checks: plans under test point every URL here, and the test asserts that no
connection arrived. It counts connections, not parsed requests, so a half-sent request, an
unusual method or a TLS hello counts too. Each connection gets ``HTTP/1.0 200`` and is closed.
The listener is stopped (closed and its thread joined) when the ``with`` block ends.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType


class RecordingServer:
    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._lock = threading.Lock()
        self._first_lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"recording server :{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connections(self) -> list[str]:
        """The first line each connection sent (empty when it sent nothing), in arrival order."""
        with self._lock:
            return list(self._first_lines)

    def _serve(self) -> None:
        self._sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(1.0)
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                with self._lock:
                    self._first_lines.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
                try:
                    conn.sendall(b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok")
                except OSError:
                    pass

    def __enter__(self) -> RecordingServer:
        self._sock.listen(64)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()
