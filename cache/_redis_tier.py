"""Tier 2: model files as verified, content-addressed chunks in a shared Redis.

Writes go to staging keys (with an expiry, so an abandoned fill vanishes) and are published
by one MULTI/EXEC that renames every chunk into place and sets the manifest last: a reader
that sees a manifest sees every chunk, or (after Redis evicted one) a gap that it treats as
a miss. Reads are pipelined, ``pipeline_chunks`` chunks per round trip, the next batch in
flight while a worker thread hashes and writes the current one. Every Redis failure or
timeout becomes ``TierUnavailableError``.

On a Redis Cluster (redis-py's asyncio ``RedisCluster``) every key of a model carries its CID
as a hash tag and the size index has a tag of its own, so each script, ``MULTI`` and
pipeline touches one slot; redis-py follows ``MOVED``/``ASK`` redirects. A call that fails
because a master died (connection refused, ``CLUSTERDOWN`` while the replica is elected,
``TRYAGAIN``) is retried against the re-read topology for ``redis_failover_wait`` seconds,
so requests running through a failover finish on the promoted replica. Chunks stay verified
against their manifest hashes, whichever node serves them.
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
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    ClusterDownError,
    RedisClusterException,
    RedisError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

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
from ._types import CLUSTER_SCHEMES, CacheConfig, ModelKey, cluster_seeds, parse_seed

T = TypeVar("T")

Client = aioredis.Redis | RedisCluster

# Errors a Redis Cluster raises while a master is gone or being replaced: worth retrying.
_FAILOVER_ERRORS = (
    RedisConnectionError,
    RedisTimeoutError,
    ClusterDownError,
    TryAgainError,
    SlotNotCoveredError,
    RedisClusterException,
    OSError,
)
_FAILOVER_BACKOFF = (0.05, 0.1, 0.2, 0.25)

# Publishes a fill (KEYS: manifest, then staging and final key of each chunk; ARGV: the
# manifest): every chunk renamed into place and made persistent, the manifest set last.
# Idempotent, so a cluster retry after a lost reply is safe.
_PUBLISH = """
local n = (#KEYS - 1) / 2
for i = 1, n do
  if redis.call('exists', KEYS[1 + i]) == 1 then
    redis.call('rename', KEYS[1 + i], KEYS[1 + n + i])
    redis.call('persist', KEYS[1 + n + i])
  elseif redis.call('exists', KEYS[1 + n + i]) == 0 then
    -- (already in place: a retried publish whose first reply was lost)
    return redis.error_reply('staging chunk ' .. (i - 1) .. ' expired before the publish')
  end
end
redis.call('set', KEYS[1], ARGV[1])
return n
"""

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

# The index's total and every model's size, read at one instant (KEYS: meta, sizes).
_INDEXED = """
return {redis.call('hget', KEYS[1], 'bytes') or '0', redis.call('hgetall', KEYS[2])}
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


def make_client(url: str | tuple[str, ...], timeout: float) -> Client:
    """A client for one Redis (``redis://``) or a Redis Cluster (``redis+cluster://`` seeds,
    or a tuple of ``host:port``). redis-py's own retries are off: the tier decides (a single
    Redis fails fast; a cluster is retried through failovers, see ``RedisTier._call``)."""
    common: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
        "decode_responses": False,
    }
    if isinstance(url, tuple) or url.startswith(CLUSTER_SCHEMES):
        user: str | None = None
        password: str | None = None
        tls = False
        if isinstance(url, tuple):
            seeds = [parse_seed(seed) for seed in url]
        else:
            seeds, user, password, tls = cluster_seeds(url)
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in seeds],
            username=user,
            password=password,
            ssl=tls,
            **common,
        )
    return aioredis.Redis.from_url(url, **common)


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

    def __init__(self, client: Client, config: CacheConfig) -> None:
        self.client = client
        self.config = config
        self.cluster = isinstance(client, RedisCluster)
        self.index = IndexKeys(config.redis_prefix)
        self.evicted = 0  # models this client evicted to keep the budget
        self.retries = 0  # cluster calls retried through a failover
        # Told of each model this client evicted (the cache releases its pin if no tier holds it).
        self.on_evicted: Callable[[ModelKey], None] | None = None

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
            if self.on_evicted is not None:
                self.on_evicted(victim)
        return Admission(int(reply[0]) != 0, victims)

    async def indexed(self) -> tuple[int, dict[ModelKey, int]]:
        """The index's total bytes and each model's size (for checks and metrics)."""

        keys = [self.index.meta, self.index.sizes]

        async def op() -> list[Any]:
            return await self.client.eval(_INDEXED, len(keys), *keys)  # type: ignore[no-any-return, misc]

        total, flat = await self._call("index", op)
        pairs = zip(flat[0::2], flat[1::2], strict=True)
        return int(total or 0), {ModelKey(k.decode()): int(v) for k, v in pairs}

    async def _call(self, what: str, op: Callable[[], Awaitable[T]]) -> T:
        """Run ``op`` (which builds its commands afresh: it may run more than once).

        One Redis: one attempt within ``redis_timeout``. A cluster: attempts are repeated
        while the error is one of a failover, until ``redis_failover_wait`` has passed.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.redis_failover_wait
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(self.config.redis_timeout):
                    return await op()
            except (RedisError, RedisClusterException, OSError, TimeoutError) as exc:
                transient = isinstance(exc, (*_FAILOVER_ERRORS, TimeoutError))
                if not (self.cluster and transient) or loop.time() >= deadline:
                    raise TierUnavailableError(f"redis {what} failed: {exc!r}") from exc
                self.retries += 1
                pause = _FAILOVER_BACKOFF[min(attempt, len(_FAILOVER_BACKOFF) - 1)]
                attempt += 1
                await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))

    def keys(self, key: ModelKey) -> Keys:
        return Keys(self.config.redis_prefix, key)

    async def has(self, key: ModelKey) -> bool:
        """Whether a manifest for ``key`` is published (its chunks are not checked)."""
        manifest = self.keys(key).manifest
        return bool(await self._call("exists", lambda: self.client.exists(manifest)))

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
                first = len(hashes)

                async def store(batch: list[tuple[bytes, str]] = batch, first: int = first) -> None:
                    pipe = self.client.pipeline(transaction=False)
                    for offset, (data, _) in enumerate(batch):
                        pipe.set(keys.staging(token, first + offset), data, px=ttl_ms)
                    await pipe.execute()

                await self._call("write", store)
                for data, digest in batch:
                    hashes.append(digest)
                    total += len(data)
        finally:
            reader.close()
        manifest = Manifest(key, chunk_size, is_dir, entries, tuple(hashes))
        staged = [keys.staging(token, i) for i in range(len(hashes))]
        final = [keys.chunk(i) for i in range(len(hashes))]
        names = [keys.manifest, *staged, *final]

        async def publish() -> object:
            # One script on the model's slot: atomic on one Redis and on a cluster alike.
            return await self.client.eval(_PUBLISH, len(names), *names, manifest.encode())  # type: ignore[misc]

        await self._call("publish", publish)
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
