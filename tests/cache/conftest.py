"""Cache fixtures: a real redis-server per test, the ipfs_store Kubo daemon, cheap loaders.

redis-server runs on a random loopback port with a temporary directory and no persistence,
and is stopped (or found already killed by the test) afterwards. Kubo is the ipfs_store
fixture's daemon (`start_kubo`), one per session. Helpers live in tests/cache/helpers.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cache import ModelKey
from ipfs_store import IpfsStore
from tests.cache.helpers import (
    CountingOrigin,
    ModelFixture,
    RedisServer,
    make_model_dir,
    start_redis,
)
from tests.ipfs_store.conftest import KuboDaemon, start_kubo, store_config


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = start_redis(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kubo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KuboDaemon]:
    daemon = start_kubo(tmp_path_factory.mktemp("cache-kubo") / "repo")
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
async def store(kubo: KuboDaemon) -> AsyncIterator[IpfsStore]:
    async with IpfsStore(store_config(kubo.api_url)) as s:
        yield s


@pytest.fixture
def origin(store: IpfsStore) -> CountingOrigin:
    return CountingOrigin(store)


@pytest.fixture
async def models(store: IpfsStore, tmp_path: Path) -> list[ModelFixture]:
    """Three distinct small model directories added (pinned) to Kubo."""
    out: list[ModelFixture] = []
    for seed, size in ((1, 300_000), (2, 200_000), (3, 250_000)):
        directory = tmp_path / f"src-{seed}"
        files = make_model_dir(directory, seed, size)
        added = await store.add(directory)
        out.append(ModelFixture(ModelKey(str(added.cid)), files))
    return out
