"""A Key Vault data plane (secrets only): what ``azure-keyvault-secrets``' ``SecretClient`` reads.

Served over HTTPS with the sandbox CA, on its own port (a vault is its own host in Azure, as
``https://NAME.vault.azure.net``). The rules that matter to the real SDK are Key Vault's own:

- A request without a bearer token gets ``401`` with the challenge
  ``WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>",
  resource="https://vault.azure.net"``; the SDK then asks its credential for a token and retries.
  Any bearer token is accepted after that (there is no identity to prove in the sandbox).
  The challenge resource is Azure's, not this host's, so a client pointed at the sandbox passes
  ``verify_challenge_resource=False`` (the product does so for sandbox targets only).
- ``GET /secrets/{name}[/{version}]?api-version=...`` answers the SecretBundle
  ``{"value", "id": "<vault>/secrets/<name>/<version>", "attributes": {"enabled", "created",
  "updated", "recoveryLevel", "recoverableDays"}, "tags"?, "contentType"?}``; an unknown name or
  version is ``404 SecretNotFound``; a disabled secret ``403 Forbidden``; a missing api-version
  ``400 BadParameter``. Names are case-insensitive, 1-127 letters, digits and dashes.
- ``GET /secrets`` lists ``{"value": [{"id", "attributes", ...}], "nextLink": null}`` (no values).

Secrets are seeded through the admin API (``PUT /secrets/{name}``) or in process
(``sandbox.secrets.set(name, value)``); every read is counted, so a test can tell that a value
really came from the vault. Values never appear in the admin API's answers.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
RECOVERY_LEVEL = "Recoverable+Purgeable"
RECOVERABLE_DAYS = 90


class InvalidSecret(ValueError):
    """A seed the vault would refuse (bad name, value not a string)."""


@dataclass
class _Version:
    version: str
    value: str
    created: int
    updated: int
    enabled: bool = True
    content_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class _Secret:
    name: str  # as first written; lookups ignore case
    versions: list[_Version] = field(default_factory=list)
    reads: int = 0


class SecretStore:
    """The vault's contents; thread-safe (the HTTPS server and the admin API share it)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._secrets: dict[str, _Secret] = {}

    def set(self, name: str, value: str, *, enabled: bool = True, content_type: str | None = None,
            tags: dict[str, str] | None = None) -> dict[str, Any]:
        """A new version of ``name`` (the latest from now on); returns its name and version, no value."""
        if not isinstance(name, str) or not NAME.match(name):
            raise InvalidSecret(f"secret name {name!r}: 1-127 letters, digits and dashes")
        if not isinstance(value, str):
            raise InvalidSecret("the secret value must be a string")
        now = int(self._clock())
        version = _Version(uuid.uuid4().hex, value, now, now, bool(enabled), content_type, dict(tags or {}))
        with self._lock:
            secret = self._secrets.setdefault(name.lower(), _Secret(name))
            secret.versions.append(version)
        return {"name": secret.name, "version": version.version, "enabled": version.enabled}

    def delete(self, name: str) -> bool:
        with self._lock:
            return self._secrets.pop(name.lower(), None) is not None

    def get(self, name: str, version: str | None) -> tuple[_Secret, _Version] | None:
        """The version asked for (the latest when ``version`` is empty), counting the read."""
        with self._lock:
            secret = self._secrets.get(name.lower())
            if secret is None or not secret.versions:
                return None
            found = secret.versions[-1] if not version else next(
                (v for v in secret.versions if v.version == version.lower()), None)
            if found is None:
                return None
            if found.enabled:
                secret.reads += 1
            return secret, found

    def latest(self) -> list[tuple[_Secret, _Version]]:
        with self._lock:
            return [(s, s.versions[-1]) for s in self._secrets.values() if s.versions]

    def summary(self) -> list[dict[str, Any]]:
        """Names, version counts and reads: what the admin API shows (never a value)."""
        with self._lock:
            return [{"name": s.name, "versions": len(s.versions), "enabled": s.versions[-1].enabled,
                     "reads": s.reads} for s in self._secrets.values() if s.versions]

    def reads(self, name: str) -> int:
        with self._lock:
            secret = self._secrets.get(name.lower())
            return secret.reads if secret else 0


class KeyVaultApi:
    """Starlette app for the vault's data plane."""

    def __init__(self, store: SecretStore, *, tenant_id: str, region: str = "eastus") -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.region = region
        self.app = Starlette(routes=[
            Route("/secrets", self.list_secrets, methods=["GET"]),
            Route("/secrets/{name}", self.get_secret, methods=["GET"]),
            Route("/secrets/{name}/{version}", self.get_secret, methods=["GET"]),
        ])

    # ----------------------------------------------------------------------- requests
    async def get_secret(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        name = request.path_params["name"]
        version = request.path_params.get("version") or None
        if not NAME.match(name):
            return self._error(400, "BadParameter", f"The request URI contains an invalid name: {name}")
        found = self.store.get(name, version)
        if found is None:
            return self._error(404, "SecretNotFound",
                               f"A secret with (name/id) {name}{'/' + version if version else ''} was not found "
                               "in this key vault. If you recently deleted this secret you may be able to recover "
                               "it using the correct recovery command.")
        secret, bundle = found
        if not bundle.enabled:
            return self._error(403, "Forbidden", "Operation get is not allowed on a disabled secret.")
        body = {"value": bundle.value, **self._properties(request, secret, bundle, with_version=True)}
        return self._json(200, body)

    async def list_secrets(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        items = [self._properties(request, s, v, with_version=False) for s, v in self.store.latest()]
        return self._json(200, {"value": items, "nextLink": None})

    # ----------------------------------------------------------------------- helpers
    def _refuse(self, request: Request) -> Response | None:
        """The challenge for an unauthenticated request; 400 without an api-version."""
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            response = self._error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
            response.headers["WWW-Authenticate"] = (
                f'Bearer authorization="https://login.microsoftonline.com/{self.tenant_id}", '
                'resource="https://vault.azure.net"')
            return response
        if not request.query_params.get("api-version"):
            return self._error(400, "BadParameter", "The 'api-version' query parameter is missing.")
        return None

    @staticmethod
    def _base(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}"

    def _properties(self, request: Request, secret: _Secret, version: _Version, *, with_version: bool) -> dict[str, Any]:
        base = self._base(request)
        out: dict[str, Any] = {
            "id": f"{base}/secrets/{secret.name}" + (f"/{version.version}" if with_version else ""),
            "attributes": {"enabled": version.enabled, "created": version.created, "updated": version.updated,
                           "recoveryLevel": RECOVERY_LEVEL, "recoverableDays": RECOVERABLE_DAYS},
        }
        if version.content_type:
            out["contentType"] = version.content_type
        if version.tags:
            out["tags"] = dict(version.tags)
        return out

    def _json(self, status: int, body: Any) -> Response:
        return Response(json.dumps(body), status_code=status, media_type="application/json; charset=utf-8",
                        headers={"x-ms-request-id": str(uuid.uuid4()), "x-ms-keyvault-region": self.region,
                                 "x-ms-keyvault-service-version": "1.9.0.0-sandbox"})

    def _error(self, status: int, code: str, message: str) -> Response:
        return self._json(status, {"error": {"code": code, "message": message}})
