"""`odin replay` on hand-made streams whose answers are known, through the real CLI.

A window file holds one snapshot per line; the verdict names the line after which the watch acted.
The journal form replays a journal written by the real judge and journal.
"""

from __future__ import annotations

import json
from pathlib import Path

from odin_drills.plan.policy import Policy
from odin_drills.steps.clock import ManualClock
from odin_drills.steps.journal import Journal
from odin_drills.steps.judge import Judge
from odin_drills.steps.snapshot import Snapshot
from tests.conftest import run_odin


def snap(requests: int, errors: int, p95: float = 20.0, **signals: object) -> dict:
    return {"requests": requests, "errors": errors, "latency_ms": {"p50": p95 / 2, "p95": p95, "p99": p95 * 1.5},
            "signals": signals}


BASELINE = snap(36000, 360)  # 1 h at 10 req/s, 1 % errors
HEALTHY = snap(3000, 30)
OUTAGE = snap(3000, 600)  # 20 % errors


def replay(tmp_path: Path, windows: list[dict | str], *args: str, policy: str | None = None):
    (tmp_path / "b.json").write_text(json.dumps(BASELINE))
    (tmp_path / "w.jsonl").write_text("".join((w if isinstance(w, str) else json.dumps(w)) + "\n" for w in windows))
    argv = ["replay", "--baseline", str(tmp_path / "b.json"), "--windows", str(tmp_path / "w.jsonl"), *args]
    if policy is not None:
        (tmp_path / "p.yaml").write_text(policy)
        argv += ["--policy", str(tmp_path / "p.yaml")]
    return run_odin(argv)


def verdict(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_healthy_stream_proceeds(tmp_path: Path) -> None:
    out = verdict(replay(tmp_path, [HEALTHY] * 12))
    assert out["verdict"] == "proceed" and out["window"] is None
    assert out["judge"] == "sequential" and out["phase"] == "t+24h" and out["windows_read"] == 12
    assert out["alpha"]["policy"] == 0.01 and out["alpha"]["this_watch"] < 0.01
    assert "would have been seen with probability" in out["reason"]


def test_an_outage_from_line_6_rolls_back_after_line_6(tmp_path: Path) -> None:
    out = verdict(replay(tmp_path, [HEALTHY] * 5 + [OUTAGE] * 7))
    assert out["verdict"] == "rollback" and out["window"] == 6
    assert "since window 6" in out["reason"] and "e-value" in out["reason"]


def test_the_fixed_judge_confirms_over_a_second_window(tmp_path: Path) -> None:
    out = verdict(replay(tmp_path, [HEALTHY] * 5 + [OUTAGE] * 7, policy="judge: fixed\n"))
    assert out["verdict"] == "rollback" and out["window"] == 7 and out["judge"] == "fixed"
    assert "confirmed over 2 consecutive windows" in out["reason"]


def test_signals_act_on_their_line(tmp_path: Path) -> None:
    out = verdict(replay(tmp_path, [HEALTHY, HEALTHY, snap(3000, 30, sev1_alerts=1)] + [HEALTHY] * 3))
    assert (out["verdict"], out["window"]) == ("hold", 3) and out["reason"] == "1 Sev 1 alert"
    out = verdict(replay(tmp_path, [HEALTHY] * 3 + [snap(3000, 30, outage=True)] + [HEALTHY] * 2))
    assert (out["verdict"], out["window"]) == ("rollback_now", 4) and out["reason"] == "outage reported"


def test_a_stream_too_thin_to_decide_holds_and_says_how_much_more_it_needs(tmp_path: Path) -> None:
    out = verdict(replay(tmp_path, [snap(30, 0)] * 4))
    assert out["verdict"] == "hold" and out["window"] == 4 and out["stream_ended"] is True
    assert "cannot yet rule out a 2.0x error breach" in out["reason"] and "more" in out["reason"]


def test_duration_limits_the_watch(tmp_path: Path) -> None:
    out = verdict(replay(tmp_path, [HEALTHY] * 2 + [OUTAGE] * 4, "--duration", "10m"))
    assert out["verdict"] == "proceed" and out["windows_read"] == 2
    out = verdict(replay(tmp_path, [HEALTHY] * 2, "--duration", "1h"))
    assert out["note"].endswith("judged as a watch of 2 windows")


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for windows, expected in (
        ([HEALTHY, "{not json"], "w.jsonl:2: not valid JSON"),
        ([HEALTHY, HEALTHY, snap(10, 20)], "w.jsonl:3: errors (20) cannot exceed requests (10)"),
        ([HEALTHY, snap(10, 1, outtage=True)], "w.jsonl:2: signals.outtage: unknown field"),
    ):
        result = replay(tmp_path, windows)
        assert result.returncode == 2 and expected in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    result = replay(tmp_path, [HEALTHY], "--interval", "soon")
    assert result.returncode == 2 and "--interval:" in result.stderr
    result = run_odin(["replay", "--windows", str(tmp_path / "w.jsonl")])
    assert result.returncode == 2 and "--baseline and --windows are required" in result.stderr


def _journal_of_a_breaching_migration(tmp_path: Path, policy: Policy) -> Path:
    """A journal written by the real judge: a T-0 step gate, then T+1h breaching from window 4."""

    class Source:
        def __init__(self, windows: list[dict]) -> None:
            self.windows = [Snapshot.model_validate(w) for w in windows]

        def measure(self, seconds: float) -> Snapshot:
            return self.windows.pop(0)

    clock = ManualClock()
    path = tmp_path / "journal.jsonl"
    journal = Journal(path, clock)
    journal.append("policy", **policy.model_dump(mode="json"))
    journal.append("baseline", phase="t-1w", snapshot=BASELINE, window_seconds=3600)
    baseline = Snapshot.model_validate(BASELINE)
    Judge(source=Source([HEALTHY]), baseline=baseline, policy=policy, journal=journal).watch(
        300, phase="t0", step="shift-10")
    Judge(source=Source([HEALTHY] * 3 + [snap(3000, 150)] * 9), baseline=baseline, policy=policy,
          journal=journal).watch(3600, phase="t+1h", step="validation", interval=300)
    return path


def test_a_journal_replays_every_watch_and_names_where_it_acted(tmp_path: Path) -> None:
    path = _journal_of_a_breaching_migration(tmp_path, Policy(judge="fixed"))
    out = verdict(run_odin(["replay", "--journal", str(path)]))  # the policy the migration ran with: fixed
    assert out["judge"] == "fixed" and (out["verdict"], out["phase"], out["step"], out["window"]) == (
        "rollback", "t+1h", "validation", 5)
    assert [(w["phase"], w["verdict"]) for w in out["watches"]] == [("t0", "proceed"), ("t+1h", "rollback")]
    (tmp_path / "p.yaml").write_text("judge: sequential\n")
    out = verdict(run_odin(["replay", "--journal", str(path), "--policy", str(tmp_path / "p.yaml")]))
    assert out["judge"] == "sequential" and (out["verdict"], out["phase"], out["window"]) == ("rollback", "t+1h", 4)
    # one 5-minute window at 10 req/s cannot rule out a 2x breach: the sequential judge would have
    # kept collecting at T-0, beyond what the journal holds
    assert out["watches"][0]["verdict"] == "undecided" and out["undecided"][0].startswith("t0 shift-10:")


def test_a_journal_without_gates_is_a_usage_error(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl", ManualClock())
    journal.append("baseline", phase="t-1w", snapshot=BASELINE, window_seconds=3600)
    result = run_odin(["replay", "--journal", str(tmp_path / "journal.jsonl")])
    assert result.returncode == 2 and "no gate windows in this journal" in result.stderr
