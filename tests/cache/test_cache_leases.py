"""Leases: models in use are never evicted; waits for room are bounded; no self-deadlock.

Real Kubo origin (through ipfs_store), no Redis (tier 2 plays no part here).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cache import (
    CacheClosedError,
    CacheTimeout,
    CapacityError,
    LeaseDeadlockError,
    LeaseReleasedError,
    ModelCache,
    ModelKey,
)
from tests.cache.helpers import (
    CountingOrigin,
    FilesLoader,
    LoadedFiles,
    ModelFixture,
    cache_config,
    get,
)
from tests.waiting import until

pytestmark = pytest.mark.timeout(90)


@dataclass
class LoggingLoader(FilesLoader):
    """FilesLoader that also logs releases into a shared event list."""

    events: list[str] = field(default_factory=list)

    def release(self, model: LoadedFiles) -> None:
        super().release(model)
        self.events.append(f"released {model.key}")


async def test_requests_on_a_model_block_its_eviction_until_the_last_ends(
    tmp_path: Path, origin: CountingOrigin, models: list[ModelFixture]
) -> None:
    small, big = models[1], models[0]
    capacity = big.size + 1000  # big fits alone, never beside small
    assert small.size + big.size > capacity
    loader = LoggingLoader()
    config = cache_config(tmp_path, "a", None, tier1_capacity=capacity, policy="lru")
    async with ModelCache(config, origin, loader) as cache:
        finish = asyncio.Event()
        started: list[int] = []
        all_started = asyncio.Event()

        async def request(number: int) -> None:
            async with cache.use(small.key) as entry:
                started.append(number)
                if len(started) == 5:
                    all_started.set()
                await finish.wait()
                await asyncio.sleep(0.01 * number)  # they end one after another
                assert entry.model.files == small.files  # never released under us
                assert small.key not in loader.released
                loader.events.append(f"request {number} done")

        requests = [asyncio.create_task(request(n)) for n in range(5)]
        await all_started.wait()
        assert cache.leases(small.key) == 5
        assert loader.loads == [small.key]  # five concurrent requests, one load
        bigger = asyncio.create_task(get(cache, big.key))
        await until(lambda: cache.room_waiters == 1, 30, "the bigger load waiting for room")
        assert not bigger.done()  # it needs the room of the model in use
        assert small.key in cache and loader.released == []
        assert cache.tier1_bytes <= capacity
        finish.set()
        entry = await bigger
        await asyncio.gather(*requests)
        assert entry.model.files == big.files
        assert small.key not in cache and loader.released == [small.key]
        # The model was released only after the last request on it had ended.
        assert loader.events[:5] == [f"request {n} done" for n in range(5)]
        assert loader.events[5] == f"released {small.key}"
        assert cache.tier1_bytes == big.size <= capacity


async def test_a_load_waiting_for_room_times_out(
    tmp_path: Path, origin: CountingOrigin, models: list[ModelFixture]
) -> None:
    small, big = models[1], models[0]
    config = cache_config(tmp_path, "a", None, tier1_capacity=big.size + 1000, room_timeout=0.3)
    loader = FilesLoader()
    async with ModelCache(config, origin, loader) as cache:
        async with cache.use(small.key):

            async def other_request() -> float:
                started = time.monotonic()
                with pytest.raises(CacheTimeout) as info:
                    await cache.acquire(big.key)
                assert info.value.key == big.key and info.value.waiting_for == "tier-1 room"
                assert isinstance(info.value, TimeoutError)
                return time.monotonic() - started

            waited = await asyncio.create_task(other_request())  # another task: no deadlock
            assert 0.25 <= waited < 5
            assert small.key in cache and loader.released == []
            assert cache.tier1_bytes == small.size  # the failed load left no reservation
        # The lease ended: now the big model loads (evicting the small one).
        entry = await get(cache, big.key)
        assert entry.model.files == big.files and loader.released == [small.key]


async def test_waiting_on_its_own_lease_fails_fast_for_that_task_only(
    tmp_path: Path, origin: CountingOrigin, models: list[ModelFixture]
) -> None:
    small, big = models[1], models[0]
    config = cache_config(tmp_path, "a", None, tier1_capacity=big.size + 1000, room_timeout=30)
    async with ModelCache(config, origin, FilesLoader()) as cache:
        async with cache.use(small.key):
            other = asyncio.create_task(get(cache, big.key))  # not holding a lease
            started = time.monotonic()
            with pytest.raises(LeaseDeadlockError) as info:
                await cache.acquire(big.key)  # would wait for its own lease on small
            assert time.monotonic() - started < 5  # not the 30 s room timeout
            assert isinstance(info.value, CapacityError)
            assert (info.value.size, info.value.held) == (big.size, small.size)
            assert not other.done()
        entry = await other  # the other request was served once the lease ended
        assert entry.model.files == big.files
        assert cache.leases(big.key) == 0 and cache.leases(small.key) == 0


async def test_lease_lifecycle_and_close(
    tmp_path: Path, origin: CountingOrigin, models: list[ModelFixture]
) -> None:
    loader = FilesLoader(delay=0.3)
    cache: ModelCache[LoadedFiles] = ModelCache(cache_config(tmp_path, "a", None), origin, loader)
    async with cache:
        # A caller's own deadline gives up its wait, not the shared fill, and leaks no pin.
        patient = asyncio.create_task(cache.acquire(models[0].key))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await cache.acquire(models[0].key)
        lease = await patient
        assert cache.leases(models[0].key) == 1 and loader.loads == [models[0].key]
        async with lease as entry:
            assert entry.model.files == models[0].files
        assert lease.released and cache.leases(models[0].key) == 0
        with pytest.raises(LeaseReleasedError):
            _ = lease.model
        # Two leases on one model, then close: the model outlives close until its lease ends.
        held = await cache.acquire(models[1].key)
        again = await cache.acquire(models[1].key)
        assert again.entry.source == "tier1" and cache.leases(models[1].key) == 2
        await again.release()
        assert cache.leases(models[1].key) == 1
    assert loader.released == [models[0].key]  # models[1] is still leased
    assert held.model.files == models[1].files
    await held.release()
    assert loader.released == [models[0].key, models[1].key]
    assert cache.tier1_bytes == 0
    with pytest.raises(CacheClosedError):
        await cache.acquire(ModelKey(models[2].key))


async def test_a_waiter_cancelled_after_the_load_landed_leaks_no_pin(
    tmp_path: Path, origin: CountingOrigin, models: list[ModelFixture]
) -> None:
    """The load lands pinned once per waiter; a waiter cancelled before resuming unpins."""
    key = models[0].key
    async with ModelCache(cache_config(tmp_path, "a", None), origin, FilesLoader()) as cache:
        first = asyncio.create_task(cache.acquire(key))
        second = asyncio.create_task(cache.acquire(key))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # one loop turn at a time (the load is a thread)
            if key in cache:
                break
            await asyncio.sleep(0)
        # The model landed with both waiters' pins, before either waiter has resumed.
        assert cache.leases(key) == 2 and not first.done() and not second.done()
        first.cancel()
        lease = await second
        with pytest.raises(asyncio.CancelledError):
            await first
        assert cache.leases(key) == 1  # the cancelled waiter's pin was dropped
        await lease.release()
        assert cache.leases(key) == 0 and await cache.evict(key)
