"""Detection: is the primary region really down, and when is the service back?

Every ``interval`` of plan time one probe *round* asks each region's app directly (``GET path``)
and the service through Front Door (the ``frontdoor_probe`` request). A probe succeeds on a 2xx
answer; a failing service never raises here, it becomes a failed probe with a one-line reason.

* **Confirmed outage**: the primary failed *every* probe for ``confirmation`` (plan time), counted
  from its first failure. A shorter run of failures is a glitch: recorded, not acted on.
* **Recovery** (the end of the RTO): the first of N consecutive successful probes through Front
  Door — served by a given region, when the response names it (``region_header``).
* **Region healthy again** (failback): N consecutive direct successes, optionally for a while.
* **Decision** (incident mode): ``wait_for_threshold`` keeps probing until the outage has lasted
  the plan's threshold and says whether the primary is still down; ``failover_due_at`` is the rule.

Two ways to drive it. ``start()`` (or ``with detector:``) probes on a background thread, so the
record stays continuous while the runbook does other things, and the waits read that record; this
needs a clock that takes wall time (``ScaledClock``). Without ``start()`` each wait probes inline,
sleeping on the clock between rounds — which is how ``ManualClock`` tests drive it. Waits read
every round recorded so far; pass ``since`` to ignore older ones (a second outage after failback).

Journal entries (compact: changes and summaries, not every probe):
  probe_state           target (region name or ``frontdoor``), state (ok|failing), status, error,
                        served_by, previous, previous_lasted_seconds, previous_probes
  probe_summary         since, rounds, targets {target: {ok, failed, state}}
  outage_confirmed      region, first_failure_at, confirmed_at, failed_probes, last_error
  outage_not_confirmed  region, waited_seconds, glitches
  service_recovered     via (frontdoor|region), region, first_success_at, consecutive, healthy_for
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

from odin_drills.plan.drill import Detection, DrillPlan, ProbeRequest, ResolvedEndpoints
from odin_drills.steps.probes.smoke import display_url, transport_failure

FRONTDOOR = "frontdoor"


class Probe(BaseModel):
    """One probe's outcome. ``at`` is the plan time its round started."""

    target: str
    at: datetime
    ok: bool
    status: int | None = None
    served_by: str | None = Field(default=None, description="the region the response names, if any")
    latency_ms: float = 0.0
    error: str | None = None


class ProbeRound(BaseModel):
    at: datetime
    probes: dict[str, Probe]


class Glitch(BaseModel):
    """Failures of the primary that ended before they could confirm an outage."""

    started_at: datetime
    ended_at: datetime
    failed_probes: int
    last_error: str | None = None


class DetectionResult(BaseModel):
    region: str
    confirmed: bool
    first_failure_at: datetime | None = Field(default=None, description="first probe of the failing run")
    confirmed_at: datetime | None = Field(default=None, description="the probe that completed the confirmation")
    confirmation_seconds: float
    failed_probes: int = 0
    last_error: str | None = None
    glitches: list[Glitch] = Field(default_factory=list)
    frontdoor_first_failure_at: datetime | None = Field(
        default=None, description="first failed Front Door probe since the primary began failing")
    frontdoor_served_by: str | None = Field(default=None, description="who answered through Front Door at confirmation")
    rounds: int = Field(default=0, description="probe rounds examined")


def failover_due_at(result: DetectionResult, mode: Literal["drill", "incident"], threshold: float) -> datetime | None:
    """When the runbook may fail over: at confirmation in a drill; in an incident once the outage
    (from its first failed probe) has lasted ``threshold``, and never before confirmation."""
    if not result.confirmed or result.confirmed_at is None or result.first_failure_at is None:
        return None
    if mode == "drill":
        return result.confirmed_at
    return max(result.confirmed_at, result.first_failure_at + timedelta(seconds=threshold))


class OutageDetector:
    """Probes the regions and Front Door; confirms outages and recoveries. Thread-safe."""

    def __init__(
        self,
        frontdoor_url: str,
        region_urls: Mapping[str, str],
        primary: str,
        clock: Any,
        interval: float = 30.0,
        confirmation: float = 120.0,
        path: str = "/health",
        timeout: float = 5.0,
        journal: Any = None,
        *,
        frontdoor_probe: ProbeRequest | None = None,
        region_header: str = "x-odin-region",
        summary_every: float = 300.0,
        phase: str | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        """
        :param interval: plan seconds between probe rounds.
        :param confirmation: plan seconds the primary must fail continuously.
        :param timeout: wall seconds per probe (a round trip does not speed up under a scaled clock).
        :param frontdoor_probe: the request sent through Front Door (default ``GET path``).
        :param client: share an ``httpx.Client``; by default the detector owns one.
        """
        if primary not in region_urls:
            raise ValueError(f"primary region {primary!r} has no URL (regions: {sorted(region_urls)})")
        if interval <= 0:
            raise ValueError("the probe interval must be positive")
        self.frontdoor_url = frontdoor_url.rstrip("/")
        self.region_urls = {r: u.rstrip("/") for r, u in region_urls.items()}
        self.primary = primary
        self.clock = clock
        self.interval = float(interval)
        self.confirmation = float(confirmation)
        self.path = path
        self.timeout = float(timeout)
        self.journal = journal
        self.frontdoor_probe = frontdoor_probe or ProbeRequest(path=path)
        self._region_probe = ProbeRequest(path=path)
        self.region_header = region_header
        self.summary_every = float(summary_every)
        self.phase = phase
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=self.timeout, follow_redirects=False)
        self._pool = ThreadPoolExecutor(max_workers=len(self.region_urls) + 1, thread_name_prefix="odin-detect")
        self._cond = threading.Condition()
        self._rounds: list[ProbeRound] = []
        self._state: dict[str, tuple[bool, str | None, datetime, int]] = {}
        self._summary_since: datetime | None = None
        self._summary_counts: dict[str, list[int]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_plan(cls, plan: DrillPlan, endpoints: ResolvedEndpoints, clock: Any, journal: Any = None,
                  **options: Any) -> OutageDetector:
        d: Detection = plan.detection
        return cls(endpoints.frontdoor, endpoints.regions, plan.regions.primary, clock, d.interval,
                   d.confirmation, d.path, d.timeout, journal, frontdoor_probe=d.probe_through_frontdoor(),
                   region_header=d.region_header, summary_every=d.summary_every, **options)

    # ===================================================================== lifecycle
    def start(self) -> OutageDetector:
        """Probe on a background thread until ``stop()``."""
        if self._thread is not None:
            return self
        if self.clock.wall_seconds(self.interval) <= 0:
            raise ValueError("background probing needs a clock that takes wall time (ScaledClock); "
                             "with a ManualClock call the waits directly: they probe inline")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="odin-outage-detector", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """End background probing (the record is kept)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        self.stop()
        self._pool.shutdown(wait=True)
        if self._own_client:
            self._client.close()

    def __enter__(self) -> OutageDetector:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run(self) -> None:
        next_tick = self.clock.now()
        while not self._stop.is_set():
            try:
                self.probe_round()
            except Exception as exc:  # noqa: BLE001 - the record must go on; say why it has a gap
                self._journal("note", message=f"probe round failed inside odin: {type(exc).__name__}: {exc}")
            now = self.clock.now()
            while next_tick <= now:
                next_tick += timedelta(seconds=self.interval)
            self._stop.wait(self.clock.wall_seconds((next_tick - now).total_seconds()))

    # ===================================================================== probing
    def rounds(self) -> list[ProbeRound]:
        """Every probe round so far, oldest first."""
        with self._cond:
            return list(self._rounds)

    def probe_round(self) -> ProbeRound:
        """Probe every region and Front Door once, concurrently; record and journal changes."""
        at = self.clock.now()
        jobs = {region: self._pool.submit(self._probe, region, url + self.path, self._region_probe, at)
                for region, url in self.region_urls.items()}
        jobs[FRONTDOOR] = self._pool.submit(self._probe, FRONTDOOR, self.frontdoor_url + self.frontdoor_probe.path,
                                            self.frontdoor_probe, at)
        probes = {target: job.result() for target, job in jobs.items()}
        round_ = ProbeRound(at=at, probes=probes)
        with self._cond:
            self._rounds.append(round_)
            self._cond.notify_all()
        self._note_changes(round_)
        return round_

    def _probe(self, target: str, url: str, request: ProbeRequest, at: datetime) -> Probe:
        t0 = time.perf_counter()  # latency is wall time, whatever the clock's scale
        try:
            response = self._client.request(request.method, url, json=request.json_body, timeout=self.timeout)
        except Exception as exc:  # noqa: BLE001 - a failing service is a failed probe, never a raise
            return Probe(target=target, at=at, ok=False, latency_ms=round((time.perf_counter() - t0) * 1000, 3),
                         error=transport_failure(exc, display_url(url), self.timeout))
        ok = 200 <= response.status_code < 300
        return Probe(target=target, at=at, ok=ok, status=response.status_code,
                     served_by=response.headers.get(self.region_header),
                     latency_ms=round((time.perf_counter() - t0) * 1000, 3),
                     error=None if ok else http_failure(response))

    def _note_changes(self, round_: ProbeRound) -> None:
        """Journal a target when it changes state (or who serves it); a summary now and then."""
        entries: list[dict[str, Any]] = []
        with self._cond:
            if self._summary_since is None:
                self._summary_since = round_.at
            for target, probe in round_.probes.items():
                counts = self._summary_counts.setdefault(target, [0, 0])
                counts[0 if probe.ok else 1] += 1
                previous = self._state.get(target)
                served = probe.served_by if target == FRONTDOOR and probe.ok else None
                if previous is not None and previous[0] == probe.ok and previous[1] == served:
                    self._state[target] = (previous[0], previous[1], previous[2], previous[3] + 1)
                    continue
                self._state[target] = (probe.ok, served, round_.at, 1)
                entry: dict[str, Any] = {"target": target, "state": "ok" if probe.ok else "failing",
                                         "status": probe.status, "error": probe.error, "served_by": probe.served_by}
                if previous is not None:
                    entry.update(previous="ok" if previous[0] else "failing",
                                 previous_lasted_seconds=round((round_.at - previous[2]).total_seconds(), 3),
                                 previous_probes=previous[3])
                entries.append(entry)
            summary = None
            if (round_.at - self._summary_since).total_seconds() >= self.summary_every:
                summary = {"since": self._summary_since, "rounds": self._summary_counts[FRONTDOOR][0]
                           + self._summary_counts[FRONTDOOR][1],
                           "targets": {t: {"ok": c[0], "failed": c[1],
                                           "state": "ok" if self._state[t][0] else "failing"}
                                       for t, c in self._summary_counts.items()}}
                self._summary_since = round_.at
                self._summary_counts = {}
        for entry in entries:
            self._journal("probe_state", **entry)
        if summary is not None:
            self._journal("probe_summary", **summary)

    def _journal(self, kind: str, **data: Any) -> None:
        if self.journal is not None:
            self.journal.append(kind, phase=self.phase, **data)

    # ===================================================================== waiting
    def _rounds_until(self, deadline: datetime) -> Any:
        """Yield each probe round (recorded ones first, then new ones) until ``deadline`` passes."""
        seen = 0
        while True:
            with self._cond:
                fresh = self._rounds[seen:]
            if fresh:
                seen += len(fresh)
                yield from fresh
                continue
            if self.clock.now() >= deadline:
                return
            if self._thread is not None:
                with self._cond:
                    if len(self._rounds) <= seen:
                        remaining = (deadline - self.clock.now()).total_seconds()
                        self._cond.wait(max(0.001, min(0.5, self.clock.wall_seconds(remaining))))
                continue
            with self._cond:
                last = self._rounds[-1].at if self._rounds else None
            if last is not None:
                due = last + timedelta(seconds=self.interval)
                if due > deadline:
                    self.clock.sleep((deadline - self.clock.now()).total_seconds())
                    return
                self.clock.sleep((due - self.clock.now()).total_seconds())
            self.probe_round()

    def wait_for_outage(self, max_wait: float, since: datetime | None = None) -> DetectionResult:
        """Return once the primary has failed every probe for ``confirmation``, or after ``max_wait``
        plan seconds (``confirmed=False``). Rounds recorded since ``since`` count (default: all)."""
        began = self.clock.now()
        deadline = began + timedelta(seconds=max_wait)
        run_start: datetime | None = None
        run_probes = 0
        last_error: str | None = None
        fd_failure: datetime | None = None
        glitches: list[Glitch] = []
        examined = 0
        for round_ in self._rounds_until(deadline):
            if since is not None and round_.at < since:
                continue
            examined += 1
            probe = round_.probes[self.primary]
            frontdoor = round_.probes[FRONTDOOR]
            if probe.ok:
                if run_start is not None:
                    glitches.append(Glitch(started_at=run_start, ended_at=round_.at, failed_probes=run_probes,
                                           last_error=last_error))
                run_start, run_probes, fd_failure = None, 0, None
                continue
            if run_start is None:
                run_start = round_.at
            run_probes += 1
            last_error = probe.error
            if not frontdoor.ok and fd_failure is None:
                fd_failure = round_.at
            if (round_.at - run_start).total_seconds() >= self.confirmation:
                result = DetectionResult(
                    region=self.primary, confirmed=True, first_failure_at=run_start, confirmed_at=round_.at,
                    confirmation_seconds=self.confirmation, failed_probes=run_probes, last_error=last_error,
                    glitches=glitches, frontdoor_first_failure_at=fd_failure,
                    frontdoor_served_by=frontdoor.served_by, rounds=examined)
                self._journal("outage_confirmed", region=self.primary, first_failure_at=run_start,
                              confirmed_at=round_.at, failed_probes=run_probes, last_error=last_error)
                return result
        self._journal("outage_not_confirmed", region=self.primary,
                      waited_seconds=round((self.clock.now() - began).total_seconds(), 3),
                      glitches=len(glitches) + (1 if run_start is not None else 0))
        return DetectionResult(region=self.primary, confirmed=False, first_failure_at=run_start,
                               confirmation_seconds=self.confirmation, failed_probes=run_probes,
                               last_error=last_error, glitches=glitches, frontdoor_first_failure_at=fd_failure,
                               rounds=examined)

    def wait_for_threshold(self, result: DetectionResult, threshold: float, max_wait: float,
                           consecutive: int = 3) -> bool:
        """Incident mode: keep probing until the outage has lasted ``threshold`` (from its first
        failure). True if the primary is still down then; False if it came back first
        (``consecutive`` successes in a row) or ``max_wait`` ran out."""
        if not result.confirmed or result.first_failure_at is None:
            return False
        due = result.first_failure_at + timedelta(seconds=threshold)
        deadline = min(due, self.clock.now() + timedelta(seconds=max_wait))
        streak = 0
        for round_ in self._rounds_until(deadline):
            if result.confirmed_at is not None and round_.at <= result.confirmed_at:
                continue
            streak = streak + 1 if round_.probes[self.primary].ok else 0
            if streak >= consecutive:
                return False
        return self.clock.now() >= due

    def wait_for_recovery(self, region: str | None = None, consecutive: int = 3, max_wait: float = 4 * 3600.0,
                          since: datetime | None = None) -> datetime | None:
        """The first of ``consecutive`` successful probes in a row through Front Door at or after
        ``since`` (default: now) — served by ``region`` when given and the response names its region.
        None when that did not happen within ``max_wait`` plan seconds."""

        def served(probe: Probe) -> bool:
            return probe.ok and (region is None or probe.served_by is None or probe.served_by == region)

        return self._wait_for_streak(FRONTDOOR, served, consecutive, 0.0, max_wait, since, via="frontdoor",
                                     region=region)

    def wait_for_region_healthy(self, region: str, consecutive: int = 3, healthy_for: float = 0.0,
                                max_wait: float = 3600.0, since: datetime | None = None) -> datetime | None:
        """The first of a run of direct successes of ``region``'s app that is ``consecutive`` probes
        long and has lasted ``healthy_for`` plan seconds (for failback). None after ``max_wait``."""
        if region not in self.region_urls:
            raise ValueError(f"unknown region {region!r} (regions: {sorted(self.region_urls)})")
        return self._wait_for_streak(region, lambda p: p.ok, consecutive, healthy_for, max_wait, since,
                                     via="region", region=region)

    def _wait_for_streak(self, target: str, good: Callable[[Probe], bool], consecutive: int, healthy_for: float,
                         max_wait: float, since: datetime | None, *, via: str, region: str | None) -> datetime | None:
        start = self.clock.now() if since is None else since
        deadline = self.clock.now() + timedelta(seconds=max_wait)
        first: datetime | None = None
        count = 0
        for round_ in self._rounds_until(deadline):
            if round_.at < start:
                continue
            if not good(round_.probes[target]):
                first, count = None, 0
                continue
            first = first or round_.at
            count += 1
            if count >= consecutive and (round_.at - first).total_seconds() >= healthy_for:
                self._journal("service_recovered", via=via, region=region, first_success_at=first,
                              consecutive=count, healthy_for=round((round_.at - first).total_seconds(), 3))
                return first
        return None


def http_failure(response: httpx.Response) -> str:
    """``HTTP 503 DatabaseUnavailable``: the status and, when the body says, the error code."""
    code = ""
    try:
        body = json.loads(response.content)
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            code = " " + body["error"][:60]
    except ValueError:
        pass
    return f"HTTP {response.status_code}{code}"
