"""Fuzzed plan files through ``odin validate`` and ``odin plan``: no traceback, every rejection exit 2
naming the file on each line, nothing run (no connection to the server the plans point at, nothing
written under ``$ODIN_HOME``).

300 derandomized examples here (the same ones every run); ``bench/fuzz_plans.py`` runs 10,000 random
ones and records the numbers in ``bench/results/fuzz.md``. Generators and checks: ``tests/plan_fuzz.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from tests.plan_fuzz import check_plan_file, fuzz_environment, plan_files, run_cli
from tests.recording_server import RecordingServer

RECORDER = RecordingServer()


@pytest.fixture(scope="module")
def fuzz_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    home = tmp_path_factory.mktemp("fuzz-home")
    plans = tmp_path_factory.mktemp("fuzz plans ✓")  # a path with a space and unicode: the error names it whole
    with RECORDER, fuzz_environment(home, RECORDER.url):
        yield home, plans


@settings(max_examples=150, derandomize=True, deadline=None, database=None, print_blob=True,
          suppress_health_check=list(HealthCheck))
@given(content=plan_files(RECORDER.url))
def test_generated_plans_are_refused_cleanly_or_accepted(fuzz_home: tuple[Path, Path], content: str | bytes) -> None:
    home, plans = fuzz_home
    problems = check_plan_file(plans / "plän.yaml", content, home=home, connections=RECORDER.connections)
    assert not problems, "\n".join(problems)


def test_the_checks_bite(fuzz_home: tuple[Path, Path]) -> None:
    """The harness itself: exit 2 naming the file passes; a connection or a file written during
    the run (simulated by the probe that reads the recorder) is reported."""
    home, plans = fuzz_home
    path = plans / "bad.yaml"
    result = run_cli(["validate", str(path)])
    assert result.code == 2 and result.stderr == f"odin: error: {path}: no such plan file\n"
    assert check_plan_file(path, "name: [unclosed\n", home=home, connections=RECORDER.connections) == []

    calls: list[int] = []

    def a_request_arrives() -> list[str]:
        calls.append(1)
        return ["GET / HTTP/1.1"] * (len(calls) - 1)

    assert any("reached the recording server" in p
               for p in check_plan_file(path, "name: x\n", home=home, connections=a_request_arrives))

    def a_file_is_written() -> list[str]:
        (home / "written").write_text("x")
        return []

    try:
        assert any("$ODIN_HOME changed" in p
                   for p in check_plan_file(path, "name: x\n", home=home, connections=a_file_is_written))
    finally:
        (home / "written").unlink()
