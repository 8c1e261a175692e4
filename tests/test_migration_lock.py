"""A migration keeps its environment from T-0 until its T+24h ends or it is rolled back — across
processes, and across a kill -9 between phases — and a second migration of the environment (its
T-1w or its T-0, of another plan or the same) is refused meanwhile, the holder named.

Real CLI processes, the shared real Prefect server, real HTTP to the demo service. The kill is the
journal's own ``ODIN_CRASH_AT`` hook (SIGKILL after an entry is on disk); every process is run to
its end or killed by its process group id (``tests.crash_harness.odin``).
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.crash_harness import odin
from tests.test_migration_e2e import FAST, kinds, migrate, shop, write_plan  # noqa: F401 - shop is a fixture


def _journal(env: dict, plan: str, migration: str) -> list[dict]:
    path = Path(env["ODIN_HOME"]) / "migrations" / plan / migration / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _current(env: dict, plan: str) -> str:
    return (Path(env["ODIN_HOME"]) / "migrations" / plan / "current").read_text().strip()


def _refused_naming(result, holder: str, plan: str) -> None:
    assert result.returncode == 2, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("odin: error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert f"reserved by migration {holder} of plan {plan}" in errors[0]
    assert "Traceback" not in result.stderr


def test_killed_between_phases_the_migration_keeps_its_environment_until_t24h(tmp_path: Path, odin_env: dict,
                                                                               shop) -> None:
    first = write_plan(tmp_path, shop.router_url, name="first", environment="shared-env")
    second = write_plan(tmp_path, shop.router_url, name="second", environment="shared-env")
    assert migrate(second, odin_env, "--phase", "t-1w").returncode == 0  # the environment is free: allowed
    second_id = _current(odin_env, "second")

    # the whole first migration, killed (SIGKILL) right after its T-0 finished: between phases
    crashed = odin(["migrate", str(first), "--time-scale", str(FAST)], odin_env, crash="phase_finished:2")
    assert crashed.returncode == -9, crashed.stderr[-3000:]
    first_id = _current(odin_env, "first")
    entries = _journal(odin_env, "first", first_id)
    assert [e["phase"] for e in kinds(entries, "phase_finished")] == ["t-1w", "t0"]
    assert shop.weights() == {"blue": 0, "green": 100}

    # meanwhile: the other plan's T-0, a new T-1w of it, and a new T-1w of the same plan are refused
    _refused_naming(migrate(second, odin_env, "--phase", "t0"), first_id, "first")
    _refused_naming(migrate(second, odin_env, "--phase", "t-1w"), first_id, "first")
    _refused_naming(migrate(first, odin_env, "--phase", "t-1w"), first_id, "first")
    assert _current(odin_env, "first") == first_id  # `current` did not move under the holder
    assert _current(odin_env, "second") == second_id

    # the killed process's slot lease is released at once (its holder is dead), not after its expiry:
    # the resume finishes T+1h and T+24h, and the end of T+24h frees the environment
    resumed = migrate(first, odin_env, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    entries = _journal(odin_env, "first", first_id)
    assert [e["phase"] for e in kinds(entries, "phase_finished")] == ["t-1w", "t0", "t+1h", "t+24h"]
    reservation = [e["data"]["action"] for e in kinds(entries, "lock") if e["data"]["action"] in ("reserved", "freed")]
    assert reservation == ["reserved", "freed"]
    assert not (Path(odin_env["ODIN_HOME"]) / "locks" / "shared-env.json").exists()

    # now the second migration proceeds
    proceeded = migrate(second, odin_env, "--phase", "t0")
    assert proceeded.returncode == 0, proceeded.stderr[-3000:]
    assert kinds(_journal(odin_env, "second", second_id), "lock")[0]["data"]["migration"] == second_id


def test_a_new_t_minus_1w_waits_for_the_holder_with_wait(tmp_path: Path, odin_env: dict, shop) -> None:
    """``--wait`` on a new migration queues behind the holder instead of refusing; it goes on as
    soon as the holder is rolled back (here: rolled back by a person)."""
    import subprocess
    import time

    from tests.conftest import ODIN, ROOT, run_odin

    first = write_plan(tmp_path, shop.router_url, name="first", environment="shared-env")
    second = write_plan(tmp_path, shop.router_url, name="second", environment="shared-env")
    assert migrate(first, odin_env, "--phase", "t-1w").returncode == 0
    assert migrate(first, odin_env, "--phase", "t0").returncode == 0
    first_id = _current(odin_env, "first")
    waiting = subprocess.Popen([*ODIN, "migrate", str(second), "--phase", "t-1w", "--wait", "--time-scale", str(FAST)],
                               cwd=ROOT, env=odin_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL)
    try:
        time.sleep(3)
        assert waiting.poll() is None  # queued behind the first migration
        assert not list((Path(odin_env["ODIN_HOME"]) / "migrations").glob("second/*/journal.jsonl"))
        back = run_odin(["rollback", str(first), "--migration", first_id, "--reason", "make room", "--by", "erin",
                         "--time-scale", str(FAST)], env=odin_env)
        assert back.returncode == 3, back.stderr[-3000:]
        out, err = waiting.communicate(timeout=180)
        assert waiting.returncode == 0, err[-3000:]
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.communicate(timeout=30)
    assert shop.weights() == {"blue": 100, "green": 0}
