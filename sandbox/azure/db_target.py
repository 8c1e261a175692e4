"""Where a region app's orders go: the database its web app's connection string names.

Why a module of its own: a real App Service app reads its connection strings from its environment,
so "update connection strings to the secondary region" is a runbook step that decides where writes
land. The sandbox makes that step matter by reading the ``orders`` connection string of the
region's web app on every write (a real app reads it at its restart after a settings change; the
sandbox skips the restart). This module only understands connection strings; the world decides
whether the database named can take a write (``world_sql.write_order``).

What a ``Server=`` can name (Azure's DNS names):

- ``<failover group>.database.windows.net``: the failover group's read-write listener, which
  follows the group's *current* primary (the sandbox's default: a failover needs no app change);
- ``<server>.database.windows.net``: that server, whichever role it has now: a geo-secondary is
  read-only and a server in a region that is down does not answer.
"""

from __future__ import annotations

from dataclasses import dataclass

DNS_SUFFIX = ".database.windows.net"
SERVER_KEYS = ("server", "data source", "address", "addr", "network address")
"""The ADO.NET keywords (case-insensitive) that name the server of a SQL connection string."""


@dataclass(frozen=True)
class DbTarget:
    """A parsed database target: the host named, and what it is in the sandbox's estate."""

    host: str  # e.g. odin-fg.database.windows.net
    listener: bool  # the failover group's read-write listener (its current primary)
    name: str  # the failover group's name (listener) or the server's


class InvalidConnectionString(ValueError):
    """A connection string the region app cannot connect with (the app answers 500: a configuration error)."""


def server_host(connection_string: str) -> str:
    """The host of ``Server=tcp:host,1433`` (the protocol prefix and port dropped), lower case."""
    for part in connection_string.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip().lower() in SERVER_KEYS:
            host = value.strip()
            if ":" in host:
                host = host.split(":", 1)[1]
            host = host.split(",", 1)[0].strip().lower().rstrip(".")
            if host:
                return host
    raise InvalidConnectionString("it names no server (Server=tcp:<name>.database.windows.net,1433;...)")


def resolve(connection_string: str, *, failover_groups: list[str], servers: list[str]) -> DbTarget:
    """What the connection string points at among the estate's failover groups and servers."""
    host = server_host(connection_string)
    if not host.endswith(DNS_SUFFIX):
        raise InvalidConnectionString(f"its server '{host}' is not a *{DNS_SUFFIX} name")
    label = host[: -len(DNS_SUFFIX)]
    group = next((g for g in failover_groups if g.lower() == label), None)
    if group is not None:
        return DbTarget(host=host, listener=True, name=group)
    server = next((s for s in servers if s.lower() == label), None)
    if server is not None:
        return DbTarget(host=host, listener=False, name=server)
    raise InvalidConnectionString(f"its server '{host}' is neither a failover group listener nor a server "
                                  f"({', '.join(failover_groups + servers)})")
