"""Secrets by reference: resolved at the call (environment, file, directory, Key Vault through the
real SDK against the sandbox), checked at load, journaled as references and resolved again on replay."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from odin_drills.errors import PlanInvalid
from odin_drills.plan import load_plan
from odin_drills.plan.models import SandboxTarget
from odin_drills.plan.secrets import DirectorySecrets, KeyVaultSecrets
from odin_drills.sandbox.azure import AzureSandbox
from odin_drills.steps.actions import run_action
from odin_drills.steps.clock import ManualClock
from odin_drills.steps.journal import Journal
from odin_drills.steps.redact import forget_secrets, redact_text
from odin_drills.steps.rollback import undo_completed
from odin_drills.steps.secrets import SecretResolver, SecretUnavailable
from tests.test_actions_and_rollback import step
from tests.webhook_receiver import WebhookReceiver


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureSandbox]:
    """A running sandbox whose info file the product finds through ODIN_SANDBOX_INFO."""
    with AzureSandbox(state_dir=tmp_path / "sandbox", seed=3) as sandbox:
        monkeypatch.setenv("ODIN_SANDBOX_INFO", str(tmp_path / "sandbox" / "sandbox.json"))
        yield sandbox


# ---------------------------------------------------------------- resolution

def test_env_file_and_directory_references_resolve_and_are_masked_from_then_on(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("file-token-value\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "db-password").write_text("dir-secret-value")
    resolver = SecretResolver(DirectorySecrets(kind="directory", path=str(tmp_path / "dir")),
                              environ={"API_TOKEN": "env-token-value"})
    text = f"a=${{env:API_TOKEN}} b=${{file:{tmp_path}/token}} c=${{secret:db-password}}"
    assert resolver.text(text) == "a=env-token-value b=file-token-value c=dir-secret-value"
    assert resolver.data({"h": ["${env:API_TOKEN}"], "n": 3}) == {"h": ["env-token-value"], "n": 3}
    assert redact_text("echo env-token-value file-token-value dir-secret-value") == "echo *** *** ***"


def test_unavailable_references_fail_with_one_line_naming_the_reference(tmp_path: Path) -> None:
    resolver = SecretResolver(None, environ={"EMPTY": ""})
    cases = {"${env:MISSING}": "environment variable MISSING is not set", "${env:EMPTY}": "is empty",
             f"${{file:{tmp_path}/nope}}": "no such file", "${secret:x}": "the plan has no `secrets:` source"}
    for reference, words in cases.items():
        with pytest.raises(SecretUnavailable) as caught:
            resolver.text(f"Bearer {reference}")
        assert words in str(caught.value) and reference in str(caught.value) and "\n" not in str(caught.value)


def test_key_vault_references_resolve_through_the_real_sdk_against_the_sandbox(vault: AzureSandbox) -> None:
    vault.secrets.set("api-token", "kv-token-value-1")
    target = SandboxTarget()
    resolver = SecretResolver(KeyVaultSecrets(kind="keyvault"), target)
    assert resolver.text("Bearer ${secret:api-token}") == "Bearer kv-token-value-1"
    vault.secrets.set("api-token", "kv-token-value-2")  # rotated: the next call reads the new value
    assert resolver.text("${secret:api-token}") == "kv-token-value-2"
    assert vault.secrets.reads("api-token") == 2
    with pytest.raises(SecretUnavailable) as missing:
        resolver.text("${secret:not-there}")
    assert f"no such secret in Key Vault {vault.info()['keyvault_url']}" in str(missing.value)
    assert redact_text("kv-token-value-1 kv-token-value-2") == "*** ***"


# ---------------------------------------------------------------- the plan file

BASE = {
    "name": "p", "environment": "e",
    "service": {"name": "s"},
    "metrics": {"kind": "synthetic_probe", "url": "http://127.0.0.1:9/api", "rate_per_second": 50},
}


def write(tmp_path: Path, **extra: object) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({**BASE, **extra}, sort_keys=False))
    return path


def problems(tmp_path: Path, environ: dict[str, str] | None = None, **extra: object) -> list[str]:
    with pytest.raises(PlanInvalid) as caught:
        load_plan(write(tmp_path, **extra), environ=environ)
    return caught.value.problems


def test_references_load_unresolved_where_steps_make_their_calls(tmp_path: Path) -> None:
    plan = load_plan(write(tmp_path, secrets={"kind": "directory", "path": "/run/secrets"}, phases={"t0": [
        {"kind": "http", "method": "PUT", "url": "http://admin:${secret:admin-pw}@127.0.0.1:9/w?code=${env:CODE}",
         "headers": {"Authorization": "Bearer ${secret:api}"}, "json": {"k": "${file:/run/k}"},
         "undo": {"kind": "http", "method": "PUT", "url": "http://127.0.0.1:9/hooks/${secret:hook}"}},
        {"kind": "notify", "url": "${secret:slack-webhook}", "message": "m", "payload": {"routing_key": "${env:PD}"}},
        {"kind": "command", "argv": ["tool", "--token", "${env:T}"], "env": {"PW": "${secret:pw}"},
         "undo": "none", "undo_reason": "read-only"},
    ]}), environ={})
    http, notify, command = plan.phases.t0
    assert http.url == "http://admin:${secret:admin-pw}@127.0.0.1:9/w?code=${env:CODE}"
    assert http.headers["Authorization"] == "Bearer ${secret:api}"
    assert http.undo.url == "http://127.0.0.1:9/hooks/${secret:hook}"
    assert notify.url == "${secret:slack-webhook}" and command.env == {"PW": "${secret:pw}"}


def test_references_where_nothing_resolves_them_are_refused_with_the_field_named(tmp_path: Path) -> None:
    lines = problems(tmp_path, smoke=[{"name": "h", "url": "http://127.0.0.1:9/h",
                                       "headers": {"Authorization": "Bearer ${secret:api}"}}],
                     phases={"t0": [{"kind": "http", "url": "http://127.0.0.1:9/x", "method": "POST",
                                     "headers": {"X": "${vault:api}"}, "undo": "none", "undo_reason": "t"}]})
    assert len(lines) == 2, lines
    assert "plan.yaml: smoke[0].headers.Authorization: ${secret:api} is resolved only in http" in lines[0]
    assert "phases.t0[0].headers.X: unknown reference ${vault:api}" in lines[1]


def test_a_secret_reference_needs_a_source_and_a_valid_name(tmp_path: Path) -> None:
    step_ = {"kind": "http", "method": "POST", "url": "http://127.0.0.1:9/x", "headers": {"A": "${secret:api}"},
             "undo": "none", "undo_reason": "t"}
    assert problems(tmp_path, phases={"t0": [step_]}) == [
        f"{tmp_path / 'plan.yaml'}: phases.t0[0].headers.A: ${{secret:api}} needs a `secrets:` source in the plan "
        "({kind: keyvault} or {kind: directory, path: ...})"]
    bad = {**step_, "headers": {"A": "${secret:bad_name}"}}
    lines = problems(tmp_path, target={"kind": "sandbox"}, secrets={"kind": "keyvault"}, phases={"t0": [bad]})
    assert len(lines) == 1 and "1-127 letters, digits and dashes" in lines[0]
    lines = problems(tmp_path, secrets={"kind": "keyvault"}, phases={"t0": [step_]})
    assert len(lines) == 1 and "secrets.vault_url: required unless the target is the sandbox" in lines[0]


def test_an_environment_value_cannot_smuggle_in_a_reference(tmp_path: Path) -> None:
    lines = problems(tmp_path, environ={"HOST": "evil.example.com/?k=${secret:db}"},
                     secrets={"kind": "directory", "path": "/run/secrets"},
                     phases={"t0": [{"kind": "http", "method": "POST", "url": "http://${HOST}/x",
                                     "undo": "none", "undo_reason": "t"}]})
    assert len(lines) == 1 and "phases.t0[0].url: the value of environment variable HOST holds '${'" in lines[0]


# ---------------------------------------------------------------- journal and replay

def test_the_journal_keeps_the_reference_and_a_replayed_undo_sends_the_real_value(
        tmp_path: Path, vault: AzureSandbox) -> None:
    vault.secrets.set("api-token", "kv-undo-token-1")
    secrets = KeyVaultSecrets(kind="keyvault")
    journal = Journal(tmp_path / "journal.jsonl", ManualClock())
    with WebhookReceiver() as receiver, httpx.Client() as client:
        change = step({"kind": "http", "method": "POST", "url": receiver.url("/do"),
                       "headers": {"Authorization": "Bearer ${secret:api-token}"},
                       "undo": {"kind": "http", "method": "POST", "url": receiver.url("/undo"),
                                "headers": {"Authorization": "Bearer ${secret:api-token}"}}})
        outcome = run_action(change, client=client, clock=ManualClock(), target=SandboxTarget(), secrets=secrets)
        journal.append("step_finished", step="change", status=outcome.status, detail=outcome.detail,
                       undo=outcome.undo, output=outcome.output)
        vault.secrets.set("api-token", "kv-undo-token-2")  # rotated between the change and the rollback
        result = undo_completed(journal, client=client, clock=ManualClock(), target=SandboxTarget(), secrets=secrets)
        did, undid = receiver.wait_for(1, "/do")[0], receiver.wait_for(1, "/undo")[0]
    assert outcome.status == "ok" and result.all_undone
    assert did.headers["authorization"] == "Bearer kv-undo-token-1"
    assert undid.headers["authorization"] == "Bearer kv-undo-token-2"  # the replay resolved again
    stored = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    assert stored[0]["data"]["undo"]["headers"] == {"Authorization": "Bearer ${secret:api-token}"}
    assert b"kv-undo-token" not in (tmp_path / "journal.jsonl").read_bytes()


def test_an_unresolvable_reference_fails_the_step_without_sending_anything() -> None:
    with WebhookReceiver() as receiver, httpx.Client() as client:
        change = step({"kind": "http", "method": "POST", "url": receiver.url("/do"),
                       "headers": {"Authorization": "Bearer ${env:ODIN_TEST_SURELY_UNSET}"},
                       "undo": "none", "undo_reason": "test"})
        outcome = run_action(change, client=client, clock=ManualClock())
        assert receiver.received() == []
    assert outcome.status == "failed" and outcome.undo is None
    assert outcome.detail.startswith("POST http://127.0.0.1:") and "ODIN_TEST_SURELY_UNSET is not set" in outcome.detail


def test_the_http_detail_never_holds_a_secret_bearing_url() -> None:
    with WebhookReceiver() as receiver, httpx.Client() as client:
        base = receiver.url("/w").removeprefix("http://")
        change = step({"kind": "http", "method": "POST", "url": f"http://admin:literal-pw@{base}?code=literal-code",
                       "undo": "none", "undo_reason": "test"})
        outcome = run_action(change, client=client, clock=ManualClock())
        got = receiver.wait_for(1, "/w?code=literal-code")[0]
    assert got.headers["authorization"].startswith("Basic ")
    assert outcome.status == "ok" and outcome.detail == f"POST http://{base}?… -> 200"
    assert "literal-pw" not in outcome.detail and "literal-code" not in outcome.detail
