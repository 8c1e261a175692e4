"""The demo service's wire: the hand-written HTTP/1.1 server vs uvicorn with httptools (issue 14).

``sandbox/bluegreen/http11.py`` says it exists because uvicorn (then pure-Python h11) could not
carry the demo's rates on 2 cores. httptools is now a dependency, so this re-measures: one demo
version (``VersionService``, natural latency and errors off, so only the wire differs) served by
each server in its own process — ``http11.HttpServer``, and ``uvicorn`` (``http="httptools"``,
the same asyncio loop, no access log) through a thin ASGI adapter onto the same handler — loaded
by an open-loop generator in its own process (``bench/edge.py --load ... pool``: latency from each
request's scheduled time) at each rate, plus a closed loop for the most each carries. The servers'
own CPU time per request (from ``/proc``) is reported beside: on a shared machine it moves far less
with the neighbours' load than latency does. Results: bench/results/demo_server.md.

    .venv/bin/python bench/demo_server.py [--rates 100,500,1000] [--seconds 5] [--reps 2]
    .venv/bin/python bench/demo_server.py --serve http11|uvicorn      # one server (a child)
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.edge import run_load  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "demo_server.md"
SERVERS = ("http11", "uvicorn")
PATH = "/api/orders/42"


def _service() -> Any:
    """One demo version with its natural errors and latency off: what is left to time is the wire."""
    from odin_drills.sandbox.bluegreen.faults import FaultBook
    from odin_drills.sandbox.bluegreen.stats import TrafficStats
    from odin_drills.sandbox.bluegreen.versions import VersionBehaviour, VersionService

    clock = asyncio.get_running_loop().time
    return VersionService("blue", VersionBehaviour(0.0, 0.0, 0.0), seed=0, faults=FaultBook(clock),
                          stats=TrafficStats(clock, 60.0), order_ids=itertools.count(1001), clock=clock)


def asgi(handler: Any) -> Any:
    """An ASGI app around a demo handler: the same request and response objects as http11's."""
    from odin_drills.sandbox.bluegreen.http11 import HttpRequest

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        query = scope["query_string"].decode("latin-1")
        raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        request = HttpRequest(scope["method"], raw + ("?" + query if query else ""), scope["path"], query,
                              "HTTP/" + scope["http_version"],
                              [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]], body,
                              (scope.get("client") or ("", 0))[0])
        response = await handler(request)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    return app


async def serve(kind: str) -> None:
    """Serve one demo version on a free port with ``kind``'s server until SIGTERM; print its URL."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    service = _service()
    if kind == "http11":
        from odin_drills.sandbox.bluegreen.http11 import HttpServer

        server = HttpServer(service.handle, name="blue")
        await server.start()
        port, task = server.port, None
    else:
        import uvicorn

        # proto IPPROTO_TCP, as uvicorn's own bind gets from getaddrinfo: asyncio sets TCP_NODELAY only
        # on such sockets, and without it a head and a body in two writes wait out delayed ACKs (40 ms)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(asgi(service.handle), http="httptools", loop="asyncio", lifespan="off",
                                access_log=False, log_level="warning", backlog=1024)
        server = uvicorn.Server(config)
        task = loop.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
    print(json.dumps({"url": f"http://127.0.0.1:{port}", "pid": os.getpid()}), flush=True)
    await stop.wait()
    if task is None:
        await server.stop()
    else:
        server.should_exit = True
        await task


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def closed(url: str, seconds: float, concurrency: int) -> dict[str, Any]:
    """The most a server carries: ``concurrency`` requests always in flight, in a child process."""
    done = subprocess.run([sys.executable, __file__, "--closed", url, str(seconds), str(concurrency)], cwd=ROOT,
                          capture_output=True, text=True, timeout=seconds * 4 + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"closed-loop generator failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(kind: str, rates: list[float], seconds: float, concurrency: int) -> list[dict[str, Any]]:
    """Start ``kind``'s server, run every rate and the closed loop against it, stop it by PID."""
    process = subprocess.Popen([sys.executable, __file__, "--serve", kind], cwd=ROOT, stdout=subprocess.PIPE,
                               stdin=subprocess.DEVNULL, text=True)
    rows: list[dict[str, Any]] = []
    try:
        ready = json.loads(process.stdout.readline() if process.stdout else "")
        url = ready["url"] + PATH
        run_load(url, 100, 1.0, "pool")  # warm up: connections, caches
        for rate in rates:
            before = cpu_seconds(process.pid)
            result = run_load(url, rate, seconds, "pool")
            cpu = cpu_seconds(process.pid) - before
            rows.append({"server": kind, "rate": rate, **result,
                         "cpu_us_per_request": round(cpu / max(result["requests"], 1) * 1e6, 1)})
        before = cpu_seconds(process.pid)
        result = closed(ready["url"], seconds, concurrency)
        cpu = cpu_seconds(process.pid) - before
        rows.append({"server": kind, "rate": "closed", "requests": result["requests"], "errors": result["non_2xx"],
                     "achieved": result["req_per_s"], "p50": result["p50_ms"], "p95": result["p95_ms"],
                     "p99": result["p99_ms"], "cpu_us_per_request": round(cpu / max(result["requests"], 1) * 1e6, 1)})
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return rows


def report(rows: list[dict[str, Any]], args: argparse.Namespace, load: tuple[float, float]) -> str:
    """Medians over the repetitions, per server and rate, and every window."""
    keys: list[tuple[str, Any]] = []
    for row in rows:
        if (row["server"], row["rate"]) not in keys:
            keys.append((row["server"], row["rate"]))
    lines = [
        "# The demo service's HTTP server: hand-written http11 vs uvicorn + httptools",
        "",
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, CPython {platform.python_version()}, {os.cpu_count()} cores "
        f"shared with other work (load average before {load[0]:.2f}, after {load[1]:.2f}). One demo version "
        "(`VersionService`, natural latency and errors off) per server, each server in its own process; "
        "uvicorn with `http=\"httptools\"`, `loop=\"asyncio\"`, no access log, through a thin ASGI adapter onto the "
        "same handler. Load: `bench/edge.py --load URL RATE SECONDS pool` in its own process (open loop on a "
        f"keep-alive pool, latency from each request's scheduled time), GET `{PATH}`, {args.seconds:g} s per window, "
        f"{args.reps} repetition(s) alternating the server order; `closed`: {args.concurrency} requests always in "
        "flight (the most each carries). CPU = the server process's user+system time per request. "
        f"Reproduce: `.venv/bin/python bench/demo_server.py --rates {args.rates} --seconds {args.seconds:g} --reps {args.reps}`.",
        "",
        "| server | rate asked, req/s | achieved req/s | p50 ms | p95 ms | p99 ms | errors | server CPU µs/request |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for server, rate in sorted(keys, key=lambda k: (str(k[1]) == "closed", 0 if k[1] == "closed" else k[1], k[0])):
        runs = [r for r in rows if r["server"] == server and r["rate"] == rate]
        med = {k: statistics.median(r[k] for r in runs) for k in ("achieved", "p50", "p95", "p99", "cpu_us_per_request")}
        lines.append(f"| {server} | {rate if rate == 'closed' else f'{rate:g}'} | {med['achieved']:.0f} | {med['p50']:.2f} | "
                     f"{med['p95']:.2f} | {med['p99']:.2f} | {sum(r['errors'] for r in runs)} | {med['cpu_us_per_request']:.0f} |")
    lines += ["", "Every window:", "", "| server | rate | achieved | p95 ms | CPU µs/request |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['server']} | {row['rate']} | {row['achieved']:.0f} | {row['p95']:.2f} | {row['cpu_us_per_request']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", choices=SERVERS)
    parser.add_argument("--closed", nargs=3, metavar=("URL", "SECONDS", "CONCURRENCY"))
    parser.add_argument("--rates", default="100,500,1000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(serve(args.serve))
        return 0
    if args.closed:
        from odin_drills.sandbox.bluegreen.bench import closed_loop

        url, seconds, concurrency = args.closed
        print(json.dumps(asyncio.run(closed_loop(url, float(seconds), int(concurrency), path=PATH))))
        return 0
    rates = [float(r) for r in args.rates.split(",")]
    load_before = os.getloadavg()[0]
    rows: list[dict[str, Any]] = []
    for rep in range(args.reps):
        for kind in (SERVERS if rep % 2 == 0 else SERVERS[::-1]):
            for row in measure(kind, rates, args.seconds, args.concurrency):
                rows.append(row)
                print(f"rep {rep + 1} {kind} @ {row['rate']}: {row['achieved']:.0f} req/s p95 {row['p95']:.2f} ms "
                      f"cpu {row['cpu_us_per_request']} us/req", file=sys.stderr, flush=True)
    text = report(rows, args, (load_before, os.getloadavg()[0]))
    RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
