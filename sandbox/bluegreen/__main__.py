"""``python -m odin_drills.sandbox.bluegreen``: run the blue/green demo until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import sys

from .errors import BlueGreenError
from .server import DEFAULT_PORT, serve
from .versions import VersionBehaviour


def _weights(text: str) -> dict[str, int]:
    """``blue=90,green=10`` -> {"blue": 90, "green": 10}; the demo validates the numbers."""
    weights: dict[str, int] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"expected name=percent pairs like blue=90,green=10, got {text!r}")
        try:
            weights[name.strip()] = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"weight for {name.strip()!r} must be an integer, got {value!r}") from None
    return weights


def build_parser() -> argparse.ArgumentParser:
    defaults = VersionBehaviour()
    parser = argparse.ArgumentParser(
        prog="python -m odin_drills.sandbox.bluegreen",
        description="Blue and green versions of a demo service behind a weighted router, with fault injection.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"router port (default {DEFAULT_PORT}; 0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--error-rate", type=float, default=defaults.error_rate, help="natural background error rate of both versions")
    parser.add_argument("--latency-median-ms", type=float, default=defaults.latency_median_ms, help="median of the natural lognormal latency (0: none)")
    parser.add_argument("--latency-sigma", type=float, default=defaults.latency_sigma, help="sigma of the natural lognormal latency")
    parser.add_argument("--weights", type=_weights, default=None, help="initial split, e.g. blue=90,green=10 (default blue=100,green=0)")
    parser.add_argument("--blue-port", type=int, default=0, help="fixed port for blue (default any)")
    parser.add_argument("--green-port", type=int, default=0, help="fixed port for green (default any)")
    parser.add_argument("--green-store", choices=["shared", "empty", "corrupt"], default="shared",
                        help="the orders green reads: the shared database (default), an empty new one (a cut-over "
                             "loses data) or the shared one through a broken conversion (corrupts it)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        serve(
            args.port,
            args.seed,
            host=args.host,
            error_rate=args.error_rate,
            latency_median_ms=args.latency_median_ms,
            latency_sigma=args.latency_sigma,
            weights=args.weights,
            version_ports={"blue": args.blue_port, "green": args.green_port},
            green_store=args.green_store,
        )
    except (BlueGreenError, ValueError) as exc:
        print(f"odin bluegreen: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
