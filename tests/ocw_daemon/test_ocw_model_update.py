"""`ModelUpdated` events reach the cache: a served model's new version is fetched (and loaded,
when the old one is loaded) before its first request; the old version is left to age out."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from cache import ModelKey
from ipfs_store import IpfsStore
from ocw_daemon import Daemon
from runtime_types import ChainClient
from runtime_types.generated.devnode import model_registry, types
from tests.devnode.conftest import NodeThread
from tests.ipfs_store.conftest import KuboDaemon
from tests.ocw_daemon.helpers import (
    ALICE,
    BOB,
    DAVE,
    build_tiny_model,
    daemon_config,
    free_port,
    ok,
    register_model,
    register_provider,
    request,
)

pytestmark = pytest.mark.timeout(180)


async def _until(predicate: object, within: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not within {within}s"
        await asyncio.sleep(0.1)


async def test_model_updated_prefetches_the_new_version(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    store: IpfsStore,
    tiny_cid: str,
) -> None:
    model_id = await register_model(chain, tiny_cid)
    other_v1 = str((await store.add(build_tiny_model(tmp_path / "other", seed=9))).cid)
    other_id = await register_model(chain, other_v1, name=b"not-served")
    config = daemon_config(tmp_path, "bob", node.url, kubo.api_url, free_port())
    await register_provider(chain, BOB, config.endpoint, [model_id])
    bob = Daemon(config, BOB)
    await bob.start()
    try:
        # a first request loads version 1
        await request(chain, DAVE, model_id)
        old = ModelKey(tiny_cid)
        await _until(lambda: old in bob.cache, 60, "version 1 loaded")
        fetches = bob.cache.metrics().origin_fetches

        v2 = str((await store.add(build_tiny_model(tmp_path / "v2", seed=7))).cid)
        v3 = str((await store.add(build_tiny_model(tmp_path / "v3", seed=8))).cid)
        assert len({tiny_cid, other_v1, v2, v3}) == 4
        await ok(
            chain, model_registry.calls.update_model(types.H256(model_id), v2.encode(), 1), ALICE
        )
        # a model this provider does not serve is not fetched
        unserved = await ok(
            chain, model_registry.calls.update_model(types.H256(other_id), v3.encode(), 1), ALICE
        )

        # no request for version 2: the event alone brings it in, loaded next to version 1
        await _until(lambda: ModelKey(v2) in bob.cache, 60, "version 2 loaded")
        assert old in bob.cache  # not evicted: it ages out under the policy
        assert bob.cache.metrics().origin_fetches == fetches + 1
        await _until(lambda: bob.head >= unserved.block_number, 30, "the unserved update seen")
        # its side task is a provider lookup, then nothing. A later update of the served model
        # takes the same lookup plus a fetch and a load: once that version is in, a wrong fetch
        # of v3 (begun a block earlier) would have been counted.
        v4 = str((await store.add(build_tiny_model(tmp_path / "v4", seed=10))).cid)
        await ok(
            chain, model_registry.calls.update_model(types.H256(model_id), v4.encode(), 1), ALICE
        )
        await _until(lambda: ModelKey(v4) in bob.cache, 60, "version 3 loaded")
        assert ModelKey(v3) not in bob.cache
        assert bob.cache.metrics().origin_fetches == fetches + 2  # versions 2 and 3 only
    finally:
        await bob.close()
