"""Keep secrets out of journals, logs, artifacts, reports and the console.

Two lines of defence, both applied by :func:`redact_text` / :func:`redact`:

1. **Exact values.** Every value odin resolved from a secret reference (``${secret:NAME}``,
   ``${env:NAME}``, ``${file:PATH}``; see ``odin_drills.steps.secrets``) is registered here, process
   wide, and masked wherever it appears — in a response body, a command's output, an exception
   message — whatever shape surrounds it. This is what CI systems do with their secrets; it is the
   only rule that catches a credential in a shape no pattern foresaw.
2. **Patterns** for credentials written into a plan or printed by a program: ``Authorization``
   headers, Bearer/Basic tokens, URL passwords (``https://user:pw@host``), secret query parameters
   (``?key=``, ``?code=``, ``?sig=``, ``?token=``), webhook URL paths (Slack, Teams, Discord,
   PagerDuty and custom ``/hooks/…`` paths), ``NAME=value`` / ``NAME: value`` where the name says
   secret (``DB_PASSWORD``, ``AZURE_CLIENT_SECRET``, ``routing_key``), ``curl -u user:pw`` and
   ``--password x`` options, private-key blocks and JWTs.

Names are judged by their words, not by substrings: ``DB_PASSWORD`` and ``x-api-key`` are
secrets, ``disaster_recovery``, ``continuation_token`` and ``token_count`` are not (a substring
rule masked all three and made reports unreadable).

A secret *reference* is never masked: ``Bearer ${secret:API_TOKEN}`` is what the journal must keep
so a replayed undo resolves the real value again (masking it would send ``***``).

Redaction happens where text enters the journal, so nothing downstream (reports, Prefect
artifacts and logs, the console) sees the secret; the reports redact again, in case an entry was
written by something that did not.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from typing import Any
from urllib.parse import quote

MASK = "***"

_REFERENCE = re.compile(r"\$\{(?:secret|env|file):[^}]*\}")
_NOT_REF = r"(?!\$\{(?:secret|env|file):)"

# ---------------------------------------------------------------- exact values

MIN_MASKED_LENGTH = 4
"""Shorter values are not masked: masking every ``1`` or ``yes`` in a report would hide the report
and reveal nothing about the secret (its length at most)."""

_registered: set[str] = set()
_registered_lock = threading.Lock()
_registered_pattern: re.Pattern[str] | None = None


def register_secret(value: str) -> None:
    """Mask ``value`` (and its URL- and JSON-escaped forms) in everything redacted from now on."""
    global _registered_pattern
    if not isinstance(value, str):
        return
    forms = {value, value.strip(), quote(value, safe=""), json.dumps(value)[1:-1]}
    forms = {f for f in forms if len(f) >= MIN_MASKED_LENGTH}
    with _registered_lock:
        if forms <= _registered:
            return
        _registered.update(forms)
        ordered = sorted(_registered, key=len, reverse=True)  # the longest form first
        _registered_pattern = re.compile("|".join(re.escape(f) for f in ordered))


def forget_secrets() -> None:
    """Clear the registry (tests; a long-lived process between unrelated runs)."""
    global _registered_pattern
    with _registered_lock:
        _registered.clear()
        _registered_pattern = None


def mask_registered(text: str) -> str:
    pattern = _registered_pattern
    return pattern.sub(MASK, text) if pattern is not None else text


# ---------------------------------------------------------------- names that say "secret"

_ANYWHERE = {"password", "passwd", "pwd", "passphrase", "secret", "secrets", "credential", "credentials",
             "cookie", "cookies", "apikey", "privatekey", "connectionstring", "sas", "webhook", "webhooks",
             "authorization", "clientsecret"}
_LAST = {"signature", "sig", "auth", "dsn"}
_KEY_QUALIFIERS = {"api", "access", "account", "routing", "subscription", "shared", "private", "secret", "master",
                   "function", "functions", "host", "integration", "signing", "encryption", "storage", "client",
                   "admin", "service", "app", "license", "primary", "secondary", "auth", "sas"}
_HARMLESS_TOKEN = {"continuation", "page", "next", "pagination", "sync", "cancellation", "max", "num", "total",
                   "resume", "skip", "marker", "start", "end", "prev", "previous", "cursor"}
_PAIRS = {("connection", "string"), ("private", "key"), ("client", "secret")}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _words(name: str) -> list[str]:
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", _CAMEL.sub("_", name)) if w]


def is_secret_key(name: str) -> bool:
    """Whether a field, header, variable or option called ``name`` holds a secret."""
    return _is_secret_key(str(name))


@functools.lru_cache(maxsize=4096)
def _is_secret_key(name: str) -> bool:
    """Memoised: every journal entry's keys are asked again on each append (a pure function of
    the name; a few dozen distinct names per run), a measurable share of a step's cost (issue 14)."""
    words = _words(name)
    if not words:
        return False
    if any(w in _ANYWHERE for w in words) or words[-1] in _LAST:
        return True
    if any(pair in _PAIRS for pair in zip(words, words[1:])):
        return True
    last = words[-1]
    before = words[-2] if len(words) > 1 else ""
    if last in ("key", "keys") and before in _KEY_QUALIFIERS:
        return True
    if last in ("token", "tokens"):
        return before not in _HARMLESS_TOKEN
    return False


# ---------------------------------------------------------------- URLs

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{1,15}://[^\s\"'<>`\\]+")
_SECRET_QUERY = {"key", "code", "sig", "signature", "token", "secret", "password", "pwd", "apikey", "api_key",
                 "api-key", "access_token", "id_token", "refresh_token", "auth", "client_secret",
                 "subscription-key", "x-functions-key", "sas", "skey", "pass"}
_HOOK_SEGMENTS = {"hooks", "hook", "webhook", "webhooks", "webhookb2", "integration", "integrations", "token",
                  "tokens", "key", "keys", "secret", "secrets", "incomingwebhook"}
"""A path segment after one of these is a credential (``/hooks/<id>``, ``/integration/<key>/enqueue``)."""
_WHOLE_PATH_HOSTS = re.compile(r"(?i)^(hooks\.slack\.com|[a-z0-9-]+\.webhook\.office\.com|outlook\.office\.com|"
                               r"hooks\.zapier\.com)$")
"""Hosts whose whole path is the credential: such a URL is shown as ``<webhook-url ***>``."""
WEBHOOK_SHOWN = "<webhook-url " + MASK + ">"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TOKENISH = re.compile(r"^[A-Za-z0-9_-]{24,}$")


def _random_looking(segment: str) -> bool:
    """A long path segment of letters and digits that is no UUID: a token, by the look of it."""
    return bool(_TOKENISH.match(segment)) and not _UUID.match(segment) \
        and any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment)


def _mask_params(text: str, separator: str = "&") -> str:
    out = []
    for part in text.split(separator):
        name, eq, value = part.partition("=")
        if eq and value and not _REFERENCE.fullmatch(value) and value != MASK \
                and (name.lower() in _SECRET_QUERY or is_secret_key(name)):
            part = f"{name}={MASK}"
        out.append(part)
    return separator.join(out)


def redact_url(url: str) -> str:
    """``url`` with its password, secret query values and secret-bearing path segments masked."""
    scheme, _, rest = url.partition("://")
    rest, hash_, fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    authority, slash, path = rest.partition("/")
    userinfo, at, host = authority.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        if colon and password and not _REFERENCE.fullmatch(password):
            userinfo = f"{user}:{MASK}"
        elif not colon and len(user) >= 16 and not _REFERENCE.search(user):
            userinfo = MASK  # https://TOKEN@host
    hostname = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if _WHOLE_PATH_HOSTS.match(hostname) and (path or query):
        return WEBHOOK_SHOWN
    if path:
        segments = path.split("/")
        masking = False
        for i, segment in enumerate(segments):
            if _REFERENCE.search(segment) or segment in ("", MASK):
                continue
            if masking or _random_looking(segment):
                segments[i] = MASK
            if segment.lower() in _HOOK_SEGMENTS:
                masking = True
        path = "/".join(segments)
    if query:
        query = _mask_params(query)
    if fragment and "=" in fragment:
        fragment = _mask_params(fragment)
    return f"{scheme}://{userinfo}{at}{host}{slash}{path}{question}{query}{hash_}{fragment}"


# ---------------------------------------------------------------- text

_AUTH_HEADER = re.compile(
    r"(?i)\b((?:proxy-)?authorization)([\"']?\s*[:=]\s*[\"']?)"
    r"(?!(?:[A-Za-z-]+\s+)?(?:\$\{(?:secret|env|file):|\*\*\*))"
    r"(?:(bearer|basic|token|digest|negotiate|sharedkey|sharedaccesssignature|splunk|apikey|sso-key)\s+)?"
    + _NOT_REF + r"(?!\*\*\*)([^\s\"',;}]+)")
_BEARER = re.compile(r"(?i)\b(bearer)\s+" + _NOT_REF + r"(?!\*\*\*)[A-Za-z0-9._~+/=-]{8,}")
_BASIC = re.compile(r"\b([Bb]asic|BASIC)\s+" + _NOT_REF + r"(?=\S*[A-Z0-9+/=])[A-Za-z0-9+/]{8,}={0,2}")
_ASSIGNMENT = re.compile(
    r"(?<![\w$])(?<!\$\{)([\"']?)([A-Za-z_][A-Za-z0-9_.-]*)([\"']?\s*[:=]\s*)" + _NOT_REF
    + r"(\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*'|[^\s,;&\"'}\]\)]+)")
_CLI_USER = re.compile(r"(?<!\S)(-u|--user)(\s+|=)?([\"']?)([^\s:\"'-][^\s:\"']*):" + _NOT_REF
                       + r"(?!\*\*\*)([^\s\"']+)")
_CLI_OPTION = re.compile(r"(?<!\S)(--[A-Za-z][\w-]*)(\s+|=)([\"']?)" + _NOT_REF + r"(?!-)(?!\*\*\*)([^\s\"']+)")
_PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?(-----END \1PRIVATE KEY-----|$)", re.DOTALL)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b")


def _auth_header(match: re.Match[str]) -> str:
    scheme = f"{match.group(3)} " if match.group(3) else ""
    return f"{match.group(1)}{match.group(2)}{scheme}{MASK}"


def _assignment(match: re.Match[str]) -> str:
    open_quote, name, between, value = match.groups()
    if not is_secret_key(name) or _words(name)[-1] in ("authorization",):
        return match.group(0)  # Authorization headers have their own rule (it keeps the scheme)
    if len(value) >= 2 and value[0] in "\"'" and value[-1] == value[0]:
        inner = value[1:-1]
        if inner in ("", MASK) or _REFERENCE.fullmatch(inner):
            return match.group(0)
        return f"{open_quote}{name}{between}{value[0]}{MASK}{value[0]}"
    if value == MASK:
        return match.group(0)
    return f"{open_quote}{name}{between}{MASK}"


def _cli_option(match: re.Match[str]) -> str:
    option, between, quote_, _value = match.groups()
    if not is_secret_key(option.lstrip("-")):
        return match.group(0)
    return f"{option}{between}{quote_}{MASK}"


def redact_text(text: str) -> str:
    """``text`` with registered secret values and secret-looking shapes masked."""
    if not isinstance(text, str):
        text = str(text)
    text = mask_registered(text)
    text = _PRIVATE_KEY.sub(MASK, text)
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    text = _AUTH_HEADER.sub(_auth_header, text)
    text = _BEARER.sub(r"\1 " + MASK, text)
    text = _BASIC.sub(r"\1 " + MASK, text)
    text = _CLI_USER.sub(lambda m: f"{m.group(1)}{m.group(2) or ''}{m.group(3)}{m.group(4)}:{MASK}", text)
    text = _CLI_OPTION.sub(_cli_option, text)
    text = _ASSIGNMENT.sub(_assignment, text)
    text = _JWT.sub(MASK, text)
    return text


def redact(value: Any, key: str | None = None) -> Any:
    """A copy of ``value`` with values under secret-named keys masked and all text scrubbed.

    A value under a secret-named key is masked whole, unless it holds a secret reference: then it
    is what must be kept (it carries no secret) and only its text is scrubbed.
    """
    if key is not None and is_secret_key(key) and value not in (None, "", [], {}):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return MASK
        if isinstance(value, str) and not _REFERENCE.search(value):
            return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value
