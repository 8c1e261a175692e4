"""ARM resource ids: parse them, build them, compare them the way ARM does (case-insensitively).

SQL and Storage answer with camel-case segments (``resourceGroups``), Front Door with lower-case
ones (``resourcegroups``, ``origingroups``); both are the same resource. Pure Python: the plan
models use it at load time, so it must never import the Azure SDK.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArmId:
    """``/subscriptions/{sub}/resourceGroups/{rg}/providers/{namespace}/{type}/{name}[/{type}/{name}...]``."""

    subscription_id: str
    resource_group: str
    namespace: str
    segments: tuple[tuple[str, str], ...]  # (type, name) pairs, outermost first

    @property
    def name(self) -> str:
        return self.segments[-1][1]

    def name_of(self, resource_type: str) -> str | None:
        """The name under ``resource_type`` (e.g. ``servers``), matched case-insensitively."""
        wanted = resource_type.lower()
        return next((name for kind, name in self.segments if kind.lower() == wanted), None)

    def is_a(self, namespace: str, *types: str) -> bool:
        """Whether the id is exactly ``namespace/type1/…/typeN`` (case-insensitive)."""
        return (self.namespace.lower() == namespace.lower()
                and tuple(k.lower() for k, _ in self.segments) == tuple(t.lower() for t in types))

    def __str__(self) -> str:
        path = "/".join(f"{kind}/{name}" for kind, name in self.segments)
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/{self.namespace}/{path}")


def is_arm_id(text: str) -> bool:
    return text.strip().lower().startswith("/subscriptions/")


def parse_arm_id(text: str) -> ArmId:
    """Parse a resource id; ValueError says what is wrong with it."""
    parts = [p for p in text.strip().split("/") if p]
    if len(parts) < 8 or parts[0].lower() != "subscriptions" or parts[2].lower() != "resourcegroups" \
            or parts[4].lower() != "providers":
        raise ValueError(f"{text!r} is not an ARM resource id "
                         "(/subscriptions/…/resourceGroups/…/providers/Namespace/type/name)")
    rest = parts[6:]
    if len(rest) % 2:
        raise ValueError(f"{text!r}: an ARM id ends with a type/name pair")
    segments = tuple((rest[i], rest[i + 1]) for i in range(0, len(rest), 2))
    return ArmId(subscription_id=parts[1], resource_group=parts[3], namespace=parts[5], segments=segments)


def same_resource(a: str, b: str) -> bool:
    """ARM ids name the same resource (case and trailing slashes do not matter)."""
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def region_name(location: str | None) -> str:
    """``"West US"`` (SQL's display name) and ``"westus"`` (Storage's) are the same region."""
    return (location or "").replace(" ", "").lower()
