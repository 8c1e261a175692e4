"""Plan files: the YAML an SRE edits, validated by pydantic before anything runs."""

from odin_drills.plan.loader import load_plan
from odin_drills.plan.models import Plan

__all__ = ["Plan", "load_plan"]
