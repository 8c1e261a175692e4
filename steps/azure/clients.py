"""The plan's target → the real Azure SDK clients. The one place Azure plugs in.

Real Azure and the sandbox take the same code path; only three things differ:

=============  ===================================  ==========================================
               ``kind: azure``                      ``kind: sandbox``
=============  ===================================  ==========================================
base_url       the SDK's (management.azure.com)     the sandbox's ``arm_url`` (https)
credential     DefaultAzureCredential, built on     any bearer token (the sandbox checks none)
               first use (or the caller's)
TLS            the system's trust store             the sandbox's ``ca_cert``
polling        SDK default (30 s, or Retry-After)   0.1 s (or Retry-After)
=============  ===================================  ==========================================

Retries are the SDK's own policy (429 with Retry-After, transient 5xx, connection errors);
``retry_total``, ``retry_backoff_factor`` and any other client keyword can be passed to
:class:`AzureSession`. Every client also carries ``throttle.SharedThrottlePolicy`` after the SDK's
retry policy: one ARM write budget per subscription for the whole process, so a 429's Retry-After
holds the writes of every session, not only the one that got it. A sandbox target without ``arm_url``/``ca_cert``/``subscription_id`` reads
them from the ``odin_drills.sandbox.json`` named by ``ODIN_SANDBOX_INFO``. Nothing patches the SDK, and the
SDK is imported only when a client is first needed.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odin_drills.errors import UsageError

SANDBOX_INFO_ENV = "ODIN_SANDBOX_INFO"
SANDBOX_POLLING_INTERVAL = 0.1


@dataclass(frozen=True)
class ArmEndpoint:
    """Where ARM is and how to talk to it, resolved from a plan target."""

    kind: str  # "azure" | "sandbox"
    subscription_id: str
    base_url: str | None  # None: the public cloud the SDK defaults to
    ca_cert: str | None  # None: the system trust store
    polling_interval: float | None  # None: the SDK default


def arm_endpoint(target: Any) -> ArmEndpoint:
    """Resolve a plan target; UsageError (one line, naming ``target``) when it cannot reach Azure."""
    kind = getattr(target, "kind", None)
    if kind == "azure":
        return ArmEndpoint("azure", target.subscription_id, None, None, None)
    if kind == "sandbox":
        return _sandbox_endpoint(target)
    if target is None:
        raise UsageError("target: azure.* steps need the plan's target (kind: azure or kind: sandbox); none was given")
    raise UsageError(f"target: kind {kind!r} has no Azure resources; azure.* steps need kind: azure or kind: sandbox")


def read_sandbox_info() -> dict[str, Any]:
    """The running sandbox's info (``$ODIN_SANDBOX_INFO``), or ``{}`` when unset or unreadable: for
    data-plane sources that name what is missing in their own words (the ARM endpoint below
    refuses with its own, stricter message)."""
    info_path = os.environ.get(SANDBOX_INFO_ENV, "").strip()
    if not info_path:
        return {}
    try:
        loaded = json.loads(Path(info_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _sandbox_endpoint(target: Any) -> ArmEndpoint:
    values = {name: getattr(target, name, None) for name in ("arm_url", "ca_cert", "subscription_id")}
    missing = [name for name, value in values.items() if not value]
    source = "target"
    if missing:
        info_path = os.environ.get(SANDBOX_INFO_ENV, "").strip()
        if not info_path:
            raise UsageError(
                f"target: the sandbox target has no {', '.join(missing)} and {SANDBOX_INFO_ENV} is not set: "
                f"set them in the plan or point {SANDBOX_INFO_ENV} at the sandbox.json of a running sandbox "
                "(python -m odin_drills.sandbox.azure --state-dir DIR)")
        try:
            info = json.loads(Path(info_path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"target: {SANDBOX_INFO_ENV}={info_path}: cannot read the sandbox info "
                             f"({exc.__class__.__name__}); is the sandbox running?") from None
        if not isinstance(info, dict):
            raise UsageError(f"target: {SANDBOX_INFO_ENV}={info_path}: not a sandbox info file")
        for name in missing:
            values[name] = info.get(name)
        source = f"{SANDBOX_INFO_ENV}={info_path}"
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise UsageError(f"target: {source} has no {', '.join(missing)}")
    if not str(values["arm_url"]).startswith("https://"):
        raise UsageError(f"target: arm_url {values['arm_url']} must be https (bearer tokens need TLS)")
    if not Path(str(values["ca_cert"])).is_file():
        raise UsageError(f"target: ca_cert {values['ca_cert']} (from {source}) is not a file; is the sandbox running?")
    return ArmEndpoint("sandbox", str(values["subscription_id"]), str(values["arm_url"]).rstrip("/"),
                       str(values["ca_cert"]), SANDBOX_POLLING_INTERVAL)


class SandboxToken:
    """Any bearer token will do for the sandbox; no network call, no secret."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken("odin-sandbox", int(time.time()) + 3600)

    def close(self) -> None:
        pass


class LazyDefaultCredential:
    """``DefaultAzureCredential``, built when the first token is asked for (never at import or
    plan load, so commands that touch no Azure resource need no Azure login)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._credential: Any = None
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        with self._lock:
            if self._credential is None:
                from azure.identity import DefaultAzureCredential

                self._credential = DefaultAzureCredential(**self._options)
        return self._credential.get_token(*scopes, **kwargs)

    def close(self) -> None:
        if self._credential is not None:
            self._credential.close()


_CLIENT_CLASSES = {
    "sql": ("azure.mgmt.sql", "SqlManagementClient"),
    "storage": ("azure.mgmt.storage", "StorageManagementClient"),
    "cdn": ("azure.mgmt.cdn", "CdnManagementClient"),
    "dns": ("azure.mgmt.dns", "DnsManagementClient"),
    "web": ("azure.mgmt.web", "WebSiteManagementClient"),
    # alerts: {kind: azure_monitor_alerts} reads Azure Monitor's alert instances of the subscription
    "alerts": ("azure.mgmt.alertsmanagement", "AlertsManagementClient"),
    # incident mode's decision: Service Health events and Resource Health availability (steps.dr.service_health)
    "health": ("azure.mgmt.resourcehealth", "ResourceHealthMgmtClient"),
}


class AzureSession:
    """SDK clients for one target, built on first use, one per service and subscription.

    ``AzureSession(plan.target)`` for real runs; tests and callers that want other retry or
    polling settings pass client keywords (``retry_backoff_factor=0.01``, ``polling_interval=0``)
    or a credential. Close it (or use ``with``) to release connections.
    """

    def __init__(self, target: Any, *, credential: Any = None, **client_kwargs: Any) -> None:
        self.target = target
        self.endpoint = arm_endpoint(target)
        self._credential = credential
        self._owns_credential = credential is None
        self._client_kwargs = client_kwargs
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, target: Any, **client_kwargs: Any) -> tuple[AzureSession, bool]:
        """A session for ``target`` (which may already be one, used as it is) and whether the
        caller must close it."""
        if isinstance(target, AzureSession):
            return target, False
        return cls(target, **client_kwargs), True

    @property
    def subscription_id(self) -> str:
        return self.endpoint.subscription_id

    @property
    def credential(self) -> Any:
        if self._credential is None:
            self._credential = SandboxToken() if self.endpoint.kind == "sandbox" else LazyDefaultCredential()
        return self._credential

    def client_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.endpoint.base_url:
            kwargs["base_url"] = self.endpoint.base_url
        if self.endpoint.ca_cert:
            kwargs["connection_verify"] = self.endpoint.ca_cert
        if self.endpoint.polling_interval is not None:
            kwargs["polling_interval"] = self.endpoint.polling_interval
        return {**kwargs, **self._client_kwargs}

    def client(self, service: str, subscription_id: str | None = None) -> Any:
        subscription = subscription_id or self.subscription_id
        with self._lock:
            key = (service, subscription.lower())
            if key not in self._clients:
                import importlib

                from odin_drills.steps.azure.throttle import shared_throttle_policy

                module, name = _CLIENT_CLASSES[service]
                cls = getattr(importlib.import_module(module), name)
                kwargs = self.client_kwargs()
                base_url = kwargs.pop("base_url", None)
                kwargs["per_retry_policies"] = [*(kwargs.get("per_retry_policies") or []),
                                                shared_throttle_policy(base_url, subscription)]
                self._clients[key] = (cls(self.credential, subscription, base_url, **kwargs) if base_url
                                      else cls(self.credential, subscription, **kwargs))
            return self._clients[key]

    def sql(self, subscription_id: str | None = None) -> Any:
        return self.client("sql", subscription_id)

    def storage(self, subscription_id: str | None = None) -> Any:
        return self.client("storage", subscription_id)

    def cdn(self, subscription_id: str | None = None) -> Any:
        return self.client("cdn", subscription_id)

    def dns(self, subscription_id: str | None = None) -> Any:
        return self.client("dns", subscription_id)

    def web(self, subscription_id: str | None = None) -> Any:
        return self.client("web", subscription_id)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
        if self._owns_credential and self._credential is not None:
            self._credential.close()

    def __enter__(self) -> AzureSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
