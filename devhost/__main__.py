"""``python -m devhost``: serve the function app in the current folder."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from devhost.host import HostConfig, run
from devhost.http import DEFAULT_MAX_BODY_BYTES
from devhost.queues import DEFAULT_LEASE_SECONDS

MAX_BODY_VARIABLE = "DEVHOST_MAX_BODY_BYTES"
QUEUE_LEASE_VARIABLE = "DEVHOST_QUEUE_LEASE_SECONDS"
# The logger azure-functions-runtime writes to.
RUNTIME_LOGGER = "azure.functions"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devhost",
        description="Serve the azure-functions Python v2 app in the current folder.",
    )
    parser.add_argument(
        "--app",
        default="function_app",
        help="the script the worker runtime indexes, as a module name (default: function_app)",
    )
    parser.add_argument("--port", type=int, default=7071, help="default: 7071")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument(
        "--max-body-bytes",
        type=_positive_int,
        default=None,
        help=f"largest request body accepted (default: ${MAX_BODY_VARIABLE}, "
        f"else {DEFAULT_MAX_BODY_BYTES}, the Functions host's limit)",
    )
    parser.add_argument(
        "--queue-lease-seconds",
        type=_positive_int,
        default=None,
        help=f"how long a queue message stays invisible while its function runs, renewed at half-time "
        f"(default: ${QUEUE_LEASE_VARIABLE}, else {DEFAULT_LEASE_SECONDS}; the Functions host uses 600)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper
    )
    args = parser.parse_args(argv)
    for attribute, variable, default in (
        ("max_body_bytes", MAX_BODY_VARIABLE, DEFAULT_MAX_BODY_BYTES),
        ("queue_lease_seconds", QUEUE_LEASE_VARIABLE, DEFAULT_LEASE_SECONDS),
    ):
        if getattr(args, attribute) is None:
            from_env = os.environ.get(variable)
            try:
                setattr(args, attribute, _positive_int(from_env) if from_env else default)
            except argparse.ArgumentTypeError as exc:
                parser.error(f"{variable}: {exc}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.log_level != "DEBUG":
        # The worker runtime logs each invocation's start at INFO; devhost's own "Executed" line
        # already says it, with the outcome and the duration.
        logging.getLogger(RUNTIME_LOGGER).setLevel(logging.WARNING)
    config = HostConfig(
        app_dir=Path.cwd(),
        app=args.app,
        host=args.host,
        port=args.port,
        max_body_bytes=args.max_body_bytes,
        queue_lease_seconds=args.queue_lease_seconds,
    )
    return run(config)


if __name__ == "__main__":
    sys.exit(main())
