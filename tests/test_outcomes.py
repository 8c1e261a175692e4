"""One outcome table: every outcome has one exit code and one Prefect state, and the README agrees."""

from __future__ import annotations

from pathlib import Path

from odin_drills.outcomes import (EXIT_FAILED, EXIT_INTERRUPTED, EXIT_NOT_ACHIEVED, EXIT_OK, EXIT_USAGE, OUTCOMES, Outcome,
                                  describe, exit_code)

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_outcome_has_one_row_and_a_documented_code() -> None:
    assert set(OUTCOMES) == set(Outcome)
    assert {row.exit_code for row in OUTCOMES.values()} == {EXIT_OK, EXIT_USAGE, EXIT_NOT_ACHIEVED, EXIT_FAILED,
                                                                  EXIT_INTERRUPTED}
    assert len({row.state_name for row in OUTCOMES.values()}) == len(OUTCOMES)


def test_only_runs_that_reached_their_goal_end_green() -> None:
    for outcome, row in OUTCOMES.items():
        assert row.failed_state == (row.exit_code != EXIT_OK), outcome


def test_a_rolled_back_migration_is_not_a_success() -> None:
    assert exit_code("rolled_back_healthy") == 3 and exit_code("rolled_back_degraded") == 4
    assert OUTCOMES[Outcome.ROLLED_BACK_HEALTHY].state_name == "RolledBack"
    assert describe("criteria_failed") == "a criterion failed" and describe("unknown-thing") == "unknown-thing"


def test_the_readme_table_names_every_state() -> None:
    text = README.read_text()
    table = text[text.index("### Exit codes and final states"):text.index("## Plan files")]
    for row in OUTCOMES.values():
        assert f"`{row.state_name}`" in table, row.state_name
        assert f"| {row.exit_code} |" in table
