"""``odin replay``: what would this policy have done on these windows?

Two forms, one watch logic (``odin_drills.steps.judge.replay``, i.e. ``Judge.watch`` as a run uses
it, with the windows read from a file instead of measured):

``odin replay --baseline B.json --windows W.jsonl [--policy P.yaml] [--interval 5m] [--duration D] [--phase P]``
    W.jsonl holds one window per line in ``odin gate``'s snapshot format, in time order. The
    stream is one watch of phase P (default ``t+24h``) lasting D (default: every line, at
    ``--interval`` each); with the default ``alpha_scope: migration`` it gets that phase's share of
    alpha in a migration with one gate per phase, as a one-step migration's gate would.
``odin replay --journal PATH [--policy P.yaml]``
    Every gate watch in a migration's journal, in order, against the baseline that migration
    captured (``baseline.json`` beside the journal, else the journal's baseline entry), with the
    alpha spent as that migration's gates would spend it. Without ``--policy``, the policy the
    migration ran with (fields it lacks take today's defaults). The verdict is that of the first
    watch that acted; a watch the policy would have kept collecting beyond the windows the journal
    holds is ``undecided`` (listed, and the verdict is a hold only if no later watch acted).

Prints one JSON object: ``{"verdict": "proceed"|"hold"|"rollback"|"rollback_now", "window": N,
"reason": ..., ...}``, ``window`` being the 1-based line of W.jsonl (or the window of the watch
named by ``phase``/``step``) after which it acted, null for proceed. Bad input: one line on
stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from odin_drills.errors import InputInvalid


def add_parser(sub: Any) -> None:
    p = sub.add_parser("replay", help="replay recorded windows (or a migration's journal) through the watch logic")
    p.add_argument("--baseline", help="baseline snapshot JSON file (or a baseline.json record)")
    p.add_argument("--windows", help="JSONL file: one window snapshot per line, in time order")
    p.add_argument("--journal", help="a migration's journal.jsonl: replay every gate watch in it")
    p.add_argument("--policy", help="policy YAML/JSON file (defaults apply otherwise)")
    p.add_argument("--interval", default="5m", help="length of one window (default 5m)")
    p.add_argument("--duration", help="length of the watch (default: every window in the file)")
    p.add_argument("--phase", default="t+24h", choices=["t-1w", "t0", "t+1h", "t+24h"],
                   help="the phase whose share of alpha the watch gets (default t+24h)")


def cmd_replay(args: argparse.Namespace) -> int:
    if args.journal:
        if args.baseline or args.windows:
            raise InputInvalid("replay: give either --journal, or --baseline with --windows")
        result = _replay_journal(Path(args.journal), args.policy)
    else:
        if not (args.baseline and args.windows):
            raise InputInvalid("replay: --baseline and --windows are required (or --journal)")
        result = _replay_windows(args)
    print(json.dumps(result, indent=2))
    return 0


# ------------------------------------------------------------------ inputs

def _policy(path: str | None, fallback: Any = None) -> Any:
    from odin_drills.cli.main import _read_structured, _validated
    from odin_drills.plan.policy import Policy

    if not path:
        return fallback if fallback is not None else Policy()
    data = _read_structured(path, "policy")
    if isinstance(data, dict) and "policy" in data and len(data) == 1:
        data = data["policy"]
    return _validated(Policy, data or {}, path, "policy")


def _snapshot(data: Any, where: str) -> Any:
    from pydantic import ValidationError

    from odin_drills.plan.loader import describe_errors
    from odin_drills.steps.snapshot import Snapshot

    if isinstance(data, dict) and "snapshot" in data and "requests" not in data:
        data = data["snapshot"]  # a baseline.json record
    try:
        return Snapshot.model_validate(data)
    except ValidationError as exc:
        raise InputInvalid(describe_errors(exc, where)[0]) from None


def _duration(text: str, flag: str) -> float:
    from odin_drills.plan.durations import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise InputInvalid(f"{flag}: {exc}") from None
    if seconds <= 0:
        raise InputInvalid(f"{flag}: must be positive")
    return seconds


def _windows(path: str) -> list[Any]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputInvalid(f"{path}: cannot read windows ({getattr(exc, 'strerror', None) or exc.__class__.__name__})") from None
    windows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputInvalid(f"{path}:{number}: not valid JSON: {exc.msg} (column {exc.colno})") from None
        windows.append(_snapshot(data, f"{path}:{number}"))
    if not windows:
        raise InputInvalid(f"{path}: no windows")
    return windows


# ------------------------------------------------------------------ the two forms

def _replay_windows(args: argparse.Namespace) -> dict[str, Any]:
    from odin_drills.cli.main import _read_structured
    from odin_drills.steps.judge import replay
    from odin_drills.steps.sequential import AlphaBudget

    baseline = _snapshot(_read_structured(args.baseline, "baseline snapshot"), args.baseline)
    if baseline.requests == 0:
        raise InputInvalid(f"{args.baseline}: requests: a baseline with no requests cannot be judged against")
    policy = _policy(args.policy)
    windows = _windows(args.windows)
    interval = _duration(args.interval, "--interval")
    duration = _duration(args.duration, "--duration") if args.duration else len(windows) * interval
    note = None
    if duration > len(windows) * interval * (1 + 1e-9):
        note = (f"{args.windows} holds {len(windows)} windows, fewer than --duration asks: judged as a watch "
                f"of {len(windows)} windows")
        duration = len(windows) * interval
    budget = AlphaBudget.for_watches(policy, {"t0": 1, "t+1h": 1, "t+24h": 1, args.phase: 1})
    verdict, ended = replay(baseline, windows, policy, duration=duration, interval=interval, phase=args.phase,
                            budget=budget)
    result = _result(verdict, policy, budget, args.phase)
    result.update(windows_read=verdict.windows, windows_in_file=len(windows), stream_ended=ended)
    if note:
        result["note"] = note
    return result


def _replay_journal(path: Path, policy_path: str | None) -> dict[str, Any]:
    from odin_drills.plan.policy import Policy
    from odin_drills.steps.judge import replay
    from odin_drills.steps.sequential import AlphaBudget

    if not path.exists():
        raise InputInvalid(f"{path}: cannot read journal (no such file)")
    from odin_drills.steps.journal import read_journal

    entries = read_journal(path)
    recorded = next((e.data for e in entries if e.kind == "policy"), None)
    fallback = None
    if recorded is not None:
        known = {k: v for k, v in recorded.items() if k in Policy.model_fields}
        fallback = _validated_policy(known, path)
    policy = _policy(policy_path, fallback)
    baseline = _journal_baseline(path, entries)
    watches = _journal_watches(entries)
    if not watches:
        raise InputInvalid(f"{path}: no gate windows in this journal")
    counts: dict[str, int] = {}
    for (phase, _), _windows in watches:
        counts[phase] = counts.get(phase, 0) + 1
    budget = AlphaBudget.for_watches(policy, counts)
    interval = policy.windows.interval
    results = []
    for (phase, step), windows in watches:
        verdict, ended = replay(baseline, windows, policy, duration=len(windows) * interval, interval=interval,
                                phase=phase, step=step, budget=budget)
        results.append((phase, step, verdict, ended))
    # A watch this policy would have kept collecting beyond the windows the journal holds is
    # undecided: the replay goes on to the next watch, and says so.
    acted = next(((p, s, v, e) for p, s, v, e in results if v.action != "proceed" and not e), None)
    undecided = [(p, s, v, e) for p, s, v, e in results if e]
    phase, step, verdict, ended = acted or (undecided[0] if undecided else results[-1])
    out = _result(verdict, policy, budget, phase)
    out.update(step=step, stream_ended=ended, watches=[
        {"phase": p, "step": s, "verdict": "undecided" if e else v.action,
         "window": None if v.action == "proceed" else v.windows, "windows": len(w), "reason": v.reason}
        for (p, s, v, e), (_, w) in zip(results, watches)])
    if undecided:
        out["undecided"] = [f"{p} {s}: the journal holds {v.windows} windows; this policy would have kept collecting"
                            for p, s, v, _ in undecided]
    return out


def _validated_policy(data: dict[str, Any], path: Path) -> Any:
    from odin_drills.cli.main import _validated
    from odin_drills.plan.policy import Policy

    return _validated(Policy, data, f"{path} (policy entry)", "policy")


def _journal_baseline(path: Path, entries: list[Any]) -> Any:
    beside = path.parent / "baseline.json"
    if beside.exists():
        try:
            return _snapshot(json.loads(beside.read_text(encoding="utf-8")), str(beside))
        except (OSError, json.JSONDecodeError):
            pass
    recorded = next((e.data.get("snapshot") for e in entries if e.kind == "baseline"), None)
    if recorded is None:
        raise InputInvalid(f"{path}: no baseline: neither {beside.name} beside it nor a baseline entry")
    return _snapshot(recorded, f"{path} (baseline entry)")


def _journal_watches(entries: list[Any]) -> list[tuple[tuple[str, str | None], list[Any]]]:
    """Gate windows grouped into watches, in order, each window as it was measured: a window the
    fixed judge merged with the inconclusive one before it is split again (counts and histogram
    buckets subtract; its percentiles stay those of the merge)."""
    watches: list[tuple[tuple[str, str | None], list[Any]]] = []
    previous: dict[str, Any] | None = None
    for entry in entries:
        if entry.kind != "gate" or not isinstance(entry.data.get("window"), int):
            continue
        key = (entry.phase or "t+24h", entry.step)
        number = entry.data["window"]
        if not watches or watches[-1][0] != key or number == 1:
            watches.append((key, []))
            previous = None
        data = dict(entry.data["snapshot"])
        merged = entry.data.get("merged_windows")
        if merged is None:  # older journals: the fixed judge merged after an inconclusive window
            merged = 2 if previous is not None and previous["decision"].get("decision") == "inconclusive" \
                and previous["decision"].get("judge") != "sequential" else 1
        if merged == 2 and previous is not None:
            data = _unmerge(data, previous["snapshot"])
        watches[-1][1].append(_snapshot(data, f"journal gate {key[0]}/{key[1]} window {number}"))
        previous = entry.data
    return watches


def _unmerge(merged: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    out = dict(merged)
    out["requests"] = max(0, merged["requests"] - before["requests"])
    out["errors"] = min(out["requests"], max(0, merged["errors"] - before["errors"]))
    hist, prior = merged.get("latency_histogram"), before.get("latency_histogram")
    if hist and prior and hist.get("le_ms") == prior.get("le_ms"):
        out["latency_histogram"] = {"le_ms": hist["le_ms"],
                                    "counts": [max(0, a - b) for a, b in zip(hist["counts"], prior["counts"])]}
    return out


def _result(verdict: Any, policy: Any, budget: Any, phase: str) -> dict[str, Any]:
    return {
        "verdict": verdict.action,
        "window": None if verdict.action == "proceed" else verdict.windows,
        "reason": verdict.reason,
        "judge": policy.judge,
        "phase": phase,
        "alpha": {"policy": policy.alpha, "scope": policy.alpha_scope, "baseline_bounds": budget.baseline,
                  "this_watch": budget.watch(phase)} if policy.judge == "sequential" else None,
        "decision": verdict.decision,
    }
