"""Fixtures of the client tests: the real daemon (`daemon`) for the honest paths, the stand-in
(`executor`) for executors that misbehave; helpers are in client_support.py.

Both wait on readiness (the executor follows blocks before a test places a request) and clean
up within bounded waits, so a stuck teardown fails the test instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from client_support import BOB, Env, StandInExecutor, make_env

from devstack import LocalKubo
from ipfs_store import IpfsStore, StoreConfig
from ocw_daemon import Daemon
from runtime_types import ChainClient, ClientConfig
from runtime_types.generated import devnode as rt
from tests.ocw_daemon.helpers import daemon_config

#: Seconds a fixture waits for an executor to be ready, and for it to close.
READY_S = 60.0
CLOSE_S = 30.0


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, kubo: LocalKubo) -> Iterator[Env]:
    yield from make_env(tmp_path_factory, kubo)


async def _finalized_head(env: Env) -> int:
    async with ChainClient(rt.BINDINGS, ClientConfig(env.node.url)) as chain:
        return await chain.head_number(finalized=True)


@pytest.fixture
async def daemon(env: Env, tmp_path: Path) -> AsyncIterator[Daemon]:
    """The real compute-provider daemon as //Bob at the endpoint //Bob registered, following
    blocks: a request placed after this fixture is set up is seen."""
    config = daemon_config(tmp_path, "bob", env.node.url, env.kubo.api_url, env.port)
    running = Daemon(config, BOB)
    await asyncio.wait_for(running.start(), READY_S)  # start() closes what it opened on failure
    try:
        head = await _finalized_head(env)
        deadline = time.monotonic() + READY_S
        while running.head < head:  # the daemon has processed the block that was finalized
            assert time.monotonic() < deadline, f"the daemon did not reach block {head}"
            await asyncio.sleep(0.02)
        yield running
    finally:
        await asyncio.wait_for(running.close(), CLOSE_S)


@pytest.fixture
async def executor(env: Env) -> AsyncIterator[StandInExecutor]:
    """The stand-in executor at //Bob's endpoint (never together with `daemon`)."""
    stand_in = StandInExecutor(env)
    app = web.Application()
    app.router.add_get("/outputs/{rid}", stand_in.handle)
    runner = web.AppRunner(app, shutdown_timeout=5.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", env.port)
        await site.start()
        async with (
            ChainClient(rt.BINDINGS, ClientConfig(env.node.url)) as chain,
            IpfsStore(StoreConfig(api_url=env.kubo.api_url)) as store,
        ):
            task = asyncio.create_task(stand_in.run(chain, store))
            try:
                # A request placed before the stand-in follows blocks would never be executed.
                await asyncio.wait_for(stand_in.following.wait(), READY_S)
                yield stand_in
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, CLOSE_S)
    finally:
        await asyncio.wait_for(runner.cleanup(), CLOSE_S)
    assert not stand_in.errors, stand_in.errors
