"""Where block streams get blocks from: a narrow backend (head announcements, blocks by number).

`NodeBackend` follows a node's `chain_subscribeNewHeads` / `chain_subscribeFinalizedHeads` on a
WebSocket of its own (aiohttp, on the event loop: closing cancels a task and never waits on a
read), and fetches blocks over a substrate-interface `Connection`. A node that offers no such
subscriptions (`rpc_methods`), or an HTTP URL, is polled every `ClientConfig.poll_interval`
instead. Tests put an in-memory backend in its place.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol

import aiohttp
from substrateinterface import SubstrateInterface

from ._bindings import Bindings, EventRecord
from ._client_types import Block, BlockHash, ClientConfig
from ._connection import Connection
from ._errors import ConnectionLost, RuntimeTypesError

__all__ = ["ChainBackend", "HeadStream", "NodeBackend", "fetch_block", "head_number"]

log = logging.getLogger("runtime_types.client")

_SUBSCRIBE = {False: "chain_subscribeNewHeads", True: "chain_subscribeFinalizedHeads"}
_CONNECT_ERRORS = (aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError)


class HeadStream(Protocol):
    """Announced head numbers (an async generator is one)."""

    def __aiter__(self) -> HeadStream: ...

    async def __anext__(self) -> int: ...

    async def aclose(self) -> None:
        """Stop following; idempotent."""
        ...


class ChainBackend(Protocol):
    """What a block stream needs from a chain."""

    def heads(self, finalized: bool) -> HeadStream:
        """Head numbers as the chain announces them, the current head first. A number may
        repeat or go down (a reconnect, a restarted node); announcements may skip numbers.
        Raises `ConnectionLost` when the chain cannot be reached any more, or the backend
        was closed."""
        ...

    async def fetch_block(self, number: int) -> Block | None:
        """The block at `number` with its events; None when the chain has no such block."""
        ...

    async def aclose(self) -> None:
        """End every head stream (a waiting `__anext__` raises `ConnectionLost`) and release
        the connections; idempotent."""
        ...


class _Heads:
    """Head numbers fed by a task; each read returns the latest announced since the last."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[int | BaseException] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def __aiter__(self) -> _Heads:
        return self

    async def __anext__(self) -> int:
        item = await self.queue.get()
        while not isinstance(item, BaseException) and not self.queue.empty():
            item = self.queue.get_nowait()  # only the newest head matters
        if isinstance(item, BaseException):
            self.queue.put_nowait(item)  # every later read fails the same way
            raise item
        return item

    async def aclose(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        self.queue.put_nowait(ConnectionLost("the head stream is closed"))


class NodeBackend:
    """A node over JSON-RPC: subscriptions when it offers them, polling otherwise."""

    def __init__(self, connection: Connection, bindings: Bindings, events_key: str) -> None:
        self._conn = connection
        self._config: ClientConfig = connection.config
        self._bindings = bindings
        self._events_key = events_key
        self._heads: list[_Heads] = []
        self._session: aiohttp.ClientSession | None = None
        self._subscriptions: bool | None = None
        self._closed = False

    def heads(self, finalized: bool) -> HeadStream:
        heads = _Heads()
        if self._closed:
            heads.queue.put_nowait(ConnectionLost("the block stream is closed"))
            return heads
        heads.task = asyncio.create_task(
            self._feed(heads, finalized), name=f"runtime-types-heads-{self._conn.name}"
        )
        # a watcher that restarts opens new head streams: forget the ended ones
        self._heads = [h for h in self._heads if h.task is not None and not h.task.done()]
        self._heads.append(heads)
        return heads

    async def fetch_block(self, number: int) -> Block | None:
        return await fetch_block(self._conn, self._bindings, self._events_key, number)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        tasks = [h.task for h in self._heads if h.task is not None]
        for task in tasks:
            task.cancel()
        for heads in self._heads:
            heads.queue.put_nowait(ConnectionLost("the block stream is closed"))
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        await self._conn.close()

    # -- feeding one head stream -------------------------------------------------------------

    async def _feed(self, heads: _Heads, finalized: bool) -> None:
        try:
            if await self._offers_subscriptions():
                await self._subscribe(heads, finalized)
            else:
                await self._poll(heads, finalized)
        except asyncio.CancelledError:
            raise
        except RuntimeTypesError as exc:
            heads.queue.put_nowait(exc)
        except Exception as exc:  # a bug must not leave a reader waiting forever
            log.exception("following the chain's heads failed")
            heads.queue.put_nowait(ConnectionLost(f"following the chain's heads failed: {exc}"))

    async def _offers_subscriptions(self) -> bool:
        if self._subscriptions is None:
            if not self._config.url.startswith(("ws://", "wss://")):
                self._subscriptions = False
            else:
                answer = await self._conn.rpc("rpc_methods", [])
                methods = set(answer.get("methods", ())) if isinstance(answer, dict) else set()
                self._subscriptions = set(_SUBSCRIBE.values()) <= methods
            if not self._subscriptions:
                log.info("%s offers no head subscriptions: polling", self._config.url)
        return self._subscriptions

    async def _poll(self, heads: _Heads, finalized: bool) -> None:
        last: int | None = None
        while True:
            head = await head_number(self._conn, finalized)
            if head != last:
                heads.queue.put_nowait(head)
                last = head
            else:
                await asyncio.sleep(self._config.poll_interval)

    async def _subscribe(self, heads: _Heads, finalized: bool) -> None:
        """Follow one subscription, reconnecting with backoff as `Connection` does."""
        config = self._config
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=config.socket_timeout)
            )
        subscribed_once = False
        failing_since: float | None = None
        delay = config.reconnect_initial_delay
        while True:
            try:
                async for number in self._session_heads(self._session, finalized):
                    subscribed_once = True
                    failing_since = None
                    delay = config.reconnect_initial_delay
                    heads.queue.put_nowait(number)
                reason = "the node closed the subscription"
            except _CONNECT_ERRORS as exc:
                reason = str(exc) or type(exc).__name__
            now = time.monotonic()
            failing_since = now if failing_since is None else failing_since
            give_up = config.reconnect_timeout
            if not subscribed_once and config.connect_timeout is not None:
                give_up = config.connect_timeout
            if now - failing_since > give_up:
                raise ConnectionLost(f"{config.url} unreachable: {reason}")
            log.info(
                "head subscription to %s lost (%s); retrying in %.2fs", config.url, reason, delay
            )
            await asyncio.sleep(max(0.0, min(delay, failing_since + give_up - now)))
            delay = min(delay * 2, config.reconnect_max_delay)

    async def _session_heads(
        self, session: aiohttp.ClientSession, finalized: bool
    ) -> AsyncIterator[int]:
        """One WebSocket session's announced head numbers; ends when the node closes it."""
        # ws_close=0: closing sends the close frame and does not wait for the node's answer
        timeout = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=0.0)
        async with session.ws_connect(self._config.url, timeout=timeout, max_msg_size=0) as ws:
            await ws.send_str(
                json.dumps(
                    {"jsonrpc": "2.0", "id": 1, "method": _SUBSCRIBE[finalized], "params": []}
                )
            )
            subscription: Any = None
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(message.data)
                if data.get("id") == 1:
                    if "error" in data:
                        raise ConnectionLost(f"{_SUBSCRIBE[finalized]} refused: {data['error']}")
                    subscription = data.get("result")
                    continue
                params = data.get("params")
                if isinstance(params, dict) and params.get("subscription") == subscription:
                    header = params.get("result") or {}
                    yield int(str(header["number"]), 16)


async def head_number(conn: Connection, finalized: bool) -> int:
    def job(substrate: SubstrateInterface) -> int:
        params: list[Any] = []
        if finalized:
            params = [substrate.rpc_request("chain_getFinalizedHead", [])["result"]]
        header = substrate.rpc_request("chain_getHeader", params)["result"]
        return int(header["number"], 16)

    return await conn.call(job)


async def fetch_block(
    conn: Connection, bindings: Bindings, events_key: str, number: int
) -> Block | None:
    def job(substrate: SubstrateInterface) -> Block | None:
        block_hash = substrate.rpc_request("chain_getBlockHash", [number])["result"]
        if block_hash is None:
            return None
        body = substrate.rpc_request("chain_getBlock", [block_hash])["result"]["block"]
        raw_events = substrate.rpc_request("state_getStorage", [events_key, block_hash])["result"]
        events: list[EventRecord] = []
        if raw_events:
            events = bindings.decode_events(bytes.fromhex(raw_events.removeprefix("0x")))
        return Block(
            number,
            BlockHash(block_hash),
            BlockHash(body["header"]["parentHash"]),
            tuple(bytes.fromhex(x.removeprefix("0x")) for x in body["extrinsics"]),
            tuple(events),
        )

    return await conn.call(job)
