"""Helpers for the cache tests: redis-server control, counting origin, cheap loader, data."""

from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from cache import CacheConfig, CachedModel, IpfsOrigin, ModelCache, ModelKey
from ipfs_store import IpfsStore

M = TypeVar("M")


async def get(cache: ModelCache[M], key: ModelKey | str) -> CachedModel[M]:
    """Lease a model and end the lease at once, for tests that only inspect the entry."""
    async with cache.use(key) as entry:
        return entry


@dataclass
class RedisServer:
    port: int
    directory: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def kill(self) -> None:
        """Fault injection: the server dies (SIGKILL), as a crashed Redis would."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_redis(directory: Path) -> RedisServer:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found: run `bash scripts/setup.sh`")
    directory.mkdir(parents=True, exist_ok=True)
    for _ in range(5):
        port = _free_port()
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
             "--save", "", "--appendonly", "no", "--protected-mode", "yes",
             "--logfile", str(directory / "redis.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return RedisServer(port, directory, proc)
            except OSError:
                time.sleep(0.02)
        proc.kill()
        proc.wait(timeout=10)
    raise RuntimeError("redis-server did not start (see redis.log)")


class CountingOrigin(IpfsOrigin):
    """The real IPFS origin, counting the fetches that reach it."""

    def __init__(self, store: IpfsStore) -> None:
        super().__init__(store)
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
    tmp_path: Path, name: str, redis_url: str | None, **overrides: object
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
