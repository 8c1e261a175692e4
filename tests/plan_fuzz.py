"""Generated plan files for fuzzing ``odin validate`` and ``odin plan``, and the checks each must pass.

Shared by ``tests/test_plan_fuzz.py`` (a few hundred derandomized examples in the suite) and
``bench/fuzz_plans.py`` (10,000). A generated file is one of:

* a **valid plan** (every step kind, targets, windows, policies, ``observe_only``), drawn so most
  of them load;
* a **mutated plan**: a valid plan or a shipped drill file with keys deleted, values replaced by
  junk (wrong types, huge numbers, NaN, long and unicode strings, ``${...}`` tricks, path tricks),
  unknown keys added, kinds changed;
* **broken text**: the YAML of one of those truncated, spliced with YAML syntax, several documents,
  Python tags, alias bombs, deep nesting, a byte-order mark, bytes that are not UTF-8.

Every URL in a generated plan points at one :class:`tests.recording_server.RecordingServer`, so
"nothing ran" is checked by that server having seen no connection at all. :func:`check_plan_file`
runs both commands in-process through the CLI's ``main(argv)`` and returns what went wrong.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.conftest import ROOT

SHIPPED = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "drills").glob("*.yaml"))]
"""The shipped plans and drills: realistic seeds for mutation."""

FUZZ_ENV = {
    "ODIN_FUZZ_HOST": "127.0.0.1",
    "ODIN_FUZZ_SMUGGLE": "${secret:smuggled}",  # an environment value must not smuggle in a reference
    "ODIN_FUZZ_NEWLINE": "line one\nline two",
    "ODIN_FUZZ_EMPTY": "",
    "ODIN_FUZZ_UNICODE": "ünïcødé ✓ \u202e",
}
"""Variables the ``${...}`` tricks refer to (set for the run; ``ODIN_FUZZ_URL`` is the recorder)."""

TRICKS = [
    "${ODIN_FUZZ_URL}/x", "${ODIN_FUZZ_HOST}", "${ODIN_FUZZ_SMUGGLE}", "${ODIN_FUZZ_NEWLINE}", "${ODIN_FUZZ_EMPTY}",
    "${ODIN_FUZZ_UNICODE}", "${ODIN_FUZZ_UNSET_XYZ}", "${ODIN_FUZZ_UNSET_XYZ:-}", "${ODIN_FUZZ_UNSET_XYZ:-fallback}",
    "${A:-${B}}", "$${ODIN_FUZZ_HOST}", "${}", "${ 1 }", "${1X}", "${HOME}", "${PATH}", "$HOME", "${secret:db-pass}",
    "${secret:}", "${secret:../../etc/passwd}", "${env:HOME}", "${env:}", "${file:/etc/passwd}", "${file:../x}",
    "${file:}", "${vault:x}", "${secret:a}${secret:b}", "${${ODIN_FUZZ_HOST}}", "${ODIN_FUZZ_URL",
    "../../../../etc/passwd", "/etc/shadow", "~root/.ssh/id_rsa", "C:\\Windows\\system32", "file:///etc/passwd",
    "\\\\server\\share", "/dev/zero", "/proc/self/environ", "nul", ".", "..", "", " ", "\t", "\x00", "\x1b[31mred",
    "a\nb", "\u2028", "\ufeff", "\u202eevil", "🙂" * 3, "名前", "{{ 7*7 }}", "{% raw %}", "%(x)s", "'; DROP TABLE x;--",
    "$(rm -rf /)", "`id`", "; id", "| id", "&& id", "http://[::1", "http://user:pass@127.0.0.1:1/", "https://",
    "http://127.0.0.1:0/", "http://256.256.256.256/", "javascript:alert(1)", "99999999999999999999999d", "1e309",
    "-1s", "1.5.5s", "0", "0s", "1w", "365000000d", "nan", "inf", "-inf", "null", "~", "true", "yes", "no", "on",
    "0x10", "0o17", "1_000", "2026-02-30T25:61:00Z", "24:00", "25:00", "23:59:60", "Mars/Olympus_Mons", "UTC+99",
    "*", "&anchor", "!!python/object", "- item", "key: value", "a" * 5000,
]

KINDS = ["http", "command", "wait", "smoke", "gate", "approval", "notify", "azure.sql.failover",
         "azure.storage.failover", "azure.frontdoor.origins", "azure.dns.records", "azure.appservice.scale",
         "azure.appservice.settings", "region-failover", "synthetic_probe", "sandbox",
         "azure", "local", "keyvault", "directory", "alertmanager", "azure_monitor_alerts", "azure_monitor_metrics",
         "none", "auto", "HTTP", "", "teleport"]

_slug = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)
_short = st.text(min_size=1, max_size=20)
_path = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789/_-.?=&%", max_size=20)
_durations = st.one_of(st.sampled_from(["30s", "5m", "1h", "1d", "1w", "250ms", "0.5s"]),
                       st.integers(min_value=0, max_value=10**6), st.floats(min_value=0, max_value=1e6))
_methods = st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
_changing = st.sampled_from(["POST", "PUT", "PATCH", "DELETE"])


def _huge() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(min_value=-(2**80), max_value=2**80),
        st.sampled_from([2**63, -(2**63) - 1, 10**40, float("inf"), float("-inf"),
                         float("nan"), 1e308, -0.0, 5e-324]),
        st.builds(lambda n, c: c * n, st.integers(min_value=1000, max_value=120_000), st.sampled_from("aZ9 é✓")),
    )


def junk() -> st.SearchStrategy[Any]:
    """Any value a plan field might wrongly hold."""
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                        st.text(max_size=40), st.sampled_from(TRICKS), _huge())
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.one_of(_short, st.sampled_from(TRICKS)),
                                                                        inner, max_size=4)),
                        max_leaves=8)


def _url(base: str) -> st.SearchStrategy[str]:
    return st.one_of(st.builds(lambda p: f"{base}/{p}", _path), st.builds(lambda p: "${ODIN_FUZZ_URL}/" + p, _path))


def _undo(base: str) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.just("none"),
        st.fixed_dictionaries({"kind": st.just("http"), "method": _changing, "url": _url(base)},
                              optional={"json": junk(), "headers": st.dictionaries(_short, st.text(max_size=20), max_size=2)}),
        st.fixed_dictionaries({"kind": st.just("command"), "argv": st.lists(st.text(max_size=20), min_size=1, max_size=3)}),
        st.fixed_dictionaries({"kind": st.just("wait"), "duration": _durations}),
    )


def _step(base: str) -> st.SearchStrategy[dict[str, Any]]:
    def changing(kind_fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
        return st.builds(lambda fields, undo, reason: {**fields, "undo": undo,
                                                       **({"undo_reason": reason} if undo == "none" else {})},
                         st.fixed_dictionaries(kind_fields, optional={"name": _slug}), _undo(base),
                         st.text(min_size=1, max_size=30))

    arm = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers"
    return st.one_of(
        changing({"kind": st.just("http"), "method": _changing, "url": _url(base),
                  "json": junk(), "expect_status": st.one_of(st.integers(100, 599), st.lists(st.integers(100, 599)))}),
        st.fixed_dictionaries({"kind": st.just("http"), "method": st.just("GET"), "url": _url(base)}),
        changing({"kind": st.just("command"), "argv": st.lists(st.text(max_size=30), min_size=1, max_size=4),
                  "cwd": st.one_of(st.none(), st.sampled_from(TRICKS)), "env": st.dictionaries(_short, st.text(max_size=20), max_size=3)}),
        changing({"kind": st.just("command"), "shell": st.just(True), "argv": st.lists(st.sampled_from(TRICKS), min_size=1, max_size=1)}),
        st.fixed_dictionaries({"kind": st.just("wait"), "duration": _durations}),
        st.fixed_dictionaries({"kind": st.just("smoke")}, optional={"journeys": st.lists(_slug, max_size=2)}),
        st.fixed_dictionaries({"kind": st.just("gate")}, optional={"window": _durations}),
        st.fixed_dictionaries({"kind": st.just("approval")}, optional={"prompt": st.text(max_size=30), "timeout": _durations,
                                                                         "on_timeout": st.sampled_from(["reject", "approve"])}),
        st.fixed_dictionaries({"kind": st.just("notify"), "url": _url(base), "message": st.text(max_size=40)},
                              optional={"payload": st.dictionaries(_short, junk(), max_size=2)}),
        st.fixed_dictionaries({"kind": st.just("azure.sql.failover"), "resource_group": st.just("rg"),
                               "failover_group": st.sampled_from(["odin-fg", f"{arm}/Microsoft.Sql/servers/a/failoverGroups/fg"]),
                               "to_server": st.sampled_from(["odin-sql-westus", "b"])},
                              optional={"mode": st.just("planned"), "undo": st.just("auto")}),
        st.fixed_dictionaries({"kind": st.just("azure.sql.failover"), "resource_group": st.just("rg"),
                               "failover_group": st.just("odin-fg"), "to_server": st.just("odin-sql-westus"),
                               "mode": st.sampled_from(["forced", "try-planned"]), "allow_data_loss": st.just(True)}),
        st.fixed_dictionaries({"kind": st.just("azure.storage.failover"), "resource_group": st.just("rg"),
                               "account": st.sampled_from(["odinstore", f"{arm}/Microsoft.Storage/storageAccounts/s"]),
                               "to_region": st.sampled_from(["westus", "eastus"])},
                              optional={"mode": st.just("planned")}),
    )


def _alert_sources(base: str) -> st.SearchStrategy[dict[str, Any]]:
    """Every alert source kind (``alerts.kind``): Alertmanager and Azure Monitor."""
    group = st.sampled_from(["rg-shop", "rg.odin_(1)", "RG-ODIN-DRILLS"])
    return st.one_of(
        st.fixed_dictionaries({"kind": st.just("alertmanager"), "url": _url(base)},
                              optional={"filter": st.just(['service="shop"']), "timeout": _durations}),
        st.fixed_dictionaries({"kind": st.just("azure_monitor_alerts"), "target_resource_group": group,
                               "subscription_id": st.uuids().map(str)},  # a local target needs it
                              optional={"target_resource_type": st.just("Microsoft.Web/sites"),
                                        "alert_rules": st.lists(st.sampled_from(["FailedRequestRate", "AppUnavailable"]),
                                                                max_size=2),
                                        "security": st.fixed_dictionaries({}, optional={
                                            "alert_rules": st.just(["SuspiciousSignIns"]),
                                            "monitor_services": st.just(["ActivityLog Security"])}),
                                        "timeout": _durations}))


def valid_plans(base: str) -> st.SearchStrategy[dict[str, Any]]:
    """Plans drawn to load (most of them): every field a plan may have, URLs at ``base``."""
    journey = st.fixed_dictionaries({"name": _slug, "url": _url(base)},
                                    optional={"method": _methods, "expect_status": st.integers(100, 599),
                                              "critical": st.booleans(), "retries": st.integers(0, 10),
                                              "assert": st.lists(st.one_of(
                                                  st.fixed_dictionaries({"contains": st.text(max_size=10)}),
                                                  st.fixed_dictionaries({"jsonpath": st.sampled_from(["$.status", "$.a[0]", "$..x"]),
                                                                         "equals": junk()})), max_size=2)})
    steps = st.lists(_step(base), max_size=3)
    target = st.one_of(st.just({"kind": "local"}), st.just({"kind": "sandbox"}),
                       st.fixed_dictionaries({"kind": st.just("azure"), "subscription_id": st.uuids().map(str)},
                                             optional={"production": st.booleans()}))
    plans = st.fixed_dictionaries(
        {"name": _slug, "environment": _slug, "service": st.fixed_dictionaries(
            {"name": _short}, optional={"endpoints": st.dictionaries(_slug, _url(base), max_size=2)}),
         "metrics": st.fixed_dictionaries({"kind": st.just("synthetic_probe"), "url": _url(base)},
                                          optional={"rate_per_second": st.floats(0.1, 1500),
                                                    "min_window_wall_seconds": st.floats(0.1, 60)}),
         "phases": st.fixed_dictionaries({}, optional={"t-1w": steps, "t0": steps, "t+1h": steps, "t+24h": steps})},
        optional={"description": st.text(max_size=40), "target": target, "alerts": _alert_sources(base),
                  "smoke": st.lists(journey, max_size=3, unique_by=lambda j: j["name"]),
                  "policy": st.fixed_dictionaries({}, optional={
                      "confidence": st.floats(0.5, 1), "min_requests": st.integers(-5, 500),
                      "windows": st.fixed_dictionaries({}, optional={"step": _durations, "baseline": _durations}),
                      "on_hold_timeout": st.sampled_from(["rollback", "proceed", "maybe"])}),
                  "change_window": st.one_of(
                      st.fixed_dictionaries({"start": st.sampled_from(["22:00", "00:00"]), "end": st.sampled_from(["02:00", "23:59"])},
                                            optional={"timezone": st.sampled_from(["UTC", "Europe/Berlin"]),
                                                      "days": st.lists(st.sampled_from(["mon", "sat"]), max_size=2)}),
                      st.just({"start": "2026-12-01T22:00:00Z", "end": "2026-12-01T23:00:00Z"}))})

    def consistent(plan: dict[str, Any]) -> dict[str, Any]:
        """observe_only exactly when nothing changes the world; smoke steps name known journeys."""
        steps = [s for phase in plan["phases"].values() for s in phase]
        changing = any(s["kind"].startswith("azure.") or s["kind"] == "command"
                       or (s["kind"] == "http" and s.get("method") != "GET") for s in steps)
        names = [j["name"] for j in plan.get("smoke", [])]
        for step in steps:
            if step["kind"] == "smoke" and "journeys" in step:
                step["journeys"] = [n for n in step["journeys"] if n in names]
        return {**plan, "observe_only": True} if not changing else plan

    return plans.map(consistent)


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*here, index))
    return out


def _at(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def mutated(draw: Callable[..., Any], base: str) -> Any:
    """A valid plan or a shipped file with 1-4 random edits anywhere in its tree."""
    data = json.loads(json.dumps(draw(st.one_of(valid_plans(base), st.sampled_from(SHIPPED))), default=str))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(data)))
        op = draw(st.sampled_from(["replace", "delete", "add", "kind", "duplicate"]))
        if not path:
            data = draw(junk()) if op == "replace" else data
            continue
        parent, key = _at(data, path[:-1]), path[-1]
        if op == "replace":
            parent[key] = draw(junk())
        elif op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.one_of(_short, st.sampled_from(TRICKS)))] = draw(junk())
        elif op == "kind" and isinstance(parent, dict):
            parent["kind"] = draw(st.sampled_from(KINDS))
        elif op == "duplicate" and isinstance(parent, list):
            parent.append(json.loads(json.dumps(parent[key], default=str)))
        if not isinstance(data, (dict, list)):
            break
    return data


def _dump(data: Any, unicode: bool) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=unicode, sort_keys=False, width=120)
    except yaml.YAMLError:  # a value PyYAML cannot represent: its repr is junk text too
        return repr(data)


SPLICES = [":", ": [", "{", "}", "]", "&a ", "*a", "*undefined", "!!python/object/apply:os.system ['id']\n",
           "!!binary ZZZ", "!!float x", "? [a, b]\n: c\n", "\t", "\n---\nsecond: document\n", "%YAML 9.9\n",
           "<<: *a\n", "\x00", "\x07", "\ufeff", "'", "\"", "|\n", ">-\n", "#", "@", "`", "- - -\n", "\\u0000",
           "\nname: duplicated-key\n", "\r", "\u2028", " !!bool maybe", " !!timestamp x", " !!int 0x",
           " 2001-02-30\n", " 22:30\n", " !!set {a}"]


def _alias_bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{','.join(f'*a{i - 1}' for _ in range(9))}]")
    return "\n".join(lines) + f"\nname: *a{levels - 1}\n"


@st.composite
def plan_files(draw: Callable[..., Any], base: str) -> str | bytes:
    """The content of one generated plan file (text, or bytes for encodings that are not UTF-8)."""
    shape = draw(st.sampled_from(["valid", "valid", "mutated", "mutated", "mutated", "text", "special"]))
    if shape == "special":
        return draw(st.one_of(
            st.builds(_alias_bomb, st.integers(2, 10)),
            st.builds(lambda n: "phases:\n  t0: " + "[" * n + "]" * n + "\n", st.integers(10, 20000)),
            st.builds(lambda n: "name: x\n" + "".join(f"{' ' * 2 * i}k{i}:\n" for i in range(n)) + f"{' ' * 2 * n}v\n",
                      st.integers(10, 3000)),
            st.sampled_from(["", "\n", "---\n", "~\n", "null\n", "42\n", "- a\n- b\n", "'just a string'\n", "{}\n",
                             "\ufeffname: bom\n", "!!python/name:os.system\n", "name: [unclosed\n"]),
            st.builds(lambda d: _dump(d, True).encode("utf-16"), valid_plans(base)),
            st.builds(lambda d: _dump(d, False).encode("utf-8") + b"\xff\xfe\xc3\x28", valid_plans(base)),
            st.binary(max_size=200),
        ))
    data = draw(valid_plans(base)) if shape == "valid" else draw(mutated(base))
    text = _dump(data, draw(st.booleans()))
    if shape != "text":
        return text
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["truncate", "splice", "splice", "indent"]))
        if edit == "truncate":
            text = text[:at]
        elif edit == "splice":
            text = text[:at] + draw(st.one_of(st.sampled_from(SPLICES), st.text(max_size=5))) + text[at:]
        else:
            text = text[:at] + " " * draw(st.integers(1, 5)) + text[at:]
    return text


# ------------------------------------------------------------------------------ running the CLI

@dataclass
class Outcome:
    command: str
    code: int
    stdout: str
    stderr: str


def run_cli(argv: list[str]) -> Outcome:
    """``odin ARGV`` in this process (``main(argv)``), output captured; SystemExit is an exit code."""
    from odin_drills.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 2
    return Outcome(argv[0], int(code), out.getvalue(), err.getvalue())


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def check_plan_file(path: Path, content: str | bytes, *, home: Path, connections: Callable[[], list[str]],
                    codes: dict[str, int] | None = None) -> list[str]:
    """Write ``content`` to ``path``, run ``odin validate`` and ``odin plan`` on it; every broken rule, in words.
    ``codes`` (if given) receives each command's exit code.

    Rules: exit 0 or 2, never a traceback; on 2 every stderr line is ``odin: error: PATH: ...``;
    no connection reached the recording server; ``$ODIN_HOME`` holds what it held before."""
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")
    before = tree(home)
    seen = len(connections())
    problems: list[str] = []
    for command in ("validate", "plan"):
        try:
            result = run_cli([command, str(path)])
        except BaseException as exc:  # a crash: what a user would see as a traceback
            if isinstance(exc, KeyboardInterrupt):
                raise
            problems.append(f"odin {command}: crashed with {exc.__class__.__name__}: {str(exc)[:300]}")
            continue
        if codes is not None:
            codes[command] = result.code
        if result.code not in (0, 2):
            problems.append(f"odin {command}: exit {result.code}: {result.stderr[-500:]}")
        if "Traceback" in result.stderr or "Traceback" in result.stdout:
            problems.append(f"odin {command}: printed a traceback: {result.stderr[-800:]}")
        if result.code == 2:
            lines = result.stderr.splitlines()
            if not lines:
                problems.append(f"odin {command}: exit 2 without a message")
            wrong = [line for line in lines if not line.startswith(f"odin: error: {path}")]
            if wrong:
                problems.append(f"odin {command}: exit 2 with a line that does not name the file: {wrong[0][:300]!r}")
    if len(connections()) != seen:
        problems.append(f"a request reached the recording server: {connections()[seen:][:3]}")
    if tree(home) != before:
        problems.append(f"$ODIN_HOME changed: {sorted(set(tree(home)) ^ set(before))[:5]}")
    return problems


@contextlib.contextmanager
def fuzz_environment(home: Path, recorder_url: str) -> Any:
    """The process environment for a fuzz run: an empty ODIN_HOME, the ``${...}`` variables, no
    sandbox to find, and Prefect pointed at the recorder (so a stray API call would be seen)."""
    saved = dict(os.environ)
    os.environ.update(FUZZ_ENV)
    os.environ.update({"ODIN_HOME": str(home), "ODIN_FUZZ_URL": recorder_url, "PREFECT_API_URL": f"{recorder_url}/api"})
    for key in ("ODIN_SANDBOX_INFO", "AZURE_SUBSCRIPTION_ID"):
        os.environ.pop(key, None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
