"""`devnode`: run the development chain from the command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path

from ._config import DevNodeConfig
from ._errors import ConfigError
from ._node import DevNode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="devnode",
        description="A Substrate-compatible development chain: JSON-RPC over WebSocket and HTTP.",
    )
    storage = parser.add_mutually_exclusive_group()
    storage.add_argument(
        "--dev", action="store_true", help="keep the chain in memory (the default)"
    )
    storage.add_argument(
        "--base-path", type=Path, help="persist the chain here; a restart continues it"
    )
    parser.add_argument("--config", type=Path, help="TOML file with a [devnode] table of settings")
    parser.add_argument("--rpc-host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--rpc-port", type=int, help="port to listen on (default 9944, 0 picks one)"
    )
    parser.add_argument(
        "--block-time",
        type=float,
        help="seconds between blocks; without it a block is sealed as soon as transactions arrive",
    )
    parser.add_argument(
        "--finality-lag", type=int, help="blocks finality trails the best block (default 0)"
    )
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    parser.add_argument(
        "--write-metadata",
        type=Path,
        metavar="FILE",
        help="write the runtime's metadata (SCALE) to FILE and exit, for runtime_types.codegen",
    )
    parser.add_argument(
        "--metadata-version",
        type=int,
        choices=(14, 15, 16),
        default=16,
        help="the metadata version --write-metadata writes (default 16)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> DevNodeConfig:
    """Defaults < `--config` (or `$DEVNODE_CONFIG`) < `DEVNODE_*` < these flags."""
    config = DevNodeConfig.load(
        args.config,
        flags={
            "host": args.rpc_host,
            "port": args.rpc_port,
            "base_path": args.base_path,
            "block_time": args.block_time,
            "finality_lag": args.finality_lag,
        },
    )
    return replace(config, base_path=None) if args.dev else config


async def serve(config: DevNodeConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with DevNode(config) as node:
        print(
            f"devnode: serving {node.url} (HTTP {node.http_url}), best block #{node.chain.best_number}",
            flush=True,
        )
        await stop.wait()
        print("devnode: shutting down", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.write_metadata is not None:
        from ._runtime import RUNTIME

        args.write_metadata.write_bytes(RUNTIME.metadata(args.metadata_version))
        return 0
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"devnode: bad configuration: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
