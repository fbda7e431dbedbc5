"""ModelCache against a real redis-server and a real Kubo (through ipfs_store)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from cache import (
    CacheClosedError,
    InsufficientSpaceError,
    Keys,
    Manifest,
    ModelCache,
    ModelKey,
    ModelTooLargeError,
    RedisTier,
    make_client,
)
from ipfs_store import IpfsStore
from tests.cache.helpers import (
    CountingOrigin,
    FilesLoader,
    ModelFixture,
    RedisServer,
    SlowOrigin,
    cache_config,
    files_of,
    get,
    run_daemons,
)
from tests.ipfs_store.conftest import KuboDaemon
from tests.waiting import until

pytestmark = pytest.mark.timeout(90)


async def test_tier_round_trips(
    tmp_path: Path, redis_server: RedisServer, origin: CountingOrigin, models: list[ModelFixture]
) -> None:
    model = models[0]
    loader = FilesLoader()
    # 1. Cold: the origin fills the disk, tier 2 and tier 1.
    async with ModelCache(cache_config(tmp_path, "a", redis_server.url), origin, loader) as a:
        entry = await get(a, model.key)
        assert entry.source == "origin"
        assert entry.model.files == model.files
        assert entry.size == model.size
        again = await get(a, model.key)
        assert again.source == "tier1" and again.model is entry.model
        m = a.metrics()
        assert (m.tier1_hits, m.tier1_misses, m.origin_fetches, m.loads) == (1, 1, 1, 1)
        assert m.bytes_from_origin == model.size and m.bytes_to_tier2 == model.size
    assert loader.released == [model.key]  # close releases tier 1
    # 2. Another daemon (fresh disk, same Redis): tier 2 serves it, verified.
    async with ModelCache(cache_config(tmp_path, "b", redis_server.url), origin, loader) as b:
        entry = await get(b, model.key)
        assert entry.source == "tier2"
        assert entry.model.files == model.files
        m = b.metrics()
        assert m.tier2_hits == 1 and m.bytes_from_tier2 == model.size and m.origin_fetches == 0
    # 3. Same disk, no Redis: the local directory serves it.
    async with ModelCache(cache_config(tmp_path, "a", None), origin, loader) as c:
        entry = await get(c, model.key)
        assert entry.source == "disk" and entry.model.files == model.files
        assert c.metrics().disk_hits == 1
    assert len(origin.fetches) == 1
    # The tier-2 layout: one manifest and hash-tagged chunk keys.
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        keys = sorted(k.decode() for k in await client.keys("*"))
        manifest = Manifest.decode(await client.get(Keys("mc", model.key).manifest))
    finally:
        await client.aclose()
    assert all(f"{{{model.key}}}" in k for k in keys)
    assert len(keys) == 1 + len(manifest.hashes)  # the fill lock and staging keys are gone
    assert manifest.total_size == model.size
    with pytest.raises(CacheClosedError):
        await get(c, model.key)
    await c.close()  # idempotent


async def test_100_concurrent_gets_one_origin_fetch(
    tmp_path: Path, redis_server: RedisServer, origin: CountingOrigin, models: list[ModelFixture]
) -> None:
    loader = FilesLoader(delay=0.05)
    async with ModelCache(cache_config(tmp_path, "a", redis_server.url), origin, loader) as cache:
        entries = await asyncio.gather(*(get(cache, models[0].key) for _ in range(100)))
        assert len(origin.fetches) == 1
        assert loader.loads == [models[0].key]
        assert all(e.model is entries[0].model for e in entries)
        assert cache.metrics().tier1_misses == 1


async def test_cancelled_waiter_does_not_cancel_the_fill(
    tmp_path: Path, store: IpfsStore, models: list[ModelFixture]
) -> None:
    gate = asyncio.Event()
    origin = SlowOrigin(store, gate=gate)  # the fill stays in flight until the gate opens
    async with ModelCache(cache_config(tmp_path, "a", None), origin, FilesLoader()) as cache:
        first = asyncio.create_task(get(cache, models[0].key))
        second = asyncio.create_task(get(cache, models[0].key))
        await asyncio.wait_for(origin.started.wait(), 30)  # both are waiting on the one fill
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        gate.set()
        entry = await second
        assert entry.model.files == models[0].files
        assert len(origin.fetches) == 1


def test_two_processes_sharing_redis_one_origin_fetch(
    tmp_path: Path, redis_server: RedisServer, kubo: KuboDaemon, models: list[ModelFixture]
) -> None:
    outputs = run_daemons(
        tmp_path, kubo.api_url, None, redis_server.url, [models[0].key], ["0", "1"], timeout=60
    )
    sources = sorted(o[0] for o in outputs)
    assert sources == ["origin", "tier2"], outputs
    assert sum(int(o[1]) for o in outputs) == 1
    for i in range(2):
        assert files_of(tmp_path / f"disk-{i}" / "objects" / models[0].key) == models[0].files


async def test_redis_killed_mid_test_requests_still_served(
    tmp_path: Path,
    redis_server: RedisServer,
    origin: CountingOrigin,
    models: list[ModelFixture],
    caplog: pytest.LogCaptureFixture,
) -> None:
    loader = FilesLoader()
    config = cache_config(tmp_path, "a", redis_server.url, redis_retry_after=60.0)
    async with ModelCache(config, origin, loader) as cache:
        assert (await get(cache, models[0].key)).source == "origin"
        redis_server.kill()
        with caplog.at_level("WARNING", logger="cache"):
            entry = await get(cache, models[1].key)
        assert entry.source == "origin" and entry.model.files == models[1].files
        m = cache.metrics()
        assert m.tier2_bypassed == 1
        assert any("tier 2 bypassed" in r.message for r in caplog.records)
        # While Redis is marked down, tier 2 is skipped without another timeout.
        started = time.monotonic()
        assert (await get(cache, models[2].key)).source == "origin"
        assert time.monotonic() - started < config.redis_timeout
        assert cache.metrics().tier2_bypassed == 1
    # A daemon that starts with Redis already dead is served too.
    async with ModelCache(cache_config(tmp_path, "b", redis_server.url), origin, loader) as b:
        entry = await get(b, models[0].key)
        assert entry.source == "origin" and entry.model.files == models[0].files
        assert b.metrics().tier2_bypassed == 1


async def test_stalled_redis_is_bypassed(
    tmp_path: Path, origin: CountingOrigin, models: list[ModelFixture]
) -> None:
    """A Redis that accepts connections and never answers (fault proxy) costs one timeout."""

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)
        writer.close()

    server = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        config = cache_config(tmp_path, "a", f"redis://127.0.0.1:{port}/0", redis_timeout=0.3)
        async with ModelCache(config, origin, FilesLoader()) as cache:
            started = time.monotonic()
            entry = await get(cache, models[0].key)
            assert time.monotonic() - started < 5
            assert entry.source == "origin" and entry.model.files == models[0].files
            assert cache.metrics().tier2_bypassed == 1
    finally:
        server.close()


async def test_corrupted_chunk_detected_and_refetched(
    tmp_path: Path, redis_server: RedisServer, origin: CountingOrigin, models: list[ModelFixture]
) -> None:
    model = models[0]
    loader = FilesLoader()
    async with ModelCache(cache_config(tmp_path, "a", redis_server.url), origin, loader) as a:
        await get(a, model.key)
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        keys = Keys("mc", model.key)
        manifest = Manifest.decode(await client.get(keys.manifest))
        victim = keys.chunk(len(manifest.hashes) // 2)
        original = await client.get(victim)
        # Fault injection: flip one byte of one chunk inside Redis.
        await client.setrange(victim, 100, bytes([original[100] ^ 0xFF]))
        async with ModelCache(cache_config(tmp_path, "b", redis_server.url), origin, loader) as b:
            entry = await get(b, model.key)
            assert entry.model.files == model.files  # never the corrupt bytes
            assert entry.source == "origin"
            m = b.metrics()
            assert m.corrupt_chunks == 1 and m.origin_fetches == 1 and m.tier2_hits == 0
        assert len(origin.fetches) == 2
        assert await client.get(victim) == original  # refilled with good data
        async with ModelCache(cache_config(tmp_path, "c", redis_server.url), origin, loader) as c:
            assert (await get(c, model.key)).source == "tier2"
    finally:
        await client.aclose()


async def test_tier1_capacity_respected_in_bytes(
    tmp_path: Path, origin: CountingOrigin, models: list[ModelFixture]
) -> None:
    sizes = [m.size for m in models]
    capacity = sizes[0] + sizes[2] + 1000  # any two fit (these are the largest), not three
    loader = FilesLoader()
    config = cache_config(tmp_path, "a", None, tier1_capacity=capacity, policy="lru")
    async with ModelCache(config, origin, loader) as cache:
        for model in [*models, models[0], models[1]]:
            await get(cache, model.key)
            assert cache.tier1_bytes <= capacity
        held = [m for m in models if m.key in cache]
        assert len(held) == 2
        assert cache.tier1_bytes == cache.metrics().tier1_bytes == sum(m.size for m in held)
        m = cache.metrics()
        assert len(m.evictions) == len(loader.released) >= 2
        assert all(e.tier == "tier1" and e.age_s >= 0 for e in m.evictions)
        assert m.evictions[0].key == models[0].key  # LRU: the oldest went first
        assert m.evictions[0].size == sizes[0]
        # Concurrent loads reserve their bytes: still never over capacity.
        await cache.evict(models[0].key)
        await cache.evict(models[1].key)
        await cache.evict(models[2].key)
        await asyncio.gather(*(get(cache, m.key) for m in models))
        assert cache.tier1_bytes <= capacity
    tiny = cache_config(tmp_path, "b", None, tier1_capacity=sizes[1] - 1)
    async with ModelCache(tiny, origin, FilesLoader()) as cache:
        with pytest.raises(ModelTooLargeError) as info:
            await get(cache, models[1].key)
        assert info.value.size == sizes[1]


async def test_full_disk_names_directory_and_size(
    tmp_path: Path, origin: CountingOrigin, models: list[ModelFixture]
) -> None:
    config = cache_config(tmp_path, "a", None, disk_capacity=models[0].size - 1)
    async with ModelCache(config, origin, FilesLoader()) as cache:
        with pytest.raises(InsufficientSpaceError) as info:
            await get(cache, models[0].key)
    assert info.value.directory == config.disk_dir
    assert info.value.requested == models[0].size
    assert str(config.disk_dir) in str(info.value) and str(models[0].size) in str(info.value)
    assert list((config.disk_dir / "objects").iterdir()) == []
    assert list((config.disk_dir / "tmp").iterdir()) == []


async def test_disk_evicts_least_recently_used(
    tmp_path: Path, origin: CountingOrigin, models: list[ModelFixture]
) -> None:
    capacity = models[0].size + models[1].size + 100
    config = cache_config(tmp_path, "a", None, disk_capacity=capacity)
    async with ModelCache(config, origin, FilesLoader()) as cache:
        paths = await cache.prefetch([m.key for m in models])
        assert not paths[0].exists() and paths[1].exists() and paths[2].exists()
        disk = [e for e in cache.metrics().evictions if e.tier == "disk"]
        assert [e.key for e in disk] == [models[0].key]


async def test_preload_and_model_updated(
    tmp_path: Path, redis_server: RedisServer, origin: CountingOrigin, models: list[ModelFixture]
) -> None:
    sizes = {m.key: m.size for m in models}
    capacity = models[0].size + models[2].size + 10
    loader = FilesLoader()
    config = cache_config(tmp_path, "a", redis_server.url, tier1_capacity=capacity)
    async with ModelCache(config, origin, loader) as cache:
        demand = {models[0].key: 5.0, models[1].key: 1.0, models[2].key: 3.0}
        loaded = await cache.preload(demand, sizes)
        assert loaded == [models[0].key, models[2].key]
        assert loader.warmed == loaded
        assert models[1].key not in cache
        # An update of a loaded model loads the new version; the old stays until it ages out.
        await cache.model_updated(models[0].key, models[1].key)
        assert models[1].key in cache
        # An update of a model that is not loaded only prefetches files.
        other = ModelKey("bafkqaaa")  # the identity CID of empty content, never loaded
        before = len(loader.loads)
        await cache.model_updated(other, models[2].key)
        assert len(loader.loads) == before
    # Preloading from the cache's own estimator, fed with (on-chain) request times.
    config_b = cache_config(tmp_path, "b", redis_server.url, tier1_capacity=capacity)
    async with ModelCache(config_b, origin, FilesLoader()) as cache:
        now = time.time()
        for key, count in ((models[1].key, 4), (models[2].key, 2), (models[0].key, 1)):
            for _ in range(count):
                cache.demand.observe(key, now)
        assert await cache.preload(None, sizes) == [models[1].key, models[2].key]


async def test_models_in_use_are_not_evicted(
    tmp_path: Path, origin: CountingOrigin, models: list[ModelFixture]
) -> None:
    capacity = models[0].size + models[2].size + 1000  # any two fit, not three
    loader = FilesLoader()
    config = cache_config(tmp_path, "a", None, tier1_capacity=capacity, policy="lru")
    async with ModelCache(config, origin, loader) as cache:
        lease = await cache.acquire(models[0].key)
        await get(cache, models[1].key)
        await get(cache, models[2].key)  # LRU would pick models[0]: it is leased
        assert models[0].key in cache and models[1].key not in cache
        assert cache.leases(models[0].key) == 1
        assert not await cache.evict(models[0].key)
        assert models[0].key not in loader.released
        async with cache.use(models[2].key):
            # Both held models are leased: a third load waits for a lease to end.
            waiting = asyncio.create_task(get(cache, models[1].key))
            await until(lambda: cache.room_waiters == 1, 30, "the third load waiting for room")
            assert not waiting.done() and cache.tier1_bytes <= capacity
            assert models[0].key in cache and models[2].key in cache  # neither was evicted
        entry = await waiting  # the lease on models[2] ended: it was evicted
        assert entry.model.files == models[1].files
        assert models[2].key not in cache
        assert lease.model.files == models[0].files
        await lease.release()
        await lease.release()  # idempotent
        assert lease.released and cache.leases(models[0].key) == 0
        assert cache.tier1_bytes <= capacity
        assert await cache.evict(models[0].key)


async def test_fill_lock_outlives_its_ttl_while_filling(
    tmp_path: Path, redis_server: RedisServer, store: IpfsStore, models: list[ModelFixture]
) -> None:
    """A fill slower than the lock's TTL keeps the lock: the other daemon still waits."""
    origin = SlowOrigin(store, delay=1.0)
    overrides = {"fill_lock_ttl": 0.3, "fill_poll": 0.02}
    config_a = cache_config(tmp_path, "a", redis_server.url, **overrides)
    config_b = cache_config(tmp_path, "b", redis_server.url, **overrides)
    async with (
        ModelCache(config_a, origin, FilesLoader()) as a,
        ModelCache(config_b, origin, FilesLoader()) as b,
    ):
        first = asyncio.create_task(get(a, models[0].key))
        await asyncio.wait_for(origin.started.wait(), 30)  # a holds the fill lock and is fetching
        second = await get(b, models[0].key)
        assert (await first).source == "origin"
        assert second.source == "tier2" and second.model.files == models[0].files
    assert len(origin.fetches) == 1


async def test_lock_primitives(redis_server: RedisServer, tmp_path: Path) -> None:
    config = cache_config(tmp_path, "a", redis_server.url, fill_lock_ttl=5.0)
    tier = RedisTier(make_client(redis_server.url, 1.0), config)
    key = ModelKey("bafylock")
    try:
        assert await tier.try_lock(key, "t1")
        assert not await tier.try_lock(key, "t2")
        assert await tier.extend_lock(key, "t1")
        assert not await tier.extend_lock(key, "t2")
        await tier.unlock(key, "t2")  # not the holder: no effect
        assert await tier.locked(key)
        await tier.unlock(key, "t1")
        assert not await tier.locked(key)
    finally:
        await tier.client.aclose()


async def test_redis_killed_during_a_fill(
    tmp_path: Path, redis_server: RedisServer, store: IpfsStore, models: list[ModelFixture]
) -> None:
    """Redis dies while the origin fetch runs: the request is still served, once."""
    gate = asyncio.Event()
    origin = SlowOrigin(store, gate=gate)
    config = cache_config(tmp_path, "a", redis_server.url)
    async with ModelCache(config, origin, FilesLoader()) as cache:
        pending = asyncio.create_task(get(cache, models[0].key))
        await asyncio.wait_for(origin.started.wait(), 30)  # the fill lock is taken, fetching
        redis_server.kill()
        gate.set()
        entry = await pending
        assert entry.source == "origin" and entry.model.files == models[0].files
        m = cache.metrics()
        assert m.origin_fetches == 1 and m.bytes_to_tier2 == 0 and m.tier2_bypassed == 1
