"""pydantic's validation errors as one line per real problem, naming the file and the field.

pydantic reports a value that fits no member of a union once per member: an ``undo:`` whose
method is misspelled also reads ``undo: Input should be 'none'`` (the other member of
``UndoStep | 'none'``), a bad change-window time is reported as a bad ``time`` and again as a bad
``datetime``. A plan author sees one problem, so this module folds each union back into one:

* the member the value was evidently meant for wins: the one whose errors go deepest into the
  value or, at equal depth, whose errors are about the content rather than the value's type (a
  mapping with a ``kind`` is a step, whatever ``'none'`` says);
* when no member stands out, their messages are joined into one line (``Input should be a valid
  integer, or a valid list``).

Member labels (``tagged-union[...]``, ``literal['none']``, ``function-after[...]``, ``int``, the
``kind`` tag of a discriminated union...) never appear in a location.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

_LABEL = re.compile(r"^(?:[a-z][a-z0-9_-]*\[.*\]|time|datetime|date|str|int|float|bool|bytes|decimal|none|"
                    r"function-[a-z-]+.*|is-instance.*|constrained-.*|lax-or-strict.*|json-or-python.*)$")
"""Labels pydantic gives union members: ``list[int]``, ``literal['none']``, ``tagged-union[...]``, ``int`` ..."""

_DISCRIMINATED_FIELDS = frozenset({"target", "undo", "metrics", "secrets", "source", "alerts"})
"""Fields holding a discriminated union: the next location part is the member's ``kind`` tag."""

_WEAK = re.compile(r"^(literal_error|.*_type|is_instance_of|enum)$")
"""Errors that only say "this is not my shape": another member's complaint is likelier the real one."""


@dataclass(frozen=True)
class Problem:
    loc: tuple[Any, ...]
    kind: str
    message: str


@lru_cache(maxsize=1)
def _kind_tags() -> frozenset[str]:
    """Every ``kind`` value a plan or drill model declares (step, undo, target, metric, secret kinds)."""
    from odin_drills.plan.drill import DrillPlan
    from odin_drills.plan.models import Plan

    tags: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            kind = node.get("properties", {}).get("kind") if isinstance(node.get("properties"), dict) else None
            if isinstance(kind, dict):
                if isinstance(kind.get("const"), str):
                    tags.add(kind["const"])
                tags.update(v for v in kind.get("enum", []) if isinstance(v, str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for model in (Plan, DrillPlan):
        try:
            walk(model.model_json_schema())
        except Exception:  # noqa: BLE001 - a schema that cannot be drawn must not turn an error report into a crash
            continue
    return frozenset(tags | {"http", "command", "wait", "sandbox", "azure", "local", "synthetic_probe", "prometheus",
                             "azure_monitor", "alertmanager", "azure_monitor_alerts"})


def _is_label(loc: tuple[Any, ...], index: int) -> bool:
    """Whether ``loc[index]`` names a union member rather than a field, key or list index."""
    part = loc[index]
    if not isinstance(part, str):
        return False
    previous = loc[index - 1] if index else None
    if _LABEL.match(part):
        return True
    after_union = isinstance(previous, int) or previous in _DISCRIMINATED_FIELDS or (
        isinstance(previous, str) and previous.startswith("tagged-union"))
    return after_union and part in _kind_tags()


def _first_label(loc: tuple[Any, ...]) -> int | None:
    return next((i for i in range(len(loc)) if _is_label(loc, i)), None)


def _strength(problems: list[Problem], depth_from: int) -> tuple[int, int]:
    """How clearly a union member was the one meant: (content errors?, deepest location below the union)."""
    return (int(any(not _WEAK.match(p.kind) for p in problems)),
            max(len(p.loc) - depth_from for p in problems))


def _joined(messages: list[str]) -> str:
    """``Input should be A`` + ``Input should be B`` -> ``Input should be A, or B``."""
    distinct = list(dict.fromkeys(messages))
    head, rest = distinct[0], distinct[1:]
    prefix = "Input should be "
    return ", or ".join([head, *(m.removeprefix(prefix) if head.startswith(prefix) else m for m in rest)])


def collapse(problems: list[Problem]) -> list[Problem]:
    """Fold every union's per-member errors into the problem(s) of the member meant (see module doc)."""
    slots: list[Any] = []  # a Problem, or the prefix of a union site, in order of first appearance
    sites: dict[tuple[Any, ...], dict[Any, list[Problem]]] = {}
    for problem in problems:
        index = _first_label(problem.loc)
        if index is None:
            slots.append(problem)
            continue
        prefix, label = problem.loc[:index], problem.loc[index]
        if prefix not in sites:
            sites[prefix] = {}
            slots.append(prefix)
        stripped = replace(problem, loc=prefix + problem.loc[index + 1:])
        sites[prefix].setdefault(label, []).append(stripped)
    out: list[Problem] = []
    for slot in slots:
        if isinstance(slot, Problem):
            out.append(slot)
            continue
        members = list(sites[slot].values())
        if len(members) == 1:
            out.extend(collapse(members[0]))
            continue
        scores = [_strength(m, len(slot)) for m in members]
        best = max(scores)
        chosen = [m for m, s in zip(members, scores) if s == best]
        if best[1] > 0 or len(chosen) == 1:
            out.extend(collapse(chosen[0]))
        else:  # every member refused the value itself, equally: one line naming what would fit
            out.append(Problem(slot, "union", _joined([p.message for m in chosen for p in collapse(m)])))
    return out


def location(loc: tuple[Any, ...]) -> str:
    """``('phases', 't0', 1, 'url')`` -> ``phases.t0[1].url`` (union labels already removed)."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out


def _message(item: Any) -> str:
    kind, ctx = item["type"], item.get("ctx") or {}
    if kind == "union_tag_invalid":
        return f"unknown kind {ctx.get('tag')!r} (expected one of {ctx.get('expected_tags')})"
    if kind == "union_tag_not_found":
        return "missing 'kind'"
    if kind == "extra_forbidden":
        return "unknown field (check the spelling; `odin schema` lists the fields)"
    if kind == "missing":
        return "required field is missing"
    return str(item["msg"]).removeprefix("Value error, ")


def describe_errors(error: ValidationError, source: str) -> list[str]:
    """One line per problem, naming the file and the field, in words a plan author can act on."""
    problems = [Problem(tuple(item["loc"]), item["type"], _message(item)) for item in error.errors(include_url=False)]
    lines: list[str] = []
    for problem in collapse(problems):
        where = location(problem.loc)
        line = one_line(f"{source}: {where}: {problem.message}" if where else f"{source}: {problem.message}")
        if line not in lines:
            lines.append(line)
    return lines


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with control characters (newlines from a YAML key or value) escaped: one line stays one line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
