"""Cold start: CID to a model ready to serve, from each place a provider site finds it, next to
the raw baseline of the same bytes in the same run.

Builds a model directory of ``--mib`` MiB (default 256: two safetensors shards of random
float16 tensors, a config and a tokenizer file), then starts the model author's Kubo and the
provider's Kubo as two online peers on the loopback swarm (devstack.LocalKubo, no shared
repository) and a Redis Cluster of 3 masters with a replica each (devstack.LocalRedisCluster).
"Ready" is ``ModelCache.acquire(cid)`` returning a lease on the loaded model; the loader
reads every safetensors file and deserialises it (``safetensors.torch.load``), exactly as
the plain load of the baselines does.

- **remote peer**: a fresh cache whose origin is the provider's Kubo, which has none of the
  blocks (unpinned and garbage-collected before each round) and gets them from the author's
  Kubo over bitswap; the verified directory fetch, the disk entry, tier 2 off, the load.
  Baseline: ``ipfs cat`` of every file on the provider's Kubo (also emptied first) into
  /dev/null, plus a plain safetensors load of the same files.
- **tier 2 (cluster)**: a fresh cache (empty disk) while the model is in tier 2: verified
  chunks from the cluster, the disk entry, the load. Two baselines, each plus a plain
  safetensors load: a plain redis-py ``GET`` of the same bytes stored as one value in the
  cluster (as ``bench/cache_tiers.py`` measures), and a plain redis-py read of the cache's
  own chunk keys into memory (pipelined as the cache reads them, no hashing, no disk).
- **local directory**: a fresh cache (empty tier 1) whose disk already holds the model: the
  load. Baseline: a plain safetensors load of the same files.

Each cache stands for a running daemon: its IPFS session or cluster client is opened
before the clock starts. Best of ``--rounds`` each; prints JSON with each ratio (aim: at
most 1.2).

    .venv/bin/python bench/cold_start.py [--mib 256] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cache import CacheConfig, IpfsOrigin, Keys, Manifest, ModelCache, ModelKey, make_client  # noqa: E402
from devstack import LocalKubo, LocalRedisCluster  # noqa: E402
from ipfs_store import IpfsStore, StoreConfig  # noqa: E402

MiB = 1024 * 1024


def build_model(directory: Path, mib: int) -> list[Path]:
    """Two shards (5/8 and 3/8 of the bytes) of random float16 tensors, config, tokenizer."""
    directory.mkdir(parents=True)
    total = mib * MiB
    shards = []
    for number, share in ((1, total * 5 // 8), (2, total - total * 5 // 8)):
        tensors: dict[str, np.ndarray] = {}
        per_tensor = 16 * MiB
        index = 0
        remaining = share
        while remaining > 0:
            size = min(per_tensor, remaining) // 2 * 2
            if size == 0:
                break
            data = np.frombuffer(os.urandom(size), dtype=np.float16)
            tensors[f"layers.{number}.{index}.weight"] = (
                data.reshape(-1, 64) if size % 128 == 0 else data
            )
            remaining -= size
            index += 1
        path = directory / f"model-{number:05d}-of-00002.safetensors"
        save_file(tensors, str(path))
        shards.append(path)
    (directory / "config.json").write_text(json.dumps({"hidden_size": 64, "bench": True}))
    (directory / "tokenizer.json").write_text(
        json.dumps({"vocab": {f"t{i}": i for i in range(5000)}})
    )
    return shards


def safetensors_load(directory: Path) -> dict[str, Any]:
    """Every tensor of every shard in memory: the bytes read and deserialised (``load_file``
    would map the files and touch nothing, which measures no load at all)."""
    from safetensors.torch import load

    tensors: dict[str, Any] = {}
    for path in sorted(directory.glob("*.safetensors")):
        tensors.update(load(path.read_bytes()))
    return tensors


class SafetensorsLoader:
    """Loads every safetensors file of the model directory (CPU tensors)."""

    def measure(self, path: Path) -> int:
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())

    def load(self, path: Path, key: ModelKey) -> dict[str, Any]:
        return safetensors_load(path)

    def release(self, model: dict[str, Any]) -> None:
        model.clear()

    def warm_up(self, model: dict[str, Any]) -> None:
        pass


class _NoOrigin:
    async def fetch(self, key: ModelKey, dest: Path) -> int:
        raise RuntimeError("this scenario must not reach the origin")


async def timed(run: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await run()
    return time.perf_counter() - started


class Provider:
    """The provider's Kubo, replaced by a fresh one (new repository, none of the blocks,
    joined to the author's Kubo) before every remote round: a truly cold peer."""

    def __init__(self, root: Path, author: LocalKubo) -> None:
        self.root = root
        self.author = author
        self.count = 0
        self.kubo: LocalKubo | None = None

    def fresh(self) -> LocalKubo:
        self.stop()
        self.count += 1
        self.kubo = LocalKubo.start(self.root / f"provider-{self.count}", online=True)
        self.kubo.connect(self.author)
        return self.kubo

    def stop(self) -> None:
        if self.kubo is not None:
            self.kubo.stop()
            shutil.rmtree(self.kubo.repo, ignore_errors=True)
            self.kubo = None


def store_for(kubo: LocalKubo) -> IpfsStore:
    return IpfsStore(StoreConfig(api_url=kubo.api_url, kubo_gateway_url=kubo.gateway_url))


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {
        name: {"measured_s": [], "baseline_s": []}
        for name in (
            "remote_peer",
            "tier2_cluster",
            "tier2_cluster_chunked_baseline",
            "local_directory",
        )
    }
    with tempfile.TemporaryDirectory(prefix="cold-start-") as tmp_name:
        tmp = Path(tmp_name)
        model_dir = tmp / "model"
        build_model(model_dir, args.mib)
        size = sum(p.stat().st_size for p in model_dir.iterdir())
        files = sorted(p.name for p in model_dir.iterdir())
        author = LocalKubo.start(tmp / "author", online=True)
        provider = Provider(tmp, author)
        cluster = LocalRedisCluster.start(tmp / "cluster")
        try:
            async with IpfsStore(StoreConfig(api_url=author.api_url)) as author_store:
                cid = ModelKey(str((await author_store.add(model_dir)).cid))
            safetensors_load(model_dir)  # page cache and torch import, for every contender
            loader = SafetensorsLoader()

            def config(name: str, redis_url: str | None) -> CacheConfig:
                return CacheConfig(
                    disk_dir=tmp / "disks" / name,
                    tier1_capacity=4 * size,
                    disk_capacity=4 * size,
                    redis_url=redis_url,
                )

            # Fill tier 2 once (not timed).
            async with store_for(await asyncio.to_thread(provider.fresh)) as store:
                filler = ModelCache(config("fill", cluster.url), IpfsOrigin(store), loader)
                async with filler:
                    await (await filler.acquire(cid)).release()
            cluster.wait_synced(cluster.master_of(Keys("mc", cid).manifest))

            client = make_client(cluster.url, 30.0)
            raw = await client.get(Keys("mc", cid).manifest)
            manifest = Manifest.decode(raw)
            chunk_keys = [Keys("mc", cid).chunk(i) for i in range(len(manifest.hashes))]

            whole_key = "bench:{whole}"
            whole = b"".join([p.read_bytes() for p in sorted(model_dir.iterdir())])
            await client.set(whole_key, whole)
            del whole

            async def plain_redis_get() -> None:
                value = await client.get(whole_key)
                assert value is not None and len(value) == size

            async def plain_redis_read() -> None:
                got = 0
                for start in range(0, len(chunk_keys), 4):
                    pipe = client.pipeline(transaction=False)
                    for key in chunk_keys[start : start + 4]:
                        pipe.get(key)
                    got += sum(len(v) for v in await pipe.execute())
                assert got == manifest.total_size

            async def cat_files(kubo: LocalKubo) -> None:
                env = {**os.environ, "IPFS_PATH": str(kubo.repo)}
                proc = await asyncio.create_subprocess_exec(
                    kubo.binary, "cat", *(f"{cid}/{name}" for name in files),
                    stdout=subprocess.DEVNULL, env=env,
                )  # fmt: skip
                assert await asyncio.wait_for(proc.wait(), 300) == 0

            async def plain_load() -> None:
                tensors = await asyncio.to_thread(safetensors_load, model_dir)
                assert tensors

            for round_no in range(args.rounds):
                # Remote peer.
                name = f"remote-{round_no}"
                async with store_for(await asyncio.to_thread(provider.fresh)) as store:
                    cache = ModelCache(config(name, None), IpfsOrigin(store), loader)
                    async with cache:
                        await store.version()  # a running daemon: its session is open

                        async def ready(cache: ModelCache[Any] = cache) -> None:
                            await (await cache.acquire(cid)).release()

                        results["remote_peer"]["measured_s"].append(await timed(ready))
                        assert cache.metrics().origin_fetches == 1
                kubo = await asyncio.to_thread(provider.fresh)
                baseline = await timed(lambda kubo=kubo: cat_files(kubo))  # type: ignore[misc]
                baseline += await timed(plain_load)
                results["remote_peer"]["baseline_s"].append(baseline)

                # Tier 2 (cluster).
                name = f"tier2-{round_no}"
                cache_t2 = ModelCache(config(name, cluster.url), _NoOrigin(), loader)
                async with cache_t2:
                    # A running daemon: its cluster client knows the slots and is connected.
                    await cache_t2.held(ModelKey("warm-up"))

                    async def ready_t2(cache: ModelCache[Any] = cache_t2) -> None:
                        await (await cache.acquire(cid)).release()

                    results["tier2_cluster"]["measured_s"].append(await timed(ready_t2))
                    assert cache_t2.metrics().tier2_hits == 1
                load_s = await timed(plain_load)
                baseline = await timed(plain_redis_get) + load_s
                results["tier2_cluster"]["baseline_s"].append(baseline)
                chunked = await timed(plain_redis_read) + load_s
                results["tier2_cluster_chunked_baseline"]["measured_s"].append(
                    results["tier2_cluster"]["measured_s"][-1]
                )
                results["tier2_cluster_chunked_baseline"]["baseline_s"].append(chunked)

                # Local directory (the disk the tier-2 round just filled).
                cache_disk = ModelCache(config(name, None), _NoOrigin(), loader)
                async with cache_disk:

                    async def ready_disk(cache: ModelCache[Any] = cache_disk) -> None:
                        await (await cache.acquire(cid)).release()

                    results["local_directory"]["measured_s"].append(await timed(ready_disk))
                    assert cache_disk.metrics().disk_hits == 1
                results["local_directory"]["baseline_s"].append(await timed(plain_load))
                for leftover in (tmp / "disks").iterdir():
                    await asyncio.to_thread(shutil.rmtree, leftover)
            await client.aclose()
        finally:
            cluster.stop()
            provider.stop()
            author.stop()
    report: dict[str, Any] = {"model_mib": round(size / MiB, 1), "files": len(files)}
    for name, times in results.items():
        best, base = min(times["measured_s"]), min(times["baseline_s"])
        report[name] = {
            "measured_s": [round(t, 3) for t in times["measured_s"]],
            "baseline_s": [round(t, 3) for t in times["baseline_s"]],
            "measured_mib_s": round(size / MiB / best, 1),
            "baseline_mib_s": round(size / MiB / base, 1),
            "ratio_measured_over_baseline": round(best / base, 3),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
