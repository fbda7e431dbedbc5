"""`DevNode`: the chain and its RPC server, started in-process or from the command line."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from lifecycle import AsyncResource

from ._chain import Chain
from ._config import DevNodeConfig
from ._rpc import RpcServer

__all__ = ["DevNode"]

log = logging.getLogger("devnode")


class DevNode(AsyncResource):
    """A development chain serving Substrate JSON-RPC.

    Use as `async with DevNode(DevNodeConfig(port=0)) as node:` (or `await node.start()`,
    once) and connect to `node.url`; `close()` is idempotent.
    """

    def __init__(self, config: DevNodeConfig | None = None) -> None:
        super().__init__()
        self.config = config or DevNodeConfig()
        self.chain = Chain(self.config)
        self.rpc = RpcServer(self.chain, self._schedule_block)
        self._runner: web.AppRunner | None = None
        self._producer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._port = 0

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The WebSocket URL clients connect to."""
        return f"ws://{self.config.host}:{self._port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.config.host}:{self._port}"

    async def start(self) -> DevNode:
        return await self.open()

    async def _aopen(self) -> None:
        await asyncio.to_thread(self.chain.open)
        self._runner = web.AppRunner(self.rpc.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self._port = sockets[0].getsockname()[1] if sockets else self.config.port
        self._producer = asyncio.create_task(
            self._produce_forever(), name="devnode-block-production"
        )
        log.info(
            "devnode serving %s (chain %s at block %d)",
            self.url,
            self.config.chain_name,
            self.chain.best_number,
        )

    async def _aclose(self) -> None:
        """Stop serving and persist."""
        if self._producer is not None:
            self._producer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._producer
        if self._runner is not None:
            await self._runner.cleanup()
        self.chain.close()

    def _schedule_block(self) -> None:
        self._wake.set()

    async def produce_block(self) -> int:
        """Seal a block now (any mode); returns its number."""
        return self.chain.produce_block().number

    async def _produce_forever(self) -> None:
        while True:
            try:
                await self._produce_loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A failing block must not stop the chain for everyone; it is logged and retried.
                log.exception("block production failed")
                await asyncio.sleep(0.5)

    async def _produce_loop(self) -> None:
        block_time = self.config.block_time
        while True:
            if block_time is None:
                await self._wake.wait()
                self._wake.clear()
                # Let transactions that arrived together share the block.
                await asyncio.sleep(0)
                while self.chain.has_ready():
                    self.chain.produce_block()
                    await asyncio.sleep(0)
            else:
                await asyncio.sleep(block_time)
                self.chain.produce_block()
