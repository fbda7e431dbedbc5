"""Cache fixtures: a real redis-server per test, the ipfs_store Kubo daemon, cheap loaders.

redis-server runs on a random loopback port with a temporary directory and no persistence,
and is stopped (or found already killed by the test) afterwards. `redis_cluster` is a real
Redis Cluster (devstack's `LocalRedisCluster`: 3 masters, a replica each). Kubo is the
suite's shared one (`kubo` in tests/conftest.py); `peers` is a model author's Kubo and a
provider's Kubo joined over the swarm, each with its own repository. Helpers live in
tests/cache/helpers.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cache import ModelKey
from devstack import LocalRedisCluster
from ipfs_store import IpfsStore
from tests.cache.helpers import (
    CountingOrigin,
    ModelFixture,
    RedisServer,
    make_model_dir,
    start_redis,
)
from tests.ipfs_store.conftest import KuboDaemon, KuboPeers, start_peers, store_config


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = start_redis(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[LocalRedisCluster]:
    cluster = LocalRedisCluster.start(tmp_path / "cluster")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[KuboPeers]:
    pair = start_peers(tmp_path / "peers")
    try:
        yield pair
    finally:
        pair.provider.stop()
        pair.author.stop()


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
