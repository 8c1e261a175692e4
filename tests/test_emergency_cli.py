"""``odin migrate --emergency --reason TEXT``: the emergency override of an exhausted error budget
from every entry point that can start T-0 (the command line, and the ``migration`` flow's
parameters that the deployment's run form shows), refused in one line without its reason, and on
record in the journal and the report. Real CLI; the end-to-end run uses the real Prometheus stack
of ``test_prometheus_migration_e2e`` (the demo service fails 10 %: ten times a 99 % SLO's budget)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
import yaml

from odin_drills.errors import UsageError
from odin_drills.flows.entry import emergency_override
from odin_drills.plan.slo import ErrorBudgetPolicy
from tests.conftest import run_odin
from tests.test_migration_e2e import journal, kinds, migrate
from tests.test_plan_validation import GOOD
from tests.test_prometheus_migration_e2e import stack, write_plan  # noqa: F401  (fixture)
from tests.test_signal_plan_fields import PROMETHEUS


def plan_file(tmp_path: Path, **changes: object) -> Path:
    data = {**json.loads(json.dumps(GOOD)), **changes}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("args, says", [
    (["--emergency"], "--emergency needs --reason TEXT: why this change may run with the error budget exhausted"),
    (["--emergency", "--reason", "   "], "--emergency needs --reason TEXT"),
    (["--reason", "hotfix for INC-42"], "--reason: only with --emergency (it is the emergency's record)"),
    (["--emergency", "--reason", "x"], "--reason: String should have at least 3 characters"),
])
def test_an_emergency_without_its_reason_is_a_one_line_usage_error(tmp_path: Path, args: list[str], says: str) -> None:
    path = plan_file(tmp_path, metrics=PROMETHEUS, slo={"availability": 99.9})
    result = run_odin(["migrate", str(path), "--phase", "t0", *args])
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"odin: error: {says}"), lines
    assert "Prefect" not in result.stderr  # refused before any server started


def test_an_emergency_on_a_plan_without_an_slo_has_nothing_to_override(tmp_path: Path) -> None:
    result = run_odin(["migrate", str(plan_file(tmp_path)), "--emergency", "--reason", "hotfix for INC-42"])
    assert result.returncode == 2
    assert result.stderr.strip() == ("odin: error: --emergency: the plan sets no slo, so there is no error-budget "
                                     "gate to override")


def test_the_flow_checks_the_run_forms_emergency_fields_for_every_entry_point() -> None:
    """A deployment run (UI form, ``prefect deployment run``) reaches the flow without the CLI: the flow
    itself refuses, naming its own parameters; the form shows them, described."""
    from odin_drills.flows.migration import migration

    plan = type("Plan", (), {"slo": ErrorBudgetPolicy(availability=99.9)})()
    with pytest.raises(UsageError, match="^emergency needs emergency_reason TEXT"):
        emergency_override(plan, True, None, "alice")
    with pytest.raises(UsageError, match="^emergency needs emergency_by NAME: who decided the emergency$"):
        emergency_override(plan, True, "hotfix for INC-42", "")
    with pytest.raises(UsageError, match="^emergency_by: only with emergency"):
        emergency_override(plan, False, None, "alice")
    override = emergency_override(plan, True, "  hotfix for INC-42 ", "alice")
    assert (override.reason, override.by) == ("hotfix for INC-42", "alice")
    assert emergency_override(plan, False, None, None) is None
    parameters = inspect.signature(migration.fn).parameters
    assert {"emergency", "emergency_reason", "emergency_by"} <= set(parameters)
    assert parameters["emergency"].default is False
    schema = migration.parameters.model_dump()["properties"]  # what the deployment's run form draws
    for name in ("emergency", "emergency_reason", "emergency_by"):
        assert schema[name].get("description") and "anyOf" not in schema[name], schema[name]


def test_an_exhausted_budget_starts_t0_with_emergency_on_the_command_line_on_record(
        tmp_path: Path, odin_env: dict, stack) -> None:  # noqa: F811
    demo, prom, am = stack
    plan = write_plan(tmp_path, demo.router_url, prom, am, slo={"availability": 99.0, "window": "30d"})
    first = migrate(plan, odin_env, "--phase", "t-1w", scale=60000)
    assert first.returncode == 0, first.stderr[-3000:]
    t0 = migrate(plan, odin_env, "--phase", "t0", "--emergency", "--reason", "hotfix for INC-42", "--by", "alice",
                 scale=60000)
    assert t0.returncode == 0, t0.stderr[-3000:]
    assert demo.weights() == {"blue": 0, "green": 100}

    entries = journal(odin_env, "shop-prom")
    [emergency] = kinds(entries, "emergency")
    assert emergency["data"] == {"reason": "hotfix for INC-42", "by": "alice", "source": "command line"}
    budget = [e for e in kinds(entries, "note") if e.get("step") == "error-budget" and e["phase"] == "t0"][-1]["data"]
    assert budget["error_budget"]["tier"] == "exhausted" and budget["error_budget"]["allowed"] is True
    assert budget["error_budget"]["emergency_source"] == "command line"
    assert budget["message"].endswith("EMERGENCY override by alice: hotfix for INC-42 (--emergency on the command "
                                      "line): allowed")
    folder = Path(odin_env["ODIN_HOME"]) / "migrations" / "shop-prom"
    folder = folder / (folder / "current").read_text().strip()
    assert "**Emergency override** (command line, " in (folder / "report.md").read_text()
    assert "hotfix for INC-42" in (folder / "report.html").read_text()
