"""Block streams behind the backend interface: in order, gaps filled from the announced head,
no repeat after a reconnect, `ConnectionLost` when a restarted node lost blocks; on devnode,
following head subscriptions (polling only where a node offers none) and closing at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from devnode import DevNode, DevNodeConfig
from runtime_types import Block, BlockHash, ChainClient, ClientConfig, ConnectionLost
from runtime_types.generated.devnode import BINDINGS

from .conftest import free_port


def _block(number: int) -> Block:
    return Block(number, BlockHash(f"0x{number:064x}"), BlockHash(f"0x{number - 1:064x}"), (), ())


class MemoryBackend:
    """A chain in memory: the test announces heads and decides which blocks exist."""

    def __init__(self, height: int) -> None:
        self.blocks = {n: _block(n) for n in range(height + 1)}
        self.announcements: asyncio.Queue[int | Exception] = asyncio.Queue()
        self.fetched: list[int] = []
        self.closes = 0

    def announce(self, *numbers: int) -> None:
        for number in numbers:
            self.announcements.put_nowait(number)

    async def _heads(self) -> AsyncIterator[int]:
        while True:
            item = await self.announcements.get()
            if isinstance(item, Exception):
                raise item
            yield item

    def heads(self, finalized: bool) -> Any:
        return self._heads()

    async def fetch_block(self, number: int) -> Block | None:
        self.fetched.append(number)
        return self.blocks.get(number)

    async def aclose(self) -> None:
        self.closes += 1
        self.announcements.put_nowait(ConnectionLost("the block stream is closed"))


def _client(backend: MemoryBackend) -> ChainClient:
    return ChainClient(BINDINGS, ClientConfig("ws://127.0.0.1:1"), backend=lambda name: backend)


async def _take(stream: Any, count: int) -> list[int]:
    numbers = []
    async with asyncio.timeout(10):
        for _ in range(count):
            numbers.append((await anext(stream)).number)
    return numbers


async def test_blocks_come_in_order_and_gaps_are_filled_from_the_head_number() -> None:
    backend = MemoryBackend(height=10)
    backend.announce(3, 7, 7, 10)  # skips numbers, repeats one
    async with _client(backend).blocks(start=1) as stream:
        assert await _take(stream, 10) == list(range(1, 11))
        assert stream.next_number == 11
    assert backend.fetched == list(range(1, 11))  # each block fetched once, in order
    assert backend.closes == 1


async def test_without_start_the_stream_begins_after_the_announced_head() -> None:
    backend = MemoryBackend(height=9)
    backend.announce(5)
    async with _client(backend).blocks(finalized=False) as stream:
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        assert not waiting.done()
        backend.announce(8)
        async with asyncio.timeout(10):
            assert (await waiting).number == 6
        assert await _take(stream, 2) == [7, 8]


async def test_a_reconnect_announcing_an_older_head_neither_repeats_nor_skips() -> None:
    backend = MemoryBackend(height=8)
    backend.announce(4)
    async with _client(backend).blocks(start=1) as stream:
        assert await _take(stream, 4) == [1, 2, 3, 4]
        backend.announce(2, 3)  # a reconnect to a node that lags behind
        backend.announce(6)
        assert await _take(stream, 2) == [5, 6]
    assert backend.fetched == [1, 2, 3, 4, 5, 6]


async def test_a_restarted_node_that_lost_blocks_raises_connection_lost() -> None:
    backend = MemoryBackend(height=5)
    backend.announce(5)
    async with _client(backend).blocks(start=1) as stream:
        assert await _take(stream, 3) == [1, 2, 3]
        del backend.blocks[4], backend.blocks[5]  # the restarted node is back at block 3
        with pytest.raises(ConnectionLost, match="block 4 is no longer on the chain"):
            await anext(stream)


async def test_a_lost_head_stream_is_connection_lost_and_close_wakes_a_reader() -> None:
    backend = MemoryBackend(height=3)
    backend.announce(1)
    stream = _client(backend).blocks(start=1)
    assert await _take(stream, 1) == [1]
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    await stream.aclose()
    with pytest.raises(ConnectionLost):
        async with asyncio.timeout(10):
            await waiting
    await stream.aclose()
    assert backend.closes == 1
    with pytest.raises(StopAsyncIteration):
        await anext(stream)

    failing = MemoryBackend(height=3)
    failing.announcements.put_nowait(ConnectionLost("node unreachable"))
    with pytest.raises(ConnectionLost, match="unreachable"):
        await anext(_client(failing).blocks(start=1))


# -- on devnode ---------------------------------------------------------------------------------


async def _stream_numbers(client: ChainClient, node: DevNode, count: int) -> list[int]:
    """`count` finalized blocks from the best one, producing the later ones meanwhile."""
    start = node.chain.best_number
    numbers: list[int] = []
    async with asyncio.timeout(30), client.blocks(start=start) as stream:
        async for block in stream:
            numbers.append(block.number)
            if len(numbers) == count:
                break
            await node.produce_block()
    return numbers


async def test_a_websocket_node_is_followed_by_subscription_not_polling() -> None:
    async with DevNode(DevNodeConfig(port=0)) as node:
        await node.produce_block()
        async with ChainClient(BINDINGS, ClientConfig(node.url)) as client:
            before = dict(node.rpc.calls)
            numbers = await _stream_numbers(client, node, 5)
            calls = {k: v - before.get(k, 0) for k, v in node.rpc.calls.items()}
    assert numbers == list(range(numbers[0], numbers[0] + 5))
    assert calls.get("chain_subscribeFinalizedHeads") == 1
    assert calls.get("chain_getHeader", 0) == 0 and calls.get("chain_getFinalizedHead", 0) == 0


async def test_a_node_without_subscriptions_is_polled() -> None:
    async with DevNode(DevNodeConfig(port=0)) as node:
        await node.produce_block()
        # Over HTTP there are no subscriptions: the stream falls back to polling.
        async with ChainClient(BINDINGS, ClientConfig(node.http_url)) as client:
            before = dict(node.rpc.calls)
            numbers = await _stream_numbers(client, node, 4)
            calls = {k: v - before.get(k, 0) for k, v in node.rpc.calls.items()}
    assert numbers == list(range(numbers[0], numbers[0] + 4))
    assert calls.get("chain_subscribeFinalizedHeads", 0) == 0
    assert calls.get("chain_getHeader", 0) >= 4


class StallingProxy:
    """Forwards TCP to the node until `stall()`; then reads nothing and answers nothing."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.stalled = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> StallingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while not self.stalled.is_set():
                    data = await src.read(65536)
                    if not data:
                        break
                    if self.stalled.is_set():
                        break
                    dst.write(data)
                    await dst.drain()
                await asyncio.Event().wait()  # stalled: hold the connection open, silent

        for task in (pipe(reader, up_writer), pipe(up_reader, writer)):
            running = asyncio.ensure_future(task)
            self._tasks.add(running)


async def test_closing_a_stream_never_waits_on_a_stalled_node() -> None:
    async with DevNode(DevNodeConfig(port=0)) as node:
        await node.produce_block()
        async with StallingProxy(int(node.url.rsplit(":", 1)[1])) as proxy:
            config = ClientConfig(f"ws://127.0.0.1:{proxy.port}")
            async with ChainClient(BINDINGS, config) as client:
                stream = client.blocks(start=node.chain.best_number)
                assert (await anext(stream)).number == node.chain.best_number
                waiting = asyncio.ensure_future(anext(stream))  # waits on the subscription
                await asyncio.sleep(0)
                proxy.stalled.set()
                await node.produce_block()  # announced by the node, never forwarded
                async with asyncio.timeout(3):
                    await stream.aclose()
                with pytest.raises(ConnectionLost):
                    async with asyncio.timeout(3):
                        await waiting


async def test_client_and_stream_lifecycles() -> None:
    from lifecycle import ResourceClosedError, State
    from runtime_types._errors import ChainClientClosed

    backend = MemoryBackend(height=2)
    client = _client(backend)
    stream = client.blocks(start=1)
    assert client.state is State.UNOPENED and stream.state is State.UNOPENED
    async with stream:
        assert stream.state is State.OPENED
    assert stream.state is State.CLOSED and backend.closes == 1
    await client.close()
    await client.close()
    assert client.state is State.CLOSED
    with pytest.raises(ChainClientClosed):
        client.blocks()
    with pytest.raises(ChainClientClosed) as caught:
        await client.connect()
    # `except ConnectionLost` (as before) and `except ResourceClosedError` both catch it
    assert isinstance(caught.value, ConnectionLost)
    assert isinstance(caught.value, ResourceClosedError)
