"""A person scanning the Prefect UI's runs list can tell a rolled-back run from a completed one.

Flow runs end in the states ``flows.final_state`` builds from the outcome table; headless
Chromium (Debian package ``chromium``, installed by ``.ci/run``) renders the real UI of the
session's Prefect server, and the rendered runs list must show each outcome's name. The screenshot
is kept in the test's tmp dir (its path is printed). The migration itself ending ``RolledBack`` is
proven against the server API in ``test_migration_e2e.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from odin_drills.outcomes import OUTCOMES, Outcome

FLOWS = '''
import sys
from pydantic import BaseModel
from prefect import flow
from odin_drills.flows.final_state import final_state, summary_of

class Summary(BaseModel):
    outcome: str

@flow(name="ui-outcome-check")
def outcome_run(outcome: str):
    return final_state(outcome, Summary(outcome=outcome))

for outcome in sys.argv[1:]:
    state = outcome_run.with_options(flow_run_name=f"ui-{outcome}")(outcome, return_state=True)
    assert summary_of(state, Summary).outcome == outcome  # a Failed state still hands back the summary
'''
SHOWN = [Outcome.COMPLETED, Outcome.ROLLED_BACK_HEALTHY, Outcome.CRITERIA_FAILED]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("headless Chromium is needed (Debian package chromium; .ci/run installs it)")
        pytest.skip("headless Chromium is not installed here (Debian package chromium); CI runs this test")
    return found


def render(browser: str, url: str, *flags: str, budget_ms: int = 20000) -> subprocess.CompletedProcess[str]:
    return subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--window-size=1400,1000", f"--virtual-time-budget={budget_ms}", *flags, url],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_the_runs_list_names_each_outcome(odin_env: dict[str, str], tmp_path: Path) -> None:
    browser = chromium()
    done = subprocess.run([sys.executable, "-c", FLOWS, *SHOWN], env=odin_env, capture_output=True, text=True,
                          timeout=180, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    api = odin_env["PREFECT_API_URL"]
    runs = httpx.post(f"{api}/flow_runs/filter", json={"flow_runs": {"name": {"like_": "ui-"}}}, timeout=10).json()
    states = {run["name"]: (run["state"]["type"], run["state"]["name"]) for run in runs}
    for outcome in SHOWN:
        row = OUTCOMES[outcome]
        assert states[f"ui-{outcome}"] == ("FAILED" if row.failed_state else "COMPLETED", row.state_name)

    page = api.removesuffix("/api") + "/runs"
    dom = ""
    # The UI loads its runs over the API after the first paint; on a busy CI worker the first
    # renders can end before the app has mounted, so retry with a longer virtual-time budget.
    for attempt in range(6):
        dom = render(browser, page, "--dump-dom", budget_ms=20000 * (attempt + 1)).stdout
        if all(OUTCOMES[o].state_name in dom for o in SHOWN):
            break
        time.sleep(2)
    assert "Can't connect to Server API" not in dom, "the UI was not told its API's port"
    for outcome in SHOWN:
        assert OUTCOMES[outcome].state_name in dom, f"{OUTCOMES[outcome].state_name} not shown in the runs list"
    shot = tmp_path / "prefect-runs-list.png"
    render(browser, page, f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000
    print(f"runs list screenshot: {shot}")
