"""Helpers for the cache tests: redis-server control, counting origin, cheap loader, data."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from cache import CacheConfig, CachedModel, IpfsOrigin, ModelCache, ModelKey
from devstack import LocalRedis
from ipfs_store import IpfsStore

M = TypeVar("M")


async def get(cache: ModelCache[M], key: ModelKey | str) -> CachedModel[M]:
    """Lease a model and end the lease at once, for tests that only inspect the entry."""
    async with cache.use(key) as entry:
        return entry


# Redis processes come from devstack, shared with the demo and the other packages' tests.
RedisServer = LocalRedis
start_redis = LocalRedis.start


class CountingOrigin(IpfsOrigin):
    """The real IPFS origin, counting the fetches that reach it."""

    def __init__(self, store: IpfsStore, *, pin_name: str | None = None) -> None:
        super().__init__(store, pin_name=pin_name)
        self.fetches: list[ModelKey] = []

    async def fetch(self, key: ModelKey, dest: Path) -> int:
        self.fetches.append(key)
        return await super().fetch(key, dest)


@dataclass(frozen=True)
class LoadedFiles:
    """What `FilesLoader` loads: every file's bytes (a stand-in for weights in memory)."""

    key: ModelKey
    files: dict[str, bytes]


@dataclass
class FilesLoader:
    """A cheap loader: reads the files; tier-1 size is their total size times `scale`."""

    scale: int = 1
    loads: list[ModelKey] = field(default_factory=list)
    released: list[ModelKey] = field(default_factory=list)
    warmed: list[ModelKey] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def measure(self, path: Path) -> int:
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) * self.scale

    def load(self, path: Path, key: ModelKey) -> LoadedFiles:
        time.sleep(self.delay)
        with self.lock:
            self.loads.append(key)
        files = {
            p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()
        }
        return LoadedFiles(key, files)

    def release(self, model: LoadedFiles) -> None:
        with self.lock:
            self.released.append(model.key)

    def warm_up(self, model: LoadedFiles) -> None:
        with self.lock:
            self.warmed.append(model.key)


def make_model_dir(directory: Path, seed: int, weight_bytes: int = 300_000) -> dict[str, bytes]:
    """A small model directory with deterministic contents; returns them by relative path."""
    rng = random.Random(seed)
    files = {
        "config.json": f'{{"model": {seed}}}'.encode(),
        "model.safetensors": rng.randbytes(weight_bytes),
        "tok/tokenizer.json": rng.randbytes(1000),
        "empty.txt": b"",
    }
    for rel, data in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


@dataclass(frozen=True)
class ModelFixture:
    key: ModelKey
    files: dict[str, bytes]

    @property
    def size(self) -> int:
        return sum(len(v) for v in self.files.values())


def cache_config(
    tmp_path: Path, name: str, redis_url: str | tuple[str, ...] | None, **overrides: object
) -> CacheConfig:
    params: dict[str, object] = {
        "disk_dir": tmp_path / f"disk-{name}",
        "tier1_capacity": 10_000_000,
        "disk_capacity": 50_000_000,
        "redis_url": redis_url,
        "chunk_size": 64 * 1024,
        "redis_timeout": 1.0,
        "fill_poll": 0.02,
        "fill_wait": 20.0,
    }
    params.update(overrides)
    return CacheConfig(**params)  # type: ignore[arg-type]


def files_of(path: Path) -> dict[str, bytes]:
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


class SlowOrigin(CountingOrigin):
    """Fault injection: the real origin, answering only after `delay` seconds."""

    def __init__(self, store: IpfsStore, delay: float) -> None:
        super().__init__(store)
        self.delay = delay

    async def fetch(self, key: ModelKey, dest: Path) -> int:
        import asyncio

        await asyncio.sleep(self.delay)
        return await super().fetch(key, dest)
