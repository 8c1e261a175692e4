"""A local Azure for region-failover drills, which the real azure-mgmt SDK clients talk to.

::

    from azure.mgmt.sql import SqlManagementClient
    from odin_drills.sandbox.azure import AzureSandbox, SandboxCredential
    with AzureSandbox(seed=1, replication_lag_seconds=2.0) as sb:
        info = sb.info()            # arm_url, ca_cert, subscription_id, frontdoor_url, admin_url,
                                    # regions, resources (ARM ids)
        sql = SqlManagementClient(SandboxCredential(), info["subscription_id"],
                                  base_url=info["arm_url"], connection_verify=info["ca_cert"])
        sb.faults.add({"kind": "region_outage", "region": "eastus"})
        sb.operations(); sb.writes(); sb.reset()

The tour, one module per job:

- ``world``       the estate and its rules (failover group, storage, Front Door, DNS, writes)
- ``replication`` the lagging primary→secondary stream behind every RPO
- ``operations``  long-running operations and the log of ARM mutations
- ``faults``      injected faults (pydantic at the boundary) and their injection times
- ``arm_app``     ARM's REST surface over HTTPS; ``arm_shapes`` renders the resources (``arm_dns``: DNS zones)
- ``dns_server``  the zone's name server: real UDP answers from the world (``dnslib``)
- ``edge``        the Front Door reverse proxy and its health probes
- ``region_app``  the demo service in each region (``db_target``: where its connection string sends
                  orders); ``admin_app`` the control panel
- ``log_analytics`` the apps' request telemetry; ``alerts`` Azure Monitor's alert rules over it
  (``arm_alerts``: their ARM routes); ``platform_metrics`` the web apps' platform metrics from it
- ``scale``/``world_scale`` generated resources for estate-sized drills; ``arm_throttle`` ARM's write limit
- ``tls``, ``server``, ``clock``, ``topology``, ``credential``: plumbing
- ``sandbox``     ``AzureSandbox`` and ``serve()`` (``python -m odin_drills.sandbox.azure``)
"""

from .credential import SandboxCredential
from .faults import FaultRegistry, InvalidFault, parse_fault
from .sandbox import AzureSandbox, serve
from .topology import REGIONS, Topology

__all__ = ["AzureSandbox", "FaultRegistry", "InvalidFault", "REGIONS", "SandboxCredential", "Topology",
           "parse_fault", "serve"]
