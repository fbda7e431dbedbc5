"""Verified fetch throughput vs plain `ipfs cat > /dev/null` of the same 512 MiB model.

Starts its own offline Kubo (from .tools/bin, see scripts/setup.d/20-kubo.sh), adds a
512 MiB file with the unixfs-v1-2025 profile, then times, alternately and several times,
`ipfs cat <cid> > /dev/null` and `IpfsStore.fetch` through Kubo's gateway, every block hashed
and checked, the file written to disk:

- the default path for a file with raw leaves: verified interior nodes, then the plain content
  stream cut into leaves, each hashed against the CID its verified parent names;
- the CAR path (``fast_file_fetch=False``), which HAMT shards and dag-pb leaves always use.

Then the same for a model directory of the same size (three safetensors-like shards of 5/8,
2/8 and 1/8 of the bytes, a config and a tokenizer file): `ipfs cat <root>/<file> ...` of
every file against the directory fetch (each file on the stream path, in parallel) and the
directory as one CAR.

Reports the best of each and the throughput ratios against `ipfs cat`.

    .venv/bin/python bench/ipfs_fetch.py [--size-mib 512] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ipfs_store import IpfsStore, StoreConfig  # noqa: E402
from tests.ipfs_store.conftest import start_kubo  # noqa: E402

MiB = 1024 * 1024


async def _data(size: int) -> AsyncIterator[bytes]:
    base = hashlib.shake_256(b"bench").digest(MiB)
    for index in range(size // MiB):
        yield index.to_bytes(8, "big") + base[8:]


def _model_dir(root: Path, size: int) -> list[str]:
    root.mkdir()
    shares = (size * 5 // 8, size * 2 // 8, size - size * 5 // 8 - size * 2 // 8)
    base = hashlib.shake_256(b"bench-dir").digest(MiB)
    for number, share in enumerate(shares, 1):
        with (root / f"model-{number:05d}-of-00003.safetensors").open("wb") as out:
            for index in range(share // MiB):
                out.write(number.to_bytes(2, "big") + index.to_bytes(6, "big") + base[8:])
            out.write(base[: share % MiB])
    (root / "config.json").write_text(json.dumps({"hidden_size": 4096}))
    (root / "tokenizer.json").write_text(json.dumps({"vocab": {f"t{i}": i for i in range(30000)}}))
    return sorted(p.name for p in root.iterdir())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory(prefix="ipfs-bench-") as tmp:
        kubo = start_kubo(Path(tmp) / "repo")
        try:
            config = StoreConfig(api_url=kubo.api_url, kubo_gateway_url=kubo.gateway_url)
            async with (
                IpfsStore(config) as store,
                IpfsStore(replace(config, fast_file_fetch=False)) as car_store,
            ):
                added = await store.add_bytes(_data(size), name="model.bin")
                cid = str(added.cid)
                cat_times: list[float] = []
                fetch_times: list[float] = []
                car_times: list[float] = []
                env = {**os.environ, "IPFS_PATH": str(kubo.repo)}
                for round_no in range(args.rounds):
                    start = time.perf_counter()
                    proc = await asyncio.create_subprocess_exec(
                        kubo.binary, "cat", cid, stdout=subprocess.DEVNULL, env=env
                    )
                    assert await proc.wait() == 0
                    cat_times.append(time.perf_counter() - start)
                    for fetcher, times in ((store, fetch_times), (car_store, car_times)):
                        dest = Path(tmp) / f"out-{round_no}"
                        start = time.perf_counter()
                        result = await fetcher.fetch(cid, dest)
                        times.append(time.perf_counter() - start)
                        assert result.size == size
                        await asyncio.to_thread(os.unlink, dest)
                names = await asyncio.to_thread(_model_dir, Path(tmp) / "model-dir", size)
                dir_cid = str((await store.add(Path(tmp) / "model-dir")).cid)
                dir_bytes = sum(p.stat().st_size for p in (Path(tmp) / "model-dir").iterdir())
                dir_cat: list[float] = []
                dir_fetch: list[float] = []
                dir_car: list[float] = []
                for round_no in range(args.rounds):
                    start = time.perf_counter()
                    proc = await asyncio.create_subprocess_exec(
                        kubo.binary, "cat", *(f"{dir_cid}/{name}" for name in names),
                        stdout=subprocess.DEVNULL, env=env,
                    )  # fmt: skip
                    assert await proc.wait() == 0
                    dir_cat.append(time.perf_counter() - start)
                    for fetcher, times in ((store, dir_fetch), (car_store, dir_car)):
                        dest = Path(tmp) / f"dir-out-{round_no}"
                        start = time.perf_counter()
                        result = await fetcher.fetch(dir_cid, dest)
                        times.append(time.perf_counter() - start)
                        assert result.is_dir and result.size == dir_bytes
                        await asyncio.to_thread(shutil.rmtree, dest)
        finally:
            kubo.stop()
    cat_best, fetch_best, car_best = min(cat_times), min(fetch_times), min(car_times)
    dir_mib = dir_bytes / MiB
    report = {
        "size_mib": args.size_mib,
        "cid": cid,
        "ipfs_cat_s": [round(t, 3) for t in cat_times],
        "verified_fetch_s": [round(t, 3) for t in fetch_times],
        "verified_fetch_car_s": [round(t, 3) for t in car_times],
        "ipfs_cat_mib_s": round(args.size_mib / cat_best, 1),
        "verified_fetch_mib_s": round(args.size_mib / fetch_best, 1),
        "verified_fetch_car_mib_s": round(args.size_mib / car_best, 1),
        "ratio_fetch_over_cat": round(cat_best / fetch_best, 3),
        "ratio_car_fetch_over_cat": round(cat_best / car_best, 3),
        "dir_cid": dir_cid,
        "dir_files": len(names),
        "dir_mib": round(dir_mib, 1),
        "dir_ipfs_cat_s": [round(t, 3) for t in dir_cat],
        "dir_verified_fetch_s": [round(t, 3) for t in dir_fetch],
        "dir_verified_fetch_car_s": [round(t, 3) for t in dir_car],
        "dir_ipfs_cat_mib_s": round(dir_mib / min(dir_cat), 1),
        "dir_verified_fetch_mib_s": round(dir_mib / min(dir_fetch), 1),
        "dir_verified_fetch_car_mib_s": round(dir_mib / min(dir_car), 1),
        "ratio_dir_fetch_over_cat": round(min(dir_cat) / min(dir_fetch), 3),
        "ratio_dir_car_fetch_over_cat": round(min(dir_cat) / min(dir_car), 3),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
