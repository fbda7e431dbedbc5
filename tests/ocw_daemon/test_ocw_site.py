"""A provider site: two daemons sharing tier 2 on a real Redis Cluster, their Kubo a peer of the
model author's Kubo (bitswap over the loopback swarm, no shared repository). The executor
pins the model it serves in its Kubo and unpins it when the model is deprecated."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from cache import ModelKey
from devstack import LocalRedisCluster
from ipfs_store import IpfsStore
from ocw_daemon import Daemon
from ocw_daemon._daemon import MODEL_PIN_NAME
from runtime_types import ChainClient
from runtime_types.generated.devnode import model_registry, types
from tests.devnode.conftest import NodeThread
from tests.ipfs_store.conftest import start_peers, store_config
from tests.ocw_daemon.helpers import (
    ALICE,
    BOB,
    CHARLIE,
    DAVE,
    daemon_config,
    free_port,
    ok,
    register_model,
    register_provider,
    request,
)

pytestmark = pytest.mark.timeout(240)


async def _until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"{what} not within {within} s"
        await asyncio.sleep(0.1)


async def test_site_shares_the_cluster_and_pins_what_it_serves(
    tmp_path: Path, node: NodeThread, chain: ChainClient, tiny_model_dir: Path
) -> None:
    cluster = await asyncio.to_thread(LocalRedisCluster.start, tmp_path / "cluster")
    peers = await asyncio.to_thread(start_peers, tmp_path / "peers")
    try:
        author = IpfsStore(store_config(peers.author.api_url))
        provider = IpfsStore(store_config(peers.provider.api_url))
        async with author, provider:
            cid = str((await author.add(tiny_model_dir)).cid)
            assert not peers.provider.has_block(cid)
            model_id = await register_model(chain, cid)
            bob_config = daemon_config(
                tmp_path, "bob", node.url, peers.provider.api_url, free_port(), cluster.url
            )
            await register_provider(chain, BOB, bob_config.endpoint, [model_id])
            charlie_config = daemon_config(
                tmp_path, "charlie", node.url, peers.provider.api_url, free_port(), cluster.url
            )
            bob = Daemon(bob_config, BOB)
            charlie = Daemon(charlie_config, CHARLIE)
            await bob.start()
            await charlie.start()
            try:

                async def pinned() -> set[str]:
                    return {str(c) for c in await provider.pins(name=MODEL_PIN_NAME)}

                async def served() -> bool:
                    return ModelKey(cid) in bob.cache and bob.cache.leases(cid) == 0

                # Bob executes a request: the model comes from the author over bitswap
                # (bob asks only his own Kubo) and stays pinned there.
                await request(chain, DAVE, model_id)
                await _until(served, 120, "the model loaded and the job done")
                assert bob.cache.metrics().origin_fetches == 1
                assert peers.provider.has_block(cid)
                assert await pinned() == {cid}

                # Charlie, the same site: from tier 2 (the cluster), never from IPFS.
                await charlie.cache.fetch_local(cid)
                metrics = charlie.cache.metrics()
                assert (metrics.tier2_hits, metrics.origin_fetches) == (1, 0)

                # The author deprecates the model: Bob unpins it and drops it from tier 1.
                await ok(chain, model_registry.calls.deprecate_model(types.H256(model_id)), ALICE)

                async def unpinned() -> bool:
                    return await pinned() == set()

                await _until(unpinned, 30, "the deprecated model unpinned")
                assert ModelKey(cid) not in bob.cache
            finally:
                await charlie.close()
                await bob.close()
    finally:
        peers.provider.stop()
        peers.author.stop()
        cluster.stop()
