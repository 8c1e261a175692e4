"""Where odin keeps its state: ``$ODIN_HOME`` (default ``~/.odin``).

::

    $ODIN_HOME/
      prefect/                      PREFECT_HOME of the local Prefect server odin starts
      server.json                   pid, port and URL of that server
      migrations/<plan>/current     id of the plan's latest migration
      migrations/<plan>/<id>/       journal.jsonl, baseline.json, report.md, report.html
"""

from __future__ import annotations

import os
from pathlib import Path


def odin_home() -> Path:
    home = Path(os.environ.get("ODIN_HOME") or Path.home() / ".odin").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def migrations_dir(plan_name: str) -> Path:
    path = odin_home() / "migrations" / plan_name
    path.mkdir(parents=True, exist_ok=True)
    return path
