"""The sandbox's Key Vault, read by the real ``azure-keyvault-secrets`` SecretClient over HTTPS.

Nothing in the SDK is patched: the client runs Key Vault's challenge flow (a 401 with
``WWW-Authenticate``, then the token), verifies TLS against the sandbox CA, and parses the
SecretBundle the sandbox answers.
"""

from __future__ import annotations

import ssl

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient

from odin_drills.sandbox.azure import AzureSandbox, SandboxCredential


def client(sandbox: AzureSandbox) -> SecretClient:
    info = sandbox.info()
    return SecretClient(info["keyvault_url"], SandboxCredential(), connection_verify=info["ca_cert"],
                        verify_challenge_resource=False, retry_total=0)


def test_a_secret_seeded_through_the_admin_api_is_read_by_the_real_sdk(sandbox: AzureSandbox) -> None:
    info = sandbox.info()
    assert info["keyvault_url"].startswith("https://127.0.0.1:")
    made = httpx.put(f"{info['admin_url']}/secrets/api-token", json={"value": "first-value"}, timeout=5)
    assert made.status_code == 201 and "value" not in made.json()
    second = httpx.put(f"{info['admin_url']}/secrets/api-token", json={"value": "second-value"}, timeout=5).json()
    with client(sandbox) as vault:
        latest = vault.get_secret("api-token")
        older = vault.get_secret("API-TOKEN", made.json()["version"])  # names ignore case
        names = [p.name for p in vault.list_properties_of_secrets()]
    assert latest.value == "second-value" and latest.properties.version == second["version"]
    assert latest.id == f"{info['keyvault_url']}/secrets/api-token/{second['version']}"
    assert latest.properties.enabled is True and latest.properties.recovery_level == "Recoverable+Purgeable"
    assert older.value == "first-value"
    assert names == ["api-token"]
    # the admin API counts reads and never shows a value
    listed = httpx.get(f"{info['admin_url']}/secrets", timeout=5).json()
    assert listed == [{"name": "api-token", "versions": 2, "enabled": True, "reads": 2}]
    assert "second-value" not in httpx.get(f"{info['admin_url']}/secrets", timeout=5).text


def test_unknown_and_disabled_secrets_answer_as_key_vault_does(sandbox: AzureSandbox) -> None:
    sandbox.secrets.set("off", "x-value", enabled=False)
    with client(sandbox) as vault:
        with pytest.raises(ResourceNotFoundError) as missing:
            vault.get_secret("no-such-secret")
        with pytest.raises(HttpResponseError) as disabled:
            vault.get_secret("off")
    assert missing.value.error is not None and missing.value.error.code == "SecretNotFound"
    assert disabled.value.status_code == 403
    assert sandbox.secrets.reads("off") == 0


def test_without_a_token_the_vault_challenges_and_without_api_version_it_refuses(sandbox: AzureSandbox) -> None:
    info = sandbox.info()
    sandbox.secrets.set("db-password", "p4ss-word")
    with httpx.Client(verify=ssl.create_default_context(cafile=info["ca_cert"]), timeout=5) as http:
        bare = http.get(f"{info['keyvault_url']}/secrets/db-password", params={"api-version": "7.5"})
        no_version = http.get(f"{info['keyvault_url']}/secrets/db-password", headers={"Authorization": "Bearer t"})
        bad_name = http.get(f"{info['keyvault_url']}/secrets/bad_name", params={"api-version": "7.5"},
                            headers={"Authorization": "Bearer t"})
    assert bare.status_code == 401 and 'resource="https://vault.azure.net"' in bare.headers["www-authenticate"]
    assert bare.json()["error"]["code"] == "Unauthorized" and "p4ss-word" not in bare.text
    assert no_version.status_code == 400 and no_version.json()["error"]["code"] == "BadParameter"
    assert bad_name.status_code == 400


def test_secrets_survive_a_reset_and_bad_seeds_are_refused(sandbox: AzureSandbox) -> None:
    info = sandbox.info()
    sandbox.secrets.set("kept", "kept-value")
    assert httpx.post(f"{info['admin_url']}/reset", timeout=5).status_code == 200
    with client(sandbox) as vault:
        assert vault.get_secret("kept").value == "kept-value"
    refused = httpx.put(f"{info['admin_url']}/secrets/under_score", json={"value": "x"}, timeout=5)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "InvalidSecret"
    assert httpx.put(f"{info['admin_url']}/secrets/ok", json={"nope": 1}, timeout=5).status_code == 400
    assert httpx.delete(f"{info['admin_url']}/secrets/kept", timeout=5).status_code == 204
    assert httpx.delete(f"{info['admin_url']}/secrets/kept", timeout=5).status_code == 404
