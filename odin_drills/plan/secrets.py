"""Secrets by reference: the syntax a plan uses to name a credential, and where it may appear.

A plan never holds a credential's value. It names one, and the engine
(``odin_drills.steps.secrets``) looks the value up at the moment of the call:

=======================  =====================================================================
``${secret:NAME}``       from the plan's ``secrets:`` source (Azure Key Vault, or a directory
                         holding one file per secret)
``${env:NAME}``          from the environment of the process making the call
``${file:/abs/path}``    the contents of a file (one trailing newline dropped)
=======================  =====================================================================

Why references and not load-time expansion: the journal records each step's undo exactly as
declared so a rollback days later, in another process, can replay it. A value spliced in at load
time would land in the journal, and redacting it there would send ``***`` on the replay. A
reference is harmless to store and resolves again, to the current value, when the undo runs.

Plain ``${NAME}`` / ``${NAME:-default}`` (expanded once, when the plan is loaded) stays for values
that are not secret: ports, hosts, URLs of test services.

References are resolved only where a step makes its call: an ``http`` step's ``url``,
``headers``, ``json`` and ``body``; a ``notify`` step's ``url`` and ``payload``; a ``command``
step's ``argv`` (without a shell) and ``env``; and the same fields of their ``undo:``. Anywhere
else a reference would be sent literally, so the plan does not load.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl, TypeAdapter, ValidationError, WithJsonSchema, field_validator

REFERENCE = re.compile(r"\$\{(secret|env|file):([^}]*)\}")
"""One reference: group 1 the source, group 2 the name (or path)."""

ANY_TYPED = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_-]*):(?!-)([^}]*)\}")
"""Anything shaped like ``${kind:...}`` (``${NAME:-default}`` is plain expansion), to name unknown kinds."""

_KEYVAULT_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# step kind -> the fields in which references are resolved at call time
RESOLVED_FIELDS: dict[str, frozenset[str]] = {
    "http": frozenset({"url", "headers", "json", "body"}),
    "notify": frozenset({"url", "payload"}),
    "command": frozenset({"argv", "env"}),
    "azure.appservice.settings": frozenset({"app_settings", "connection_strings"}),
}


class KeyVaultSecrets(BaseModel):
    """``${secret:NAME}`` from Azure Key Vault, through the real ``SecretClient`` and the target's
    credential chain (real Azure: ``DefaultAzureCredential``; sandbox: the sandbox's CA and token)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["keyvault"]
    vault_url: str | None = Field(
        default=None, description="https://NAME.vault.azure.net; on a sandbox target, the sandbox's vault when omitted")

    @field_validator("vault_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("vault_url must be https:// (Key Vault takes bearer tokens only over TLS)")
        return value.rstrip("/") if value else value


class DirectorySecrets(BaseModel):
    """``${secret:NAME}`` is the file ``NAME`` in ``path`` (a mounted secret volume, /run/secrets)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["directory"]
    path: str = Field(min_length=1, description="absolute directory; one file per secret")

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not (value.startswith("/") or value.startswith("~/")):
            raise ValueError("path must be absolute (or start with ~/): a rollback may run from another directory")
        return value


SecretSource = Annotated[Union[KeyVaultSecrets, DirectorySecrets], Field(discriminator="kind")]


def references(text: str) -> list[tuple[str, str]]:
    """``(source, name)`` for each reference in ``text``."""
    return [(m.group(1), m.group(2)) for m in REFERENCE.finditer(text)]


def has_reference(value: Any) -> bool:
    """Whether ``value`` (any JSON-like data) holds a reference anywhere."""
    if isinstance(value, str):
        return REFERENCE.search(value) is not None
    if isinstance(value, dict):
        return any(has_reference(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_reference(v) for v in value)
    return False


def name_problem(source: str, name: str, secrets_kind: str | None) -> str | None:
    """Why a reference's name cannot be right, or None."""
    if source == "env":
        return None if _ENV_NAME.match(name) else "an environment variable name is letters, digits and _"
    if source == "file":
        if not (name.startswith("/") or name.startswith("~/")):
            return "the path must be absolute (or start with ~/)"
        return None
    if secrets_kind == "keyvault" and not _KEYVAULT_NAME.match(name):
        return "a Key Vault secret name is 1-127 letters, digits and dashes"
    if secrets_kind != "keyvault" and not _FILE_NAME.match(name):
        return "a secret name is letters, digits, '.', '_' and '-'"
    return None


_URL = TypeAdapter(HttpUrl)


def _check_url(value: Any) -> Any:
    """A URL that may hold references: checked with each reference standing in as ``x``; kept as
    written (references unresolved). A URL that is one whole reference is checked when resolved."""
    if not isinstance(value, str):
        return value
    if REFERENCE.search(value) is None:
        candidate = value
    elif REFERENCE.fullmatch(value.strip()):
        return value.strip()
    else:
        candidate = REFERENCE.sub("x", value)
    try:
        parsed = _URL.validate_python(candidate)
    except ValidationError as exc:
        raise ValueError(exc.errors(include_url=False)[0]["msg"]) from None
    return value if candidate != value else str(parsed)


RefUrl = Annotated[str, BeforeValidator(_check_url), WithJsonSchema({"type": "string", "format": "uri"})]
"""An http(s) URL in which ``${secret:...}``/``${env:...}``/``${file:...}`` may stand for parts."""


def reference_problems(data: Any, has_source: bool, secrets_kind: str | None) -> list[str]:
    """``where: problem`` for every reference a plan cannot resolve where it stands.

    ``data`` is the plan as parsed YAML (after ``${NAME}`` expansion). Steps live at
    ``phases.<phase>[i]`` and their undo at ``phases.<phase>[i].undo``.
    """
    problems: list[str] = []

    def visit(value: Any, where: str, allowed: bool) -> None:
        if isinstance(value, str):
            for match in ANY_TYPED.finditer(value):
                source, name = match.group(1), match.group(2)
                shown = match.group(0)
                if source not in ("secret", "env", "file"):
                    problems.append(f"{where}: unknown reference {shown} (use ${{secret:NAME}}, ${{env:NAME}} "
                                    "or ${file:/path})")
                elif not allowed:
                    problems.append(f"{where}: {shown} is resolved only in http (url, headers, json, body), "
                                    "notify (url, payload) and command (argv, env) steps and their undo")
                elif source == "secret" and not has_source:
                    problems.append(f"{where}: {shown} needs a `secrets:` source in the plan "
                                    "({kind: keyvault} or {kind: directory, path: ...})")
                else:
                    problem = name_problem(source, name, secrets_kind)
                    if problem:
                        problems.append(f"{where}: {shown}: {problem}")
        elif isinstance(value, dict):
            for key, item in value.items():
                visit(item, f"{where}.{key}" if where else str(key), allowed)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, f"{where}[{index}]", allowed)

    def visit_step(step: Any, where: str) -> None:
        if not isinstance(step, dict):
            visit(step, where, False)
            return
        kind = step.get("kind")
        fields = RESOLVED_FIELDS.get(kind, frozenset()) if isinstance(kind, str) else frozenset()
        shell = kind == "command" and step.get("shell") is True
        for key, item in step.items():
            here = f"{where}.{key}"
            if key == "undo" and isinstance(item, dict):
                visit_step(item, here)
            elif key == "argv" and shell:
                continue  # a shell line is refused whole by CommandStep, with its own message
            else:
                visit(item, here, isinstance(key, str) and key in fields)

    if not isinstance(data, dict):
        return problems
    for key, value in data.items():
        if key == "phases" and isinstance(value, dict):
            for phase, steps in value.items():
                if isinstance(steps, list):
                    for index, step in enumerate(steps):
                        visit_step(step, f"phases.{phase}[{index}]")
                else:
                    visit(steps, f"phases.{phase}", False)
        else:
            visit(value, str(key), False)
    return problems
