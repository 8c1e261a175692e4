"""Prove it by killing: SIGKILL the real odin process at journal boundaries and mid-operation, then
``odin migrate --resume`` and, separately, ``odin rollback``; the world must converge.

The default run takes a representative subset (a few minutes): for the demo migration a kill
between an intent and its request, after an outcome before its gate, and in the middle of a
rollback; for ``drills/sandbox-failover.yaml`` a kill while the SQL failover's long-running
operation is in flight (``slow_operations``), both recovery paths, and a kill while an undo's
operation is in flight. The whole matrix — every journal boundary of T-0 and of a rollback, for
both plans — is ``bench/crash_matrix.py`` (results in ``bench/results/crash_matrix.md``), or this
module with ``ODIN_CRASH_MATRIX=full`` (marked ``crash_matrix``). See ``tests/crash_harness.py`` for
what "converged" checks. Every process is stopped by its PID, on success and failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import crash_harness as harness

FULL = os.environ.get("ODIN_CRASH_MATRIX") == "full"


@pytest.fixture(scope="module")
def base_env(prefect_api: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    client = tmp_path_factory.mktemp("prefect-client")
    env = dict(os.environ)
    env.update({"PREFECT_API_URL": prefect_api, "PREFECT_HOME": str(client), "PREFECT_LOGGING_LEVEL": "WARNING",
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PYTHONPATH": str(harness.ROOT)})
    return env


@pytest.fixture(scope="module")
def demo_shop() -> Iterator[object]:
    from odin_drills.sandbox.bluegreen import BlueGreenDemo

    with BlueGreenDemo(seed=11, port=0, error_rate=0.10, latency_median_ms=30) as demo:
        yield demo


@pytest.fixture(scope="module")
def demo_prepared(demo_shop, base_env: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return harness.prepare_demo(demo_shop, tmp_path_factory.mktemp("demo-prep"), base_env)


@pytest.fixture(scope="module")
def azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.AzureSandboxProcess]:
    with harness.AzureSandboxProcess(tmp_path_factory.mktemp("azure-sandbox")) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def azure_prepared(azure, base_env: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return harness.prepare_azure(azure, tmp_path_factory.mktemp("azure-prep"), base_env)


def converged(verdicts: list[harness.Verdict]) -> None:
    for v in verdicts:
        assert v.killed, f"{v.case}: the kill point was never reached"
        assert v.ok, f"{v.case} ▸ {v.path}: {v.outcome}: {'; '.join(v.problems)}"


@pytest.mark.parametrize(("kill", "what"), [
    ("step_intent:2", "between shift-50's intent and its PUT: may have happened"),
    ("step_finished:1", "after shift-10 is done, before its gate"),
    ("canary_acknowledged:5", "shift-10 done, two of shift-50's canary writes journaled, before its intent"),
])
def test_demo_t0_killed_then_resumed_and_rolled_back(kill: str, what: str, demo_shop, demo_prepared: Path,
                                                      base_env: dict, tmp_path: Path) -> None:
    converged(harness.demo_case(f"T-0 after {kill}", ("resume", "rollback"), shop=demo_shop, prepared=demo_prepared,
                                work=tmp_path, base=base_env, kill_t0=kill))


def test_demo_rollback_killed_mid_undo_then_rolled_back_and_resumed(demo_shop, demo_prepared: Path, base_env: dict,
                                                                    tmp_path: Path) -> None:
    converged(harness.demo_case("rollback after undo_started:2", ("rollback", "resume"), shop=demo_shop,
                                prepared=demo_prepared, work=tmp_path, base=base_env, kill_rollback="undo_started:2"))


def test_demo_rollback_killed_after_its_end_still_frees_the_environment(demo_shop, demo_prepared: Path,
                                                                         base_env: dict, tmp_path: Path) -> None:
    """Killed after ``rollback_finished`` was fsynced, before the lock was freed: the migration is
    over, yet holds its environment. The next start frees it (the one row of the first full demo
    matrix that did not converge: ``--resume`` answered "environment still reserved")."""
    converged(harness.demo_case("rollback after rollback_finished:1", ("resume", "rollback"), shop=demo_shop,
                                prepared=demo_prepared, work=tmp_path, base=base_env,
                                kill_rollback="rollback_finished:1"))


@pytest.mark.parametrize("path", ["resume", "rollback"])
def test_sandbox_failover_killed_with_the_failover_in_flight(path: str, azure, azure_prepared: Path, base_env: dict,
                                                            tmp_path: Path) -> None:
    converged([harness.azure_case("T-0 after operation_started:1 (LRO in flight)", path, sandbox=azure,
                                  prepared=azure_prepared, work=tmp_path, base=base_env,
                                  kill_t0="operation_started:1", slow_seconds=6)])


def test_sandbox_failover_rollback_killed_with_the_failback_in_flight(azure, azure_prepared: Path, base_env: dict,
                                                                      tmp_path: Path) -> None:
    # the rollback undoes Front Door first (two origin PATCHes: operations 1 and 2), then the failover group (3)
    converged([harness.azure_case("rollback after operation_started:3 (undo LRO in flight)", "rollback",
                                  sandbox=azure, prepared=azure_prepared, work=tmp_path, base=base_env,
                                  kill_rollback="operation_started:3", slow_seconds=6)])


@pytest.mark.crash_matrix
@pytest.mark.skipif(not FULL, reason="the full kill matrix takes about two hours: ODIN_CRASH_MATRIX=full, or "
                                      "bench/crash_matrix.py")
def test_the_full_matrix(base_env: dict, tmp_path: Path) -> None:
    verdicts = harness.demo_matrix(base_env, tmp_path / "demo") + harness.azure_matrix(base_env, tmp_path / "azure")
    bad = [v for v in verdicts if not v.ok]
    assert not bad, "\n".join(f"{v.case} ▸ {v.path}: {'; '.join(v.problems)}" for v in bad)
