"""Issue 14, time to act: a total outage right after the cut-over is undone within its first window.

Runs the bench's own measurement (``bench/time_to_act_trial.py``) for one cell — outage, the
sequential judge — once: the demo service and ``odin migrate`` each in their own process, the
session's real Prefect server, the onset and the undo read from the demo router's request log.
The trial stops both processes by PID in its ``finally``; this test checks none is left.

The bound comes from the plan: one step window lasts ``min_window_wall_seconds`` of real time
(the plan clock runs far faster), so the outage rule's ``rollback_now`` lands after one window plus
the smoke journeys, the judgement and the undo's HTTP call. Four windows and 30 s of slack is
generous for a busy 2-core machine and still far below the old ≥ 10 minutes (two 5-minute windows).
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from bench.time_to_act_trial import BREACHES, DEMO_PLAN, measure_trial
from tests.test_migration_e2e import LATENCY_FLOOR_OFF_MS

# This test is about the outage path, so latency is not judged (as in test_migration_e2e): on a busy
# CI machine a CPU stall during the healthy shift-10 window is a real p95 rise, and a hold there would
# end the run before the cut-over this test needs. The bench judges latency as shipped.
PROBE_RATE = 100.0
"""Not the demo's 300 req/s: on 2 cores shared with a Prefect server and other suites, the demo
service fed 300 req/s open-loop falls behind and its healthy steps fail (bench/results/time_to_act.md);
100 req/s still puts 600 requests in a window, far above the outage rule's 20."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_outage_after_the_cut_over_is_undone_within_the_first_window(prefect_api: str, tmp_path: Path) -> None:
    window = float(yaml.safe_load(DEMO_PLAN.read_text())["metrics"]["min_window_wall_seconds"])
    bound = min(4 * window + 30.0, 89.0)

    trial = measure_trial(BREACHES["outage"], "sequential", 101, prefect_api=prefect_api, workdir=tmp_path,
                          policy={"floors": {"latency_ms": LATENCY_FLOOR_OFF_MS}}, rate=PROBE_RATE, act_timeout=bound)

    assert trial.onset_to_undo is not None, trial.note
    assert 0 < trial.onset_to_undo < bound, trial
    assert trial.decision == "rollback_now" and "outage" in (trial.reason or ""), trial
    assert trial.windows == 1, trial  # acted on the first window after the onset
    assert trial.exit_code in (3, 4), trial  # rolled back (the re-check after it may find a busy machine slow)
    assert len(trial.pids) == 2 and not any(_alive(pid) for pid in trial.pids)  # the demo and odin, both stopped
