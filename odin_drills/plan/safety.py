"""Who may run which plan: production needs an explicit opt-in, and deployments read plans from one root.

Two rules, named in every refusal so the person refused knows which one bit:

* **production-opt-in**: a plan whose target is ``{kind: azure, production: true}`` runs only when
  the entry point says so explicitly: ``--allow-production`` on the command line, the
  ``allow_production`` parameter of a deployment or a UI run (default ``False``). A schedule or a
  UI click never reaches production by default.
* **plan-root**: a run started by a deployment (the UI, a schedule, ``prefect deployment run``)
  reads its ``plan_file`` only from under the plan root: ``$ODIN_PLAN_ROOT`` when set, else the
  project's ``drills/`` folder. The path is resolved first (``..``, symlinks), so a link inside the
  root that points out of it is refused too. Without the rule, anyone allowed to start a
  deployment could make the worker read, and act on, any YAML file on its disk. The command line
  is not bound by it: the person at the shell already owns every path they can name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from odin_drills.errors import OptInRequired, UsageError

PLAN_ROOT_ENV = "ODIN_PLAN_ROOT"
PRODUCTION_RULE = "production-opt-in"
ROOT_RULE = "plan-root"


class PlanPathRefused(UsageError):
    """A deployment was given a plan file outside the plan root."""


def is_production(plan: Any) -> bool:
    """Whether the plan (migration or drill) targets production."""
    target = getattr(plan, "target", None)
    return getattr(target, "kind", None) == "azure" and bool(getattr(target, "production", False))


def require_production_opt_in(plan: Any, allowed: bool, source: str, how: str = "pass --allow-production") -> None:
    """Refuse a production plan unless the entry point opted in; ``how`` says how to opt in there."""
    if is_production(plan) and not allowed:
        kind = "drill" if hasattr(plan, "regions") else "plan"
        raise OptInRequired(f"{source}: target.production: this {kind} targets production and rule "
                            f"{PRODUCTION_RULE} needs an explicit opt-in; {how} to run it")


def plan_root() -> Path:
    """``$ODIN_PLAN_ROOT``, or the project's ``drills/`` folder (``odin_drills.drills``), resolved."""
    configured = os.environ.get(PLAN_ROOT_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    import odin_drills.drills as shipped

    return Path(shipped.__file__).resolve().parent


def plan_under_root(plan_file: str, root: Path | None = None) -> str:
    """The resolved path of ``plan_file`` if it lies under the plan root; else :class:`PlanPathRefused`.

    Relative paths are taken from the working directory, as the run would open them. The caller
    opens the returned path, not the one given: a symlink swapped after the check is not followed
    out of the root by a second resolution."""
    base = (root or plan_root()).resolve()
    try:
        resolved = Path(plan_file).expanduser().resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a NUL byte
        raise PlanPathRefused(f"{plan_file}: plan_file: cannot be resolved ({exc.__class__.__name__}); rule "
                              f"{ROOT_RULE}: deployments read plan files only from under {base}") from None
    if not resolved.is_relative_to(base):
        raise PlanPathRefused(
            f"{plan_file}: plan_file: resolves to {resolved}, outside {base}; rule {ROOT_RULE}: runs started by a "
            f"deployment or the UI read plan files only from under the plan root (put the file there, or set "
            f"{PLAN_ROOT_ENV} on the worker)")
    return str(resolved)
