"""`infer gateway [--config F] [--host H] [--port 8000] [--url ws://...] [--key-file F] [--state F]`.

Settings: defaults < `--config` (or `$INFER_GATEWAY_CONFIG`, `[gateway]`) < `INFER_GATEWAY_*`
(and `INFER_CHAIN_URL`) < these flags (docs/settings.md).

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
import signal
import sys

from substrateinterface import Keypair

import runtime_types

from ._client import DirectClient, DirectConfig
from ._config import GatewaySettings
from ._errors import GatewayError
from ._server import GatewayServer


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infer gateway",
        description="An OpenAI-compatible API on localhost that streams from executors at once "
        "and pays them through payment channels (settled on-chain afterwards).",
    )
    parser.add_argument("--config", help="TOML settings, [gateway] ($INFER_GATEWAY_CONFIG)")
    parser.add_argument("--host", help="address to listen on ($INFER_GATEWAY_HOST; 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port ($INFER_GATEWAY_PORT; 8000; 0: any)")
    parser.add_argument("--url", help="node URL ($INFER_CHAIN_URL; ws://127.0.0.1:9944)")
    parser.add_argument("--key-file", help="keystore file ($INFER_KEY_FILE); else $INFER_KEY_URI")
    parser.add_argument("--state", help="file keeping ticket chains ($INFER_GATEWAY_STATE)")
    parser.add_argument("--ticket-life", type=int, help="blocks a ticket lives (60)")
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
        found = GatewaySettings.load(
            args.config,
            flags={
                "host": args.host,
                "port": args.port,
                "chain_url": args.url,
                "state": args.state or None,
                "ticket_life": args.ticket_life,
            },
        )
        config = DirectConfig(
            chain_url=found.chain_url,
            state_path=found.state,
            ticket_life_blocks=found.ticket_life,
        )
        asyncio.run(serve(config, keypair, found.host, found.port))
    except (GatewayError, ValueError, OSError) as exc:
        print(f"infer gateway: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
