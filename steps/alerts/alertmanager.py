"""Firing alerts from the Alertmanager API v2 (``GET /api/v2/alerts``).

Only active alerts count (``active=true``, not silenced, not inhibited): a silenced alert is one a
person already decided about. The plan's ``filter`` matchers go to Alertmanager as its own
``filter`` parameter, so only the service's alerts come back; the plan's severity map turns the
severity label into the handbook's levels (Sev 0, Sev 1, lower), and its ``security`` matchers
mark security alerts. Matchers are checked again here (same syntax: ``=``, ``!=``, ``=~``, ``!~``,
regexes anchored), so a proxy that drops the parameter cannot let other services' alerts in.
"""

from __future__ import annotations

import re

import httpx

from odin_drills.plan.telemetry import AlertmanagerAlerts
from odin_drills.steps.snapshot import FiringAlert

_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"\s*$')


class AlertSourceUnavailable(RuntimeError):
    """The alert source did not answer, or answered something that is not a list of alerts."""


def matches(matchers: list[str], labels: dict[str, str]) -> bool:
    """Whether every matcher holds for ``labels`` (a missing label is the empty string, as in PromQL)."""
    for text in matchers:
        found = _MATCHER.match(text)
        if found is None:
            raise ValueError(f"not a label matcher: {text!r}")
        name, op, value = found.groups()
        actual = labels.get(name, "")
        if op == "=" and actual != value or op == "!=" and actual == value:
            return False
        if op in ("=~", "!~") and (re.fullmatch(value, actual) is not None) != (op == "=~"):
            return False
    return True


class AlertmanagerSource:
    """Reads the alerts firing now; one ``httpx.Client`` kept open until ``close``."""

    def __init__(self, spec: AlertmanagerAlerts, client: httpx.Client | None = None) -> None:
        self.spec = spec
        self.url = str(spec.url).rstrip("/") + "/api/v2/alerts"
        self.name = f"alertmanager {str(spec.url).rstrip('/')}"
        self._own = client is None
        self._client = client or httpx.Client(timeout=spec.timeout, trust_env=False)

    def firing(self) -> list[FiringAlert]:
        params: list[tuple[str, str]] = [("active", "true"), ("silenced", "false"), ("inhibited", "false"),
                                         ("unprocessed", "false")]
        params += [("filter", matcher) for matcher in self.spec.filter]
        try:
            response = self._client.get(self.url, params=params)
            response.raise_for_status()
            found = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise AlertSourceUnavailable(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(found, list):
            raise AlertSourceUnavailable(f"{self.name}: expected a list of alerts, got {type(found).__name__}")
        return sorted((self._alert(item) for item in found if self._counts(item)), key=lambda a: (a.level, a.name))

    def _counts(self, item: object) -> bool:
        if not isinstance(item, dict) or not isinstance(item.get("labels"), dict):
            return False
        state = (item.get("status") or {}).get("state", "active")
        return state == "active" and matches(self.spec.filter, item["labels"])

    def _alert(self, item: dict) -> FiringAlert:
        labels: dict[str, str] = {str(k): str(v) for k, v in item["labels"].items()}
        severity = labels.get(self.spec.severity_label)
        value = (severity or "").strip().lower()
        levels = self.spec.severities
        level = ("sev0" if value in {v.lower() for v in levels.sev0} else
                 "sev1" if value in {v.lower() for v in levels.sev1} else "lower")
        fingerprint = str(item.get("fingerprint") or ",".join(f"{k}={labels[k]}" for k in sorted(labels)))
        return FiringAlert(fingerprint=fingerprint, name=labels.get("alertname", fingerprint), severity=severity,
                           level=level, security=bool(self.spec.security) and matches(self.spec.security, labels))

    def close(self) -> None:
        if self._own:
            self._client.close()
