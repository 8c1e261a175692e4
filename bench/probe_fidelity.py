"""How faithful is the synthetic probe? Asked rate vs achieved rate, probe p95 vs the server's p95.

Starts a starlette app in a separate process (so the probe and the server do not share a GIL) that
answers after a lognormal delay (median 8 ms) and records, per request, when it arrived and how long
the app took. Then runs the probe at 50, 200 and 1000 req/s for a few seconds each and puts what
the probe saw beside what the server saw. A second table runs the same open-loop scheduler at the
highest rate over other client shapes (one shared ``httpx.AsyncClient``, several) to show why the
probe speaks HTTP through its own connection stack.

    .venv/bin/python bench/probe_fidelity.py            # writes bench/results/probe_fidelity.md
    .venv/bin/python bench/probe_fidelity.py --seconds 3 --rates 50 1000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from odin_drills.plan.journeys import SyntheticProbe  # noqa: E402
from odin_drills.steps.clock import RealClock  # noqa: E402
from odin_drills.steps.snapshot import LatencyPercentiles  # noqa: E402
from odin_drills.steps.probes.synthetic import RequestSender, SyntheticProbeSource, nearest_rank  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "probe_fidelity.md"
MEDIAN_MS = 8.0
SIGMA = 0.35


# -- the server (runs in its own process) ----------------------------------------------------


def serve() -> None:
    import math

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    records: list[tuple[float, float]] = []  # (arrival monotonic s, app latency ms)
    mu = math.log(MEDIAN_MS / 1000)

    async def work(request: Request) -> PlainTextResponse:
        arrived = time.monotonic()
        await asyncio.sleep(random.lognormvariate(mu, SIGMA))
        records.append((arrived, (time.monotonic() - arrived) * 1000))
        return PlainTextResponse("ok")

    async def reset(request: Request) -> PlainTextResponse:
        records.clear()
        return PlainTextResponse("reset")

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse({"arrivals": [a for a, _ in records], "latency_ms": [ms for _, ms in records]})

    app = Starlette(routes=[Route("/work", work), Route("/reset", reset, methods=["POST"]), Route("/stats", stats)])
    # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every response stalls ~40 ms (Nagle + delayed ACK).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])


# -- other client shapes, for comparison -------------------------------------------------------


class AsyncClientsSender:
    """The probe's requests over ``count`` httpx.AsyncClients, each request to the least busy one."""

    def __init__(self, url: str, count: int) -> None:
        self._url = url
        # httpx's default limits (100 connections a client). With 512 in one pool, as the probe
        # allows itself, the pool's per-event scan made a single client take minutes to drain.
        self._clients = [httpx.AsyncClient() for _ in range(count)]
        self._busy = [0] * count

    async def send(self) -> int:
        k = min(range(len(self._clients)), key=self._busy.__getitem__)
        self._busy[k] += 1
        try:
            return (await self._clients[k].get(self._url)).status_code
        finally:
            self._busy[k] -= 1

    async def aclose(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self._clients))


class AsyncClientsProbe(SyntheticProbeSource):
    clients = 1

    def _open_sender(self) -> RequestSender:
        return AsyncClientsSender(self.url, self.clients)


def probe_of(shape: str, spec: SyntheticProbe) -> SyntheticProbeSource:
    if shape == "probe":
        return SyntheticProbeSource(spec, RealClock())
    probe = AsyncClientsProbe(spec, RealClock())
    probe.clients = int(shape.removeprefix("httpx"))
    return probe


# -- the measurement ---------------------------------------------------------------------------


def run_one(base: str, rate: float, seconds: float, shape: str = "probe") -> dict:
    spec = SyntheticProbe(url=f"{base}/work", rate_per_second=rate, timeout=5.0)
    with probe_of(shape, spec) as probe, httpx.Client() as control:
        probe.measure(1.0)  # warm-up: connections open, caches fill; not counted
        control.post(f"{base}/reset")
        cpu_before = time.process_time()
        snapshot = probe.measure(seconds)
        cpu = time.process_time() - cpu_before
        window = probe.last_window
        server = control.get(f"{base}/stats").json()
    arrivals = sorted(server["arrivals"])
    served = sorted(server["latency_ms"])
    server_rate = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0
    return {
        "rate": rate,
        "shape": shape,
        "seconds": seconds,
        "sent": snapshot.requests,
        "errors": snapshot.errors,
        "probe_rate": window.achieved_rate_per_second,
        "server_count": len(arrivals),
        "server_rate": server_rate,
        "max_lag_ms": window.max_send_lag_ms,
        "cpu_us_per_request": cpu / max(1, snapshot.requests) * 1e6,
        "p99_lag_ms": window.p99_send_lag_ms,
        "probe": snapshot.latency_ms.model_dump(),
        "server_p50": nearest_rank(served, 50),
        "server_p95": nearest_rank(served, 95),
        "server_p99": nearest_rank(served, 99),
    }


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def shape_name(shape: str) -> str:
    if shape == "probe":
        return "probe (connection stack on httpcore)"
    n = int(shape.removeprefix("httpx"))
    return "one shared httpx.AsyncClient" if n == 1 else f"httpx.AsyncClient ×{n}"


def run_isolated(base: str, shape: str, rate: float, seconds: float, limit: float) -> dict:
    """One measurement in a fresh process, killed after ``limit`` seconds.

    A fresh process keeps runs from disturbing each other, and a client shape that falls behind can
    take minutes to drain a backlog its event loop thread will not give up.
    """
    command = [sys.executable, __file__, "--one", base, shape, "--seconds", str(seconds), "--rates", str(rate)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit, check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        result = {"shape": shape, "rate": rate, "timed_out": limit}
    print(json.dumps(result), flush=True)
    return result


def render(fidelity: list[dict], shapes: list[dict], load_before: tuple, load_after: tuple) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Synthetic probe fidelity",
        "",
        f"- date: {now}",
        f"- machine: {cpu_name()}, {os.cpu_count()} CPUs, Linux {platform.release()}, Python {platform.python_version()}, httpx {httpx.__version__}",
        f"- load average (1/5/15 min) before: {' / '.join(f'{x:.2f}' for x in load_before)}, after: "
        f"{' / '.join(f'{x:.2f}' for x in load_after)} (the machine is shared; other work raises the send lag)",
        "- server: starlette on uvicorn (h11, asyncio loop) in its own process on 127.0.0.1; each request "
        f"sleeps lognormal(median {MEDIAN_MS:g} ms, sigma {SIGMA}) and the app records arrival time and its own latency",
        "- probe: `SyntheticProbeSource` (one event-loop thread, open-loop schedule, latency from the "
        "intended send time, keep-alive connection stack on httpcore), each run in a fresh process; "
        "one 1 s warm-up window, then the measured window. Probe and server share the machine's 2 cores",
        "- percentiles are nearest-rank for both sides; \"server rate\" = requests the server saw, "
        "over the span from first to last arrival; \"send lag\" = how late the probe sent a request "
        "against its schedule",
        "",
        "## Asked vs achieved, probe vs server",
        "",
        "| asked req/s | window s | sent | errors | probe send rate | server saw | server rate | send lag p99 / max ms | probe p50 / p95 / p99 ms | server p50 / p95 / p99 ms | p95 gap ms | probe CPU µs/req |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in fidelity:
        if "timed_out" in r:
            lines.append(f"| {r['rate']:g} | did not finish: killed after {r['timed_out']:g} s |" + " |" * 10)
            continue
        p = LatencyPercentiles(**r["probe"])
        lines.append(
            f"| {r['rate']:g} | {r['seconds']:g} | {r['sent']} | {r['errors']} | {r['probe_rate']:.1f} | "
            f"{r['server_count']} | {r['server_rate']:.1f} | {r['p99_lag_ms']:.1f} / {r['max_lag_ms']:.1f} | "
            f"{p.p50:.1f} / {p.p95:.1f} / {p.p99:.1f} | "
            f"{r['server_p50']:.1f} / {r['server_p95']:.1f} / {r['server_p99']:.1f} | "
            f"{p.p95 - r['server_p95']:+.1f} | {r['cpu_us_per_request']:.0f} |"
        )
    lines += [
        "",
        "## Client shapes at the highest rate",
        "",
        "The same open-loop scheduler; only the HTTP client under it changes. `httpx ×N` = N "
        "`httpx.AsyncClient`s, each request to the one with the fewest in flight, httpx's default "
        "limits (100 connections each).",
        "",
        "| client | asked req/s | sent | errors | probe send rate | server rate | send lag p99 / max ms | probe p95 / p99 ms | server p95 ms | probe CPU µs/req |",
        "|:---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in shapes:
        if "timed_out" in r:
            lines.append(
                f"| {shape_name(r['shape'])} | {r['rate']:g} | did not finish: killed after {r['timed_out']:g} s "
                "|" + " |" * 7
            )
            continue
        p = LatencyPercentiles(**r["probe"])
        lines.append(
            f"| {shape_name(r['shape'])} | {r['rate']:g} | {r['sent']} | {r['errors']} | {r['probe_rate']:.1f} | "
            f"{r['server_rate']:.1f} | {r['p99_lag_ms']:.1f} / {r['max_lag_ms']:.1f} | "
            f"{p.p95:.1f} / {p.p99:.1f} | {r['server_p95']:.1f} | {r['cpu_us_per_request']:.0f} |"
        )
    if any("timed_out" in r for r in shapes):
        lines += [
            "",
            "A run that did not finish fell behind its schedule and never caught up: in one such run "
            "examined by hand, the server saw no request of the measured window while the client "
            "process sat at ~80 % CPU for minutes.",
        ]
    lines += [
        "",
        "Read: the probe holds the asked rate when \"server rate\" matches \"asked\" and the send lag "
        "stays small; the \"p95 gap\" is what the probe adds on top of the app's own latency (client "
        "and server HTTP stacks, loopback, event-loop scheduling). \"probe CPU\" is the bench "
        "process's CPU time over the window per request (probe thread, mostly). Runs vary 20–30 % "
        "on this machine.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--shapes", nargs="+", default=["probe", "httpx1", "httpx8", "httpx16"],
                        help="client shapes to compare at the highest rate: probe, httpxN")
    parser.add_argument("--limit", type=float, default=90.0,
                        help="seconds before a run that cannot keep up is killed")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--one", nargs=2, metavar=("BASE", "SHAPE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    if args.one:
        print(json.dumps(run_one(args.one[0], max(args.rates), args.seconds, args.one[1])))
        return

    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.post(f"{base}/reset")
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        load_before = os.getloadavg()
        fidelity = [run_isolated(base, "probe", rate, args.seconds, args.limit) for rate in args.rates]
        shapes = [run_isolated(base, shape, max(args.rates), args.seconds, args.limit) for shape in args.shapes]
        load_after = os.getloadavg()
    finally:
        server.terminate()
        server.wait(timeout=10)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(fidelity, shapes, load_before, load_after))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
