"""Keep secrets out of journals, logs, artifacts and reports.

Redaction happens where text enters the journal, so nothing downstream (reports, Prefect
artifacts, the console) ever sees the secret. It is pattern-based and errs on hiding too much.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"

_SECRET_KEYS = re.compile(
    r"(authorization|token|secret|password|passwd|pwd|api[-_]?key|apikey|access[-_]?key|"
    r"account[-_]?key|client[-_]?secret|connection[-_]?string|sas|signature|cookie|webhook)",
    re.IGNORECASE,
)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Bearer/Basic credentials in headers or text
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    # key=value secrets inside connection strings and query strings
    (
        re.compile(
            r"(?i)\b(AccountKey|SharedAccessKey|Password|Pwd|sig|se|sv|code|token|access_token|"
            r"client_secret|api[-_]?key)=([^;&\s\"']+)"
        ),
        r"\1=" + MASK,
    ),
    # Webhook URLs carry their secret in the path: keep the host, drop the rest
    (
        re.compile(
            r"(?i)(https://(?:hooks\.slack\.com|[a-z0-9-]+\.webhook\.office\.com|"
            r"outlook\.office\.com/webhook|discord(?:app)?\.com/api/webhooks)[^\s\"']*)"
        ),
        "<webhook-url " + MASK + ">",
    ),
    # JWTs
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"), MASK),
]


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any, key: str | None = None) -> Any:
    """A copy of ``value`` with secret-looking keys masked and secret-looking text scrubbed."""
    if key is not None and _SECRET_KEYS.search(key) and value not in (None, "", [], {}):
        if isinstance(value, (str, int, float)):
            return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value
