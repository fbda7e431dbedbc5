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
from pathlib import Path
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ._errors import ChunkCorruptError, ManifestError, TierUnavailableError
from ._manifest import (
    ChunkRef,
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
    def __init__(self, client: aioredis.Redis, config: CacheConfig) -> None:
        self.client = client
        self.config = config

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
        return total

    async def drop(self, manifest: Manifest) -> None:
        """Delete a model's manifest and chunks (a corrupt or incomplete entry)."""
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
