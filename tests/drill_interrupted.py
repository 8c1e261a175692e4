"""``python -m tests.drill_interrupted PLAN SCALE AFTER``: the real region-failover runbook, run by
the real drill machinery (``flows.drill_run.execute``) inside a real Prefect flow, that raises
``RuntimeError`` right after phase ``AFTER`` finished — the way a bug or an Azure error in a later
phase would. Used by ``tests/test_drill_cleanup.py`` to prove the drill's own cleanup undoes what
the phases before the failure changed. Prints the summary as JSON; exits with its exit code.
"""

from __future__ import annotations

import sys

from prefect import flow

from odin_drills.flows import region_failover as rf
from odin_drills.flows.drill_run import DrillOptions, execute
from odin_drills.steps.dr.run import DrillRun

ORDER = ["prepare", "detect", "decide", "failover", "validate", "communicate"]


def failing_after(after: str):
    def runbook(run: DrillRun) -> None:
        detection = None
        for name in ORDER:
            with rf.phase(run, name):
                if name == "prepare":
                    rf.prepare(run)
                elif name == "detect":
                    detection = rf.detect(run)
                elif name == "decide":
                    rf.decide(run, detection)
                elif name == "failover":
                    rf.fail_over(run)
                elif name == "validate":
                    rf.validate(run)
                else:
                    rf.communicate(run)
            if name == after:
                raise RuntimeError(f"injected failure after {after}")
    return runbook


@flow(name="region-failover-interrupted")
def interrupted(plan_file: str, time_scale: float, after: str) -> dict:
    summary = execute(plan_file, time_scale, mode="drill", options=DrillOptions(), record_history=False,
                      name="region-failover-interrupted", runbook=failing_after(after), phases=rf.PHASES)
    return summary.model_dump(mode="json")


if __name__ == "__main__":
    import json

    result = interrupted(sys.argv[1], float(sys.argv[2]), sys.argv[3])
    print(json.dumps(result))
    sys.exit(int(result["exit_code"]))
