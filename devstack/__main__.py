"""`python -m devstack up` (`make up`): the local stack to play with, in the foreground.

devnode (in this process; `--chain runtime`: the Rust runtime on chopsticks), Kubo and Redis
(loopback processes), a tiny chat model (random
GPT-2 with a ChatML template) registered by Ferdie, two compute providers (Bob and Charlie)
running `ocw_daemon`, payment channels opened by the dev account Alice to both, and the
OpenAI-compatible gateway holding Alice's key. Once everything is ready one JSON line goes to
stdout (`chain_url`, `ipfs_api_url`, `redis_url`, `gateway_url` ending in /v1, `model_id`,
`daemons`) and a human summary to stderr; it runs until Ctrl-C or SIGTERM, then stops
everything. `make demo` stays the scripted tour.

    python -m devstack up [--chain-port 9944] [--gateway-port 8000] [--block-time 1] [--dir D]
                          [--chain devnode|runtime]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from pathlib import Path

from substrateinterface import Keypair

from ._chain import CHAINS, ChainChoice, running_chain
from ._processes import LocalKubo, LocalRedis, free_port

UNIT = 10**12
MODEL_CURRENCY = 2
PRICE_PER_1K_TOKENS = 2 * UNIT
AUTHOR_SHARE_PPM = 250_000
CHANNEL_DEPOSIT = 1_000 * UNIT

AUTHOR = Keypair.create_from_uri("//Ferdie")
PROVIDERS = (
    ("bob", Keypair.create_from_uri("//Bob")),
    ("charlie", Keypair.create_from_uri("//Charlie")),
)
DEV = Keypair.create_from_uri("//Alice")


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def up(
    workdir: Path,
    chain_port: int,
    gateway_port: int,
    block_time: float,
    chain_kind: ChainChoice = "devnode",
) -> None:
    from inference_engine.tiny import build_tiny_model
    from inference_gateway import DirectClient, DirectConfig, GatewayServer
    from model_registry import ModelRegistryClient, RegistryConfig
    from ocw_daemon import Daemon, DaemonConfig, ProviderSettings, register_provider
    from runtime_types import ChainClient, ClientConfig
    from runtime_types.generated.devnode import BINDINGS, channels, types

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    kubo = LocalKubo.start(workdir / "ipfs")
    redis = LocalRedis.start(workdir / "redis")
    daemons: list[Daemon] = []
    try:
        async with running_chain(chain_kind, port=chain_port, block_time=block_time) as url:
            _note(f"devstack: {chain_kind} {url}, Kubo {kubo.api_url}, Redis {redis.url}")
            model_dir = build_tiny_model(workdir / "tiny-chat", "gpt2", seed=7)
            registry_config = RegistryConfig(chain_url=url, ipfs_api_url=kubo.api_url)
            async with ModelRegistryClient(registry_config) as registry:
                record = await registry.register(
                    AUTHOR,
                    model_dir,
                    name="tiny-chat",
                    task="text-generation",
                    price_per_1k_tokens=PRICE_PER_1K_TOKENS,
                    currency_id=MODEL_CURRENCY,
                    author_share=AUTHOR_SHARE_PPM,
                )
            model_id = str(record.model_id)
            _note(f"devstack: model tiny-chat registered as {model_id}")
            for name, key in PROVIDERS:
                daemon_config = DaemonConfig(
                    node_url=url,
                    data_dir=workdir / name,
                    http_port=free_port(),
                    ipfs_api_url=kubo.api_url,
                    redis_url=redis.url,
                    tier1_capacity=2**30,
                    disk_capacity=2**30,
                    device="cpu",
                    preload_interval_s=0.0,
                    provider=ProviderSettings(stake=100 * UNIT, models=(model_id,), capacity=8),
                )
                await register_provider(daemon_config, key)
                daemon = Daemon(daemon_config, key)
                await daemon.start()
                daemons.append(daemon)
                _note(f"devstack: provider {name} serving {daemon_config.endpoint}")
            async with ChainClient(BINDINGS, ClientConfig(url)) as chain:
                for _, key in PROVIDERS:
                    call = channels.calls.open_channel(
                        types.AccountId32(key.public_key), MODEL_CURRENCY, CHANNEL_DEPOSIT
                    )
                    receipt = await chain.submit(call, DEV)
                    if not receipt.success:
                        raise RuntimeError(f"open_channel failed: {receipt.error}")
            _note(f"devstack: Alice opened channels of {CHANNEL_DEPOSIT // UNIT} USDD to each")
            direct = DirectConfig(chain_url=url, state_path=workdir / "tickets.json")
            async with DirectClient(direct, DEV) as client:
                server = await GatewayServer(client).start("127.0.0.1", gateway_port)
                try:
                    ready = {
                        "chain_url": url,
                        "ipfs_api_url": kubo.api_url,
                        "redis_url": redis.url,
                        "gateway_url": server.url,
                        "model_id": model_id,
                        "daemons": [d.http.url for d in daemons],
                        "account": DEV.ss58_address,
                    }
                    print(json.dumps(ready), flush=True)
                    _note(
                        f"devstack: ready. OpenAI-compatible API at {server.url} (model "
                        f"{model_id} or 'tiny-chat'), paid by Alice's channels. Ctrl-C stops."
                    )
                    await stop.wait()
                    _note("devstack: stopping")
                finally:
                    await server.close()
                    for daemon in daemons:
                        await daemon.close()
                    daemons.clear()
    finally:
        for daemon in daemons:
            await daemon.close()
        redis.stop()
        kubo.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("up", help="run the local stack in the foreground")
    cmd.add_argument("--chain-port", type=int, default=9944, help="the chain's port (0: any)")
    cmd.add_argument("--gateway-port", type=int, default=8000, help="the gateway's (0: any)")
    cmd.add_argument("--block-time", type=float, default=1.0, help="seconds between blocks")
    cmd.add_argument(
        "--chain",
        choices=CHAINS,
        default=os.environ.get("DEVSTACK_CHAIN") or "devnode",
        help="devnode (default, also $DEVSTACK_CHAIN) or the Rust runtime on chopsticks",
    )
    cmd.add_argument("--dir", type=Path, help="keep state here (default: a temporary directory)")
    args = parser.parse_args(argv)
    try:
        if args.dir is not None:
            args.dir.mkdir(parents=True, exist_ok=True)
            asyncio.run(
                up(args.dir, args.chain_port, args.gateway_port, args.block_time, args.chain)
            )
        else:
            with tempfile.TemporaryDirectory(prefix="devstack-") as tmp:
                asyncio.run(
                    up(Path(tmp), args.chain_port, args.gateway_port, args.block_time, args.chain)
                )
    except KeyboardInterrupt:
        return 0
    except Exception as exc:
        print(f"devstack: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
