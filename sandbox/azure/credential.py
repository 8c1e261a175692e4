"""A credential for the sandbox: any bearer token will do, so hand out a fixed one.

The Azure SDK clients only need ``get_token(*scopes, **kwargs) -> AccessToken``. Against the
sandbox there is no identity to prove; this object satisfies the protocol without a network call
(unlike ``DefaultAzureCredential``, which must never be built in tests).
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken


class SandboxCredential:
    """``TokenCredential`` returning a fixed token that expires in a year."""

    def __init__(self, token: str = "odin-sandbox-token") -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 365 * 24 * 3600)

    def close(self) -> None:
        """Nothing to release (the SDK clients call this on exit)."""

    def __enter__(self) -> SandboxCredential:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
