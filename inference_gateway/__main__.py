"""`infer gateway [--host H] [--port 8000] [--url ws://...] [--key-file F] [--state F]`.

The key is the dApp's (`--key-file` / `$INFER_KEY_FILE`, or `$INFER_KEY_URI`), never an
argument. Prints one JSON line (`{"gateway_url": ..., "account": ...}`) on stdout once serving,
then serves until Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path

from substrateinterface import Keypair

import runtime_types

from ._client import DirectClient, DirectConfig
from ._errors import GatewayError
from ._server import GatewayServer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infer gateway",
        description="An OpenAI-compatible API on localhost that streams from executors at once "
        "and pays them through payment channels (settled on-chain afterwards).",
    )
    env = os.environ
    parser.add_argument("--host", default=env.get("INFER_GATEWAY_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(env.get("INFER_GATEWAY_PORT", "8000")), help="0: any"
    )
    parser.add_argument(
        "--url", default=env.get("INFER_CHAIN_URL", "ws://127.0.0.1:9944"), help="node URL"
    )
    parser.add_argument("--key-file", help="keystore file ($INFER_KEY_FILE); else $INFER_KEY_URI")
    parser.add_argument(
        "--state", default=env.get("INFER_GATEWAY_STATE"), help="file keeping ticket chains"
    )
    parser.add_argument("--ticket-life", type=int, default=60, help="blocks a ticket lives")
    return parser


async def serve(config: DirectConfig, keypair: Keypair, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with DirectClient(config, keypair) as client:
        server = await GatewayServer(client).start(host, port)
        try:
            line = {"gateway_url": server.url, "account": client.keypair.ss58_address}
            print(json.dumps(line), flush=True)
            await stop.wait()
        finally:
            await server.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="gateway: %(message)s")
    try:
        keypair = runtime_types.load_keypair(args.key_file, "INFER_")
    except runtime_types.KeyLoadError as exc:
        print(f"infer gateway: {exc}", file=sys.stderr)
        return 1
    try:
        config = DirectConfig(
            chain_url=args.url,
            state_path=Path(args.state) if args.state else None,
            ticket_life_blocks=args.ticket_life,
        )
        asyncio.run(serve(config, keypair, args.host, args.port))
    except (GatewayError, ValueError, OSError) as exc:
        print(f"infer gateway: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
