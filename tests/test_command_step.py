"""The command step: nothing spliced into a shell, an explicit environment, a timeout that kills
the whole process group, and output masked and cut before anything stores it."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from odin_drills.errors import PlanInvalid
from odin_drills.plan import load_plan
from odin_drills.steps.actions import run_action
from odin_drills.steps.actions.command import OUTPUT_LIMIT
from odin_drills.steps.clock import ManualClock
from odin_drills.steps.redact import forget_secrets
from odin_drills.steps.secrets import SecretResolver
from tests.conftest import run_odin
from tests.test_actions_and_rollback import step

HOSTILE = "x; touch PWNED; echo $(id) `id`"


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


def run(spec: dict, environ: dict[str, str] | None = None):
    return run_action(step({"undo": "none", "undo_reason": "test", **spec}), client=httpx.Client(),
                      clock=ManualClock(), secrets=SecretResolver(environ=environ))


def test_a_referenced_value_is_one_argument_never_shell_syntax(tmp_path: Path) -> None:
    script = "import sys; open('args', 'w').write(repr(sys.argv[1:])); print(sys.argv[1])"
    outcome = run({"kind": "command", "argv": [sys.executable, "-c", script, "${env:V}", "; echo b"],
                   "cwd": str(tmp_path)}, environ={"V": HOSTILE})
    assert outcome.status == "ok" and (tmp_path / "args").read_text() == repr([HOSTILE, "; echo b"])
    assert outcome.output["stdout"] == "***\n"  # the value came from a reference: masked in what is kept
    assert not (tmp_path / "PWNED").exists()


def test_a_shell_line_gets_values_only_through_its_environment(tmp_path: Path) -> None:
    outcome = run({"kind": "command", "shell": True, "argv": ['printf "%s" "$V" > out'], "cwd": str(tmp_path),
                   "env": {"V": "${env:V}"}}, environ={"V": HOSTILE})
    assert outcome.status == "ok" and (tmp_path / "out").read_text() == HOSTILE
    assert not (tmp_path / "PWNED").exists()


def plan_with(tmp_path: Path, command: dict) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({
        "name": "p", "environment": "e", "service": {"name": "s"},
        "metrics": {"kind": "synthetic_probe", "url": "http://127.0.0.1:9/api", "rate_per_second": 50},
        "phases": {"t0": [{"kind": "command", "undo": "none", "undo_reason": "t", **command}]}}))
    return path


def test_a_dollar_brace_in_a_shell_line_is_refused_at_load_and_never_expanded(tmp_path: Path) -> None:
    path = plan_with(tmp_path, {"shell": True, "argv": ["deploy --to ${TARGET_HOST}"]})
    with pytest.raises(PlanInvalid) as caught:
        load_plan(path, environ={"TARGET_HOST": "prod; rm -rf /"})  # set, and still not spliced in
    assert caught.value.problems == [
        f"{path}: phases.t0[0]: argv: ${{...}} in a shell: true command line is not expanded; pass the value "
        "with env: {NAME: ...} and write $NAME in the script"]
    result = run_odin(["validate", str(path)])
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "use env" not in result.stdout
    assert "in a shell: true command line is not expanded" in result.stderr and str(path) in result.stderr
    # without a shell, ${NAME} is still expanded at load (one argv element, no shell to interpret it)
    plain = load_plan(plan_with(tmp_path, {"argv": ["deploy", "--to", "${TARGET_HOST}"]}),
                      environ={"TARGET_HOST": "prod; rm -rf /"})
    assert plain.phases.t0[0].argv == ["deploy", "--to", "prod; rm -rf /"]


def test_the_command_sees_the_default_set_and_its_env_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "odin-own-credential")
    monkeypatch.setenv("ODIN_TEST_NOT_ALLOWED", "1")
    outcome = run({"kind": "command", "argv": [sys.executable, "-c", "import os, json; print(json.dumps(dict(os.environ)))"],
                   "env": {"GIVEN": "yes", "TOKEN": "${env:T}"}}, environ={"T": "resolved-token-value"})
    seen = yaml.safe_load(outcome.output["stdout"])
    assert "AZURE_CLIENT_SECRET" not in seen and "ODIN_TEST_NOT_ALLOWED" not in seen
    assert seen["PATH"] == os.environ["PATH"] and seen["GIVEN"] == "yes"
    assert seen["TOKEN"] == "***"  # the child had the value; what odin stored is masked
    assert "resolved-token-value" not in outcome.output["stdout"]


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    started = time.monotonic()
    outcome = run({"kind": "command", "shell": True, "timeout": "0.5s", "cwd": str(tmp_path),
                   "argv": ["sleep 60 & echo $! > child.pid; wait"]})
    assert time.monotonic() - started < 10
    assert outcome.status == "failed" and "did not finish in 0.5 s (killed)" in outcome.detail
    child = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        # a killed child of a killed shell is reaped by init; until then it may linger as a zombie
        status = Path(f"/proc/{child}/status")
        if status.exists() and "State:\tZ" in status.read_text():
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the shell's background child survived the timeout")


def test_output_is_masked_then_cut(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("file-secret-value-42\n")
    script = "import sys; print('x' * 50000); print('tail DB_PASSWORD=literal-pw', sys.argv[1]); " \
             "print('err ' + sys.argv[1], file=sys.stderr); sys.exit(3)"
    outcome = run({"kind": "command", "argv": [sys.executable, "-c", script, f"${{file:{secret_file}}}"]})
    assert outcome.status == "failed" and "exited 3, expected 0" in outcome.detail
    stdout, stderr = outcome.output["stdout"], outcome.output["stderr"]
    assert len(stdout) == OUTPUT_LIMIT + 1 and stdout.startswith("…")
    assert stdout.endswith("tail DB_PASSWORD=*** ***\n")
    assert stderr == "err ***\n" and "err ***" in outcome.detail
    assert "file-secret-value-42" not in repr(outcome.model_dump()) and "literal-pw" not in repr(outcome.model_dump())
