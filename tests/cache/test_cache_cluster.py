"""Tier 2 on a real Redis Cluster (3 masters, a replica each), models from a remote Kubo peer.

The model author's Kubo and the provider's Kubo are two peers on the loopback swarm; the
caches ask only the provider's Kubo, which gets the blocks over bitswap. Faults are real: a
master paused and then killed with SIGKILL (its replica promoted by the cluster), the whole
cluster killed, the author's Kubo killed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from cache import CacheConfig, IndexKeys, Keys, Manifest, ModelCache, ModelKey, make_client
from devstack import LocalRedisCluster
from ipfs_store import IpfsStore, cid_of_path
from tests.cache.helpers import (
    CountingOrigin,
    FilesLoader,
    ModelFixture,
    cache_config,
    files_of,
    get,
    make_model_dir,
    run_daemons,
)
from tests.ipfs_store.conftest import KuboPeers, store_config

pytestmark = pytest.mark.timeout(180)


def _manifest_key(key: ModelKey) -> str:
    return Keys("mc", key).manifest


async def _add_models(
    author: IpfsStore,
    root: Path,
    cluster: LocalRedisCluster,
    count: int,
    *,
    first_seed: int = 1,
    on_master: int | None = None,
) -> list[ModelFixture]:
    """``count`` models added to the author's Kubo whose tier-2 slots span at least two
    masters (or all lie on ``on_master``); seeds are tried in order until they do."""
    chosen: list[ModelFixture] = []
    masters: set[int] = set()
    seed = first_seed
    while len(chosen) < count:
        directory = root / f"model-{seed}"
        files = make_model_dir(directory, seed, 150_000 + 1000 * seed)
        key = ModelKey(str(cid_of_path(directory).cid))
        master = cluster.master_of(_manifest_key(key))
        seed += 1
        wanted = master == on_master if on_master is not None else (
            master not in masters or len(masters) >= 2 or len(chosen) < count - 1
        )  # fmt: skip
        if on_master is None and len(chosen) == count - 1 and len(masters | {master}) < 2:
            wanted = False
        if not wanted:
            continue
        added = await author.add(directory)
        assert str(added.cid) == key
        chosen.append(ModelFixture(key, files))
        masters.add(master)
    return chosen


def _stores(peers: KuboPeers) -> tuple[IpfsStore, IpfsStore]:
    author = IpfsStore(store_config(peers.author.api_url))
    provider = IpfsStore(
        store_config(peers.provider.api_url, kubo_gateway_url=peers.provider.gateway_url)
    )
    return author, provider


def _keys_by_port(cluster: LocalRedisCluster) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for node in cluster.nodes:
        if node.alive:
            text = cluster.command(node.port, "--raw", "KEYS", "*")
            out[node.port] = {k for k in text.split() if k}
    return out


async def test_cluster_round_trip_one_slot_per_model_across_masters(
    tmp_path: Path, redis_cluster: LocalRedisCluster, peers: KuboPeers
) -> None:
    author, provider = _stores(peers)
    async with author, provider:
        models = await _add_models(author, tmp_path / "src", redis_cluster, 3)
        assert not any(peers.provider.has_block(m.key) for m in models)  # only the author has them
        origin = CountingOrigin(provider)
        loader = FilesLoader()
        url = redis_cluster.url
        assert url.startswith("redis+cluster://")
        async with ModelCache(cache_config(tmp_path, "a", url), origin, loader) as a:
            for m in models:
                entry = await get(a, m.key)
                assert entry.source == "origin" and entry.model.files == m.files
        assert all(peers.provider.has_block(m.key) for m in models)  # came over bitswap
        # A second daemon, named by a seed list this time: everything from tier 2.
        seeds = redis_cluster.seeds[:2]
        async with ModelCache(cache_config(tmp_path, "b", seeds), origin, loader) as b:
            for m in models:
                entry = await get(b, m.key)
                assert entry.source == "tier2" and entry.model.files == m.files
            assert b.metrics().origin_fetches == 0
            assert b.metrics().tier2_hits == 3
    assert len(origin.fetches) == 3
    # Every key of a model sits on the one master serving its hash tag's slot.
    by_port = _keys_by_port(redis_cluster)
    masters = set()
    for m in models:
        master = redis_cluster.master_of(_manifest_key(m.key))
        masters.add(master)
        mine = {k for keys in by_port.values() for k in keys if f"{{{m.key}}}" in k}
        replica = redis_cluster.replica_of(master)
        assert mine and mine <= by_port[master] | by_port[replica]
        assert all(
            mine.isdisjoint(keys) for p, keys in by_port.items() if p not in (master, replica)
        )
    assert len(masters) >= 2


async def test_cluster_budget_evicts_whole_models_across_masters(
    tmp_path: Path, redis_cluster: LocalRedisCluster, peers: KuboPeers
) -> None:
    author, provider = _stores(peers)
    async with author, provider:
        models = await _add_models(author, tmp_path / "src", redis_cluster, 3)
        origin = CountingOrigin(provider)
        budget = models[1].size + models[2].size + 1000  # the last two, not all three
        overrides = {"tier2_capacity": budget, "tier2_policy": "lru"}
        url = redis_cluster.url
        for n, m in enumerate(models):
            config = cache_config(tmp_path, f"fill-{n}", url, **overrides)
            async with ModelCache(config, origin, FilesLoader()) as cache:
                await get(cache, m.key)
        client = make_client(url, 2.0)
        try:
            index = IndexKeys("mc")
            sizes = await client.hgetall(index.sizes)  # type: ignore[misc]
            assert {k.decode() for k in sizes} == {models[1].key, models[2].key}
            total = int(await client.hget(index.meta, "bytes"))  # type: ignore[misc]
            assert total == models[1].size + models[2].size <= budget
            assert await client.get(_manifest_key(models[0].key)) is None
            for m in models[1:]:
                raw = await client.get(_manifest_key(m.key))
                manifest = Manifest.decode(raw)
                chunks = [Keys("mc", m.key).chunk(i) for i in range(len(manifest.hashes))]
                lengths = [await client.strlen(c) for c in chunks]
                assert sum(lengths) == m.size  # whole
        finally:
            await client.aclose()
        # Nothing of the evicted model is left on any node.
        by_port = _keys_by_port(redis_cluster)
        assert not any(f"{{{models[0].key}}}" in k for keys in by_port.values() for k in keys)
        config = cache_config(tmp_path, "late", url, **overrides)
        async with ModelCache(config, origin, FilesLoader()) as late:
            assert (await get(late, models[0].key)).source == "origin"  # refetched
            assert (await get(late, models[2].key)).source == "tier2"


async def test_site_daemons_share_the_cluster_one_ipfs_fetch(
    tmp_path: Path, redis_cluster: LocalRedisCluster, peers: KuboPeers
) -> None:
    """Three daemon processes of one site, racing on the same models: each model is fetched
    from IPFS once in all; later daemons never go to IPFS while tier 2 holds them."""
    author, provider = _stores(peers)
    async with author, provider:
        models = await _add_models(author, tmp_path / "src", redis_cluster, 2)
    keys = [m.key for m in models]
    site = (tmp_path, peers.provider.api_url, peers.provider.gateway_url, redis_cluster.url, keys)
    first = await asyncio.to_thread(run_daemons, *site, ["a", "b", "c"])
    per_model = [sorted(out[0].split(",")[i] for out in first) for i in range(len(keys))]
    assert all(sources == ["origin", "tier2", "tier2"] for sources in per_model), first
    assert sum(int(out[1]) for out in first) == len(keys)  # one IPFS fetch per model
    # Fresh daemons (empty disks): all from tier 2, none from IPFS.
    second = await asyncio.to_thread(run_daemons, *site, ["d", "e"])
    assert all(out[0] == "tier2,tier2" and out[1] == "0" for out in second), second
    for name in "abcde":
        for m in models:
            assert files_of(tmp_path / f"disk-{name}" / "objects" / m.key) == m.files


async def test_master_killed_mid_run(
    tmp_path: Path, redis_cluster: LocalRedisCluster, peers: KuboPeers
) -> None:
    """A request blocked on a master that then dies finishes on the promoted replica (a
    retried read on the slot's new owner), verified; requests after the failover, reads and
    writes, work; a corrupt chunk on the new master is still caught."""
    author, provider = _stores(peers)
    async with author, provider:
        models = await _add_models(author, tmp_path / "src", redis_cluster, 3)
        origin = CountingOrigin(provider)
        url = redis_cluster.url

        def config(name: str) -> CacheConfig:
            return cache_config(tmp_path, name, url, redis_timeout=1.0, redis_failover_wait=30.0)

        async with ModelCache(config("a"), origin, FilesLoader()) as a:
            for m in models:
                await get(a, m.key)
        victim = models[0]
        master = redis_cluster.master_of(_manifest_key(victim.key))
        for m in models:
            redis_cluster.wait_synced(redis_cluster.master_of(_manifest_key(m.key)))
        others = [m for m in models if redis_cluster.master_of(_manifest_key(m.key)) != master]
        assert others
        fetched = len(origin.fetches)

        async with ModelCache(config("b"), origin, FilesLoader()) as b:
            assert await b.held(victim.key) == {"tier2"}  # the client knows the topology now
            # Fault: the victim's master stops answering clients (the cluster bus still
            # runs, so no failover yet), then dies while a request waits on it.
            redis_cluster.command(master, "CLIENT", "PAUSE", "60000", "ALL")
            blocked = asyncio.create_task(get(b, victim.key))
            served = await asyncio.gather(*(get(b, m.key) for m in others))
            assert all(e.source == "tier2" for e in served)
            assert not blocked.done()
            redis_cluster.kill(master)
            entry = await asyncio.wait_for(blocked, 60)
            assert entry.source == "tier2" and entry.model.files == victim.files
            assert b.metrics().tier2_retries >= 1
            assert b.metrics().origin_fetches == 0
        assert len(origin.fetches) == fetched
        promoted = await asyncio.to_thread(redis_cluster.wait_failover, master)
        assert redis_cluster.master_of(_manifest_key(victim.key)) == promoted

        # After the failover: reads of every model, and a write on the promoted master.
        async with ModelCache(config("c"), origin, FilesLoader()) as c:
            for m in models:
                entry = await get(c, m.key)
                assert entry.source == "tier2" and entry.model.files == m.files
        late = await _add_models(
            author, tmp_path / "late", redis_cluster, 1, first_seed=100, on_master=promoted
        )
        async with ModelCache(config("d"), origin, FilesLoader()) as d:
            assert (await get(d, late[0].key)).source == "origin"
        async with ModelCache(config("e"), origin, FilesLoader()) as e:
            assert (await get(e, late[0].key)).source == "tier2"

        # Nothing corrupt is served: a flipped byte on the new master is caught.
        node = aioredis.Redis(host="127.0.0.1", port=promoted)
        try:
            keys = Keys("mc", victim.key)
            chunk = keys.chunk(1)
            original = await node.get(chunk)
            await node.setrange(chunk, 10, bytes([original[10] ^ 0xFF]))
        finally:
            await node.aclose()
        async with ModelCache(config("f"), origin, FilesLoader()) as f:
            entry = await get(f, victim.key)
            assert entry.model.files == victim.files and entry.source == "origin"
            assert f.metrics().corrupt_chunks == 1


async def test_whole_cluster_down_serves_from_tier1_and_ipfs(
    tmp_path: Path, redis_cluster: LocalRedisCluster, peers: KuboPeers
) -> None:
    author, provider = _stores(peers)
    async with author, provider:
        models = await _add_models(author, tmp_path / "src", redis_cluster, 3)
        origin = CountingOrigin(provider)
        overrides = {"redis_failover_wait": 2.0, "redis_retry_after": 60.0}
        config = cache_config(tmp_path, "a", redis_cluster.url, **overrides)
        async with ModelCache(config, origin, FilesLoader()) as a:
            assert (await get(a, models[0].key)).source == "origin"
            redis_cluster.kill_all()
            assert (await get(a, models[0].key)).source == "tier1"
            entry = await get(a, models[1].key)
            assert entry.source == "origin" and entry.model.files == models[1].files
            assert a.metrics().tier2_bypassed == 1
            started = time.monotonic()
            assert (await get(a, models[2].key)).source == "origin"
            assert time.monotonic() - started < config.redis_timeout  # no second wait
            assert a.metrics().tier2_bypassed == 1
        # A daemon started with the cluster already down is served too.
        config = cache_config(tmp_path, "b", redis_cluster.url, **overrides)
        async with ModelCache(config, origin, FilesLoader()) as b:
            entry = await get(b, models[0].key)
            assert entry.source == "origin" and entry.model.files == models[0].files


async def _until(check: object, within: float, what: str) -> None:
    assert callable(check)
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"{what} not within {within} s"
        await asyncio.sleep(0.05)


async def test_pins_follow_the_tiers_and_outlive_the_author(
    tmp_path: Path, redis_cluster: LocalRedisCluster, peers: KuboPeers
) -> None:
    """A model fetched from IPFS is pinned in the provider's Kubo while any tier holds it,
    unpinned once none does (or when it is retired), and the provider serves what it pinned
    after the author's Kubo is gone."""
    author, provider = _stores(peers)
    async with author, provider:
        models = await _add_models(author, tmp_path / "src", redis_cluster, 2)
        x, y = models
        origin = CountingOrigin(provider, pin_name="ocw-model")
        room = max(x.size, y.size) * 3 // 2  # each tier holds one of them
        config = cache_config(
            tmp_path, "a", redis_cluster.url,
            tier1_capacity=room, disk_capacity=room, tier2_capacity=room,
        )  # fmt: skip

        async def pinned() -> set[str]:
            return {str(c) for c in await provider.pins(name="ocw-model")}

        async with ModelCache(config, origin, FilesLoader()) as a:
            await get(a, x.key)
            assert await pinned() == {x.key}
            assert await a.held(x.key) == {"tier1", "disk", "tier2"}
            # y pushes x out of tier 1, the disk and tier 2: x is unpinned, y pinned.
            await get(a, y.key)
            assert await a.held(x.key) == frozenset()

            async def x_released() -> bool:
                return await pinned() == {y.key}

            await _until(x_released, 10, "x unpinned")
            # A pin of ours that no tier holds (another daemon evicted it): the sweep.
            await provider.pin(x.key, name="ocw-model")
            assert await a.release_unheld() == [x.key]
            assert await pinned() == {y.key}
            # A model of someone else is never touched.
            await provider.pin(x.key, name="not-ours")
            assert await a.release_unheld() == []

            # The author's Kubo dies; the provider collects garbage.
            peers.author.kill()
            await provider.unpin(x.key)
            await asyncio.to_thread(peers.provider.cli, "repo", "gc")
            assert peers.provider.has_block(y.key) and not peers.provider.has_block(x.key)
            # Another daemon of the site, no tier 2: served from the provider's pins alone.
            plain = CountingOrigin(provider)
            other = cache_config(tmp_path, "other", None)
            async with ModelCache(other, plain, FilesLoader()) as o:
                entry = await get(o, y.key)
                assert entry.source == "origin" and entry.model.files == y.files

            # Deprecated: retired, unpinned though the tiers still hold it.
            await a.retire(y.key)
            assert y.key not in a and await pinned() == set()
            assert "tier2" in await a.held(y.key)
