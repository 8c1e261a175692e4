"""Real Prometheus and Alertmanager servers for tests, from the Debian packages.

    apt-get install -y prometheus prometheus-alertmanager
    -> /usr/bin/prometheus, /usr/bin/prometheus-alertmanager

Each server runs on a free 127.0.0.1 port with its config and storage in a temporary folder, in
its own process group, and is stopped by its PID (SIGTERM, then SIGKILL) when the ``with`` block
ends, on success and on failure. A missing binary fails the test when ``CI`` is set (so CI cannot
go green without the servers) and skips it, saying which package to install, on a developer's
machine without them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

PACKAGES = {"prometheus": "prometheus", "prometheus-alertmanager": "prometheus-alertmanager"}


def binary(name: str) -> str:
    """The server binary's path; fails under CI, skips elsewhere, when it is not installed."""
    path = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
    if path is None:
        message = f"{name} is not installed: apt-get install -y {PACKAGES.get(name, name)}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must install it: .ci/run)")
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, process: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/-/ready", timeout=1.0, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout} s: {log.read_text()[-2000:]}")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the server's process group by its PID, SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


@contextmanager
def _server(argv: list[str], url: str, log: Path) -> Iterator[str]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    try:
        _wait_ready(url, process, log)
        yield url
    finally:
        _stop(process)


@contextmanager
def prometheus(folder: Path, jobs: dict[str, dict[str, Any]], *, rules: list[dict[str, Any]] | None = None,
               alertmanager: str | None = None, interval: str = "500ms") -> Iterator[str]:
    """A Prometheus scraping ``jobs`` ({name: {"target": "127.0.0.1:PORT", "path": "/metrics",
    "labels": {...}}}) every ``interval``, evaluating ``rules`` (alerting rules) as often and
    sending alerts to ``alertmanager`` (its base URL). Yields its base URL."""
    exe = binary("prometheus")
    folder.mkdir(parents=True, exist_ok=True)
    timeout = "400ms" if interval == "500ms" else interval
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "scrape_timeout": timeout, "evaluation_interval": interval},
        "scrape_configs": [
            {"job_name": name, "metrics_path": job.get("path", "/metrics"),
             "static_configs": [{"targets": [job["target"]], "labels": job.get("labels", {})}]}
            for name, job in jobs.items()
        ],
    }
    if rules:
        (folder / "rules.yml").write_text(yaml.safe_dump({"groups": [{"name": "odin-tests", "interval": interval,
                                                                      "rules": rules}]}))
        config["rule_files"] = [str(folder / "rules.yml")]
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager.split("://")[1]]}]}]}
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    argv = [exe, f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]
    with _server(argv, f"http://127.0.0.1:{port}", folder / "prometheus.log") as url:
        yield url


@contextmanager
def alertmanager(folder: Path) -> Iterator[str]:
    """An Alertmanager with one receiver that notifies nobody, clustering off. Yields its base URL."""
    exe = binary("prometheus-alertmanager")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alertmanager.yml").write_text(yaml.safe_dump({
        "route": {"receiver": "nobody", "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "nobody"}],
    }))
    port = free_port()
    argv = [exe, f"--config.file={folder / 'alertmanager.yml'}", f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"]
    with _server(argv, f"http://127.0.0.1:{port}", folder / "alertmanager.log") as url:
        yield url


def wait_until(check: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll ``check()`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def scraped(prometheus_url: str, job: str) -> bool:
    """Whether Prometheus has scraped ``job`` successfully at least twice (a rate needs two points)."""
    body = httpx.get(prometheus_url + "/api/v1/query", params={"query": f'count_over_time(up{{job="{job}"}}[1m])'},
                     trust_env=False).json()
    result = body.get("data", {}).get("result", [])
    return bool(result) and float(result[0]["value"][1]) >= 2


class Load:
    """Real traffic to the demo from a background thread, until stopped (closed loop: ~100 req/s)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._run, name="test load", daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while not self.stop.is_set():
                try:
                    client.get(self.url)
                except httpx.HTTPError:
                    self.stop.wait(0.01)
                self.sent += 1

    def __enter__(self) -> "Load":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
