"""A bad plan gets one line per problem naming the file and field, exit 2, and nothing runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, run_odin

GOOD = {
    "name": "shop-move",
    "environment": "staging",
    "service": {"name": "shop", "endpoints": {"router": "http://127.0.0.1:9/"}},
    "metrics": {"kind": "synthetic_probe", "url": "http://127.0.0.1:9/api", "rate_per_second": 50},
    "smoke": [{"name": "home", "url": "http://127.0.0.1:9/health", "assert": [{"jsonpath": "$.status", "equals": "ok"}]}],
    "phases": {
        "t0": [
            {"name": "shift", "kind": "http", "method": "PUT", "url": "http://127.0.0.1:9/w", "json": {"a": 1},
             "undo": {"kind": "http", "method": "PUT", "url": "http://127.0.0.1:9/w", "json": {"a": 0}}},
        ]
    },
}


def write(tmp_path: Path, data: object, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def bad(tmp_path: Path, mutate) -> list[str]:
    data = json.loads(json.dumps(GOOD))
    mutate(data)
    path = write(tmp_path, data)
    result = run_odin(["validate", str(path)])
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith(f"odin: error: {path}: ") for line in lines), lines
    return lines


def test_a_good_plan_validates(tmp_path: Path) -> None:
    result = run_odin(["validate", str(write(tmp_path, GOOD))])
    assert result.returncode == 0, result.stderr
    assert "ok (shop-move, environment staging, 1 steps" in result.stdout


def test_the_demo_plan_validates() -> None:
    result = run_odin(["validate", str(ROOT / "drills" / "migration-demo.yaml")])
    assert result.returncode == 0, result.stderr


def test_missing_field_is_named(tmp_path: Path) -> None:
    lines = bad(tmp_path, lambda d: d.pop("environment"))
    assert lines == [f"odin: error: {tmp_path / 'plan.yaml'}: environment: required field is missing"]


def test_unknown_step_kind_is_named(tmp_path: Path) -> None:
    lines = bad(tmp_path, lambda d: d["phases"]["t0"].append({"kind": "teleport"}))
    assert len(lines) == 1 and "phases.t0[1]: unknown kind 'teleport'" in lines[0]


def test_world_changing_step_without_undo_is_refused(tmp_path: Path) -> None:
    lines = bad(tmp_path, lambda d: d["phases"]["t0"][0].pop("undo"))
    assert len(lines) == 1 and "phases.t0[0]: world-changing http step needs 'undo:'" in lines[0]


def test_undo_none_needs_a_reason(tmp_path: Path) -> None:
    def mutate(d):
        d["phases"]["t0"][0]["undo"] = "none"
    lines = bad(tmp_path, mutate)
    assert "'undo: none' needs 'undo_reason:'" in lines[0]

    data = json.loads(json.dumps(GOOD))
    data["phases"]["t0"][0]["undo"] = "none"
    data["phases"]["t0"][0]["undo_reason"] = "DNS TTL makes it moot"
    assert run_odin(["validate", str(write(tmp_path, data, "ok.yaml"))]).returncode == 0


def test_bad_url_is_named(tmp_path: Path) -> None:
    lines = bad(tmp_path, lambda d: d["smoke"][0].update(url="not a url"))
    assert len(lines) == 1 and "smoke[0].url:" in lines[0]


def test_wrong_type_is_named(tmp_path: Path) -> None:
    lines = bad(tmp_path, lambda d: d["metrics"].update(rate_per_second="fast"))
    assert "metrics.rate_per_second:" in lines[0]


def test_several_problems_one_line_each(tmp_path: Path) -> None:
    def mutate(d):
        d.pop("service")
        d["phases"]["t0"].append({"kind": "wait", "duration": "soon"})
        d["policy"] = {"confidence": 2}
    lines = bad(tmp_path, mutate)
    joined = "\n".join(lines)
    assert len(lines) == 3, lines
    assert "service: required field is missing" in joined
    assert "phases.t0[1].duration: 'soon' is not a duration" in joined
    assert "policy.confidence:" in joined


def test_unknown_field_is_flagged(tmp_path: Path) -> None:
    lines = bad(tmp_path, lambda d: d.update(enviroment="typo"))
    assert "enviroment: unknown field" in lines[0]


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nphases: [\n")
    result = run_odin(["validate", str(path)])
    assert result.returncode == 2 and "invalid YAML at line" in result.stderr and "Traceback" not in result.stderr


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = run_odin(["validate", str(tmp_path / "nope.yaml")])
    assert result.returncode == 2 and "no such plan file" in result.stderr


def test_unset_variable_without_default_is_named(tmp_path: Path) -> None:
    data = json.loads(json.dumps(GOOD))
    data["metrics"]["url"] = "${ODIN_TEST_SURELY_UNSET}/api"
    result = run_odin(["validate", str(write(tmp_path, data))])
    assert result.returncode == 2 and "metrics.url: environment variable ODIN_TEST_SURELY_UNSET is not set" in result.stderr


def test_migrate_with_bad_plan_runs_nothing(tmp_path: Path) -> None:
    """Validation happens before any server starts or anything is recorded."""
    data = json.loads(json.dumps(GOOD))
    data["phases"]["t0"][0].pop("undo")
    home = tmp_path / "home"
    env = {"ODIN_HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = run_odin(["migrate", str(write(tmp_path, data))], env=env)
    assert result.returncode == 2
    assert not (home / "server.json").exists() and not (home / "migrations").exists()


def test_schema_is_json_schema_with_step_kinds() -> None:
    result = run_odin(["schema"])
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    text = json.dumps(schema)
    for kind in ("http", "command", "wait", "smoke", "gate", "approval", "notify"):
        assert f'"const": "{kind}"' in text
    assert "environment" in schema["required"]


@pytest.mark.parametrize("flag", [["migrate"], ["migrate", "x.yaml", "--phase", "t+2h"], ["decide"]])
def test_bad_flags_exit_2_with_one_line(flag: list[str]) -> None:
    result = run_odin(flag)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


# ------------------------------------------------------------------ one line per real problem (issue 9)

def test_a_union_reports_the_member_meant_not_every_member(tmp_path: Path) -> None:
    """``undo:`` is a step or 'none': a misspelled method is one problem, not two."""
    lines = bad(tmp_path, lambda d: d["phases"]["t0"][0]["undo"].update(method="PUTT"))
    assert lines == [f"odin: error: {tmp_path / 'plan.yaml'}: phases.t0[0].undo.method: Input should be 'GET', "
                     "'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE' or 'OPTIONS'"]
    lines = bad(tmp_path, lambda d: d["phases"]["t0"][0]["undo"].pop("kind"))
    assert lines == [f"odin: error: {tmp_path / 'plan.yaml'}: phases.t0[0].undo: missing 'kind'"]


def test_a_value_no_member_accepts_is_one_line_naming_what_fits(tmp_path: Path) -> None:
    from odin_drills.errors import PlanInvalid
    from odin_drills.plan.loader import parse_plan

    def problems(mutate) -> list[str]:
        data = json.loads(json.dumps(GOOD))
        mutate(data)
        with pytest.raises(PlanInvalid) as refused:
            parse_plan(data, "p.yaml")
        return refused.value.problems

    assert problems(lambda d: d["phases"]["t0"][0].update(undo=5)) == [
        "p.yaml: phases.t0[0].undo: Input should be a valid dictionary or object to extract fields from, or 'none'"]
    assert problems(lambda d: d.update(change_window={"start": "25:00", "end": "02:00"})) == [
        "p.yaml: change_window.start: Input should be in a valid time format, hour value is outside expected range "
        "of 0-23, or a valid datetime or date, input is too short"]
    assert problems(lambda d: d["phases"]["t0"][0].update(expect_status="ok")) == [
        "p.yaml: phases.t0[0].expect_status: Input should be a valid integer, unable to parse string as an integer"]
    assert problems(lambda d: d["phases"]["t0"][0].update({"bad\nkey": 1})) == [
        "p.yaml: phases.t0[0].bad\\nkey: unknown field (check the spelling; `odin schema` lists the fields)"]


def test_a_plan_that_changes_nothing_is_refused_unless_it_says_observe_only(tmp_path: Path) -> None:
    lines = bad(tmp_path, lambda d: d["phases"].update(t0=[{"kind": "wait", "duration": "1m"}]))
    assert lines == [f"odin: error: {tmp_path / 'plan.yaml'}: phases: no step changes anything, so this migration "
                     "would migrate nothing; add the steps that make the change, or say observe_only: true to only "
                     "baseline and watch"]
    assert len(bad(tmp_path, lambda d: d.pop("phases"))) == 1

    data = json.loads(json.dumps(GOOD))
    data.update(phases={"t0": [{"kind": "gate", "window": "5m"}]}, observe_only=True)
    ok = run_odin(["validate", str(write(tmp_path, data, "watch.yaml"))])
    assert ok.returncode == 0 and "observe only" in ok.stdout, ok.stderr
    dry = run_odin(["plan", str(tmp_path / "watch.yaml")])
    assert dry.returncode == 0 and "observe only: no step changes anything" in dry.stdout

    lines = bad(tmp_path, lambda d: d.update(observe_only=True))
    assert lines == [f"odin: error: {tmp_path / 'plan.yaml'}: observe_only: the plan says it changes nothing, but "
                     "phases.t0[0] (shift) changes the world; remove observe_only or the step"]


def test_oversized_and_hostile_yaml_is_one_line(tmp_path: Path) -> None:
    bomb = "\n".join(["a0: &a0 [x, x, x, x, x, x, x, x, x]",
                      *(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)), "name: *a8"])
    cases = {"bomb.yaml": (bomb, "invalid plan file: more than 100000 values"),
             "deep.yaml": ("phases: " + "[" * 5000 + "]" * 5000, "invalid YAML at line 1"),
             "nested.yaml": ("name: " + "{a: " * 100 + "1" + "}" * 100, "invalid plan file: nested more than 64 levels deep"),
             "bell.yaml": ("name: a\x07b\n", "invalid YAML at character 8: unacceptable character #x0007"),
             "tag.yaml": ("name: !!float x\n", "invalid YAML: a tagged value cannot be read (ValueError: could not "
                          "convert string to float: 'x')"),
             "bool.yaml": ("name: !!bool maybe\n", "invalid YAML: a tagged value cannot be read (KeyError")}
    for name, (text, expected) in cases.items():
        result = run_odin(["validate", str(write(tmp_path, text, name))], timeout=30)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith(f"odin: error: {tmp_path / name}: {expected}"), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_times_and_dates_are_read_as_written_not_as_yaml_1_1_guesses(tmp_path: Path) -> None:
    """``22:30`` unquoted is half past ten at night, not 1350 (base 60); an impossible date is a
    message naming the field, not a crash."""
    from odin_drills.plan import load_plan

    text = yaml.safe_dump(GOOD, sort_keys=False) + "change_window: {start: 22:30, end: 23:45, timezone: UTC}\n"
    window = load_plan(write(tmp_path, text, "window.yaml")).change_window
    assert (str(window.start), str(window.end)) == ("22:30:00", "23:45:00")
    text = yaml.safe_dump(GOOD, sort_keys=False) + "change_window: {start: 2026-02-30T22:00:00Z, end: 2026-03-01T02:00:00Z}\n"
    result = run_odin(["validate", str(write(tmp_path, text, "date.yaml"))])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"odin: error: {tmp_path / 'date.yaml'}: change_window.start: ")


def test_a_step_budget_is_for_world_changing_steps_only(tmp_path: Path) -> None:
    """``budget:`` is a step's RTO; a read-only step has none to miss."""
    def on_a_read(d: dict) -> None:
        d["phases"]["t0"].append({"name": "look", "kind": "http", "method": "GET", "url": "http://127.0.0.1:9/w",
                                  "budget": "5m"})
    lines = bad(tmp_path, on_a_read)
    assert len(lines) == 1 and "phases.t0[1]" in lines[0] and "takes no 'budget:'" in lines[0], lines
    lines = bad(tmp_path, lambda d: d["phases"]["t0"][0].update(budget="0s"))
    assert len(lines) == 1 and "phases.t0[0].budget" in lines[0], lines
    lines = bad(tmp_path, lambda d: d["phases"]["t0"][0]["undo"].update(budget="1m"))
    assert len(lines) == 1 and "an undo step takes no 'budget:'" in lines[0], lines
    good = json.loads(json.dumps(GOOD))
    good["phases"]["t0"][0]["budget"] = "10m"
    assert run_odin(["validate", str(write(tmp_path, good))]).returncode == 0
