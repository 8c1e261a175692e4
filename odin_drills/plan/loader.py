"""Read a plan file: YAML, ``${VAR:-default}`` expansion, pydantic validation, one line per problem."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from odin_drills.errors import PlanInvalid
from odin_drills.plan.models import Plan

M = TypeVar("M", bound=BaseModel)

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_variables(value: Any, environ: dict[str, str] | None = None, where: str = "") -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string, so ports and hosts can vary per run."""
    env = os.environ if environ is None else environ
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise PlanInvalid([f"{where or '<root>'}: environment variable {name} is not set and has no default"])

        return _VAR.sub(substitute, value)
    if isinstance(value, dict):
        return {k: expand_variables(v, env, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_variables(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _location(loc: tuple[Any, ...]) -> str:
    """``('phases', 't0', 1, 'http', 'url')`` -> ``phases.t0[1].url`` (drop union tags and type names)."""
    from odin_drills.plan.steps import STEP_KINDS

    tags = set(STEP_KINDS) | {"sandbox", "azure", "local"}
    type_names = {"time", "datetime", "str", "int", "float", "list[str]", "literal['none']"}
    out = ""
    previous: Any = None
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif (part in tags and (isinstance(previous, int) or previous in ("target", "undo", "metrics"))) \
                or part in type_names or str(part).startswith(("function-", "tagged-union")):
            pass
        else:
            out += ("." if out else "") + str(part)
        previous = part
    return out


def describe_errors(error: ValidationError, source: str) -> list[str]:
    """One line per problem, naming the file and the field, in words a plan author can act on."""
    lines: list[str] = []
    for item in error.errors(include_url=False):
        where = _location(tuple(item["loc"]))
        message = item["msg"]
        kind = item["type"]
        if kind == "union_tag_invalid":
            tag = item.get("ctx", {}).get("tag")
            expected = item.get("ctx", {}).get("expected_tags")
            message = f"unknown kind {tag!r} (expected one of {expected})"
        elif kind == "union_tag_not_found":
            message = "missing 'kind'"
        elif kind == "extra_forbidden":
            message = "unknown field (check the spelling; `odin schema` lists the fields)"
        elif kind == "missing":
            message = "required field is missing"
        message = message.removeprefix("Value error, ")
        line = f"{source}: {where}: {message}" if where else f"{source}: {message}"
        if line not in lines:
            lines.append(line)
    return lines


def parse_model(data: Any, model: type[M], source: str, shape: str, environ: dict[str, str] | None = None) -> M:
    """Expand ``${VAR}`` and validate ``data`` as ``model``; every problem one line naming the field."""
    if not isinstance(data, dict):
        raise PlanInvalid([f"{source}: {shape}"])
    try:
        expanded = expand_variables(data, environ)
    except PlanInvalid as exc:
        raise PlanInvalid([f"{source}: {line}" for line in exc.problems]) from None
    try:
        return model.model_validate(expanded)
    except ValidationError as exc:
        raise PlanInvalid(describe_errors(exc, source)) from None


def read_yaml(path: str | Path, what: str) -> tuple[Path, Any]:
    """The YAML in ``path``; unreadable files and bad YAML become one-line PlanInvalid errors."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanInvalid([f"{file}: no such {what} file"]) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise PlanInvalid([f"{file}: cannot read {what} file ({exc.__class__.__name__})"]) from None
    try:
        return file, yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise PlanInvalid([f"{file}: invalid YAML{at}: {problem}"]) from None


def parse_plan(data: Any, source: str = "<plan>", environ: dict[str, str] | None = None) -> Plan:
    return parse_model(data, Plan, source,
                       "a plan must be a YAML mapping with name, environment, service, metrics, phases", environ)


def load_plan(path: str | Path, environ: dict[str, str] | None = None) -> Plan:
    """Load and validate a plan file; raises :class:`PlanInvalid` with every problem found."""
    file, data = read_yaml(path, "plan")
    return parse_plan(data, str(file), environ)
