"""The sandbox's authoritative DNS server: real UDP on 127.0.0.1, answering from the world.

A step that changes DNS must see what resolvers see, not what ARM stored: this is the name
server the sandbox's zones name (``nameServers``: ``127.0.0.1:PORT``), so ``dig @127.0.0.1 -p
PORT app.odin-demo.example`` and odin's propagation check ask the same thing they would ask Azure's
name servers. ``dnslib``'s ``DNSServer`` runs the socket on a daemon thread; each query is one
``World.dns_answer`` under the world's lock (a ``dns_stale`` fault makes it answer the past).
"""

from __future__ import annotations

from typing import Any

from dnslib import CNAME, QTYPE, RCODE, RR, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from .world import World


class WorldResolver(BaseResolver):
    """A and CNAME answers from the world's zones; other types get an empty answer (NODATA)."""

    def __init__(self, world: World) -> None:
        self.world = world

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()  # aa=1: authoritative, as a zone's name server is
        qname, qtype = str(request.q.qname), QTYPE.get(request.q.qtype)
        rcode, answers = self.world.dns_answer(qname, str(qtype))
        reply.header.rcode = getattr(RCODE, rcode)
        for owner, rtype, ttl, value in answers:
            rdata = A(value) if rtype == "A" else CNAME(value if value.endswith(".") else value + ".")
            reply.add_answer(RR(owner + ".", getattr(QTYPE, rtype), ttl=ttl, rdata=rdata))
        return reply


class DnsResponder:
    """Start on a free UDP port of ``host`` (``port=0``); ``stop`` closes the socket and joins the thread."""

    def __init__(self, world: World, host: str = "127.0.0.1", port: int = 0) -> None:
        quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", logf=lambda _s: None)
        self._server = DNSServer(WorldResolver(world), address=host, port=port, logger=quiet)
        self.host, self.port = self._server.server.server_address[:2]

    @property
    def address(self) -> str:
        """``host:port``, as the zones' ``nameServers`` and ``info()["dns_server"]`` give it."""
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        self._server.start_thread()

    def stop(self) -> None:
        thread = getattr(self._server, "thread", None)  # set by start_thread()
        if thread is not None and thread.is_alive():
            self._server.stop()  # shutdown(): waits for the serve loop to end
            thread.join(5)
        self._server.server.server_close()
