"""The demo target for migrations: a service in two versions behind a weighted router.

    client ──► router 127.0.0.1:PORT ──(weights, seeded)──► blue  127.0.0.1:any
                 └─ /_admin/...  (control plane)         └─► green 127.0.0.1:any

A migration plan shifts traffic from blue to green by setting weights, watches error rate and
latency, and rolls back; the demo gives it something real to act on. Each version is a real
HTTP server with a natural behaviour (2 % background 500s, lognormal latency of median 8 ms by
default, seeded) and takes injected faults (extra error rate and/or latency, from a given time).
The router and both servers measure themselves (``/_admin/stats``) so a probe's numbers can be
checked against the service's own.

Service endpoints (on each version, and through the router):
    GET /health, GET /api/orders/{id}, POST /api/orders, ANY /api/echo - see ``versions.py``.
Admin endpoints, on the router's port under ``/_admin`` (never proxied) - see ``admin.py``:
    GET|PUT|POST /_admin/weights      GET|POST|DELETE /_admin/faults   DELETE /_admin/faults/{id}
    GET /_admin/stats                 POST /_admin/stats/reset         GET /_admin

Python::

    from odin_drills.sandbox.bluegreen import BlueGreenDemo
    with BlueGreenDemo(seed=7, port=0) as demo:
        demo.set_weights(blue=90, green=10)
        demo.add_fault("green", error_rate=0.2, start_after_seconds=30)

Terminal: ``python -m odin_drills.sandbox.bluegreen --port 8710`` (prints one JSON line with the URLs and
runs until Ctrl-C / SIGTERM). Throughput check: ``python -m odin_drills.sandbox.bluegreen.bench``.
"""

from .errors import BlueGreenError, DemoNotRunning, DemoStartFailed, InvalidFault, InvalidRequest, InvalidWeights
from .faults import VERSIONS, FaultSpec
from .router import ADMIN_PREFIX, Weights
from .server import DEFAULT_PORT, BlueGreenDemo, serve
from .versions import VersionBehaviour

__all__ = [
    "ADMIN_PREFIX",
    "DEFAULT_PORT",
    "VERSIONS",
    "BlueGreenDemo",
    "BlueGreenError",
    "DemoNotRunning",
    "DemoStartFailed",
    "FaultSpec",
    "InvalidFault",
    "InvalidRequest",
    "InvalidWeights",
    "VersionBehaviour",
    "Weights",
    "serve",
]
