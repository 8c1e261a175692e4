"""The kill matrix's machinery, shared by ``tests/test_crash_matrix.py`` and ``bench/crash_matrix.py``.

A case kills the real ``odin`` process with SIGKILL at one journal boundary (``ODIN_CRASH_AT``, the
journal's test hook: the process kills itself right after that entry is fsynced) or mid-operation
(an Azure long-running operation held in flight by the sandbox's ``slow_operations`` fault when the
kill lands), then runs one recovery path — ``odin migrate --resume`` or ``odin rollback`` — and
checks that the world converged:

- demo (blue/green service over real HTTP): the router's weights end where the journal says
  (resume: every step's target, 0/100; rollback: 100/0), every step that changed (or may have) is
  undone exactly once (rollback) or done (resume), no step without an intent is undone;
- Azure sandbox (real SDK over HTTPS): ``GET /operations`` shows every failover at most once per
  direction, the failover group's primary and the Front Door origins end where the journal says
  (the step's spec after a resume, the undo's spec after a rollback).

Every process a case starts (odin, the sandbox) is stopped by its PID in a ``finally``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
ODIN = [sys.executable, "-m", "odin_drills.cli"]
DEMO_PLAN = "crash-demo"
LATENCY_FLOOR_MS = 1000
"""The matrix tests crash safety, not the gate: on a loaded two-core machine p95 latency spikes of a
few hundred ms made gates roll back mid-case (legitimately, and the world then converged rolled
back), which hides the kill points after them; error-rate breaches still count."""
AZURE_PLAN = "sandbox-failover"


# ------------------------------------------------------------------ processes

def odin(args: list[str], env: dict[str, str], *, crash: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``odin ARGS`` to its end (or its self-inflicted SIGKILL); the process is killed by PID on timeout."""
    run_env = dict(env)
    run_env.pop("ODIN_CRASH_AT", None)
    if crash:
        run_env["ODIN_CRASH_AT"] = crash
    process = subprocess.Popen([*ODIN, *args], cwd=ROOT, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=30)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


class AzureSandboxProcess:
    """``python -m odin_drills.sandbox.azure`` in its own process, for the length of a ``with``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.process: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> AzureSandboxProcess:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "odin_drills.sandbox.azure", "--state-dir", str(self.state_dir), "--seed", "0",
             "--replication-lag", "0.5"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.__exit__()
            raise RuntimeError("the Azure sandbox did not start")
        self.info = json.loads(line)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)

    @property
    def admin(self) -> str:
        return self.info["admin_url"]

    def env(self) -> dict[str, str]:
        env = {"ODIN_SANDBOX_INFO": str(self.state_dir / "sandbox.json"),
               "ODIN_SANDBOX_FRONTDOOR_URL": self.info["frontdoor_url"]}
        for region, url in self.info.get("regions", {}).items():
            env[f"ODIN_SANDBOX_{region.upper()}_URL"] = url
        return env

    def get(self, path: str) -> Any:
        return httpx.get(f"{self.admin}{path}", timeout=10).json()

    def reset(self) -> None:
        httpx.post(f"{self.admin}/reset", timeout=10).raise_for_status()
        deadline = time.monotonic() + 10
        for url in self.info.get("regions", {}).values():
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)

    def slow(self, seconds: float, operation: str = "failover") -> None:
        httpx.post(f"{self.admin}/faults", json={"kind": "slow_operations", "seconds": seconds,
                                                 "operation": operation}, timeout=10).raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(f"{self.admin}/faults", timeout=10).raise_for_status()


# ------------------------------------------------------------------ plans and state

def demo_plan(folder: Path, url: str, environment: str) -> Path:
    """The demo migration (three weight shifts with their undos), with short windows."""
    weights = f"{url}/_admin/weights"

    def shift(step: str, to: dict, back: dict) -> dict:
        return {"name": step, "kind": "http", "method": "PUT", "url": weights, "json": to,
                "undo": {"kind": "http", "method": "PUT", "url": weights, "json": back}}

    plan = {
        "name": DEMO_PLAN, "environment": environment,
        "service": {"name": "shop", "endpoints": {"router": url}},
        "metrics": {"kind": "synthetic_probe", "url": f"{url}/api/orders/1", "rate_per_second": 150,
                    "min_window_wall_seconds": 2},
        "smoke": [{"name": "health", "url": f"{url}/health", "retries": 5, "retry_delay": 0.05,
                   "assert": [{"jsonpath": "$.status", "equals": "ok"}]}],
        # canary writes before each shift, read back after it: their journal boundaries are kill points too
        "canary": {"url": f"{url}/api/orders", "read_url": f"{url}/api/orders/{{id}}"},
        "policy": {"windows": {"baseline": "1w", "step": "5m", "interval": "5m", "validation": "1h", "final": "23h"},
                   "floors": {"latency_ms": LATENCY_FLOOR_MS}, "absolute": {"p95_latency_ms": None}},
        "phases": {"t0": [shift("shift-10", {"blue": 90, "green": 10}, {"blue": 100, "green": 0}),
                          shift("shift-50", {"blue": 50, "green": 50}, {"blue": 90, "green": 10}),
                          shift("shift-100", {"blue": 0, "green": 100}, {"blue": 50, "green": 50})]},
    }
    path = folder / f"{DEMO_PLAN}-{environment}.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def azure_plan(folder: Path, environment: str, window_seconds: float | None = None) -> Path:
    """``drills/sandbox-failover.yaml`` as shipped, on its own environment (windows as shipped unless
    given), latency floor ``LATENCY_FLOOR_MS``."""
    plan = yaml.safe_load((ROOT / "drills" / "sandbox-failover.yaml").read_text())
    plan["environment"] = environment
    plan["policy"].setdefault("floors", {})["latency_ms"] = LATENCY_FLOOR_MS
    plan["policy"].setdefault("absolute", {})["p95_latency_ms"] = None  # nor the absolute p95 limit
    if window_seconds:
        plan["metrics"]["min_window_wall_seconds"] = window_seconds
    path = folder / f"{AZURE_PLAN}-{environment}.yaml"
    path.write_text(yaml.safe_dump(plan, sort_keys=False))
    return path


def journal(home: Path, plan: str) -> list[dict[str, Any]]:
    root = home / "migrations" / plan
    current = (root / "current").read_text().strip()
    lines = (root / current / "journal.jsonl").read_text().split("\n")
    out = []
    for line in lines:
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def copy_prepared(prepared: Path, home: Path) -> None:
    """A fresh ``ODIN_HOME`` holding the prepared migration (its T-1w and baseline)."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copytree(prepared / "migrations", home / "migrations", dirs_exist_ok=True)


def boundaries(entries: list[dict[str, Any]], start: int = 0) -> list[str]:
    """Every journal boundary of a run as ``kind:n`` (the n-th entry of that kind it wrote)."""
    seen: Counter[str] = Counter()
    points = []
    for entry in entries[start:]:
        seen[entry["kind"]] += 1
        points.append(f"{entry['kind']}:{seen[entry['kind']]}")
    return points


# ------------------------------------------------------------------ verdicts

@dataclass
class Verdict:
    case: str
    path: str
    killed: bool
    exit_code: int | None
    ok: bool
    outcome: str
    problems: list[str] = field(default_factory=list)


def _steps(home: Path, plan: str, phase: str = "t0") -> dict[str, Counter[str]]:
    """Per step of ``phase``, from the journal as odin reads it: intents, outcomes ok, reconciled
    verdicts, undos that finished ok, intents still open."""
    from odin_drills.steps.intent import history

    root = home / "migrations" / plan
    entries = read_entries(home, plan)
    steps: dict[str, Counter[str]] = {}
    for item in history(entries).values():
        if item.phase != phase:
            continue
        c: Counter[str] = Counter()
        for a in item.attempts:
            c["intents"] += a.intent is not None
            c["ok"] += a.finished is not None and a.finished.data.get("status") == "ok"
            if a.reconciled is not None:
                c[str(a.reconciled.data.get("verdict"))] += 1
            c["open"] += a.state == "open"
        c["undone"] = sum(1 for u in item.undos_finished if u.data.get("status") == "ok")
        steps[item.step] = c
    assert root.exists()
    return steps


def read_entries(home: Path, plan: str) -> list[Any]:
    from odin_drills.steps.journal import read_journal

    root = home / "migrations" / plan
    return read_journal(root / (root / "current").read_text().strip() / "journal.jsonl")


def check_journal(home: Path, plan: str, path: str) -> list[str]:
    """The journal's own promises: no intent left open; each step undone at most once, and only
    if it changed (or may have); after a rollback every change undone exactly once."""
    problems = []
    for name, c in _steps(home, plan).items():
        changed = c["ok"] + c["happened"] + c["partial"] + c["unknown"]
        if c["open"]:
            problems.append(f"{name}: an intent with no outcome and no reconciliation")
        if c["undone"] > 1:
            problems.append(f"{name}: undone {c['undone']} times")
        if c["undone"] and not changed:
            problems.append(f"{name}: undone although no change happened")
        if path == "rollback" and changed and c["undone"] != 1:
            problems.append(f"{name}: changed but undone {c['undone']} times")
    return problems


def exit_problems(result: subprocess.CompletedProcess[str], code: int) -> list[str]:
    """The recovery's exit code: ``code``, or what it says when there was nothing left to do —
    ``odin rollback`` 0 "nothing to undo", ``--resume`` 2 "nothing to resume" / "is over"."""
    if result.returncode == code or (code == 3 and result.returncode == 4):  # rolled back, healthy or degraded
        return []
    if result.returncode == 0 and "nothing to undo" in result.stdout:
        return []
    if result.returncode == 2 and ("nothing to resume" in result.stderr or "is over" in result.stderr):
        return []
    return [f"exit {result.returncode}, expected {code}: {(result.stderr or result.stdout).strip()[-300:]}"]


def reservation_problems(home: Path, expect: str) -> list[str]:
    """After a rollback the environment is free; after a resumed T-0 it stays reserved (until T+24h)."""
    held = list((home / "locks").glob("*.json")) if (home / "locks").exists() else []
    held = [p for p in held if not p.name.endswith(".lease.json")]
    if expect == "rolled_back" and held:
        return [f"the environment is still reserved after the rollback ({held[0].name})"]
    if expect == "completed" and not held:
        return ["the environment is not reserved between T-0 and T+24h"]
    return []


def expected_end(home: Path, plan: str, path: str, expect: str | None) -> tuple[str, str]:
    """Where the world must end, by what the journal says happened: a rollback (or a resumed
    rollback) ends rolled back; a resume ends completed — or rolled back when its own gate decided
    so after the resume (a real breach: the world must then be rolled back, exactly once)."""
    if expect or path == "rollback":
        return expect or "rolled_back", ""
    finished = [e for e in read_entries(home, plan) if e.kind == "run_finished"]
    outcome = str(finished[-1].data.get("outcome")) if finished else ""
    if outcome.startswith("rolled_back"):
        return "rolled_back", " (the resumed run's gate rolled back)"
    return "completed", ""


def demo_verdict(case: str, path: str, killed: bool, result: subprocess.CompletedProcess[str], weights: dict[str, int],
                 home: Path, expect: str | None = None) -> Verdict:
    """``expect``: completed (a resumed T-0) or rolled_back (a rollback, or a resumed rollback);
    by default what the journal says the recovery ended in (``expected_end``)."""
    expect, note = expected_end(home, DEMO_PLAN, path, expect)
    problems = check_journal(home, DEMO_PLAN, "rollback" if expect == "rolled_back" else "resume")
    problems += reservation_problems(home, expect)
    problems += canary_problems(home, DEMO_PLAN, expect == "completed")
    if expect == "completed":
        want, code = {"blue": 0, "green": 100}, 0
        steps = _steps(home, DEMO_PLAN)
        for name in ("shift-10", "shift-50", "shift-100"):
            c = steps.get(name, Counter())
            if not (c["ok"] or c["happened"]):
                problems.append(f"{name}: not done after the resume")
            if c["undone"]:
                problems.append(f"{name}: undone although the migration was resumed to completion")
    else:
        want, code = {"blue": 100, "green": 0}, 3
    if weights != want:
        problems.append(f"weights {weights}, expected {want}")
    problems += exit_problems(result, code)
    outcome = f"exit {result.returncode}, blue/green {weights.get('blue')}/{weights.get('green')}{note}"
    return Verdict(case, path, killed, result.returncode, not problems, outcome, problems)


def canary_problems(home: Path, plan: str, completed: bool) -> list[str]:
    """A kill must never look like data loss: every canary write journaled as acknowledged — by the
    killed run or the recovery — reads back unchanged whenever it is checked, and a T-0 resumed to
    its end checked them all (the killed run's too) after its last step."""
    entries = journal(home, plan)
    checks = [e for e in entries if e["kind"] == "canary_verified"]
    problems = [f"canary check after {e.get('step') or e.get('phase')}: {e['data'].get('lost')} lost, "
                f"{e['data'].get('corrupted')} corrupted" for e in checks
                if e["data"].get("lost") or e["data"].get("corrupted")]
    written = sum(1 for e in entries if e["kind"] == "canary_acknowledged")
    if completed and (not checks or checks[-1]["data"].get("acknowledged") != written):
        problems.append(f"the last canary check read {checks[-1]['data'].get('acknowledged') if checks else 0} "
                        f"of the {written} journaled writes")
    return problems


def failovers(operations: list[dict[str, Any]]) -> Counter[str]:
    """Succeeded failovers by the server made primary (the direction)."""
    return Counter(op["details"].get("server", "?") for op in operations
                   if op["operation"] in ("failover", "forceFailoverAllowDataLoss", "tryPlannedBeforeForcedFailover")
                   and op["result"] == "Succeeded")


def frontdoor(state: dict[str, Any]) -> dict[str, int]:
    """Origin name → priority, from the sandbox's ground truth."""
    return {name: int(o["priority"]) for name, o in (state.get("frontdoor_origins") or {}).items()}


def azure_verdict(case: str, path: str, killed: bool, result: subprocess.CompletedProcess[str],
                  sandbox: AzureSandboxProcess, home: Path, expect: str | None = None) -> Verdict:
    expect, note = expected_end(home, AZURE_PLAN, path, expect)
    problems = check_journal(home, AZURE_PLAN, "rollback" if expect == "rolled_back" else "resume")
    problems += reservation_problems(home, expect)
    operations = sandbox.get("/operations")
    state = sandbox.get("/state")
    counts = failovers(operations)
    for server, n in counts.items():
        if n > 1:
            problems.append(f"failover to {server} ran {n} times")
    primary = state["failover_groups"]["odin-fg"]["primary_region"]
    origins = frontdoor(state)
    patches = Counter(op["resource_id"].rsplit("/", 1)[-1] for op in operations
                      if op["operation"] == "origin_update" and op["result"] == "Succeeded")
    forward, back = counts.get("odin-sql-westus", 0), counts.get("odin-sql-eastus", 0)
    if expect == "completed":
        want_primary, want_origins, code = "westus", {"app-westus": 1, "app-eastus": 2}, 0
        steps = _steps(home, AZURE_PLAN)
        for name in ("orders-db-to-westus", "frontdoor-to-westus"):
            c = steps.get(name, Counter())
            if not (c["ok"] or c["happened"]):
                problems.append(f"{name}: not done after the resume")
            if c["undone"]:
                problems.append(f"{name}: undone although the migration was resumed to completion")
        if (forward, back) != (1, 0):
            problems.append(f"failovers to westus {forward}, back {back}: expected exactly one, none back")
        if any(n != 1 for n in patches.values()) or set(patches) != {"app-westus", "app-eastus"}:
            problems.append(f"origin updates {dict(patches)}: expected each origin updated exactly once")
    else:
        want_primary, want_origins, code = "eastus", {"app-eastus": 1, "app-westus": 2}, 3
        if back != forward:
            problems.append(f"failovers to westus {forward}, back {back}: every failover must be undone exactly once")
        if any(n not in (0, 2) for n in patches.values()):
            problems.append(f"origin updates {dict(patches)}: each origin changed and put back, or untouched")
    if primary != want_primary:
        problems.append(f"failover group primary in {primary}, expected {want_primary}")
    if {k: origins.get(k) for k in want_origins} != want_origins:
        problems.append(f"Front Door priorities {origins}, expected {want_origins}")
    problems += exit_problems(result, code)
    moves = ", ".join(f"to {server.rsplit('-', 1)[-1]} x{n}" for server, n in sorted(counts.items())) or "none"
    shown = ", ".join(f"{name.removeprefix('app-')} p{p}" for name, p in sorted(origins.items()))
    outcome = f"exit {result.returncode}, SQL primary {primary}, failovers {moves}, origins {shown}{note}"
    return Verdict(case, path, killed, result.returncode, not problems, outcome, problems)


# ------------------------------------------------------------------ cases

SCALE = "60000"


def environment_of(work: Path) -> str:
    """A lock name of its own per case (a slug), so one case's lease never blocks the next."""
    import hashlib

    return "crash-" + hashlib.sha1(str(work).encode()).hexdigest()[:10]


def _env(base: dict[str, str], home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**base, **(extra or {}), "ODIN_HOME": str(home)}


def recover(path: str, plan: Path, env: dict[str, str], *, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    if path == "resume":
        return odin(["migrate", str(plan), "--resume", "--time-scale", SCALE], env, crash=crash)
    return odin(["rollback", str(plan), "--reason", "kill matrix", "--by", "crash-matrix", "--time-scale", SCALE],
                env, crash=crash)


def prepare_demo(shop: Any, work: Path, base: dict[str, str]) -> Path:
    """One T-1w of the demo plan (baseline captured); every case starts from a copy of it."""
    home = work / "prepared-demo"
    plan = demo_plan(work, shop.router_url, "crash-prep")
    done = odin(["migrate", str(plan), "--phase", "t-1w", "--time-scale", SCALE], _env(base, home))
    assert done.returncode == 0, done.stderr[-2000:]
    return home


def demo_case(name: str, paths: tuple[str, ...], *, shop: Any, prepared: Path, work: Path, base: dict[str, str],
              kill_t0: str | None = None, kill_rollback: str | None = None) -> list[Verdict]:
    """T-0 of the demo migration killed at ``kill_t0`` (or run to its end and then a rollback killed
    at ``kill_rollback``), then each of ``paths`` (resume | rollback) from that same moment: the
    state after the kill (the journal folder and the router's weights) is put back before each."""
    home = work / "home"
    copy_prepared(prepared, home)
    env = _env(base, home)
    plan = demo_plan(work, shop.router_url, environment_of(work))
    shop.set_weights(blue=100, green=0)
    first = odin(["migrate", str(plan), "--phase", "t0", "--time-scale", SCALE], env, crash=kill_t0)
    killed = first.returncode == -signal.SIGKILL
    expect_after = None
    if kill_rollback:
        second = recover("rollback", plan, env, crash=kill_rollback)
        killed = second.returncode == -signal.SIGKILL
        expect_after = "rolled_back"
    after_kill = shop.weights()
    snapshot = work / "after-kill"
    shutil.copytree(home, snapshot)
    verdicts = []
    for path in paths:
        shutil.rmtree(home)
        shutil.copytree(snapshot, home)
        shop.set_weights(**after_kill)
        result = recover(path, plan, env)
        verdicts.append(demo_verdict(name, path, killed, result, shop.weights(), home, expect_after))
    return verdicts


def prepare_azure(sandbox: AzureSandboxProcess, work: Path, base: dict[str, str]) -> Path:
    home = work / "prepared-azure"
    sandbox.reset()
    plan = azure_plan(work, "crash-prep")
    done = odin(["migrate", str(plan), "--phase", "t-1w", "--time-scale", SCALE], _env(base, home, sandbox.env()))
    assert done.returncode == 0, done.stderr[-2000:]
    return home


def azure_case(name: str, path: str, *, sandbox: AzureSandboxProcess, prepared: Path, work: Path,
               base: dict[str, str], kill_t0: str | None = None, kill_rollback: str | None = None,
               slow_seconds: float | None = None) -> Verdict:
    """T-0 of ``drills/sandbox-failover.yaml`` killed at ``kill_t0`` — with ``slow_seconds`` the
    failover LRO is still in flight when the kill lands — (or a rollback killed at ``kill_rollback``),
    then ``path`` to its end against the same sandbox."""
    sandbox.reset()
    home = work / "home"
    copy_prepared(prepared, home)
    env = _env(base, home, sandbox.env())
    plan = azure_plan(work, environment_of(work))
    if slow_seconds and kill_t0:
        sandbox.slow(slow_seconds)
    first = odin(["migrate", str(plan), "--phase", "t0", "--time-scale", SCALE], env, crash=kill_t0)
    killed = first.returncode == -signal.SIGKILL
    if kill_rollback:
        sandbox.clear_faults()
        if slow_seconds:
            sandbox.slow(slow_seconds)
        second = recover("rollback", plan, env, crash=kill_rollback)
        killed = second.returncode == -signal.SIGKILL
    sandbox.clear_faults()
    result = recover(path, plan, env)
    return azure_verdict(name, path, killed, result, sandbox, home, "rolled_back" if kill_rollback else None)


# ------------------------------------------------------------------ the whole matrix

def reference_boundaries(odin_args: list[str], env: dict[str, str], home: Path, plan_name: str) -> list[str]:
    """Run once without a kill and list the journal boundaries that run wrote."""
    before = len(journal(home, plan_name))
    done = odin(odin_args, env)
    assert done.returncode in (0, 3), done.stderr[-2000:]
    return boundaries(journal(home, plan_name), before)


def demo_matrix(base: dict[str, str], work: Path, report: Any = print) -> list[Verdict]:
    from odin_drills.sandbox.bluegreen import BlueGreenDemo

    verdicts: list[Verdict] = []
    with BlueGreenDemo(seed=11, port=0, error_rate=0.10, latency_median_ms=30) as shop:
        prepared = prepare_demo(shop, work, base)
        ref = work / "demo-reference"
        home = ref / "home"
        copy_prepared(prepared, home)
        env = _env(base, home)
        plan = demo_plan(ref, shop.router_url, environment_of(ref))
        shop.set_weights(blue=100, green=0)
        t0_points = reference_boundaries(["migrate", str(plan), "--phase", "t0", "--time-scale", SCALE], env, home,
                                         DEMO_PLAN)
        rollback_points = reference_boundaries(
            ["rollback", str(plan), "--reason", "reference", "--by", "crash-matrix", "--time-scale", SCALE], env, home,
            DEMO_PLAN)
        for n, point in enumerate(t0_points):
            case = work / f"demo-t0-{n:02d}"
            case.mkdir()
            for v in demo_case(f"T-0 after {point}", ("resume", "rollback"), shop=shop, prepared=prepared, work=case,
                               base=base, kill_t0=point):
                verdicts.append(v)
                report(v)
        for n, point in enumerate(rollback_points):
            case = work / f"demo-rb-{n:02d}"
            case.mkdir()
            for v in demo_case(f"rollback after {point}", ("rollback", "resume"), shop=shop, prepared=prepared,
                               work=case, base=base, kill_rollback=point):
                verdicts.append(v)
                report(v)
    return verdicts


def azure_matrix(base: dict[str, str], work: Path, report: Any = print, slow_seconds: float = 6.0) -> list[Verdict]:
    verdicts: list[Verdict] = []
    with AzureSandboxProcess(work / "sandbox") as sandbox:
        prepared = prepare_azure(sandbox, work, base)
        ref = work / "azure-reference"
        home = ref / "home"
        copy_prepared(prepared, home)
        env = _env(base, home, sandbox.env())
        plan = azure_plan(ref, environment_of(ref))
        sandbox.reset()
        t0_points = reference_boundaries(["migrate", str(plan), "--phase", "t0", "--time-scale", SCALE], env, home,
                                         AZURE_PLAN)
        rollback_points = reference_boundaries(
            ["rollback", str(plan), "--reason", "reference", "--by", "crash-matrix", "--time-scale", SCALE], env, home,
            AZURE_PLAN)
        for n, point in enumerate(t0_points):
            slow = slow_seconds if point.startswith("operation_started") else None
            label = f"T-0 after {point}" + (" (LRO in flight)" if slow else "")
            for path in ("resume", "rollback"):
                case = work / f"azure-t0-{n:02d}-{path}"
                case.mkdir()
                v = azure_case(label, path, sandbox=sandbox, prepared=prepared, work=case, base=base, kill_t0=point,
                               slow_seconds=slow)
                verdicts.append(v)
                report(v)
        for n, point in enumerate(rollback_points):
            slow = slow_seconds if point.startswith("operation_started") else None
            label = f"rollback after {point}" + (" (undo LRO in flight)" if slow else "")
            for path in ("rollback", "resume"):
                case = work / f"azure-rb-{n:02d}-{path}"
                case.mkdir()
                v = azure_case(label, path, sandbox=sandbox, prepared=prepared, work=case, base=base,
                               kill_rollback=point, slow_seconds=slow)
                verdicts.append(v)
                report(v)
    return verdicts


def results_markdown(title: str, sections: list[tuple[str, list[Verdict]]], notes: list[str]) -> str:
    lines = [f"# {title}", ""]
    lines += notes + [""]
    for heading, verdicts in sections:
        passed = sum(v.ok for v in verdicts)
        killed = sum(v.killed for v in verdicts)
        lines += [f"## {heading}", "", f"{passed}/{len(verdicts)} converged; {killed} of them killed at the kill point "
                  "(the rest ended before reaching it: the point lies past the run's end).", "",
                  "| kill point | path | killed | outcome | converged |", "|---|---|---|---|---|"]
        for v in verdicts:
            mark = "yes" if v.ok else "**NO**: " + "; ".join(v.problems).replace("|", "/")[:300]
            lines.append(f"| {v.case} | {v.path} | {'yes' if v.killed else 'not reached'} | {v.outcome} | {mark} |")
        lines.append("")
    return "\n".join(lines) + "\n"
