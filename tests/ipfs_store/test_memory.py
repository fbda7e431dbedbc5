"""Fetching a 1 GiB model keeps the fetching process's peak memory under 200 MB."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from ipfs_store import UNIXFS_V1_2025, FileBuilder, IpfsStore

from ._data import MiB, apattern, pattern
from .conftest import ROOT, KuboDaemon

GiB = 1024 * MiB
LIMIT = 200 * 1000 * 1000

# Run in a fresh interpreter so the measured high-water mark is the fetch's own, not the
# test session's. VmHWM is the kernel's peak resident set size of the process.
_FETCH = textwrap.dedent(
    """
    import asyncio, json, sys, time, tracemalloc
    from ipfs_store import IpfsStore, StoreConfig

    def vm(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) * 1024

    async def main():
        api, gateway, cid, dest = sys.argv[1:5]
        before = vm("VmHWM:")
        tracemalloc.start()
        start = time.perf_counter()
        async with IpfsStore(StoreConfig(api_url=api, kubo_gateway_url=gateway)) as store:
            result = await store.fetch(cid, dest)
        elapsed = time.perf_counter() - start
        _, traced_peak = tracemalloc.get_traced_memory()
        print(json.dumps({"rss_peak": vm("VmHWM:"), "rss_before": before,
                          "traced_peak": traced_peak, "seconds": elapsed,
                          "size": result.size, "blocks": result.blocks}))

    asyncio.run(main())
    """
)


async def test_fetch_1gib_model_peak_memory(
    kubo: KuboDaemon, store: IpfsStore, tmp_path: Path
) -> None:
    size = GiB  # also links x chunk for unixfs-v1-2025: a full single-level DAG
    added = await store.add_bytes(apattern(size), name="model.safetensors")
    local = FileBuilder(UNIXFS_V1_2025)
    for part in pattern(size):
        local.update(part)
    assert added.cid == local.finish().cid
    assert added.size == size

    dest = tmp_path / "model.safetensors"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _FETCH,
        kubo.api_url,
        kubo.gateway_url,
        str(added.cid),
        str(dest),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=300)
    assert proc.returncode == 0, err.decode()
    stats = json.loads(out.decode().strip().splitlines()[-1])
    print(f"1 GiB fetch: {stats}")
    assert stats["size"] == size
    assert stats["blocks"] == 1025  # 1024 raw leaves + the root
    assert stats["rss_peak"] < LIMIT, f"peak RSS {stats['rss_peak'] / 1e6:.1f} MB"
    assert stats["traced_peak"] < 64 * MiB
    assert await asyncio.to_thread(_chunk_heads, dest) == [(i, i) for i in (0, 511, 1023)]
    assert dest.stat().st_size == size


def _chunk_heads(path: Path) -> list[tuple[int, int]]:
    heads = []
    with open(path, "rb") as fh:
        for index in (0, 511, 1023):
            fh.seek(index * MiB)
            heads.append((index, int.from_bytes(fh.read(8), "big")))
    return heads
