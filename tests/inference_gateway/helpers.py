"""The direct-path stack for tests: the model registered, two real daemons as providers,
payment channels, and the gateway; plus chain helpers (channels, events, balances)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from substrateinterface import Keypair

from inference_gateway import DirectClient, DirectConfig, GatewayServer
from ocw_daemon import Daemon, DaemonConfig, ProviderSettings, load_encryption_key
from runtime_types import ChainClient
from runtime_types.generated.devnode import balances, channels, tokens, types
from tests.devnode.conftest import NodeThread
from tests.ipfs_store.conftest import KuboDaemon
from tests.ocw_daemon.helpers import (
    ALICE,
    AUTHOR_SHARE,
    BOB,
    CHARLIE,
    DAVE,
    MODEL_CURRENCY,
    PRICE,
    account,
    daemon_config,
    free_port,
    multi,
    ok,
    register_model,
    register_provider,
    set_reputation,
    token_balance,
    write_daemon_toml,
    write_keystore,
)

__all__ = [
    "ALICE",
    "AUTHOR_SHARE",
    "BOB",
    "CHARLIE",
    "DAVE",
    "MODEL_CURRENCY",
    "PRICE",
    "Stack",
    "bob_process_toml",
    "channel",
    "direct_config",
    "expected_cost",
    "fund",
    "open_channel",
    "start_stack",
    "token_balance",
    "wait_for",
]

PPM = 1_000_000


def expected_cost(prompt_tokens: int, completion_tokens: int) -> int:
    """What the chain charges for a direct result (the ticket's max_amount is never reached
    in these tests)."""
    return -(-(prompt_tokens + completion_tokens) * PRICE // 1000)


def direct_config(
    tmp: Path, name: str, node_url: str, ipfs: str, port: int, redis: str | None, endpoint: str = ""
) -> DaemonConfig:
    config = daemon_config(
        tmp,
        name,
        node_url,
        ipfs,
        port,
        redis,
        direct_settle_interval_s=3600.0,
        direct_settle_batch=100_000,
    )
    if endpoint:
        from dataclasses import replace

        config = replace(config, provider=ProviderSettings(endpoint=endpoint))
    return config


def bob_process_toml(tmp: Path, node_url: str, ipfs: str, port: int, redis: str | None) -> Path:
    """The TOML for Bob as a real `ocw-daemon run` process (one a test can SIGKILL), serving
    as the Bob `start_stack` registered: with the X25519 key it published."""
    config = direct_config(tmp, "bob-proc", node_url, ipfs, port, redis)
    path = tmp / "bob.toml"
    write_daemon_toml(path, config, write_keystore(tmp / "bob.key", "//Bob"))
    registered = json.dumps(str(tmp / "bob" / "encryption-key.json"))
    text = re.sub(
        r"(?m)^encryption_keystore = .*$", f"encryption_keystore = {registered}", path.read_text()
    )
    path.write_text(text + "direct_settle_interval_s = 3600.0\n")
    return path


async def open_channel(chain: ChainClient, who: Keypair, executor: Keypair, amount: int) -> None:
    await ok(chain, channels.calls.open_channel(account(executor), MODEL_CURRENCY, amount), who)


async def channel(chain: ChainClient, who: Keypair, executor: Keypair) -> types.Channel | None:
    found: types.Channel | None = await chain.query(
        channels.storage.channels(account(who), account(executor))
    )
    return found


async def fund(chain: ChainClient, who: Keypair, native: int, usdd: int) -> None:
    await ok(chain, balances.calls.transfer_keep_alive(multi(who), native), ALICE)
    await ok(chain, tokens.calls.transfer(multi(who), MODEL_CURRENCY, usdd), ALICE)


async def wait_for(check: Callable[[], Awaitable[bool]], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


@dataclass
class Stack:
    model_id: bytes
    daemons: dict[str, Daemon]
    client: DirectClient
    server: GatewayServer
    extra: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    async def settle(self) -> int:
        return sum([await d.direct.settle_now() for d in self.daemons.values()])

    async def close(self) -> None:
        await self.server.close()
        await self.client.close()
        for daemon in self.daemons.values():
            await daemon.close()


async def start_stack(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    cid: str,
    redis_url: str | None,
    *,
    requester: Keypair = DAVE,
    deposits: dict[str, int] | None = None,
    reputation: dict[str, int] | None = None,
    endpoints: dict[str, str] | None = None,
    ports: dict[str, int] | None = None,
    run: tuple[str, ...] = ("bob", "charlie"),
    extra_models: tuple[bytes, ...] = (),
    sealed: bool = True,
) -> Stack:
    """Model registered; Bob and Charlie registered (and run in-process unless left out of
    `run`); the requester's channels opened; the gateway started."""
    model_id = await register_model(chain, cid)
    who = {"bob": BOB, "charlie": CHARLIE}
    daemons: dict[str, Daemon] = {}
    for name, key in who.items():
        port = (ports or {}).get(name) or free_port()
        endpoint = (endpoints or {}).get(name, "")
        config = direct_config(tmp_path, name, node.url, kubo.api_url, port, redis_url, endpoint)
        await register_provider(
            chain, key, config.endpoint, [model_id, *extra_models],
            # sealed direct path; without a key only a plaintext-allowing gateway uses them
            encryption_key=load_encryption_key(config).public if sealed else None,
        )  # fmt: skip
        await set_reputation(chain, key, (reputation or {}).get(name, 100))
        if name in run:
            daemons[name] = Daemon(config, key)
    for daemon in daemons.values():
        await daemon.start()
    for name, amount in (deposits or {"bob": 10**15, "charlie": 10**15}).items():
        await open_channel(chain, requester, who[name], amount)
    client = DirectClient(
        DirectConfig(
            chain_url=node.url,
            status_ttl_s=0.2,
            connect_timeout_s=2.0,
            allow_plaintext=not sealed,
        ),
        requester,
    )
    await client.connect()
    server = await GatewayServer(client).start("127.0.0.1", 0)
    return Stack(model_id, daemons, client, server)
