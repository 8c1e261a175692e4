"""Resolve secret references at the moment of the call, and remember the values to mask them.

A plan names credentials (``${secret:NAME}``, ``${env:NAME}``, ``${file:PATH}``; the syntax and
where it may stand are ``odin_drills.plan.secrets``). The step models and the journal keep the
reference; only the code that makes the call asks a :class:`SecretResolver` for the value, right
before the request or the command, so a rollback days later resolves the value current then.

Every value resolved is registered with ``odin_drills.steps.redact`` (exact-value masking), so it
is masked in any output of this process — a response body that echoes a header, a command that
prints its environment — besides the pattern rules.

``${secret:NAME}`` comes from the plan's ``secrets:`` source:

- ``{kind: keyvault}``: Azure Key Vault through the real ``SecretClient`` with the target's
  credential chain (``odin_drills.steps.azure.clients``): real Azure and local targets use
  ``DefaultAzureCredential`` and the system trust store; a sandbox target the sandbox's vault
  (``keyvault_url`` in its info), CA and token, with the challenge-resource check off (the
  sandbox's challenge names Azure's resource, not 127.0.0.1).
- ``{kind: directory, path}``: the file ``path/NAME`` (a mounted secret volume).

Errors are :class:`SecretUnavailable`: one line naming the reference, never a value.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from odin_drills.plan.secrets import REFERENCE, DirectorySecrets, KeyVaultSecrets, name_problem
from odin_drills.steps.redact import register_secret

KEYVAULT_RETRIES = 3


class SecretUnavailable(Exception):
    """A reference that cannot be resolved now; the message names it and never holds a value."""


def _strip_newline(text: str) -> str:
    """Files written by ``echo`` or editors end in one newline that is not part of the secret."""
    return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text


_clients: dict[tuple[str, str | None, str], Any] = {}
_clients_lock = threading.Lock()


def _sandbox_vault(target: Any) -> tuple[str, str]:
    """The sandbox's vault URL and CA, from the target's fields or the running sandbox's info."""
    from odin_drills.steps.azure.clients import SANDBOX_INFO_ENV, read_sandbox_info

    info = read_sandbox_info()
    vault_url = info.get("keyvault_url")
    ca_cert = getattr(target, "ca_cert", None) or info.get("ca_cert")
    if not vault_url or not ca_cert:
        raise SecretUnavailable(
            f"secrets: the sandbox's Key Vault is unknown: point {SANDBOX_INFO_ENV} at a running sandbox's "
            "sandbox.json (odin sandbox up --state-dir DIR)")
    return str(vault_url), str(ca_cert)


def keyvault_client(source: KeyVaultSecrets, target: Any) -> tuple[Any, str]:
    """A ``SecretClient`` for ``source`` (cached per vault, CA and credential kind) and its vault URL."""
    from odin_drills.steps.azure.clients import LazyDefaultCredential, SandboxToken

    sandbox = getattr(target, "kind", None) == "sandbox"
    if sandbox:
        sandbox_url, ca_cert = _sandbox_vault(target)
        vault_url: str | None = source.vault_url or sandbox_url
    else:
        vault_url, ca_cert = source.vault_url, None
    if not vault_url:
        raise SecretUnavailable("secrets.vault_url: no Key Vault named (required unless the target is the sandbox)")
    key = (vault_url, ca_cert, "sandbox" if sandbox else "azure")
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            from azure.keyvault.secrets import SecretClient

            options: dict[str, Any] = {"retry_total": KEYVAULT_RETRIES}
            if sandbox:
                options.update(connection_verify=ca_cert, verify_challenge_resource=False)
            credential = SandboxToken() if sandbox else LazyDefaultCredential()
            client = SecretClient(vault_url, credential, **options)
            _clients[key] = client
    return client, vault_url


class SecretResolver:
    """Turns references into values for one call; every value is registered for masking.

    ``source`` is the plan's ``secrets:`` (None: ``${secret:...}`` cannot resolve); ``target`` the
    plan's target (for the Key Vault credential chain); ``environ`` the environment ``${env:...}``
    reads (the process's by default).
    """

    def __init__(self, source: KeyVaultSecrets | DirectorySecrets | None = None, target: Any = None,
                 environ: dict[str, str] | None = None) -> None:
        self.source = source
        self.target = target
        self._environ = environ

    # ------------------------------------------------------------------ one reference
    def value(self, kind: str, name: str) -> str:
        reference = f"${{{kind}:{name}}}"
        problem = name_problem(kind, name, getattr(self.source, "kind", None))
        if problem:
            raise SecretUnavailable(f"{reference}: {problem}")
        if kind == "env":
            value = self._env(name, reference)
        elif kind == "file":
            value = self._file(Path(name).expanduser(), reference)
        elif kind == "secret":
            value = self._secret(name, reference)
        else:
            raise SecretUnavailable(f"{reference}: unknown reference kind")
        if value == "":
            raise SecretUnavailable(f"{reference} is empty")
        register_secret(value)
        return value

    def _env(self, name: str, reference: str) -> str:
        environ = os.environ if self._environ is None else self._environ
        if name not in environ:
            raise SecretUnavailable(f"{reference}: environment variable {name} is not set")
        return environ[name]

    @staticmethod
    def _file(path: Path, reference: str) -> str:
        try:
            return _strip_newline(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SecretUnavailable(f"{reference}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretUnavailable(f"{reference}: cannot read the file ({exc.__class__.__name__})") from None

    def _secret(self, name: str, reference: str) -> str:
        source = self.source
        if source is None:
            raise SecretUnavailable(f"{reference}: the plan has no `secrets:` source")
        if isinstance(source, DirectorySecrets):
            return self._file(Path(source.path).expanduser() / name, reference)
        return self._keyvault(source, name, reference)

    def _keyvault(self, source: KeyVaultSecrets, name: str, reference: str) -> str:
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
            ServiceRequestError,
        )

        client, vault_url = keyvault_client(source, self.target)
        try:
            secret = client.get_secret(name)
        except ResourceNotFoundError:
            raise SecretUnavailable(f"{reference}: no such secret in Key Vault {vault_url}") from None
        except ClientAuthenticationError as exc:
            raise SecretUnavailable(f"{reference}: cannot authenticate to Key Vault {vault_url} "
                                    f"({exc.__class__.__name__})") from None
        except ServiceRequestError as exc:
            raise SecretUnavailable(f"{reference}: cannot reach Key Vault {vault_url} ({exc.__class__.__name__})") from None
        except HttpResponseError as exc:
            code = getattr(getattr(exc, "error", None), "code", None) or exc.status_code
            raise SecretUnavailable(f"{reference}: Key Vault {vault_url} answered {code}") from None
        if secret.value is None:
            raise SecretUnavailable(f"{reference}: Key Vault {vault_url} returned no value")
        return secret.value

    # ------------------------------------------------------------------ text and data
    def text(self, text: str) -> str:
        """``text`` with every reference replaced by its value."""
        if REFERENCE.search(text) is None:
            return text
        return REFERENCE.sub(lambda m: self.value(m.group(1), m.group(2)), text)

    def data(self, value: Any) -> Any:
        """A copy of JSON-like ``value`` with references resolved in every string (not in keys)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        return value


def resolver_for(secrets: Any, target: Any = None) -> SecretResolver:
    """A resolver from what a caller has: a resolver (used as it is), the plan's ``secrets:``, or None."""
    if isinstance(secrets, SecretResolver):
        return secrets
    return SecretResolver(secrets, target)
