"""Measure the router: throughput, and the latency it adds over calling a version directly.

    python -m odin_drills.sandbox.bluegreen.bench [--seconds 5] [--concurrency 32] [--rate 1000]

The demo runs in its own process (``python -m odin_drills.sandbox.bluegreen --port 0``), as it does in a
drill, and the load comes from this process through the same keep-alive pool the router uses,
so the load generator is not the bottleneck (HTTP-NOTES: a shared ``httpx.AsyncClient`` would
be). Each measurement is taken against blue directly and through the router:

- closed loop, natural latency off, ``--concurrency`` in flight: the most req/s each path carries;
- one request at a time, natural latency off: the router's own cost per request;
- open loop at ``--rate`` req/s with the default natural latency (median 8 ms): whether the
  router holds the rate a probe needs, and the latency it adds (router p50 - direct p50),
  timed from each request's scheduled start so a stall cannot hide (no coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from .stats import percentile
from .upstream import UpstreamError, UpstreamPool


@contextmanager
def demo_process(*extra: str) -> Iterator[dict]:
    """Start the demo as a child process; yield its ready line; always stop it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "odin_drills.sandbox.bluegreen", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def _pool(url: str) -> UpstreamPool:
    parts = urlsplit(url)
    return UpstreamPool(parts.hostname or "127.0.0.1", parts.port or 80, timeout=10.0)


def _summary(latencies: list[float], errors: int, elapsed: float) -> dict[str, float | int | None]:
    values = sorted(latencies)
    return {
        "requests": len(values),
        "req_per_s": round(len(values) / elapsed, 1),
        "non_2xx": errors,
        "p50_ms": round(percentile(values, 50) or 0, 2),
        "p95_ms": round(percentile(values, 95) or 0, 2),
        "p99_ms": round(percentile(values, 99) or 0, 2),
    }


async def closed_loop(url: str, seconds: float, concurrency: int, path: str = "/api/orders/1") -> dict:
    pool = _pool(url)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                response = await pool.request("GET", path)
                errors += response.status >= 300
            except UpstreamError:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result = _summary(latencies, errors, time.perf_counter() - began)
    pool.close()
    return result


async def open_loop(url: str, seconds: float, rate: float, path: str = "/api/orders/1") -> dict:
    pool = _pool(url)
    latencies: list[float] = []
    errors = 0
    tasks: set[asyncio.Task] = set()

    async def one(scheduled: float) -> None:
        nonlocal errors
        try:
            response = await pool.request("GET", path)
            errors += response.status >= 300
        except UpstreamError:
            errors += 1
        latencies.append((time.perf_counter() - scheduled) * 1000)

    began = time.perf_counter()
    total = int(seconds * rate)
    sent = 0
    while sent < total:
        due = min(total, int((time.perf_counter() - began) * rate) + 1)
        while sent < due:
            task = asyncio.create_task(one(began + sent / rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        await asyncio.sleep(0.001)
    await asyncio.gather(*tasks)
    result = _summary(latencies, errors, time.perf_counter() - began)
    result["target_req_per_s"] = rate
    pool.close()
    return result


async def _measure(args: argparse.Namespace) -> dict:
    report: dict[str, dict] = {}
    with demo_process("--latency-median-ms", "0", "--error-rate", "0") as urls:
        direct, router = urls["version_urls"]["blue"], urls["router_url"]
        await closed_loop(router, 1.0, args.concurrency)  # warm up
        report["max_throughput_direct"] = await closed_loop(direct, args.seconds, args.concurrency)
        report["max_throughput_router"] = await closed_loop(router, args.seconds, args.concurrency)
        report["one_at_a_time_direct"] = await closed_loop(direct, args.seconds / 2, 1)
        report["one_at_a_time_router"] = await closed_loop(router, args.seconds / 2, 1)
    with demo_process() as urls:
        direct, router = urls["version_urls"]["blue"], urls["router_url"]
        await open_loop(router, 1.0, args.rate)  # warm up
        report["at_rate_direct"] = await open_loop(direct, args.seconds, args.rate)
        report["at_rate_router"] = await open_loop(router, args.seconds, args.rate)
    report["added_by_router_ms"] = {
        "one_at_a_time_p50": _diff(report, "one_at_a_time", "p50_ms"),
        "one_at_a_time_p95": _diff(report, "one_at_a_time", "p95_ms"),
        "at_rate_p50": _diff(report, "at_rate", "p50_ms"),
        "at_rate_p95": _diff(report, "at_rate", "p95_ms"),
    }
    return report


def _diff(report: dict[str, dict], kind: str, key: str) -> float:
    return round(report[f"{kind}_router"][key] - report[f"{kind}_direct"][key], 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m odin_drills.sandbox.bluegreen.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=1000.0)
    report = asyncio.run(_measure(parser.parse_args(argv)))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
