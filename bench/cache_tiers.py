"""Tier-1 hit latency, and tier-2 read throughput against a plain redis-py GET.

Starts its own redis-server (random loopback port, temporary directory, no persistence).
Tier 2 reads a 256 MiB single-file model stored as verified chunks (SHA-256 per chunk,
pipelined, written to disk); the baseline is one redis-py GET of the same 256 MiB from the
same server into memory. Best of 3 each, same run; prints the ratio (aim: >= 0.8).

    .venv/bin/python bench/cache_tiers.py [--mib 256] [--chunk-mib 4] [--pipeline 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis

from cache import CacheConfig, ModelCache, ModelKey, RedisTier, make_client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.cache.helpers import start_redis

MiB = 1024 * 1024


class _NoOrigin:
    async def fetch(self, key: ModelKey, dest: Path) -> int:
        raise RuntimeError("the bench never reaches the origin")


class _TinyLoader:
    def measure(self, path: Path) -> int:
        return 1

    def load(self, path: Path, key: ModelKey) -> str:
        return str(key)

    def release(self, model: str) -> None:
        pass

    def warm_up(self, model: str) -> None:
        pass


async def tier1_latency(work: Path) -> tuple[float, float]:
    """Median and p99 of a tier-1 hit (``use``: lease taken and ended), in microseconds."""
    (work / "disk" / "objects").mkdir(parents=True)
    (work / "disk" / "objects" / "m").write_bytes(b"x")
    config = CacheConfig(disk_dir=work / "disk", tier1_capacity=10)
    async with ModelCache(config, _NoOrigin(), _TinyLoader()) as cache:
        async with cache.use("m"):
            pass
        samples = []
        for _ in range(20_000):
            started = time.perf_counter()
            async with cache.use("m"):
                pass
            samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99)]


async def tier2_throughput(work: Path, url: str, args: argparse.Namespace) -> tuple[float, float]:
    size = args.mib * MiB
    model = work / "model.bin"
    with model.open("wb") as handle:
        for _ in range(args.mib):
            handle.write(os.urandom(MiB))
    config = CacheConfig(
        disk_dir=work / "unused",
        chunk_size=args.chunk_mib * MiB,
        pipeline_chunks=args.pipeline,
        redis_timeout=60.0,
    )
    client = make_client(url, 60.0)
    plain = aioredis.Redis.from_url(url)
    try:
        tier = RedisTier(client, config)
        key = ModelKey("bench-model")
        await tier.write(key, model)
        await plain.set("plain", model.read_bytes())
        manifest = await tier.manifest(key)
        assert manifest is not None and manifest.total_size == size
        tier_times, plain_times = [], []
        for attempt in range(3):
            dest = work / f"out-{attempt}"
            started = time.perf_counter()
            await tier.read(manifest, dest)
            tier_times.append(time.perf_counter() - started)
            assert dest.stat().st_size == size
            dest.unlink()
            started = time.perf_counter()
            data = await plain.get("plain")
            plain_times.append(time.perf_counter() - started)
            assert data is not None and len(data) == size
            del data
    finally:
        await client.aclose()
        await plain.aclose()
    return size / MiB / min(tier_times), size / MiB / min(plain_times)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--chunk-mib", type=int, default=4)
    parser.add_argument("--pipeline", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cache-bench-"))
    server = start_redis(work / "redis")
    try:
        median, p99 = await tier1_latency(work)
        print(f"tier-1 hit (lease + release): median {median:.1f} us, p99 {p99:.1f} us (20000)")
        tier, plain = await tier2_throughput(work, server.url, args)
        print(
            f"tier-2 read of a {args.mib} MiB model ({args.chunk_mib} MiB chunks, "
            f"{args.pipeline} per round trip, SHA-256 verified, written to disk): "
            f"{tier:.0f} MiB/s"
        )
        print(f"plain redis-py GET of the same {args.mib} MiB into memory: {plain:.0f} MiB/s")
        print(f"ratio tier-2 / plain GET: {tier / plain:.2f} (aim >= 0.8)")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
