"""The chain devstack runs: devnode in this process (the default), or the Rust runtime on
chopsticks (`LocalRuntimeNode`), both with a block at least every `block_time` seconds."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Literal, get_args

from ._runtime_node import LocalRuntimeNode

__all__ = ["CHAINS", "ChainChoice", "running_chain"]

ChainChoice = Literal["devnode", "runtime"]
CHAINS: tuple[str, ...] = get_args(ChainChoice)


@contextlib.asynccontextmanager
async def running_chain(
    kind: ChainChoice, *, port: int = 0, block_time: float = 0.5
) -> AsyncIterator[str]:
    """Start the chain on `port` (0: a free one), yield its WebSocket URL, stop it.
    `RuntimeNodeMissing` when the runtime is not built."""
    if kind == "runtime":
        node = await asyncio.to_thread(LocalRuntimeNode.start, port=port, block_time=block_time)
        try:
            yield node.url
        finally:
            await asyncio.to_thread(node.stop)
        return
    from devnode import DevNode, DevNodeConfig

    config = DevNodeConfig(port=port, block_time=block_time, finality_lag=0)
    async with DevNode(config) as devnode:
        yield devnode.url
