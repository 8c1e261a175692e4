"""Plan files: the YAML an SRE edits, validated by pydantic before anything runs."""

from odin.plan.loader import load_plan
from odin.plan.models import Plan

__all__ = ["Plan", "load_plan"]
