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
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string, so ports and hosts can vary per run.

    Not in a ``shell: true`` command line (values are never spliced into ``sh -c`` text; the step
    refuses ``${`` there), and a value may not itself hold ``${``: an environment variable must not
    smuggle in a ``${secret:...}`` reference. Secret references (``${secret:NAME}``, ``${env:NAME}``,
    ``${file:PATH}``) are left as written, to be resolved when the step runs.
    """
    env = os.environ if environ is None else environ
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                if "${" in env[name]:
                    raise PlanInvalid([f"{where or '<root>'}: the value of environment variable {name} holds "
                                       "'${'; references belong in the plan file itself"])
                return env[name]
            if default is not None:
                return default
            raise PlanInvalid([f"{where or '<root>'}: environment variable {name} is not set and has no default"])

        return _VAR.sub(substitute, value)
    if isinstance(value, dict):
        shell_line = value.get("kind") == "command" and value.get("shell") is True
        return {k: v if shell_line and k == "argv" else expand_variables(v, env, f"{where}.{k}" if where else str(k))
                for k, v in value.items()}
    if isinstance(value, list):
        return [expand_variables(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def describe_errors(error: ValidationError, source: str) -> list[str]:
    """One line per problem, naming the file and the field (union noise folded: ``plan.problems``)."""
    from odin_drills.plan.problems import describe_errors as describe

    return describe(error, source)


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


class PlanLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML as plan authors mean it, on libyaml when present (linear on deep nesting, where the
    pure-Python scanner is quadratic).

    YAML 1.1 reads ``start: 22:30`` as the integer 1350 (base 60) and ``2026-02-30`` as a date,
    crashing on an impossible one. Here neither is implicit: both stay strings, which the plan's
    types parse (``22:30`` a time of day) or refuse with a message naming the field."""


_SEXAGESIMAL = ("|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)", "|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*")
PlanLoader.yaml_implicit_resolvers = {
    first: [(tag, re.compile(regexp.pattern.replace(_SEXAGESIMAL[0], ")").replace(_SEXAGESIMAL[1], ""), re.X))
            for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

MAX_PLAN_BYTES = 4 * 1024 * 1024
MAX_PLAN_NODES = 100_000
MAX_PLAN_DEPTH = 64
"""Bounds on what a plan file may expand to. Real plans are a few KB, a few hundred values, ten
levels deep; the bounds stop a file that is a device, a YAML alias bomb (a few lines that
expand to billions of values) or thousands of nested brackets before anything walks them."""


def _shape_problem(data: Any) -> str | None:
    """Why ``data`` is too big or too deep to be a plan (aliases counted every time they are used)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_PLAN_NODES:
            return f"more than {MAX_PLAN_NODES} values (YAML aliases count each time they are used)"
        if depth > MAX_PLAN_DEPTH:
            return f"nested more than {MAX_PLAN_DEPTH} levels deep"
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
            stack.extend((k, depth + 1) for k in node.keys() if isinstance(k, (tuple, frozenset)))
        elif isinstance(node, (list, tuple)):
            stack.extend((v, depth + 1) for v in node)
    return None


def read_yaml(path: str | Path, what: str) -> tuple[Path, Any]:
    """The YAML in ``path``; unreadable files and bad YAML become one-line PlanInvalid errors."""
    file = Path(path)
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_PLAN_BYTES + 1)
        text = raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise PlanInvalid([f"{file}: no such {what} file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanInvalid([f"{file}: cannot read {what} file ({exc.__class__.__name__})"]) from None
    if len(raw) > MAX_PLAN_BYTES:
        raise PlanInvalid([f"{file}: larger than {MAX_PLAN_BYTES // (1024 * 1024)} MB: not a {what} file"])
    try:
        data = yaml.load(text, Loader=PlanLoader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        position = getattr(exc, "position", None)  # a ReaderError: a character YAML does not allow
        at = at or (f" at character {position + 1}" if isinstance(position, int) else "")
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0] or "not YAML"
        raise PlanInvalid([f"{file}: invalid YAML{at}: {problem}"]) from None
    except RecursionError:
        raise PlanInvalid([f"{file}: invalid {what} file: nested too deeply to read"]) from None
    except Exception as exc:  # noqa: BLE001 - a tagged value its type cannot hold (!!float x, !!bool maybe)
        raise PlanInvalid([f"{file}: invalid YAML: a tagged value cannot be read ({exc.__class__.__name__}: "
                           f"{str(exc)[:200]})"]) from None
    shape = _shape_problem(data)
    if shape:
        raise PlanInvalid([f"{file}: invalid {what} file: {shape}"])
    return file, data


def parse_plan(data: Any, source: str = "<plan>", environ: dict[str, str] | None = None) -> Plan:
    """Validate a plan; secret references that could not be resolved where they stand are
    problems too (``odin_drills.plan.secrets``), reported with the schema's."""
    from odin_drills.plan.secrets import reference_problems

    problems: list[str] = []
    if isinstance(data, dict):
        try:
            expanded = expand_variables(data, environ)
        except PlanInvalid:
            expanded = None  # parse_model reports it
        if isinstance(expanded, dict):
            secrets = expanded.get("secrets")
            kind = secrets.get("kind") if isinstance(secrets, dict) else None
            problems = [f"{source}: {line}" for line in
                        reference_problems(expanded, secrets is not None, kind if isinstance(kind, str) else None)]
    try:
        plan = parse_model(data, Plan, source,
                           "a plan must be a YAML mapping with name, environment, service, metrics, phases", environ)
    except PlanInvalid as exc:
        raise PlanInvalid(problems + [line for line in exc.problems if line not in problems]) from None
    if problems:
        raise PlanInvalid(problems)
    return plan


def load_plan(path: str | Path, environ: dict[str, str] | None = None) -> Plan:
    """Load and validate a plan file; raises :class:`PlanInvalid` with every problem found."""
    file, data = read_yaml(path, "plan")
    return parse_plan(data, str(file), environ)
