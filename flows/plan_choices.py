"""The run form's ``plan_file``: a choice of the project's plan files, not a free-text path.

A deployment's form in the Prefect UI is drawn from the flow's parameter schema. A plain ``str``
is a text box where a person types a path and learns only from the refusal that it must lie under
``drills/``. So the schema of ``plan_file`` is an enum of the files the plan-root rule would accept
by default, generated from the ``drills/`` package data when the deployment is built
(``prefect deploy`` imports the flow): drill files (``kind: region-failover``) for the drill
deployments, migration plans for the migration one. Templates (``*.template.yaml``) are left out:
they are to be copied and filled in, not run.

Only the *schema* is an enum (``WithJsonSchema``); the flows still accept any path, so the command
line (``odin migrate /any/plan.yaml``) is unchanged, and the plan-root rule, not the enum, is what
guards deployment runs. With ``$ODIN_PLAN_ROOT`` set where the deployment is built, the plan root
is someone else's folder: the form is a text box again (an enum of our files would be wrong there,
and the server would refuse every other path).
"""

from __future__ import annotations

import os
import re
from importlib.resources import files
from typing import Annotated, Any, Literal

from pydantic import WithJsonSchema

DRILL = re.compile(r"^(kind:\s*[\"']?region-failover|regions:)", re.MULTILINE)
OTHER_KIND = re.compile(r"^kind:", re.MULTILINE)


def project_plans(kind: Literal["drill", "migration"]) -> list[str]:
    """``drills/<file>`` for each project plan file of ``kind``, sorted."""
    found = []
    for item in files("odin_drills.drills").iterdir():
        name = item.name
        if not name.endswith(".yaml") or ".template." in name:
            continue
        text = item.read_text(encoding="utf-8")
        is_drill = DRILL.search(text) is not None
        if (kind == "drill" and is_drill) or (kind == "migration" and not is_drill and not OTHER_KIND.search(text)):
            found.append(f"drills/{name}")
    return sorted(found)


def plan_file_type(kind: Literal["drill", "migration"]) -> Any:
    """``str`` whose schema is the enum of ``project_plans(kind)`` (a text box under ``$ODIN_PLAN_ROOT``)."""
    choices = [] if os.environ.get("ODIN_PLAN_ROOT") else project_plans(kind)
    if not choices:
        return str
    return Annotated[str, WithJsonSchema({"type": "string", "enum": choices})]


def shown_as(schema: dict[str, Any]) -> Any:
    """A parameter validated by its real type but drawn in the form as ``schema`` (no ``X | None`` toggle)."""
    return WithJsonSchema(schema)
