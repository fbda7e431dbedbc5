"""Fixtures of the client tests; the helpers and the stand-in executor are in client_support.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web
from client_support import Env, StandInExecutor, make_env

from ipfs_store import IpfsStore, StoreConfig
from runtime_types import ChainClient, ClientConfig
from runtime_types.generated import devnode as rt


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    yield from make_env(tmp_path_factory)


@pytest.fixture
async def executor(env: Env) -> AsyncIterator[StandInExecutor]:
    stand_in = StandInExecutor(env)
    app = web.Application()
    app.router.add_get("/outputs/{rid}", stand_in.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", env.port)
    await site.start()
    async with (
        ChainClient(rt.BINDINGS, ClientConfig(env.node.url)) as chain,
        IpfsStore(StoreConfig(api_url=env.kubo.api_url)) as store,
    ):
        task = asyncio.create_task(stand_in.run(chain, store))
        try:
            # A request placed before the stand-in follows blocks would never be executed.
            await asyncio.wait_for(stand_in.following.wait(), 30)
            yield stand_in
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await runner.cleanup()
    assert not stand_in.errors, stand_in.errors
