"""Fixtures that run devnode on a real loopback port, in a thread of its own.

substrate-interface is a synchronous client, so the node's event loop runs in a background
thread and tests talk to it over a real WebSocket exactly as any client would.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from substrateinterface import SubstrateInterface

from devnode import DevNode, DevNodeConfig

T = TypeVar("T")


class NodeThread:
    """A DevNode whose event loop runs in a daemon thread."""

    def __init__(self, config: DevNodeConfig) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.node: DevNode | None = None

    def start(self) -> NodeThread:
        self.thread.start()

        async def boot() -> DevNode:
            return await DevNode(self.config).start()

        self.node = self.run(boot())
        return self

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, func: Callable[[], T]) -> T:
        """Run `func` on the node's loop (chain state is owned by that loop)."""

        async def wrapper() -> T:
            return func()

        return self.run(wrapper())

    @property
    def url(self) -> str:
        assert self.node is not None
        return self.node.url

    @property
    def http_url(self) -> str:
        assert self.node is not None
        return self.node.http_url

    def stop(self) -> None:
        if self.node is not None:
            self.run(self.node.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def start_node(**settings: Any) -> NodeThread:
    return NodeThread(DevNodeConfig(port=0, **settings)).start()


@pytest.fixture
def node() -> Iterator[NodeThread]:
    """Instant block production, instant finality."""
    running = start_node()
    yield running
    running.stop()


@pytest.fixture
def substrate(node: NodeThread) -> Iterator[SubstrateInterface]:
    client = SubstrateInterface(url=node.url)
    yield client
    client.close()


@pytest.fixture
def base_path(tmp_path: Path) -> Path:
    return tmp_path / "chain"
