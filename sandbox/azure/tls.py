"""A throwaway certificate authority for the ARM endpoint's HTTPS.

The Azure SDK refuses bearer tokens over plain HTTP, so the sandbox's ARM endpoint speaks TLS.
A CA is generated at start-up (``trustme``: CA with basicConstraints CA:TRUE and keyCertSign; a
server certificate for ``localhost`` and ``127.0.0.1`` with serverAuth); clients trust it through
``connection_verify=<ca.pem>``. Only the CA *certificate* is written to disk; the keys stay in
memory (``trustme`` hands the server key to ``ssl`` through a temporary file it deletes at
once). Nothing here is ever checked in.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsMaterial:
    ca_cert: Path
    server_context: ssl.SSLContext


def make_tls(directory: Path) -> TlsMaterial:
    """Create a CA and a server certificate; write ``ca.pem`` into ``directory``."""
    ca = trustme.CA(organization_name="odin-drills Azure sandbox")
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    ca_path = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return TlsMaterial(ca_cert=ca_path, server_context=context)
