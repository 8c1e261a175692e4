"""Issue 14, drills at estate scale: the bench's smallest configuration runs, so the bench cannot rot.

Runs ``bench/drill_scale.py``'s own measurement for one failover group (and the drill's Front Door
origin group) against a sandbox in its own process with ARM's write limit on: every action succeeds,
no write ignored a Retry-After, the floor is computed, and the sandbox process (stopped by PID in the
trial's ``finally``) is gone.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from pytest import approx

from bench.drill_scale import floor_seconds, measure_trial, report
from bench.drill_scale_full import SECTION, kept_section, measure_full_drill, replace_section, section
from tests.test_bench_time_to_act import _alive


def test_the_floor_is_the_throttle_or_the_parallelism_whichever_binds() -> None:
    assert floor_seconds(250, 1, 20, 1.0, 0.2, 16) == approx((11.5 + 0.2 + 0.4, 11.6))  # the write limit binds
    assert floor_seconds(20, 1, 20, 1.0, 0.2, 16) == approx((2 * 0.2 + 0.4, 0.1))  # two rounds of 16 bind
    assert floor_seconds(0, 1, 20, 1.0, 0.2, 16) == approx((0.4, 0.0))  # Front Door alone
    assert floor_seconds(250, 51, 20, 1.0, 0.2, 16) == approx((0.2 + (250 + 102 - 20) / 20, 16.6))  # all writes


def test_the_smallest_drill_scale_trial_runs_and_cleans_up(tmp_path: Path) -> None:
    trial = measure_trial(1, 0, workdir=tmp_path, write_limit="20/1", op_seconds=0.1)
    assert trial.actions == 2 and trial.succeeded == 2, trial.failed  # the failover group, then Front Door
    assert trial.arm_writes >= 3 and trial.ignored_retry_after == 0, trial
    assert trial.floor_seconds > 0 and trial.failover_seconds >= trial.floor_seconds * 0.9, trial
    assert len(trial.pids) == 1 and not any(_alive(pid) for pid in trial.pids)
    text = report([trial], "python bench/drill_scale.py --configs 1:0", datetime.now(timezone.utc), (0, 0))
    assert "| 1 | 0 | 1 | shared | 2/2 |" in text


def test_the_smallest_estate_through_odin_drill_passes_and_cleans_up(tmp_path: Path, prefect_api: str) -> None:
    trial = measure_full_drill(1, 1, 0, workdir=tmp_path, prefect_api=prefect_api, write_limit="20/1",
                               op_seconds=0.1, time_scale=60, reference=False, timeout=600)
    assert trial.exit_code == 0 and trial.outcome == "passed", trial.problem
    assert trial.actions == trial.succeeded == 3 and trial.undos == trial.undos_ok == 3, trial  # SQL, storage, AFD
    assert trial.failover_seconds and trial.failback_seconds and trial.failover_plan_seconds, trial
    assert trial.arm_writes >= 3 and trial.failback_writes >= 3 and trial.writes_in_prepare == 0, trial
    assert trial.ignored_retry_after == trial.failback_ignored_retry_after == 0, trial
    assert len(trial.pids) == 2 and not any(_alive(pid) for pid in trial.pids)  # the sandbox and odin
    text = section([trial], "python bench/drill_scale.py --full --configs 1:1", datetime.now(timezone.utc), (0, 0))
    assert trial.flow_run_state == "Passed" and trial.task_runs and trial.task_runs > 6, trial  # 3 actions, 3 undos…
    assert "| 1 | 1 | 1 | 0 `passed` | Passed (" in text


def test_each_mode_rewrites_only_its_own_part_of_the_results_file() -> None:
    in_process = "# Region-failover drill\n\n| rows |\n\n## Reading\n\n- old\n"
    first = replace_section(in_process, f"{SECTION}\n\nrun 1\n")
    assert first == in_process + f"\n{SECTION}\n\nrun 1\n"
    again = replace_section(first + "\n## Later\n\nkept\n", f"{SECTION}\n\nrun 2\n")
    assert "run 1" not in again and f"{SECTION}\n\nrun 2\n\n## Later\n\nkept\n" in again
    assert kept_section(again) == f"{SECTION}\n\nrun 2\n" and kept_section(in_process) == ""
