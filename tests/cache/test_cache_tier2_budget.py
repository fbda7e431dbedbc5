"""Tier 2's own byte budget against a real redis-server: whole models evicted by policy."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from cache import GreedyDualPolicy, Keys, LRUPolicy, ModelCache, ModelKey, RedisTier, make_client
from tests.cache.helpers import (
    CountingOrigin,
    FilesLoader,
    ModelFixture,
    RedisServer,
    cache_config,
    files_of,
    get,
)

pytestmark = pytest.mark.timeout(90)


async def stored_models(client: aioredis.Redis) -> dict[str, int]:
    """Bytes of chunk data in Redis per model key (what tier 2 really holds)."""
    out: dict[str, int] = {}
    async for raw in client.scan_iter(match="mc:{*}:c:*"):
        name = raw.decode()
        cid = name[name.index("{") + 1 : name.index("}")]
        out[cid] = out.get(cid, 0) + await client.strlen(name)
    return out


async def test_budget_respected_and_evicted_model_refetched_from_origin(
    tmp_path: Path, redis_server: RedisServer, origin: CountingOrigin, models: list[ModelFixture]
) -> None:
    m0, m1, m2 = models
    budget = m0.size + m2.size + 100  # any two fit (these are the largest), not three
    assert m0.size + m1.size <= budget < m0.size + m1.size + m2.size
    settings = {"tier2_capacity": budget, "tier2_policy": "lru"}
    client = aioredis.Redis.from_url(redis_server.url)
    tier = RedisTier(
        make_client(redis_server.url, 1.0),
        cache_config(tmp_path, "t", redis_server.url, **settings),
    )
    try:
        loader = FilesLoader()
        config = cache_config(tmp_path, "a", redis_server.url, **settings)
        async with ModelCache(config, origin, loader) as a:
            for model in models:
                assert (await get(a, model.key)).source == "origin"
                stored = await stored_models(client)
                assert sum(stored.values()) <= budget
            assert a.metrics().tier2_evictions == 1
        stored = await stored_models(client)
        assert stored == {m1.key: m1.size, m2.key: m2.size}  # LRU: m0 went, whole
        assert await client.get(Keys("mc", m0.key).manifest) is None
        total, sizes = await tier.indexed()
        assert sizes == stored and total == m1.size + m2.size
        # Another daemon asks for the evicted model: transparently fetched from the origin
        # again, and published again (evicting the least recently used model, m1).
        async with ModelCache(
            cache_config(tmp_path, "b", redis_server.url, **settings), origin, loader
        ) as b:
            entry = await get(b, m0.key)
            assert entry.source == "origin" and entry.model.files == m0.files
            assert b.metrics().tier2_misses == 1 and b.metrics().tier2_evictions == 1
        assert origin.fetches.count(m0.key) == 2
        stored = await stored_models(client)
        assert stored == {m0.key: m0.size, m2.key: m2.size}
        assert (await tier.indexed())[0] == m0.size + m2.size <= budget
        # What stayed is served from tier 2.
        async with ModelCache(
            cache_config(tmp_path, "c", redis_server.url, **settings), origin, loader
        ) as c:
            entry = await get(c, m2.key)
            assert entry.source == "tier2"
            assert files_of(tmp_path / "disk-c" / "objects" / m2.key) == m2.files
        assert len(origin.fetches) == 4
        # A model bigger than the whole budget is served but never stored.
        small = cache_config(tmp_path, "d", redis_server.url, tier2_capacity=m2.size - 1)
        await client.flushall()
        async with ModelCache(small, origin, loader) as d:
            assert (await get(d, m2.key)).source == "origin"
            assert d.metrics().bytes_to_tier2 == 0
        assert await stored_models(client) == {}
    finally:
        await client.aclose()
        await tier.client.aclose()


def tier_for(url: str, tmp_path: Path, budget: int, policy: str) -> RedisTier:
    config = cache_config(
        tmp_path, "t", url, tier2_capacity=budget, tier2_policy=policy, chunk_size=1024
    )
    return RedisTier(make_client(url, 5.0), config)


async def test_budget_holds_with_daemons_racing(redis_server: RedisServer, tmp_path: Path) -> None:
    """Three clients (as three daemons) store 40 models at once: the index stays exact."""
    rng = random.Random(5)
    sources: list[tuple[ModelKey, Path, int]] = []
    for number in range(40):
        size = rng.randrange(2_000, 20_000)
        path = tmp_path / f"model-{number}.bin"
        path.write_bytes(rng.randbytes(size))
        sources.append((ModelKey(f"bafyrace{number}"), path, size))
    budget = 60_000
    tiers = [tier_for(redis_server.url, tmp_path, budget, "lfu-da") for _ in range(3)]
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        await asyncio.gather(
            *(tiers[n % 3].write(key, path) for n, (key, path, _) in enumerate(sources))
        )
        total, sizes = await tiers[0].indexed()
        by_key = {key: size for key, _, size in sources}
        assert total == sum(sizes.values()) <= budget  # atomic accounting: no lost updates
        assert all(by_key[k] == v for k, v in sizes.items())
        stored = await stored_models(client)
        assert sum(stored.values()) <= budget
        # Everything stored is indexed (and so will be evicted in time), and it is whole.
        assert set(stored) <= set(sizes)
        for key, size in stored.items():
            assert size == by_key[ModelKey(key)]
            assert await tiers[0].manifest(ModelKey(key)) is not None
        assert sum(t.evicted for t in tiers) >= len(sources) - len(sizes)
        # Dropping an entry (as on corruption) unindexes it.
        key = ModelKey(next(iter(stored)))
        manifest = await tiers[1].manifest(key)
        assert manifest is not None
        await tiers[1].drop(manifest)
        after, sizes_after = await tiers[0].indexed()
        assert key not in sizes_after and after == total - by_key[key]
        assert key not in await stored_models(client)
    finally:
        await client.aclose()
        for tier in tiers:
            await tier.client.aclose()


@pytest.mark.parametrize("policy", ["lru", "gdsf", "lfu-da"])
async def test_index_evicts_in_the_python_policys_order(
    redis_server: RedisServer, tmp_path: Path, policy: str
) -> None:
    """The index's script and cache._policy give the same victims on one random trace."""
    rng = random.Random(11)
    sizes = {ModelKey(f"bafyorder{n}"): rng.randrange(1_000, 100_000) for n in range(30)}
    budget = 250_000
    tier = tier_for(redis_server.url, tmp_path, budget, policy)
    python: LRUPolicy[ModelKey] | GreedyDualPolicy[ModelKey]
    if policy == "lru":
        python = LRUPolicy()
    elif policy == "gdsf":
        python = GreedyDualPolicy("gdsf", lambda size: 1.0)
    else:
        python = GreedyDualPolicy("lfu-da", float)
    held: dict[ModelKey, int] = {}
    expected: list[ModelKey] = []
    evicted: list[ModelKey] = []
    keys = list(sizes)
    try:
        for _ in range(400):
            key = keys[min(int(rng.paretovariate(1.0)) - 1, len(keys) - 1)]  # skewed
            if key in held:
                python.hit(key)
            else:
                while sum(held.values()) + sizes[key] > budget:
                    victim = python.victim()
                    python.remove(victim)
                    del held[victim]
                    expected.append(victim)
                python.insert(key, sizes[key])
                held[key] = sizes[key]
            admission = await tier.admit(key, sizes[key], hit=True)
            assert admission.stored
            evicted.extend(admission.evicted)
        assert evicted == expected and len(expected) > 10
        total, indexed = await tier.indexed()
        assert indexed == held and total == sum(held.values()) <= budget
    finally:
        await tier.client.aclose()
