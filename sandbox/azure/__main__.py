"""``python -m odin_drills.sandbox.azure [--state-dir DIR] [--seed N] …``: run the Azure sandbox until
SIGINT/SIGTERM, after printing one JSON line with its URLs, CA and resource ids."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from .arm_throttle import parse_write_limit
from .sandbox import serve
from .scale import parse_scale
from .topology import CONNECTION_MODES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m odin_drills.sandbox.azure", description=__doc__)
    parser.add_argument("--state-dir", default=None, help="where ca.pem and sandbox.json go")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--replication-lag", type=float, default=2.0, dest="replication_lag_seconds",
                        help="SQL geo-replication lag in seconds (default 2)")
    parser.add_argument("--storage-lag", type=float, default=None, dest="storage_lag_seconds",
                        help="storage geo-replication lag in seconds (default: the SQL lag)")
    parser.add_argument("--probe-interval", type=float, default=0.5, dest="probe_interval_seconds",
                        help="Front Door health-probe interval in seconds (default 0.5)")
    parser.add_argument("--lro-retry-after", type=int, default=1, dest="lro_retry_after",
                        help="Retry-After seconds on long-running operations (default 1)")
    parser.add_argument("--operation-seconds", type=float, default=0.0, dest="operation_seconds",
                        help="how long a long-running operation takes (default 0)")
    parser.add_argument("--connection-mode", choices=CONNECTION_MODES, default="listener", dest="connection_mode",
                        help="what the web apps' orders connection string names: the failover group's listener "
                             "(default) or the primary's server (per_server: a failover needs a settings step)")
    parser.add_argument("--scale", type=_checked(parse_scale), default=None, metavar="fg=N,storage=M,afd=K",
                        help="generated resources beside the fixed ones: N failover groups (fog-0001 …), M storage "
                             "accounts (odinst0001 …), K Front Door origin groups (og-0001 …); default none")
    parser.add_argument("--arm-write-limit", type=_checked(parse_write_limit), default=None, metavar="WRITES/SECONDS",
                        dest="arm_write_limit",
                        help="ARM's per-subscription write limit as a token bucket, e.g. 50/1 (429 + Retry-After "
                             "beyond it; GET /throttle on the admin API counts them); default: never throttles")
    args = vars(parser.parse_args(argv))
    return serve(args.pop("state_dir"), args.pop("seed"), **args)


def _checked(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type`` from a parser that raises ValueError: a usage error naming the option."""
    def check(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return check


if __name__ == "__main__":
    sys.exit(main())
