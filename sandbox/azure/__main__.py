"""``python -m odin_drills.sandbox.azure [--state-dir DIR] [--seed N] …``: run the Azure sandbox until
SIGINT/SIGTERM, after printing one JSON line with its URLs, CA and resource ids."""

from __future__ import annotations

import argparse
import sys

from .sandbox import serve


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
    args = vars(parser.parse_args(argv))
    return serve(args.pop("state_dir"), args.pop("seed"), **args)


if __name__ == "__main__":
    sys.exit(main())
