"""Helpers for the cache tests: redis-server control, counting origin, cheap loader, data."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from cache import CacheConfig, CachedModel, IpfsOrigin, ModelCache, ModelKey
from devstack import LocalRedis
from ipfs_store import IpfsStore
from tests.ipfs_store.conftest import read_tree, write_tree

M = TypeVar("M")


async def get(cache: ModelCache[M], key: ModelKey | str) -> CachedModel[M]:
    """Lease a model and end the lease at once, for tests that only inspect the entry."""
    async with cache.use(key) as entry:
        return entry


# Redis processes come from devstack, shared with the demo and the other packages' tests.
RedisServer = LocalRedis
start_redis = LocalRedis.start
# A model directory's files by relative path, as the ipfs_store tests read them.
files_of = read_tree


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
    return write_tree(directory, files)


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


class SlowOrigin(CountingOrigin):
    """Fault injection: the real origin, answering only after `delay` seconds, or only once
    `gate` is set. `started` is set when a fetch reaches the origin (the fill is under way)."""

    def __init__(
        self, store: IpfsStore, delay: float = 0.0, gate: asyncio.Event | None = None
    ) -> None:
        super().__init__(store)
        self.delay = delay
        self.gate = gate
        self.started = asyncio.Event()

    async def fetch(self, key: ModelKey, dest: Path) -> int:
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(self.delay)
        return await super().fetch(key, dest)


_DAEMON_WORKER = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from cache import CacheConfig, IpfsOrigin, ModelCache, ModelKey
    from ipfs_store import IpfsStore, StoreConfig

    class Loader:
        def measure(self, path): return 1
        def load(self, path, key): return key
        def release(self, model): pass
        def warm_up(self, model): pass

    async def main():
        api, gateway, redis_url, disk, start = sys.argv[1:6]
        keys = sys.argv[6:]
        config = CacheConfig(disk_dir=Path(disk), redis_url=redis_url, chunk_size=65536,
                             fill_poll=0.02)
        store_config = StoreConfig(api_url=api, kubo_gateway_url=gateway or None)
        async with IpfsStore(store_config) as store:
            async with ModelCache(config, IpfsOrigin(store), Loader()) as cache:
                while time.time() < float(start):
                    await asyncio.sleep(0.005)
                sources = []
                for key in keys:
                    async with cache.use(ModelKey(key)) as entry:
                        sources.append(entry.source)
                m = cache.metrics()
                print(",".join(sources), m.origin_fetches, m.tier2_hits, flush=True)

    asyncio.run(main())
    """
)


def run_daemons(
    tmp_path: Path,
    api_url: str,
    gateway_url: str | None,
    redis_url: str,
    keys: Sequence[str],
    names: Sequence[str],
    timeout: float = 90,
) -> list[list[str]]:
    """One cache process per name (disk `tmp_path/disk-<name>`), all racing from the same
    instant to lease `keys` in order. Each one's output: its sources joined by commas, its
    origin fetches and its tier-2 hits."""
    script = tmp_path / "worker.py"
    script.write_text(_DAEMON_WORKER)
    start = time.time() + 2.0  # every process waits for the same instant, then they race
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                api_url,
                gateway_url or "",
                redis_url,
                str(tmp_path / f"disk-{name}"),
                str(start),
                *keys,
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
        )
        for name in names
    ]
    outputs = [p.communicate(timeout=timeout)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    return outputs
