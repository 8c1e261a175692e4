"""Who is deciding, as far as odin can tell: recorded beside the free-text name a person types.

``odin decide --by NAME`` is self-asserted: anyone can type any name. Beside it odin records the
identity it can check itself, in this order:

1. **Prefect Cloud**: with an API key against a Cloud workspace, the account the key belongs to
   (``GET {PREFECT_CLOUD_API_URL}/me/``, authenticated by that key): ``prefect-cloud:HANDLE (EMAIL)``.
2. **The operating system**: the user the kernel says runs this process (``pwd`` entry of the
   real uid, not ``$USER``, which is just another variable): ``os:NAME (uid N)``.

What this proves is bounded by the Prefect API it talks to: a self-hosted server without
authentication accepts any input from anyone who can reach it, so the record says who ran *this*
odin, not that nobody else could have resumed the run. Decisions typed into the Prefect UI form
carry no identity odin can check; the flow records them as :data:`UNVERIFIED_FORM`.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

UNVERIFIED_FORM = "not verified (entered in the Prefect UI form)"
"""What a decision from the UI form records: odin cannot see who submitted it."""

ODIN_ITSELF = "odin (this flow run)"
"""What a decision odin took itself (deadline, escalation) records."""


def os_identity() -> str:
    """``os:NAME (uid N)`` from the password database entry of the real uid."""
    uid = os.getuid()
    try:
        import pwd

        name = pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        import getpass

        name = getpass.getuser()
    return f"os:{name} (uid {uid})"


def cloud_identity(timeout: float = 10.0) -> str | None:
    """The Prefect Cloud account of the configured API key; None when not talking to Cloud.

    Raises ``PermissionError`` when a Cloud API key is configured but Cloud refuses it: a decision
    sent with that key would be refused too, and falling back to the OS user would hide that."""
    from prefect.settings import PREFECT_API_KEY, PREFECT_API_URL, PREFECT_CLOUD_API_URL

    key, api, cloud = PREFECT_API_KEY.value(), PREFECT_API_URL.value() or "", PREFECT_CLOUD_API_URL.value() or ""
    if not key or not cloud or not api.startswith(cloud.rstrip("/")):
        return None
    response = httpx.get(f"{cloud.rstrip('/')}/me/", headers={"Authorization": f"Bearer {key}"}, timeout=timeout)
    if response.status_code in (401, 403):
        raise PermissionError(f"Prefect Cloud refused the configured API key ({response.status_code})")
    response.raise_for_status()
    me: dict[str, Any] = response.json()
    handle = me.get("handle") or me.get("name") or me.get("id") or "?"
    email = me.get("email")
    return f"prefect-cloud:{handle}" + (f" ({email})" if email else "")


def verified_identity() -> str:
    """The identity odin can check for whoever runs this process (see the module docstring)."""
    return cloud_identity() or os_identity()
