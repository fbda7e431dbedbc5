"""Tier 2: model files as verified, content-addressed chunks in a shared Redis.

Writes go to staging keys (with an expiry, so an abandoned fill vanishes) and are published
by one MULTI/EXEC that renames every chunk into place and sets the manifest last: a reader
that sees a manifest sees every chunk, or (after Redis evicted one) a gap that it treats as
a miss. Reads are pipelined, ``pipeline_chunks`` chunks per round trip, the next batch in
flight while a worker thread hashes and writes the current one. Every Redis failure or
timeout becomes ``TierUnavailableError``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ._errors import ChunkCorruptError, ManifestError, TierUnavailableError
from ._manifest import (
    ChunkRef,
    IndexKeys,
    Keys,
    Manifest,
    chunk_hash,
    list_files,
    plan_manifest_files,
    read_chunks,
    safe_relpath,
)
from ._types import CacheConfig, ModelKey

T = TypeVar("T")

# Extends the fill lock only if it still holds our token.
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""

# Deletes the fill lock only if it still holds our token.
_UNLOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


# The tier-2 size index (KEYS: IndexKeys.all(), one slot).
# ARGV: cid, size, budget, policy, mode. Known cid: mode "hit" counts a request and
# re-prioritises it, "ensure" does nothing; returns {1}. Unknown cid: {0} if it can never
# fit, else evicts lowest-priority entries until it fits, adds it and returns {2, victims...}.
# Priorities are those of cache._policy: LRU a clock; GDSF L + freq / size; LFU-DA L + freq;
# L is raised to each victim's priority.
_ADMIT = """
local pri, sizes, freqs, seqs, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local key, size, budget = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local policy, mode = ARGV[4], ARGV[5]
local function push(k, freq, sz)
  local clock = redis.call('hincrby', meta, 'clock', 1)
  redis.call('hset', seqs, k, clock)
  local p = clock
  if policy ~= 'lru' then
    local L = tonumber(redis.call('hget', meta, 'L') or '0')
    if policy == 'gdsf' then p = L + freq / math.max(sz, 1) else p = L + freq end
  end
  redis.call('zadd', pri, string.format('%.17g', p), k)
end
local known = redis.call('hget', sizes, key)
if known then
  if mode == 'hit' then push(key, redis.call('hincrby', freqs, key, 1), tonumber(known)) end
  return {1}
end
if size > budget then return {0} end
local total = tonumber(redis.call('hget', meta, 'bytes') or '0')
local out = {2}
while total + size > budget do
  local low = redis.call('zrange', pri, 0, 0, 'WITHSCORES')
  if #low == 0 then break end
  local victim = low[1]
  -- Equal priorities: the least recently pushed goes first, as in cache._policy.
  local ties = redis.call('zrangebyscore', pri, low[2], low[2], 'LIMIT', 0, 256)
  if #ties > 1 then
    local best = math.huge
    for _, k in ipairs(ties) do
      local seq = tonumber(redis.call('hget', seqs, k) or '0')
      if seq < best then best, victim = seq, k end
    end
  end
  if policy ~= 'lru' then redis.call('hset', meta, 'L', low[2]) end
  total = total - tonumber(redis.call('hget', sizes, victim) or '0')
  redis.call('zrem', pri, victim)
  redis.call('hdel', sizes, victim)
  redis.call('hdel', freqs, victim)
  redis.call('hdel', seqs, victim)
  table.insert(out, victim)
end
redis.call('hset', sizes, key, size)
redis.call('hset', freqs, key, 1)
push(key, 1, size)
redis.call('hset', meta, 'bytes', string.format('%.0f', total + size))
return out
"""

# Removes a cid from the index (its entry was dropped as corrupt or incomplete).
_FORGET = """
local s = redis.call('hget', KEYS[2], ARGV[1])
if not s then return 0 end
redis.call('zrem', KEYS[1], ARGV[1])
redis.call('hdel', KEYS[2], ARGV[1])
redis.call('hdel', KEYS[3], ARGV[1])
redis.call('hdel', KEYS[4], ARGV[1])
redis.call('hincrby', KEYS[5], 'bytes', '-' .. s)
return 1
"""


@dataclass(frozen=True, slots=True)
class Admission:
    """What ``RedisTier.admit`` did: whether the model may be stored, and whom it evicted."""

    stored: bool
    evicted: tuple[ModelKey, ...]


class TierMiss(Exception):
    """Internal: the entry is absent or incomplete."""


def make_client(url: str, timeout: float) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=False,
    )


class _ChunkWriter:
    """Verifies chunks and writes them at their offsets under a staging path (blocking)."""

    def __init__(self, manifest: Manifest, dest: Path) -> None:
        self.manifest = manifest
        self.fds: list[int] = []
        if manifest.is_dir:
            dest.mkdir()
        for entry in manifest.files:
            path = dest / safe_relpath(entry.path) if manifest.is_dir else dest
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            self.fds.append(fd)
            os.ftruncate(fd, entry.size)

    def write(self, batch: list[tuple[ChunkRef, bytes | None]]) -> int:
        written = 0
        for ref, data in batch:
            if data is None:
                raise TierMiss(f"chunk {ref.index} missing")
            if len(data) != ref.length or chunk_hash(data) != self.manifest.hashes[ref.index]:
                raise ChunkCorruptError(
                    f"chunk {ref.index} of {self.manifest.key} does not match its manifest hash"
                )
            os.pwrite(self.fds[ref.file], data, ref.offset)
            written += len(data)
        return written

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


class RedisTier:
    """Tier 2 on one Redis client. With ``config.tier2_capacity`` it keeps a shared size index
    and evicts whole models to stay under it (see ``admit``)."""

    def __init__(self, client: aioredis.Redis, config: CacheConfig) -> None:
        self.client = client
        self.config = config
        self.index = IndexKeys(config.redis_prefix)
        self.evicted = 0  # models this client evicted to keep the budget

    async def admit(self, key: ModelKey, size: int, *, hit: bool = False) -> Admission:
        """Account ``size`` bytes for ``key`` in the shared index, evicting to make room.

        Atomic across daemons (one script on the index's slot); the evicted models'
        manifests and chunks are then deleted (one ``DEL`` each). A key already indexed is
        only re-prioritised, and only if ``hit``. ``stored`` is false if the model is bigger
        than the whole budget (do not store it). Without a budget: stored, nothing evicted.
        """
        budget = self.config.tier2_capacity
        if budget is None:
            return Admission(True, ())
        keys = self.index.all()
        args = [key, str(size), str(budget), self.config.tier2_policy, "hit" if hit else "ensure"]

        async def op() -> list[bytes | int]:
            return await self.client.eval(_ADMIT, len(keys), *keys, *args)  # type: ignore[no-any-return, misc]

        reply = await self._call("admit", op)
        victims = tuple(
            ModelKey(raw.decode() if isinstance(raw, bytes) else str(raw)) for raw in reply[1:]
        )
        for victim in victims:
            manifest = await self.manifest(victim)
            if manifest is not None:
                await self._delete(manifest)
            self.evicted += 1
        return Admission(int(reply[0]) != 0, victims)

    async def indexed(self) -> tuple[int, dict[ModelKey, int]]:
        """The index's total bytes and each model's size (for checks and metrics)."""

        async def op() -> tuple[bytes | None, dict[bytes, bytes]]:
            pipe = self.client.pipeline(transaction=True)
            pipe.hget(self.index.meta, "bytes")
            pipe.hgetall(self.index.sizes)
            total, sizes = await pipe.execute()
            return total, sizes

        total, sizes = await self._call("index", op)
        return int(total or 0), {ModelKey(k.decode()): int(v) for k, v in sizes.items()}

    async def _call(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self.config.redis_timeout):
                return await op()
        except (RedisError, OSError, TimeoutError) as exc:
            raise TierUnavailableError(f"redis {what} failed: {exc!r}") from exc

    def keys(self, key: ModelKey) -> Keys:
        return Keys(self.config.redis_prefix, key)

    async def manifest(self, key: ModelKey) -> Manifest | None:
        raw: bytes | None = await self._call(
            "get", lambda: self.client.get(self.keys(key).manifest)
        )
        if raw is None:
            return None
        try:
            manifest = Manifest.decode(raw)
        except ManifestError:
            await self.drop_manifest(key)
            return None
        if manifest.key != key:
            await self.drop_manifest(key)
            return None
        return manifest

    async def read(self, manifest: Manifest, dest: Path) -> int:
        """Write the model at ``dest`` (which must not exist) from verified chunks.

        Raises ``TierMiss`` for a missing chunk and ``ChunkCorruptError`` for a bad one; the
        caller removes ``dest`` on failure.
        """
        keys = self.keys(manifest.key)
        refs = manifest.chunk_refs()
        size = self.config.pipeline_chunks
        batches = [refs[i : i + size] for i in range(0, len(refs), size)]
        writer = await asyncio.to_thread(_ChunkWriter, manifest, dest)

        async def fetch(batch: list[ChunkRef]) -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for ref in batch:
                pipe.get(keys.chunk(ref.index))
            return await pipe.execute()

        total = 0
        try:
            pending: asyncio.Task[list[Any]] | None = None
            if batches:
                pending = asyncio.create_task(self._call("read", lambda: fetch(batches[0])))
            for number, batch in enumerate(batches):
                assert pending is not None
                data = await pending
                pending = None
                if number + 1 < len(batches):
                    following = batches[number + 1]
                    pending = asyncio.create_task(self._call("read", lambda b=following: fetch(b)))  # type: ignore[misc]
                try:
                    total += await asyncio.to_thread(
                        writer.write, list(zip(batch, data, strict=True))
                    )
                except BaseException:
                    if pending is not None:
                        pending.cancel()
                        await asyncio.gather(pending, return_exceptions=True)
                    raise
        finally:
            await asyncio.to_thread(writer.close)
        return total

    async def write(self, key: ModelKey, source: Path) -> int:
        """Store the model at ``source`` as chunks and publish its manifest; returns bytes."""
        keys = self.keys(key)
        chunk_size = self.config.chunk_size
        is_dir, files = await asyncio.to_thread(list_files, source)
        entries = plan_manifest_files(files, chunk_size)
        size = sum(entry.size for entry in entries)
        if not (await self.admit(key, size)).stored:
            return 0  # bigger than the whole tier-2 budget: not stored
        token = secrets.token_hex(8)
        ttl_ms = int(self.config.staging_ttl * 1000)
        reader = read_chunks(source, entries, chunk_size)
        hashes: list[str] = []

        def next_batch() -> list[tuple[bytes, str]]:
            out: list[tuple[bytes, str]] = []
            for data in reader:
                out.append((data, chunk_hash(data)))
                if len(out) >= self.config.pipeline_chunks:
                    break
            return out

        total = 0
        try:
            while batch := await asyncio.to_thread(next_batch):
                pipe = self.client.pipeline(transaction=False)
                for data, digest in batch:
                    pipe.set(keys.staging(token, len(hashes)), data, px=ttl_ms)
                    hashes.append(digest)
                    total += len(data)
                await self._call("write", pipe.execute)
        finally:
            reader.close()
        manifest = Manifest(key, chunk_size, is_dir, entries, tuple(hashes))
        publish = self.client.pipeline(transaction=True)
        for index in range(len(hashes)):
            publish.rename(keys.staging(token, index), keys.chunk(index))
            publish.persist(keys.chunk(index))
        publish.set(keys.manifest, manifest.encode())
        await self._call("publish", publish.execute)
        # Another daemon's admission may have evicted this entry between our admission and
        # the publish: account for it again (a no-op when it is still indexed).
        await self.admit(key, size)
        return total

    async def drop(self, manifest: Manifest) -> None:
        """Delete a model's manifest and chunks (a corrupt or incomplete entry), and unindex it."""
        await self._delete(manifest)
        if self.config.tier2_capacity is not None:
            keys = self.index.all()

            async def op() -> object:
                return await self.client.eval(_FORGET, len(keys), *keys, manifest.key)  # type: ignore[misc]

            await self._call("forget", op)

    async def _delete(self, manifest: Manifest) -> None:
        """Delete a model's manifest and chunks: one DEL, so atomic (one slot)."""
        keys = self.keys(manifest.key)
        names = [keys.manifest] + [keys.chunk(i) for i in range(len(manifest.hashes))]
        await self._call("delete", lambda: self.client.delete(*names))

    async def drop_manifest(self, key: ModelKey) -> None:
        await self._call("delete", lambda: self.client.delete(self.keys(key).manifest))

    async def try_lock(self, key: ModelKey, token: str) -> bool:
        ttl_ms = int(self.config.fill_lock_ttl * 1000)
        got = await self._call(
            "lock", lambda: self.client.set(self.keys(key).lock, token, nx=True, px=ttl_ms)
        )
        return bool(got)

    async def locked(self, key: ModelKey) -> bool:
        return bool(await self._call("exists", lambda: self.client.exists(self.keys(key).lock)))

    async def unlock(self, key: ModelKey, token: str) -> None:
        lock = self.keys(key).lock

        async def op() -> object:
            return await self.client.eval(_UNLOCK, 1, lock, token)  # type: ignore[misc]

        await self._call("unlock", op)

    async def extend_lock(self, key: ModelKey, token: str) -> bool:
        lock = self.keys(key).lock
        ttl_ms = str(int(self.config.fill_lock_ttl * 1000))

        async def op() -> object:
            return await self.client.eval(_EXTEND, 1, lock, token, ttl_ms)  # type: ignore[misc]

        return bool(await self._call("extend", op))
