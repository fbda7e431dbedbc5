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

from lifecycle import AsyncResource

from ._demand import DemandEstimator, plan_preload
from ._disk import DiskStore, remove_tree, space_error, tree_size
from ._errors import (
    CacheClosedError,
    CacheError,
    CacheLoadError,
    CacheTimeout,
    ChunkCorruptError,
    LeaseDeadlockError,
    LeaseReleasedError,
    ModelTooLargeError,
    TierUnavailableError,
)
from ._origin import ModelLoader, Origin, PinningOrigin
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


class Lease(Generic[M]):
    """A pin on one loaded model: while it is held, tier 1 never evicts or releases the model.

    From ``await cache.acquire(key)``. ``await lease.release()`` ends it (idempotent), as
    does leaving ``async with lease as entry:``. After release, ``entry`` and ``model`` raise
    ``LeaseReleasedError`` and the lease drops its reference to the model. A lease belongs
    to the asyncio task that acquired it (that is how self-deadlocks are detected).
    """

    __slots__ = ("_cache", "_entry", "_key", "_owner")

    def __init__(
        self, cache: ModelCache[M], entry: CachedModel[M], owner: asyncio.Task[object] | None
    ) -> None:
        self._cache = cache
        self._entry: CachedModel[M] | None = entry
        self._key = entry.key
        self._owner = owner

    @property
    def key(self) -> ModelKey:
        return self._key

    @property
    def released(self) -> bool:
        return self._entry is None

    @property
    def entry(self) -> CachedModel[M]:
        if self._entry is None:
            raise LeaseReleasedError(f"the lease on {self._key} was released")
        return self._entry

    @property
    def model(self) -> M:
        return self.entry.model

    async def release(self) -> None:
        """End the lease; the model becomes evictable again. Idempotent."""
        if self._entry is None:
            return
        self._entry = None
        await self._cache._end_lease(self._key, self._owner)

    async def __aenter__(self) -> CachedModel[M]:
        return self.entry

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.release()


class _Fill(Generic[M]):
    """One in-flight tier-1 fill, shared by every request for its key."""

    __slots__ = ("granted", "size", "sized", "task", "waiters")

    def __init__(self) -> None:
        self.task: asyncio.Task[CachedModel[M]] | None = None
        self.size: int | None = None  # the tier-1 size, once measured
        self.sized = asyncio.Event()
        self.waiters = 0  # requests awaiting the fill; each gets a pin when it lands
        self.granted = False  # the model is in tier 1 with the waiters' pins


class ModelCache(AsyncResource, Generic[M]):
    """Two-tier model cache with single-flight fills.

    ``async with ModelCache(config, origin, loader) as cache:`` then
    ``async with cache.use(cid) as entry: run(entry.model)``. Models are only handed out
    under a lease, so one is never evicted while a request runs on it. Used after
    ``close()`` (idempotent), it raises ``CacheClosedError``.
    """

    closed_error = CacheClosedError

    def __init__(self, config: CacheConfig, origin: Origin, loader: ModelLoader[M]) -> None:
        super().__init__()
        self.config = config
        self.origin = origin
        self.loader = loader
        self._disk = DiskStore(config.disk_dir, config.disk_capacity)
        self._policy = make_policy(config.policy)
        self._tier1: dict[ModelKey, CachedModel[M]] = {}
        self._tier1_bytes = 0
        self._reserved = 0
        self._pins: dict[ModelKey, int] = {}
        # Leases per owning task, to tell a waiter that would wait for its own lease.
        self._owned: dict[asyncio.Task[object] | None, dict[ModelKey, int]] = {}
        # Set (and replaced) whenever tier-1 room may have been freed.
        self._room = asyncio.Event()
        self._room_waiters = 0
        self._loads = asyncio.Semaphore(config.max_concurrent_loads)
        self._fills: dict[ModelKey, _Fill[M]] = {}
        self._local_inflight: dict[ModelKey, asyncio.Task[tuple[Path, str]]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._tier2: RedisTier | None = None
        if config.redis_url is not None:
            self._tier2 = RedisTier(make_client(config.redis_url, config.redis_timeout), config)
            self._tier2.on_evicted = self._left_a_tier
        self._redis_down_until = 0.0
        self._m = CacheMetrics()
        # Feed it recent on-chain requests: ``cache.demand.observe(cid, unix_time)``.
        self.demand: DemandEstimator[ModelKey] = DemandEstimator(config.demand_half_life)
        self._evictions: deque[Eviction] = deque(maxlen=1024)

    # -- lifecycle --------------------------------------------------------------------------

    async def _aopen(self) -> None:
        await asyncio.to_thread(self._disk.clean_tmp)

    async def _aclose(self) -> None:
        """Cancel fills, release every loaded model not in use, close Redis.

        Models still leased are released when their last lease ends.
        """
        tasks: list[asyncio.Task[object]] = [
            *(f.task for f in self._fills.values() if f.task is not None),
            *self._local_inflight.values(),
        ]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        idle = [e for k, e in self._tier1.items() if k not in self._pins]
        for entry in idle:
            self._drop(entry.key)
        self._notify_room()
        await self._release_models(idle)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._tier2 is not None:
            await self._tier2.client.aclose()

    def _check_open(self) -> None:
        self._check_usable()

    # -- metrics ----------------------------------------------------------------------------

    def _count(self, **deltas: float) -> None:
        values = {name: getattr(self._m, name) + delta for name, delta in deltas.items()}
        self._m = replace(self._m, **values)

    def metrics(self) -> CacheMetrics:
        tier2_evictions = self._tier2.evicted if self._tier2 is not None else 0
        tier2_retries = self._tier2.retries if self._tier2 is not None else 0
        return replace(
            self._m,
            tier1_bytes=self._tier1_bytes,
            tier2_evictions=tier2_evictions,
            tier2_retries=tier2_retries,
            evictions=tuple(self._evictions),
        )

    # -- tier 1 -----------------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        return key in self._tier1

    @property
    def tier1_bytes(self) -> int:
        return self._tier1_bytes

    def leases(self, key: ModelKey | str) -> int:
        """How many leases pin ``key`` now (0 if none or not loaded)."""
        return self._pins.get(ModelKey(str(key)), 0)

    @property
    def room_waiters(self) -> int:
        """Loads waiting for tier-1 room now (what would make room is leased or loading)."""
        return self._room_waiters

    def use(self, key: ModelKey | str) -> contextlib.AbstractAsyncContextManager[CachedModel[M]]:
        """``async with cache.use(cid) as entry:`` the loaded model, leased for the block.

        Same as ``acquire`` (filling every tier on the way if needed), with the lease ended
        when the block exits. See ``acquire`` for the errors.
        """
        return self._use(key)

    @contextlib.asynccontextmanager
    async def _use(self, key: ModelKey | str) -> AsyncIterator[CachedModel[M]]:
        lease = await self.acquire(key)
        async with lease as entry:
            yield entry

    async def acquire(self, key: ModelKey | str) -> Lease[M]:
        """A lease on the loaded model for ``key``, filling every tier on the way if needed.

        The caller must ``release()`` the lease (or use ``use``). Concurrent requests for the
        same missing key share one fill; a cancelled caller does not cancel the fill others
        wait on, so a caller's own deadline is ``async with asyncio.timeout(t): lease = await
        cache.acquire(cid)``. Errors: ``ModelTooLargeError`` (bigger than tier 1) and
        ``LeaseDeadlockError`` (this task's own leases hold the room the model needs) at
        once; ``CacheTimeout`` for every request sharing a fill that waited longer than
        ``config.room_timeout`` for room held by other leases or loads; ``OriginError``,
        ``CacheLoadError``, ``InsufficientSpaceError``, ``CacheClosedError``.
        """
        self._check_open()
        key = ModelKey(str(key))
        owner = asyncio.current_task()
        lease = self._hit(key, owner)
        if lease is not None:
            return lease
        return await self._acquire(key, owner)

    def _hit(self, key: ModelKey, owner: asyncio.Task[object] | None) -> Lease[M] | None:
        entry = self._tier1.get(key)
        if entry is None:
            return None
        self._policy.hit(key)
        self._count(tier1_hits=1)
        self._pins[key] = self._pins.get(key, 0) + 1
        self._own(owner, key, 1)
        return Lease(self, replace(entry, source="tier1"), owner)

    async def _acquire(self, key: ModelKey, owner: asyncio.Task[object] | None) -> Lease[M]:
        fill = self._fills.get(key)
        if fill is None or fill.granted:
            # (A granted fill whose model is gone again was evicted unpinned: fill anew.)
            self._count(tier1_misses=1)
            fill = _Fill()
            fill.task = asyncio.create_task(self._fill(key, fill), name=f"cache-fill-{key}")
            self._fills[key] = fill
            fill.task.add_done_callback(
                lambda _t, k=key, f=fill: self._fills.pop(k) if self._fills.get(k) is f else None  # type: ignore[misc]
            )
        entry = await self._await_fill(key, fill, owner)  # lands with our pin
        self._own(owner, key, 1)
        return Lease(self, entry, owner)

    async def _await_fill(
        self, key: ModelKey, fill: _Fill[M], owner: asyncio.Task[object] | None
    ) -> CachedModel[M]:
        assert fill.task is not None
        fill.waiters += 1
        try:
            if fill.size is None and not fill.task.done():
                sized = asyncio.ensure_future(fill.sized.wait())
                try:
                    await asyncio.wait({fill.task, sized}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sized.cancel()
            if fill.size is not None and not fill.task.done():
                self._check_deadlock(key, fill.size, owner)
            try:
                return await asyncio.shield(fill.task)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if fill.task.cancelled() and self.closed and current and not current.cancelling():
                    raise CacheClosedError("the cache was closed during the fill") from None
                raise
        except BaseException:
            if fill.granted:  # the model landed with a pin for us that nobody will release
                self._release_later(self._unpin(key, owner, owned=False))
            else:
                fill.waiters -= 1
            raise

    def _check_deadlock(self, key: ModelKey, size: int, owner: asyncio.Task[object] | None) -> None:
        held = sum(
            self._tier1[k].size for k in self._owned.get(owner, {}) if k in self._tier1 and k != key
        )
        if held + size > self.config.tier1_capacity:
            raise LeaseDeadlockError(key, size, self.config.tier1_capacity, held)

    def _own(self, owner: asyncio.Task[object] | None, key: ModelKey, delta: int) -> None:
        owned = self._owned.setdefault(owner, {})
        count = owned.get(key, 0) + delta
        if count > 0:
            owned[key] = count
        else:
            owned.pop(key, None)
            if not owned:
                del self._owned[owner]

    def _unpin(
        self, key: ModelKey, owner: asyncio.Task[object] | None, *, owned: bool = True
    ) -> list[CachedModel[M]]:
        """Drop one pin; returns the entry to release if the cache is closed and it was last."""
        count = self._pins.get(key, 0) - 1
        if count > 0:
            self._pins[key] = count
        else:
            self._pins.pop(key, None)
        if owned:
            self._own(owner, key, -1)
        self._notify_room()
        if count <= 0 and self.closed and key in self._tier1:
            return [self._drop(key)]
        return []

    async def _end_lease(self, key: ModelKey, owner: asyncio.Task[object] | None) -> None:
        await self._release_models(self._unpin(key, owner))

    def _release_later(self, entries: list[CachedModel[M]]) -> None:
        if not entries:
            return
        task = asyncio.create_task(self._release_models(entries))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _notify_room(self) -> None:
        if self._room_waiters:
            self._room.set()
            self._room = asyncio.Event()

    async def _fill(self, key: ModelKey, fill: _Fill[M]) -> CachedModel[M]:
        path, source = await self._local(key)
        try:
            size = await asyncio.to_thread(self.loader.measure, path)
        except CacheError:
            raise
        except Exception as exc:
            raise CacheLoadError(f"cannot measure {key}: {exc}") from exc
        if size > self.config.tier1_capacity:
            raise ModelTooLargeError(key, size, self.config.tier1_capacity)
        fill.size = size
        fill.sized.set()
        await self._reserve(key, size)
        try:
            async with self._loads:
                started = time.perf_counter()
                try:
                    model = await asyncio.to_thread(self.loader.load, path, key)
                except Exception as exc:
                    raise CacheLoadError(f"cannot load {key}: {exc}") from exc
                self._count(loads=1, load_seconds=time.perf_counter() - started)
            entry = CachedModel(key, model, size, time.monotonic(), source)
            # No await from here on: the model lands with one pin per waiting request.
            self._tier1[key] = entry
            self._tier1_bytes += size
            self._policy.insert(key, size)
            if fill.waiters:
                self._pins[key] = self._pins.get(key, 0) + fill.waiters
            fill.granted = True
        finally:
            self._reserved -= size
            self._notify_room()
        return entry

    async def _reserve(self, key: ModelKey, size: int) -> None:
        """Evict until ``size`` more bytes fit beside what is held and being loaded.

        Evicts only when that makes enough room; otherwise waits (at most ``room_timeout``)
        for leases or loads to end.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.room_timeout
        while True:
            victims = self._plan_room(size)
            if victims is not None:
                break
            room = self._room
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                self._room_waiters += 1
                try:
                    async with asyncio.timeout(remaining):
                        await room.wait()
                finally:
                    self._room_waiters -= 1
            except TimeoutError:
                raise CacheTimeout(key, self.config.room_timeout, "tier-1 room") from None
        self._reserved += size
        await self._release_models(victims)

    def _plan_room(self, size: int) -> list[CachedModel[M]] | None:
        """Evict (synchronously) what makes room for ``size``; ``None`` if it cannot yet."""
        free = self.config.tier1_capacity - self._tier1_bytes - self._reserved
        if free >= size:
            return []
        evictable = sum(e.size for k, e in self._tier1.items() if k not in self._pins)
        if free + evictable < size:
            return None
        victims: list[CachedModel[M]] = []
        while free < size:
            victim = ModelKey(str(self._policy.victim(exclude=self._pins)))
            entry = self._drop(victim)
            age = time.monotonic() - entry.loaded_at
            self._evictions.append(Eviction("tier1", victim, entry.size, age))
            log.info("tier 1 evicts %s (%d bytes, cached %.1f s)", victim, entry.size, age)
            free += entry.size
            victims.append(entry)
            self._left_a_tier(victim)
        return victims

    def _drop(self, key: ModelKey) -> CachedModel[M]:
        entry = self._tier1.pop(key)
        self._policy.remove(key)
        self._tier1_bytes -= entry.size
        return entry

    async def _release_models(self, entries: list[CachedModel[M]]) -> None:
        """Release each entry's model through the loader, in a thread.

        Ownership moves here: the list is emptied, and each model travels to the thread in a
        box that the thread empties, so once the loader's ``release`` drops its argument no
        frame of the cache holds the model (``release`` can collect it; the test checks
        with a weakref).
        """
        while entries:
            box = [entries.pop().model]
            try:
                await asyncio.to_thread(self._release_boxed, box)
            except Exception:
                log.exception("releasing a tier-1 model failed")

    def _release_boxed(self, box: list[M]) -> None:
        self.loader.release(box.pop())

    async def evict(self, key: ModelKey | str) -> bool:
        """Drop ``key`` from tier 1 (its files stay on disk and in Redis); not while leased."""
        key = ModelKey(str(key))
        if key in self._pins or key not in self._tier1:
            return False
        dropped = [self._drop(key)]
        self._notify_room()
        await self._release_models(dropped)
        self._left_a_tier(key)
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
        try:  # a request for it: the tier-2 policy sees a hit (re-indexed if it was not)
            await tier2.admit(key, manifest.total_size, hit=True)
        except TierUnavailableError as exc:
            self._tier2_failed(exc)  # the model is served anyway
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
        for eviction in evicted:
            self._left_a_tier(eviction.key)

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

    # -- what the origin keeps (pins) -------------------------------------------------------

    async def held(self, key: ModelKey | str) -> frozenset[str]:
        """The tiers holding ``key`` now, as this cache sees them: ``tier1``, ``disk``,
        ``tier2``, or ``filling`` while a fill of it runs here. A tier 2 that cannot be asked
        (Redis down) counts as holding it: that cannot be ruled out."""
        key = ModelKey(str(key))
        found: set[str] = set()
        if key in self._tier1:
            found.add("tier1")
        if key in self._fills or key in self._local_inflight:
            found.add("filling")
        if await asyncio.to_thread(self._disk.path(key).exists):
            found.add("disk")
        if self._tier2 is not None:
            try:
                if await self._tier2.has(key):
                    found.add("tier2")
            except TierUnavailableError:
                found.add("tier2")
        return frozenset(found)

    async def release_unheld(self, keys: Iterable[ModelKey | str] | None = None) -> list[ModelKey]:
        """Release at the origin (unpin) what it keeps for us that no tier holds any more.

        Only for a ``PinningOrigin`` (``IpfsOrigin(pin_name=...)``). Evictions by this cache
        trigger it for their model; call it now and then (``keys=None``: everything the
        origin keeps) for models another daemon evicted from the shared tier 2.
        """
        origin = self.origin
        if not isinstance(origin, PinningOrigin):
            return []
        candidates = await origin.kept() if keys is None else {ModelKey(str(k)) for k in keys}
        released: list[ModelKey] = []
        for key in sorted(candidates):
            if not await self.held(key):
                await origin.release(key)
                released.append(key)
                log.info("%s is in no tier any more: released at the origin", key)
        return released

    async def retire(self, key: ModelKey | str) -> None:
        """A deprecated model: out of tier 1 now if no lease holds it, and released at the
        origin (unpinned) whatever the tiers hold; its files age out of disk and tier 2."""
        key = ModelKey(str(key))
        await self.evict(key)
        if isinstance(self.origin, PinningOrigin):
            await self.origin.release(key)

    def _left_a_tier(self, key: ModelKey) -> None:
        """A tier dropped ``key``: release it at the origin if no tier holds it (background)."""
        if not isinstance(self.origin, PinningOrigin) or self.closed:
            return

        async def check() -> None:
            try:
                await self.release_unheld([key])
            except CacheError as exc:
                log.warning("could not release %s at the origin: %s", key, exc)

        task = asyncio.create_task(check(), name=f"cache-release-{key}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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
            async with self.use(key) as entry:
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
            async with self.use(new):
                pass
        else:
            await self.fetch_local(new)
