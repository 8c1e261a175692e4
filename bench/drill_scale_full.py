"""``bench/drill_scale.py --full``: the same estates through the product's entry point, ``odin drill``.

``drill_scale.py`` drives the failover phase in-process without Prefect's task wrappers. Here the
whole drill runs as a user runs it: ``python -m odin_drills.cli drill PLAN --time-scale N --json``
in its own process, recording into a real ``prefect server`` (SQLite, a free port, its own home),
against the Azure sandbox in another process with the estate generated (``--scale``) and ARM's write
limit switched on. The drill file (``drill_file``) names the service's own failover group and storage
account plus the generated ones, the Front Door origin group the probes use plus ``frontdoor_groups``:
N failover groups = ``odin-fg`` + ``fog-0001`` … ``fog-(N-1)``, M storage accounts = ``odindrillsdata``
+ ``odinst0001`` …, so the canary's writes really go through a group that fails over.

Measured, per estate: the drill's wall time (process start to exit), its exit code and outcome; the
failover phase's wall time as the journal stamps it (``phase_started`` → ``phase_finished``, wall
stamps), against the same floor as the in-process table (P = the drill file's ``resources.max_parallel``: 4 by
default, ``--max-parallel`` sets it); the sandbox's ARM counts (writes, 429s, ignored Retry-After) over the
failover phase (snapshots of ``GET /throttle`` taken as the bench sees the journal's ``phase_started``
of detect and of validate: the drill writes nothing to ARM in prepare, detect, decide and validate,
and those last seconds, so a snapshot a little late still splits the counts exactly) and over the
failback; actions ok. *Slot overhead per action*: the worker-slot time
of the failover wave not spent inside ``execute_action`` (P × wall − Σ step_started→step_finished),
per action — the Prefect task wrapper's cost plus the waves' tails; the failback's undos run one at
a time, so there the gap between one undo's end and the next one's start is that cost alone.

The reference row (*in-process*, same P) is ``drill_scale.measure_trial`` on the same estate just
before: the failover phase without Prefect, same sandbox settings.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
PLAN_NAME = "drill-scale-full"
DRILL_MAX_PARALLEL = 4
"""``resources.max_parallel``'s default: what a drill file without it runs with (``--max-parallel`` sets it)."""
SECTION = "## Through `odin drill` under Prefect"


@dataclass
class FullDrill:
    """One ``odin drill`` run at one scale."""

    failover_groups: int
    storage_accounts: int
    origin_groups: int  # resources.frontdoor + frontdoor_groups
    write_limit: str
    operation_seconds: float
    time_scale: float
    max_parallel: int = DRILL_MAX_PARALLEL
    exit_code: int | None = None
    outcome: str | None = None
    drill_seconds: float = 0.0
    failover_seconds: float | None = None
    failover_plan_seconds: float | None = None
    failover_budget_seconds: float | None = None
    failback_seconds: float | None = None
    floor_seconds: float = 0.0
    throttle_minimum_seconds: float = 0.0
    actions: int = 0
    succeeded: int = 0
    undos: int = 0
    undos_ok: int = 0
    arm_writes: int = 0
    throttled: int = 0
    ignored_retry_after: int = 0
    writes_in_prepare: int = 0  # prepare reads only: expected 0
    failback_writes: int = 0
    failback_throttled: int = 0
    failback_ignored_retry_after: int = 0
    slot_overhead_ms: float | None = None
    action_median_ms: float | None = None
    undo_gap_median_ms: float | None = None
    undo_median_ms: float | None = None
    in_process_failover_seconds: float | None = None
    in_process_slot_overhead_ms: float | None = None
    in_process_action_median_ms: float | None = None
    criteria_missed: list[str] = field(default_factory=list)
    problem: str | None = None
    flow_run_state: str | None = None  # as the Prefect server recorded it
    task_runs: int | None = None  # the flow run's task runs the Prefect server holds
    pids: list[int] = field(default_factory=list)  # the sandbox's and odin's, each stopped by the bench

    @property
    def ratio(self) -> float:
        return self.failover_seconds / self.floor_seconds if self.failover_seconds and self.floor_seconds \
            else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def prefect_server(home: Path) -> Iterator[str]:
    """A real ``prefect server`` on SQLite under ``home`` (``odin_drills.cli.server``), on a free port;
    stopped by its PID whatever happens."""
    from odin_drills.cli import server

    os.environ.update({"ODIN_HOME": str(home), "ODIN_SERVER_PORT": str(free_port())})
    os.environ.pop("PREFECT_API_URL", None)
    try:
        yield server.start(timeout=300).url
    finally:
        server.stop()


def drill_file(folder: Path, info: dict[str, Any], failover_groups: int, storage_accounts: int,
               origin_groups: int, max_parallel: int = DRILL_MAX_PARALLEL) -> Path:
    """The drill file: the quarterly planned test (``drills/dr-programme-quarterly.yaml``: the app's
    outage only, every failover planned, no data loss allowed, scored against RPO 0, fail back) over
    the estate. Phase budgets, RTO and detection are the handbook's defaults, untouched."""
    fixed, scaled = info["resources"], info["scaled_resources"]
    groups = fixed["failover_groups"][:1] + scaled["failover_groups"][:failover_groups - 1]
    accounts = (fixed["storage_accounts"][:1] + scaled["storage_accounts"][:storage_accounts - 1]) \
        if storage_accounts else []
    plan = {
        "name": PLAN_NAME,
        "description": f"{failover_groups} failover groups, {storage_accounts} storage accounts, {origin_groups} "
                       "Front Door origin groups: a planned failover and failback (bench/drill_scale.py --full)",
        "environment": f"{PLAN_NAME}-env", "kind": "region-failover", "target": {"kind": "sandbox"},
        "regions": {"primary": "eastus", "secondary": "westus"},
        "resources": {
            "failover_groups": [{"id": g, "mode": "planned"} for g in groups],
            "storage_accounts": [{"id": a, "mode": "planned"} for a in accounts],
            "frontdoor": {"origin_group": fixed["frontdoor_origin_groups"][0],
                          "origins": {"eastus": "app-eastus", "westus": "app-westus"}},
            "frontdoor_groups": [{"origin_group": g, "origins": {r: f"{g.rsplit('/', 1)[-1]}-{r}"
                                                               for r in ("eastus", "westus")}}
                                 for g in scaled["frontdoor_origin_groups"][:origin_groups - 1]],
            "max_parallel": max_parallel},
        "detection": {"interval": "30s", "confirmation": "2m", "timeout": "2s",
                      "frontdoor_probe": {"method": "POST", "path": "/api/orders", "json": {"probe": "rto"}}},
        "smoke": [{"name": "health", "url": "http://frontdoor/health"},
                  {"name": "place-order", "method": "POST", "url": "http://frontdoor/api/orders",
                   "json": {"sku": "dr-smoke"}, "expect_status": 201}],
        "canary": {"rate_per_second": 5},
        "targets": {"rto": "4h", "rpo": "0s", "consecutive_successes": 3},
        "failback": {"enabled": True, "wait_healthy": "5m"},
        "outage": {"inject": True, "region": "eastus", "kind": "app"},
    }
    path = folder / f"{PLAN_NAME}.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return path


class JournalTail:
    """The drill's journal as it grows (``$ODIN_HOME/drills/PLAN/ID/journal.jsonl``), whole lines only."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.path: Path | None = None
        self.offset = 0
        self.entries: list[dict[str, Any]] = []

    def poll(self) -> list[dict[str, Any]]:
        if self.path is None:
            found = sorted((self.home / "drills" / PLAN_NAME).glob("*/journal.jsonl"))
            if not found:
                return []
            self.path = found[-1]
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        new = [json.loads(line) for line in chunk[:end].splitlines() if line.strip()]
        self.entries += new
        return new


def _wall(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["wall"]).timestamp()


def _spans(entries: list[dict[str, Any]], phase: str, start: str, end: str) -> list[tuple[float, float]]:
    """(start, end) wall times of each step of ``phase``, paired by step label."""
    started = {e["step"]: _wall(e) for e in entries if e["kind"] == start and e.get("phase") == phase}
    return sorted((started[e["step"]], _wall(e)) for e in entries
                  if e["kind"] == end and e.get("phase") == phase and e["step"] in started)


def phase_wall(entries: list[dict[str, Any]], phase: str) -> float | None:
    began = next((_wall(e) for e in entries if e["kind"] == "phase_started" and e.get("phase") == phase), None)
    ended = next((_wall(e) for e in entries if e["kind"] == "phase_finished" and e.get("phase") == phase), None)
    return None if began is None or ended is None else ended - began


def slot_overhead_ms(entries: list[dict[str, Any]], failover_seconds: float | None, max_parallel: int) -> float | None:
    """Worker-slot time of the failover not spent inside an action, per action (module docstring)."""
    spans = _spans(entries, "failover", "step_started", "step_finished")
    if not spans or failover_seconds is None:
        return None
    busy = sum(end - start for start, end in spans)
    return 1000 * (max_parallel * failover_seconds - busy) / len(spans)


def throttle_stats(info: dict[str, Any]) -> dict[str, int]:
    stats = httpx.get(f"{info['admin_url']}/throttle", timeout=10).json()
    return {k: int(stats[k]) for k in ("reads", "writes", "throttled", "ignored_retry_after")}


def run_drill(trial: FullDrill, plan: Path, env: dict[str, str], info: dict[str, Any], home: Path,
              timeout: float) -> None:
    """``odin drill`` to its end (killed by its process group after ``timeout``); fills ``trial``."""
    tail = JournalTail(home)
    snapshots: dict[str, dict[str, int]] = {"start": throttle_stats(info)}
    # the failover's counts run from detection's start (no ARM writes in detect and decide, and seconds of them:
    # a snapshot taken as the failover starts came a write or two late) to validation's start (the failback's
    # writes come after validation and the wait for the primary)
    marks = {("phase_started", "detect"): "detect_started", ("phase_started", "validate"): "validate_started",
             ("phase_finished", "failover"): "failover_finished", ("phase_started", "failback"): "failback_started"}
    command = [sys.executable, "-m", "odin_drills.cli", "drill", str(plan), "--time-scale", f"{trial.time_scale:g}",
               "--json"]
    log = open(home / "drill.stderr", "w", encoding="utf-8")  # noqa: SIM115 (closed in finally)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    trial.pids.append(process.pid)
    try:
        while process.poll() is None and time.perf_counter() - started < timeout:
            for entry in tail.poll():
                mark = marks.get((entry["kind"], entry.get("phase")))
                if mark:
                    snapshots[mark] = throttle_stats(info)
            time.sleep(0.02)
        if process.poll() is None:
            trial.problem = f"killed after {timeout:.0f} s"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        out = process.communicate(timeout=30)[0]
        trial.drill_seconds = time.perf_counter() - started
        log.close()
    trial.exit_code = process.returncode
    tail.poll()
    snapshots["end"] = throttle_stats(info)
    entries = tail.entries
    try:
        card = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    except ValueError:
        card = {}
    finished = next((e for e in reversed(entries) if e["kind"] == "run_finished"), None)
    trial.outcome = (finished or {}).get("data", {}).get("outcome") or card.get("outcome")
    trial.criteria_missed = sorted(k for k, ok in (card.get("criteria") or {}).items() if not ok)
    if trial.exit_code not in (0, 3) or trial.outcome is None:
        err = (home / "drill.stderr").read_text(encoding="utf-8", errors="replace")
        trial.problem = (trial.problem or "") + f" exit {trial.exit_code}: {err.strip()[-1500:]}"
    started_entry = next((e for e in entries if e["kind"] == "run_started"), None)
    flow_run_id = (started_entry or {}).get("data", {}).get("flow_run_id")
    if flow_run_id:
        trial.flow_run_state, trial.task_runs = prefect_record(env["PREFECT_API_URL"], flow_run_id)
    trial.failover_seconds = phase_wall(entries, "failover")
    trial.failback_seconds = phase_wall(entries, "failback")
    budget = next((e["data"] for e in entries if e["kind"] == "phase_budget" and e.get("phase") == "failover"),
                  None)
    if budget:
        trial.failover_plan_seconds, trial.failover_budget_seconds = budget["seconds"], budget["budget_seconds"]
    outcomes = [e for e in entries if e["kind"] == "step_finished" and e.get("phase") == "failover"]
    skipped = [e for e in entries if e["kind"] == "step_skipped" and e.get("phase") == "failover"]
    trial.actions = len(outcomes) + len(skipped)
    trial.succeeded = sum(1 for e in outcomes if e["data"].get("status") == "ok")
    undone = [e for e in entries if e["kind"] == "undo_finished"]
    trial.undos, trial.undos_ok = len(undone), sum(1 for e in undone if e["data"].get("status") == "ok")
    begin = snapshots.get("detect_started")
    end = snapshots.get("validate_started") or snapshots.get("failover_finished") or snapshots.get("failback_started")
    if begin and end:
        trial.writes_in_prepare = begin["writes"] - snapshots["start"]["writes"]
        trial.arm_writes, trial.throttled, trial.ignored_retry_after = (
            end[k] - begin[k] for k in ("writes", "throttled", "ignored_retry_after"))
        last = snapshots["end"]
        trial.failback_writes, trial.failback_throttled, trial.failback_ignored_retry_after = (
            last[k] - end[k] for k in ("writes", "throttled", "ignored_retry_after"))
    trial.slot_overhead_ms = slot_overhead_ms(entries, trial.failover_seconds, trial.max_parallel)
    actions = _spans(entries, "failover", "step_started", "step_finished")
    if actions:
        trial.action_median_ms = 1000 * statistics.median(e - s for s, e in actions)
    undos = sorted((_wall(s), _wall(f)) for s, f in _undo_pairs(entries))
    if undos:
        trial.undo_median_ms = 1000 * statistics.median(e - s for s, e in undos)
    if len(undos) > 1:
        trial.undo_gap_median_ms = 1000 * statistics.median(b[0] - a[1] for a, b in zip(undos, undos[1:]))


def prefect_record(api: str, flow_run_id: str) -> tuple[str | None, int | None]:
    """(state name, task-run count) of the drill's flow run as the Prefect server holds it; task runs
    arrive as events the server records on its own time, so the count is read until it holds still."""
    try:
        flow_run = httpx.get(f"{api}/flow_runs/{flow_run_id}", timeout=30).json()
        counts: list[int] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (len(counts) < 2 or counts[-1] != counts[-2]):
            counts.append(int(httpx.post(f"{api}/task_runs/count", timeout=30,
                                         json={"flow_runs": {"id": {"any_": [flow_run_id]}}}).json()))
            time.sleep(2)
        return (flow_run.get("state") or {}).get("name"), counts[-1] if counts else None
    except (httpx.HTTPError, ValueError, TypeError):
        return None, None


def _undo_pairs(entries: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    started = {e["data"].get("key"): e for e in entries if e["kind"] == "undo_started" and e.get("phase") == "failback"}
    return [(started[e["data"].get("key")], e) for e in entries
            if e["kind"] == "undo_finished" and e.get("phase") == "failback" and e["data"].get("key") in started]


def measure_full_drill(failover_groups: int, storage_accounts: int, extra_origin_groups: int, *, workdir: Path,
                       prefect_api: str, write_limit: str, op_seconds: float, time_scale: float, seed: int = 14,
                       timeout: float = 1800.0, reference: bool = True,
                       max_parallel: int = DRILL_MAX_PARALLEL) -> FullDrill:
    """One estate through ``odin drill``, after the in-process reference (same P) on a sandbox of its own;
    every process started here is stopped in ``finally``."""
    from bench.drill_scale import floor_seconds, measure_trial, start_sandbox, stop_process
    from odin_drills.sandbox.azure.arm_throttle import parse_write_limit

    limit = parse_write_limit(write_limit)
    assert limit is not None
    origin_groups = 1 + extra_origin_groups
    trial = FullDrill(failover_groups, storage_accounts, origin_groups, limit.text(), op_seconds, time_scale,
                      max_parallel=max_parallel)
    trial.floor_seconds, trial.throttle_minimum_seconds = floor_seconds(
        failover_groups + storage_accounts, origin_groups, limit.writes, limit.window_seconds, op_seconds,
        max_parallel)
    if reference:
        ref_dir = workdir / "in-process"
        ref = measure_trial(failover_groups, storage_accounts, extra_origin_groups, workdir=ref_dir,
                            write_limit=write_limit, op_seconds=op_seconds, max_parallel=max_parallel, seed=seed)
        trial.in_process_failover_seconds = ref.failover_seconds
        entries = [json.loads(x) for x in (ref_dir / "journal.jsonl").read_text().splitlines() if x.strip()]
        trial.in_process_slot_overhead_ms = slot_overhead_ms(entries, ref.failover_seconds, max_parallel)
        spans = _spans(entries, "failover", "step_started", "step_finished")
        trial.in_process_action_median_ms = 1000 * statistics.median(e - s for s, e in spans) if spans else None
    home = workdir / "odin-home"
    home.mkdir(parents=True, exist_ok=True)
    process, info = start_sandbox(workdir / "sandbox", seed=seed, failover_groups=failover_groups - 1,
                                  storage_accounts=max(0, storage_accounts - 1), origin_groups=extra_origin_groups,
                                  write_limit=write_limit, op_seconds=op_seconds)
    trial.pids.append(process.pid)
    try:
        plan = drill_file(workdir, info, failover_groups, storage_accounts, origin_groups, max_parallel)
        client_home = workdir / "prefect-client"
        client_home.mkdir(exist_ok=True)
        env = dict(os.environ, ODIN_HOME=str(home), PREFECT_API_URL=prefect_api, PREFECT_HOME=str(client_home),
                   PREFECT_LOGGING_LEVEL="WARNING", PREFECT_SERVER_ANALYTICS_ENABLED="false", PYTHONPATH=str(ROOT),
                   ODIN_SANDBOX_INFO=str(workdir / "sandbox" / "sandbox.json"),
                   ODIN_SANDBOX_FRONTDOOR_URL=info["frontdoor_url"])
        env.pop("ODIN_SERVER_PORT", None)
        for region, url in info.get("regions", {}).items():
            env[f"ODIN_SANDBOX_{region.upper()}_URL"] = url
        run_drill(trial, plan, env, info, home, timeout)
    finally:
        stop_process(process)
    return trial


def _s(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def section(trials: list[FullDrill], command: str, started: datetime, load: tuple[float, float]) -> str:
    """The results file's section for these runs (replacing the previous one)."""
    first = trials[0]
    rows = "\n".join(
        f"| {t.failover_groups} | {t.storage_accounts} | {t.origin_groups} | {t.exit_code} `{t.outcome}` "
        f"| {t.flow_run_state} ({t.task_runs}) "
        f"| {t.succeeded}/{t.actions} | {_s(t.drill_seconds)} | {_s(t.failover_seconds)} | {_s(t.floor_seconds)} "
        f"| {t.ratio:.2f} | {_s(t.in_process_failover_seconds)} "
        f"| {_s(t.failover_plan_seconds and t.failover_plan_seconds / 60)} "
        f"| {t.arm_writes} | {t.throttled} | **{t.ignored_retry_after}** "
        f"| {_s(t.slot_overhead_ms, 0)} ({_s(t.in_process_slot_overhead_ms, 0)}) "
        f"| {_s(t.failback_seconds)} | {t.undos_ok}/{t.undos} | {t.failback_writes} | {t.failback_throttled} "
        f"| **{t.failback_ignored_retry_after}** | {_s(t.undo_gap_median_ms, 0)} |" for t in trials)
    return f"""{SECTION}

{started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores shared with other work (load average before {load[0]:.2f}, \
after {load[1]:.2f}). Command: `{command}`.

Each row is the whole drill as a user runs it, `python -m odin_drills.cli drill drill-scale-full.yaml --time-scale \
{first.time_scale:g} --json`, in its own process, recording into a real `prefect server` (SQLite) the bench started,
against the sandbox in a third process (`--scale`, `--arm-write-limit {first.write_limit}`, t_op = \
{first.operation_seconds:g} s, as above). The drill file (`bench/drill_scale_full.py`, `drill_file`) is the quarterly
planned test (`drills/dr-programme-quarterly.yaml`) over the estate: the service's own failover group and storage
account plus the generated ones (N groups = `odin-fg` + `fog-0001`…; M accounts = `odindrillsdata` + `odinst0001`…),
`resources.frontdoor` plus `frontdoor_groups` `og-0001`…, every failover `planned`, no `allow_data_loss`, outage
`kind: app` (East US's app only), canary on, RPO target 0 s, failback after 5 min healthy. Phase budgets, RTO (4 h)
and detection (2 min confirmation) are the defaults, untouched; plan time runs {first.time_scale:g}× wall time, so the
failover budget (1 h) is {3600 / first.time_scale:g} s of wall time. `odin drill` runs at most
{first.max_parallel} actions at once (the drill file's `resources.max_parallel`), so the
floor uses P = {first.max_parallel}; the *in-process* column is `drill_scale.measure_trial` with P = {first.max_parallel} on the same
estate just before (no Prefect).

*Prefect state*: the flow run's state and its task runs as the server recorded them. *Drill* is the process's
wall time, start to exit; *failover* the journal's wall stamps `phase_started` →
`phase_finished` of the failover phase (plan minutes: its `phase_budget` entry). ARM counts are the sandbox's,
split at the journal's phase entries: failover = detection's start to validation's start (the drill writes nothing
to ARM in prepare, detect, decide or validate), failback = the rest.
*Slot overhead*: (P × failover wall − Σ each action's `step_started` → `step_finished`) / actions, in ms — what a
worker slot spends per action outside the action itself (the Prefect task wrapper, the waves' tails); in brackets the
same for the in-process run. *Undo gap*: the median wall time between one undo's `undo_finished` and the next
`undo_started` in journal order; the failback runs its undos in batches (`steps.dr.order.undo_batches`, up to P at
once), so it is negative where undos overlap and the per-task cost where they follow each other.

| failover groups | storage accounts | origin groups | exit, outcome | Prefect state (task runs) | actions ok | drill, s | failover, s | floor, s | wall / floor | in-process, s | failover, plan min | ARM writes | 429s | ignored Retry-After | slot overhead, ms/action | failback, s | undos ok | failback writes | failback 429s | failback ignored | undo gap, ms |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
{rows}

{full_reading(trials)}
"""


def full_reading(trials: list[FullDrill]) -> str:
    from odin_drills.sandbox.azure.arm_throttle import parse_write_limit

    lines = ["### Reading", ""]
    ignored = sum(t.ignored_retry_after + t.failback_ignored_retry_after for t in trials)
    throttled = sum(t.throttled + t.failback_throttled for t in trials)
    writes = sum(t.arm_writes + t.failback_writes for t in trials)
    lines.append(f"- **Ignored Retry-After through `odin drill`: {ignored} in all** (goal 0), failover and failback "
                 f"of every run: {throttled} 429s over {writes} writes.")
    largest = max(trials, key=lambda t: t.actions)
    if largest.failover_seconds is not None and largest.in_process_failover_seconds is not None:
        extra = largest.failover_seconds - largest.in_process_failover_seconds
        wrapper = (largest.slot_overhead_ms or 0) - (largest.in_process_slot_overhead_ms or 0)
        per_action = (largest.action_median_ms or 0) + (largest.slot_overhead_ms or 0)
        writes_per_action = (largest.arm_writes / largest.actions) if largest.actions else 1.0
        rate = 1000 * largest.max_parallel * writes_per_action / per_action if per_action else float("inf")
        limit = parse_write_limit(largest.write_limit.removesuffix("s"))
        refill = limit.refill_per_second if limit else float("inf")
        lines.append(
            f"- **What Prefect adds per action at {largest.actions} actions**: the failover took "
            f"{largest.failover_seconds:.1f} s through `odin drill` against {largest.in_process_failover_seconds:.1f} s "
            f"in-process ({extra:+.1f} s, {1000 * extra / largest.actions:+.0f} ms per action of wall time; floor "
            f"{largest.floor_seconds:.1f} s, {largest.ratio:.2f}×). A worker slot spent {_s(largest.slot_overhead_ms, 0)} ms "
            f"per action outside the action against {_s(largest.in_process_slot_overhead_ms, 0)} ms in-process: the task "
            f"wrapper costs ≈ {wrapper:.0f} ms of slot time per action. The actions themselves took a median "
            f"{_s(largest.action_median_ms, 0)} ms in the drill against {_s(largest.in_process_action_median_ms, 0)} ms "
            f"in-process (the drill's process also runs the probes, the canary and Prefect's clients); "
            + (f"{largest.max_parallel} slots at that pace send {rate:.1f} writes/s against the limit's "
               f"{refill:g}/s, so the write limit, not the engine, set the pace. " if rate >= refill else
               f"{largest.max_parallel} slots at that pace send only {rate:.1f} writes/s, under the limit's "
               f"{refill:g}/s: here the engine, at {largest.max_parallel} at once, set the pace. ")
            + "In the "
            f"failback, undos in batches of up to {largest.max_parallel}: {_s(largest.undo_gap_median_ms, 0)} ms from one "
            f"undo's end to the next one's start (median; negative: they overlap), each undo {_s(largest.undo_median_ms, 0)} ms.")
    for t in trials:
        budget = (f"{t.failover_plan_seconds / 60:.1f} plan min of its {t.failover_budget_seconds / 60:g}-min budget"
                  if t.failover_plan_seconds is not None and t.failover_budget_seconds else "no phase_budget entry")
        rest = t.drill_seconds - (t.failover_seconds or 0) - (t.failback_seconds or 0)
        lines.append(f"- {t.failover_groups} groups + {t.storage_accounts} accounts + {t.origin_groups} origin groups: "
                     f"exit {t.exit_code} (`{t.outcome}`), {t.succeeded}/{t.actions} actions and {t.undos_ok}/{t.undos} "
                     f"undos ok; drill {t.drill_seconds:.0f} s = failover {_s(t.failover_seconds)} s + failback "
                     f"{_s(t.failback_seconds)} s + {rest:.0f} s of the rest (start-up, detection, validation, "
                     f"reports); failover {budget}"
                     + (f"; criteria missed: {', '.join(t.criteria_missed)}" if t.criteria_missed else "")
                     + (f"; **{t.writes_in_prepare} ARM writes in prepare** (expected 0)"
                        if t.writes_in_prepare else "")
                     + (f"; **{t.problem.strip()}**" if t.problem else "") + ".")
    return "\n".join(lines)


def replace_section(text: str, body: str) -> str:
    """``text`` with its ``SECTION`` (up to the next ``## `` heading) replaced by ``body``, or ``body`` appended."""
    start = text.find(SECTION)
    if start < 0:
        return text.rstrip("\n") + "\n\n" + body.rstrip("\n") + "\n"
    end = text.find("\n## ", start + len(SECTION))
    return text[:start] + body.rstrip("\n") + "\n" + ("\n" + text[end + 1:] if end >= 0 else "")


def kept_section(text: str) -> str:
    """This section of an existing results file (empty if none): the in-process mode keeps it."""
    start = text.find(SECTION)
    if start < 0:
        return ""
    end = text.find("\n## ", start + len(SECTION))
    return text[start:end if end >= 0 else len(text)].rstrip("\n") + "\n"
