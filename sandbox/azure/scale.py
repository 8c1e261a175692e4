"""How many *extra* resources a sandbox world holds, beyond the fixed demo estate.

A real estate fails over hundreds of SQL failover groups, dozens of storage accounts and origin
groups in one drill; the default sandbox has one of each (the ones the demo service uses). A
``Scale`` adds generated resources beside them, with deterministic names, so a drill over 200
groups reads the same on every run:

    failover groups   fog-0001 … (each with its own database db-0001 …, on the two SQL servers)
    storage accounts  odinst0001 … (Standard_GRS; storage names are 3-24 lower-case letters/digits)
    origin groups     og-0001 … in the Front Door profile, origins og-0001-eastus / og-0001-westus

The generated resources take no traffic (the demo service writes to the default ones and the edge
routes the default origin group); they fail over, fail back and answer ARM like the default ones.
``parse_scale("fg=200,storage=50,afd=50")`` reads the CLI's ``--scale``.
"""

from __future__ import annotations

from dataclasses import dataclass

KEYS = {"fg": "failover_groups", "storage": "storage_accounts", "afd": "origin_groups"}
MAX_PER_KIND = 9999  # four digits in the names


@dataclass(frozen=True)
class Scale:
    """Counts of generated resources (0: none, the default world)."""

    failover_groups: int = 0
    storage_accounts: int = 0
    origin_groups: int = 0

    def __post_init__(self) -> None:
        for name in KEYS.values():
            value = getattr(self, name)
            if not 0 <= value <= MAX_PER_KIND:
                raise ValueError(f"scale: {name} must be between 0 and {MAX_PER_KIND}, not {value}")

    @property
    def empty(self) -> bool:
        return not (self.failover_groups or self.storage_accounts or self.origin_groups)

    def failover_group_names(self) -> list[str]:
        return [failover_group_name(i) for i in range(1, self.failover_groups + 1)]

    def storage_account_names(self) -> list[str]:
        return [storage_account_name(i) for i in range(1, self.storage_accounts + 1)]

    def origin_group_names(self) -> list[str]:
        return [origin_group_name(i) for i in range(1, self.origin_groups + 1)]


def failover_group_name(index: int) -> str:
    return f"fog-{index:04d}"


def database_name(index: int) -> str:
    """A database belongs to one failover group in Azure: each generated group gets its own."""
    return f"db-{index:04d}"


def storage_account_name(index: int) -> str:
    return f"odinst{index:04d}"


def origin_group_name(index: int) -> str:
    return f"og-{index:04d}"


def origin_name(group: str, region: str) -> str:
    """Origin names are unique within the profile here, so an origin's name says its group."""
    return f"{group}-{region}"


def parse_scale(text: str | None) -> Scale:
    """``"fg=200,storage=50,afd=50"`` (any subset, any order) → ``Scale``; ValueError says what is wrong."""
    if not text or not text.strip():
        return Scale()
    counts: dict[str, int] = {}
    for part in text.split(","):
        key, sep, value = part.strip().partition("=")
        key = key.strip().lower()
        if not sep or key not in KEYS:
            raise ValueError(f"scale: {part.strip()!r} is not one of {', '.join(k + '=N' for k in KEYS)}")
        try:
            counts[KEYS[key]] = int(value)
        except ValueError:
            raise ValueError(f"scale: {key}={value!r} is not a whole number") from None
    return Scale(**counts)
