"""Has a DNS change reached the name servers? Ask them, over UDP, until they say so or time is up.

ARM stores a record set at once; clients see it when the zone's name servers answer with it. So
the check asks the servers the zone itself names (``zones.get(...).name_servers``: Azure's
``ns1-01.azure-dns.com.`` …, or the sandbox's responder ``127.0.0.1:PORT``), every one of them,
with ``dnslib``'s client, and polls on the engine's clock until all answer the wanted targets or
the deadline — ``max(2 × TTL, 30 s)`` of plan time, at most 10 minutes — passes. Why 2 × TTL: a
resolver that cached the old answer just before the change holds it for one TTL; a name server that
has not caught up after another TTL is not going to by waiting politely. Why a cap: the servers asked
are the zone's authoritative ones, which cache nothing, and an undo restoring a record with a TTL of
an hour or a day must not hold a failback for two hours or two days per attempt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

QUERY_TIMEOUT = 2.0  # wall seconds for one UDP question
POLL_SECONDS = 2.0  # plan seconds between two rounds of questions
MIN_DEADLINE = 30.0
MAX_DEADLINE = 600.0


def deadline_seconds(ttl: int) -> float:
    return min(max(2.0 * ttl, MIN_DEADLINE), MAX_DEADLINE)


def parse_name_server(text: str) -> tuple[str, int]:
    """``ns1-01.azure-dns.com.`` → (host, 53); ``127.0.0.1:5353`` → (host, 5353)."""
    text = text.strip().rstrip(".")
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return text, 53


def ask(server: tuple[str, int], fqdn: str, record_type: str) -> list[str] | str:
    """What ``server`` answers for ``fqdn``: the A addresses (sorted, CNAMEs followed) or the CNAME
    target; ``[]`` for no such record; a string saying why when there was no usable answer."""
    from dnslib import QTYPE, RCODE, DNSRecord

    try:
        raw = DNSRecord.question(fqdn, record_type).send(server[0], server[1], timeout=QUERY_TIMEOUT)
        reply = DNSRecord.parse(raw)
    except Exception as exc:  # noqa: BLE001 - a lost datagram or a refused port: keep asking
        return f"no answer ({exc.__class__.__name__})"
    rcode = RCODE.get(reply.header.rcode)
    if rcode == "NXDOMAIN":
        return []
    if rcode != "NOERROR":
        return f"{rcode}"
    wanted = getattr(QTYPE, record_type)
    values = [str(rr.rdata).rstrip(".").lower() for rr in reply.rr if rr.rtype == wanted]
    return sorted(values)


@dataclass
class Propagation:
    """The outcome of waiting: did every server answer ``wanted``, and what each answered last."""

    done: bool
    waited: float  # plan seconds
    answers: dict[str, Any] = field(default_factory=dict)  # "host:port" → answer

    def stale(self, wanted: list[str]) -> str:
        """The servers not answering ``wanted`` and what they answer, for a one-line message."""
        parts = []
        for server, answer in self.answers.items():
            if answer != wanted:
                shown = answer if isinstance(answer, str) else (", ".join(answer) or "nothing (no such record)")
                parts.append(f"{server} still answers {shown}")
        return "; ".join(parts)


def wait_for(servers: list[tuple[str, int]], fqdn: str, record_type: str, wanted: list[str], *,
             clock: Any, seconds: float) -> Propagation:
    """Ask every server until all answer ``wanted`` (sorted) or ``seconds`` of plan time passed."""
    start = clock.now()
    end = start + timedelta(seconds=seconds)
    while True:
        answers = {f"{host}:{port}": ask((host, port), fqdn, record_type) for host, port in servers}
        waited = (clock.now() - start).total_seconds()
        if answers and all(a == wanted for a in answers.values()):
            return Propagation(True, waited, answers)
        if clock.now() >= end:
            return Propagation(False, waited, answers)
        clock.sleep(min(POLL_SECONDS, (end - clock.now()).total_seconds()))
