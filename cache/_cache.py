"""``ModelCache``: tier 1 (loaded models), the local directory, tier 2 (Redis), the origin."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Generic, TypeVar

from ._demand import DemandEstimator, plan_preload
from ._disk import DiskStore, remove_tree, space_error, tree_size
from ._errors import (
    CacheClosedError,
    CacheError,
    ChunkCorruptError,
    ModelLoadError,
    ModelTooLargeError,
    TierUnavailableError,
)
from ._origin import ModelLoader, Origin
from ._policy import make_policy
from ._redis_tier import RedisTier, TierMiss, make_client
from ._types import CacheConfig, CacheMetrics, Eviction, ModelKey

log = logging.getLogger("cache")
M = TypeVar("M")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CachedModel(Generic[M]):
    """A loaded model held by tier 1, its tier-1 size, and where its files came from."""

    key: ModelKey
    model: M
    size: int
    loaded_at: float
    source: str  # "tier1" on a hit, else "disk", "tier2" or "origin" for the fill


class ModelCache(Generic[M]):
    """Two-tier model cache with single-flight fills.

    ``async with ModelCache(config, origin, loader) as cache: entry = await cache.get(cid)``.
    """

    def __init__(self, config: CacheConfig, origin: Origin, loader: ModelLoader[M]) -> None:
        self.config = config
        self.origin = origin
        self.loader = loader
        self._disk = DiskStore(config.disk_dir, config.disk_capacity)
        self._policy = make_policy(config.policy)
        self._tier1: dict[ModelKey, CachedModel[M]] = {}
        self._tier1_bytes = 0
        self._reserved = 0
        self._pins: dict[ModelKey, int] = {}
        self._space = asyncio.Condition()
        self._loads = asyncio.Semaphore(config.max_concurrent_loads)
        self._inflight: dict[ModelKey, asyncio.Task[CachedModel[M]]] = {}
        self._local_inflight: dict[ModelKey, asyncio.Task[tuple[Path, str]]] = {}
        self._tier2: RedisTier | None = None
        if config.redis_url is not None:
            self._tier2 = RedisTier(make_client(config.redis_url, config.redis_timeout), config)
        self._redis_down_until = 0.0
        self._closed = False
        self._m = CacheMetrics()
        # Feed it recent on-chain requests: ``cache.demand.observe(cid, unix_time)``.
        self.demand: DemandEstimator[ModelKey] = DemandEstimator(config.demand_half_life)
        self._evictions: deque[Eviction] = deque(maxlen=1024)

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> ModelCache[M]:
        await asyncio.to_thread(self._disk.clean_tmp)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Cancel fills, release every loaded model, close Redis. Idempotent."""
        if self._closed:
            return
        self._closed = True
        tasks = [*self._inflight.values(), *self._local_inflight.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        entries = list(self._tier1.values())
        self._tier1.clear()
        self._tier1_bytes = 0
        for entry in entries:
            self._policy.remove(entry.key)
            await asyncio.to_thread(self.loader.release, entry.model)
        if self._tier2 is not None:
            await self._tier2.client.aclose()

    def _check_open(self) -> None:
        if self._closed:
            raise CacheClosedError("the cache is closed")

    # -- metrics ----------------------------------------------------------------------------

    def _count(self, **deltas: float) -> None:
        values = {name: getattr(self._m, name) + delta for name, delta in deltas.items()}
        self._m = replace(self._m, **values)

    def metrics(self) -> CacheMetrics:
        return replace(self._m, tier1_bytes=self._tier1_bytes, evictions=tuple(self._evictions))

    # -- tier 1 -----------------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        return key in self._tier1

    @property
    def tier1_bytes(self) -> int:
        return self._tier1_bytes

    async def get(self, key: ModelKey | str) -> CachedModel[M]:
        """The loaded model for ``key``, filling every tier on the way if needed.

        Concurrent calls for the same missing key share one fill; a cancelled caller does
        not cancel the fill others wait on.
        """
        self._check_open()
        key = ModelKey(str(key))
        entry = self._tier1.get(key)
        if entry is not None:
            self._policy.hit(key)
            self._count(tier1_hits=1)
            return replace(entry, source="tier1")
        task = self._inflight.get(key)
        if task is None:
            self._count(tier1_misses=1)
            task = asyncio.create_task(self._fill(key), name=f"cache-fill-{key}")
            self._inflight[key] = task
            task.add_done_callback(lambda _t, k=key: self._inflight.pop(k, None))  # type: ignore[misc]
        return await asyncio.shield(task)

    async def _fill(self, key: ModelKey) -> CachedModel[M]:
        path, source = await self._local(key)
        try:
            size = await asyncio.to_thread(self.loader.measure, path)
        except CacheError:
            raise
        except Exception as exc:
            raise ModelLoadError(f"cannot measure {key}: {exc}") from exc
        await self._reserve(key, size)
        try:
            async with self._loads:
                started = time.perf_counter()
                try:
                    model = await asyncio.to_thread(self.loader.load, path, key)
                except Exception as exc:
                    raise ModelLoadError(f"cannot load {key}: {exc}") from exc
                self._count(loads=1, load_seconds=time.perf_counter() - started)
            entry = CachedModel(key, model, size, time.monotonic(), source)
            async with self._space:
                self._tier1[key] = entry
                self._tier1_bytes += size
                self._policy.insert(key, size)
        finally:
            async with self._space:
                self._reserved -= size
                self._space.notify_all()
        return entry

    async def _reserve(self, key: ModelKey, size: int) -> None:
        """Evict until ``size`` more bytes fit beside what is held and being loaded."""
        capacity = self.config.tier1_capacity
        if size > capacity:
            raise ModelTooLargeError(key, size, capacity)
        async with self._space:
            while self._tier1_bytes + self._reserved + size > capacity:
                if len(self._tier1) > len(self._pins):
                    await self._evict_one()
                else:
                    # Loads in flight or models in use hold the room: wait for one to end.
                    await self._space.wait()
            self._reserved += size

    async def _evict_one(self) -> None:
        victim = ModelKey(str(self._policy.victim(exclude=self._pins)))
        self._policy.remove(victim)
        entry = self._tier1.pop(victim)
        self._tier1_bytes -= entry.size
        age = time.monotonic() - entry.loaded_at
        self._evictions.append(Eviction("tier1", victim, entry.size, age))
        log.info("tier 1 evicts %s (%d bytes, cached %.1f s)", victim, entry.size, age)
        await asyncio.to_thread(self.loader.release, entry.model)

    @contextlib.asynccontextmanager
    async def use(self, key: ModelKey | str) -> AsyncIterator[CachedModel[M]]:
        """``get`` plus a lease: the model is not evicted (or released) until the block ends.

        A load that needs the room of models in use waits for their leases to end.
        """
        key = ModelKey(str(key))
        while True:
            entry = await self.get(key)
            held = self._tier1.get(key)
            if held is not None and held.model is entry.model:
                break  # still held: pin it before anything else can run
        self._pins[key] = self._pins.get(key, 0) + 1
        try:
            yield entry
        finally:
            count = self._pins.pop(key) - 1
            if count:
                self._pins[key] = count
            async with self._space:
                self._space.notify_all()

    async def evict(self, key: ModelKey | str) -> bool:
        """Drop ``key`` from tier 1 (its files stay on disk and in Redis); not while in use."""
        key = ModelKey(str(key))
        async with self._space:
            if key in self._pins:
                return False
            entry = self._tier1.pop(key, None)
            if entry is None:
                return False
            self._policy.remove(key)
            self._tier1_bytes -= entry.size
            self._space.notify_all()
        await asyncio.to_thread(self.loader.release, entry.model)
        return True

    # -- the local directory, tier 2 and the origin -----------------------------------------

    async def fetch_local(self, key: ModelKey | str) -> Path:
        """The model's files in the local directory, filled from tier 2 or the origin."""
        self._check_open()
        path, _ = await self._local(ModelKey(str(key)))
        return path

    async def _local(self, key: ModelKey) -> tuple[Path, str]:
        task = self._local_inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._fill_local(key), name=f"cache-local-{key}")
            self._local_inflight[key] = task
            task.add_done_callback(lambda _t, k=key: self._local_inflight.pop(k, None))  # type: ignore[misc]
        return await asyncio.shield(task)

    @contextlib.asynccontextmanager
    async def _disk_lock(self, key: ModelKey) -> AsyncIterator[None]:
        """The cross-process file lock on one disk entry, polled (never blocks a thread)."""
        while True:
            fd = await asyncio.to_thread(self._disk.try_lock, key)
            if fd is not None:
                break
            await asyncio.sleep(0.02)  # another process holds it (a file lock has no event)
        try:
            yield
        finally:
            await asyncio.to_thread(self._disk.unlock, fd)

    async def _fill_local(self, key: ModelKey) -> tuple[Path, str]:
        path = await asyncio.to_thread(self._disk.lookup, key)
        if path is not None:
            self._count(disk_hits=1)
            return path, "disk"
        async with self._disk_lock(key):
            path = await asyncio.to_thread(self._disk.lookup, key)
            if path is not None:  # another process filled it while we waited
                self._count(disk_hits=1)
                return path, "disk"
            self._count(disk_misses=1)
            return await self._fill_from_tiers(key)

    def _tier2_usable(self) -> RedisTier | None:
        if self._tier2 is None or time.monotonic() < self._redis_down_until:
            return None
        return self._tier2

    def _tier2_failed(self, exc: TierUnavailableError) -> None:
        self._redis_down_until = time.monotonic() + self.config.redis_retry_after
        self._count(tier2_bypassed=1)
        log.warning("tier 2 bypassed for %.0f s: %s", self.config.redis_retry_after, exc)

    async def _fill_from_tiers(self, key: ModelKey) -> tuple[Path, str]:
        tier2 = self._tier2_usable()
        token = secrets.token_hex(8)
        locked = False
        if tier2 is not None:
            try:
                path = await self._from_tier2(tier2, key)
                if path is not None:
                    return path, "tier2"
                self._count(tier2_misses=1)
                locked = await tier2.try_lock(key, token)
                if not locked:
                    path = await self._wait_for_fill(tier2, key)
                    if path is not None:
                        return path, "tier2"
                    locked = await tier2.try_lock(key, token)
            except TierUnavailableError as exc:
                self._tier2_failed(exc)
                tier2 = None
        keeper: asyncio.Task[None] | None = None
        if locked and tier2 is not None:
            keeper = asyncio.create_task(self._keep_lock(tier2, key, token))
        try:
            path = await self._from_origin(key)
            if tier2 is not None and self._tier2_usable() is not None:
                try:
                    written = await tier2.write(key, path)
                    self._count(bytes_to_tier2=written)
                except TierUnavailableError as exc:
                    self._tier2_failed(exc)
            return path, "origin"
        finally:
            if keeper is not None:
                keeper.cancel()
                await asyncio.gather(keeper, return_exceptions=True)
            if locked and tier2 is not None:
                with contextlib.suppress(TierUnavailableError):
                    await tier2.unlock(key, token)

    async def _keep_lock(self, tier2: RedisTier, key: ModelKey, token: str) -> None:
        """Extend the fill lock while a long origin fetch runs (a crash lets it expire)."""
        while True:
            await asyncio.sleep(self.config.fill_lock_ttl / 3)
            try:
                if not await tier2.extend_lock(key, token):
                    return
            except TierUnavailableError:
                return

    async def _from_tier2(self, tier2: RedisTier, key: ModelKey) -> Path | None:
        manifest = await tier2.manifest(key)
        if manifest is None:
            return None
        await self._reserve_disk(key, manifest.total_size)
        staging = await asyncio.to_thread(self._disk.staging)
        dest = staging / "model"
        try:
            written = await tier2.read(manifest, dest)
        except (TierMiss, ChunkCorruptError) as exc:
            await asyncio.to_thread(remove_tree, staging)
            if isinstance(exc, ChunkCorruptError):
                self._count(corrupt_chunks=1)
                log.warning("tier 2 entry of %s is corrupt, dropping it: %s", key, exc)
            await tier2.drop(manifest)
            return None
        except OSError as exc:
            await asyncio.to_thread(remove_tree, staging)
            error = space_error(self.config.disk_dir, manifest.total_size, exc)
            if error is not None:
                raise error from exc
            raise
        except BaseException:
            await asyncio.to_thread(remove_tree, staging)
            raise
        path = await asyncio.to_thread(self._commit, key, dest, staging)
        self._count(tier2_hits=1, bytes_from_tier2=written)
        return path

    def _commit(self, key: ModelKey, dest: Path, staging: Path) -> Path:
        try:
            return self._disk.commit(key, dest)
        finally:
            remove_tree(staging)

    async def _wait_for_fill(self, tier2: RedisTier, key: ModelKey) -> Path | None:
        """Another daemon holds the fill lock: wait for its entry, or for the lock to go."""
        deadline = time.monotonic() + self.config.fill_wait
        while time.monotonic() < deadline:
            await asyncio.sleep(self.config.fill_poll)
            path = await self._from_tier2(tier2, key)
            if path is not None:
                return path
            if not await tier2.locked(key):
                return await self._from_tier2(tier2, key)
        return None

    async def _reserve_disk(self, key: ModelKey, size: int) -> None:
        evicted = await asyncio.to_thread(self._disk.reserve, size, key)
        self._evictions.extend(evicted)

    async def _from_origin(self, key: ModelKey) -> Path:
        staging = await asyncio.to_thread(self._disk.staging)
        dest = staging / "model"
        self._count(origin_fetches=1)
        try:
            size = await self.origin.fetch(key, dest)
            # The size is known only now: make room for it (or fail naming the directory).
            await self._reserve_disk(key, await asyncio.to_thread(tree_size, dest))
        except OSError as exc:
            await asyncio.to_thread(remove_tree, staging)
            error = space_error(self.config.disk_dir, 0, exc)
            if error is not None:
                raise error from exc
            raise
        except BaseException:
            await asyncio.to_thread(remove_tree, staging)
            raise
        self._count(bytes_from_origin=size)
        return await asyncio.to_thread(self._commit, key, dest, staging)

    # -- preloading -------------------------------------------------------------------------

    async def preload(
        self,
        demand: Mapping[ModelKey, float] | None,
        sizes: Mapping[ModelKey, int],
        *,
        warm_up: bool = True,
    ) -> list[ModelKey]:
        """Load the most demanded models that fit tier 1 beside what it holds; warm them up.

        ``demand`` of ``None`` uses ``self.demand`` now. ``sizes`` are tier-1 sizes (for
        example from a previous ``measure``); models without one are skipped. Returns the
        keys loaded.
        """
        self._check_open()
        if demand is None:
            demand = self.demand.snapshot(time.time())
        plan = plan_preload(
            demand, sizes, self.config.tier1_capacity - self._tier1_bytes, already=()
        )
        loaded: list[ModelKey] = []
        for key in plan:
            if key in self._tier1:
                continue
            entry = await self.get(key)
            if warm_up:
                await asyncio.to_thread(self.loader.warm_up, entry.model)
            loaded.append(key)
        return loaded

    async def prefetch(self, keys: Iterable[ModelKey | str]) -> list[Path]:
        """Bring models' files to the local directory (and tier 2) without loading them."""
        return [await self.fetch_local(key) for key in keys]

    async def model_updated(self, old: ModelKey | str, new: ModelKey | str) -> None:
        """A ``ModelUpdated`` event: fetch the new version; the old one ages out.

        If the old version is loaded, the new one is loaded too (it will take its traffic);
        otherwise only its files are prefetched.
        """
        if ModelKey(str(old)) in self._tier1:
            await self.get(new)
        else:
            await self.fetch_local(new)
