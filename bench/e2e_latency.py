"""Daemon overhead per request and on-chain bytes per inference, on devnode + Kubo.

Starts devnode (in this process, a block as soon as transactions arrive), an offline Kubo and
one `ocw_daemon.Daemon` on the CPU with a tiny GPT-2 (one provider: no validation is drawn),
then places N requests one after another. For each, the daemon records when it received the
block announcing the request, how long inference took, and when it called `submit_result`;
the figure is `submit called - block received - inference`, p50 and p95. On-chain bytes are
the encoded `request` and `submit_result` extrinsics of those requests, read back from blocks.

    .venv/bin/python bench/e2e_latency.py [--requests 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devnode import DevNode, DevNodeConfig  # noqa: E402
from ipfs_store import IpfsStore, StoreConfig  # noqa: E402
from ocw_daemon import Daemon  # noqa: E402
from runtime_types import ChainClient, ClientConfig  # noqa: E402
from runtime_types.generated.devnode import BINDINGS, inference  # noqa: E402
from tests.ipfs_store.conftest import start_kubo  # noqa: E402
from tests.ocw_daemon.helpers import (  # noqa: E402
    BOB,
    DAVE,
    build_tiny_model,
    daemon_config,
    free_port,
    register_model,
    register_provider,
    request,
    wait_terminal,
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        kubo = start_kubo(tmp / "kubo")
        try:
            model_dir = build_tiny_model(tmp / "model")
            async with IpfsStore(StoreConfig(api_url=kubo.api_url)) as store:
                cid = str((await store.add(model_dir)).cid)
            async with (
                DevNode(DevNodeConfig(port=0)) as node,
                ChainClient(BINDINGS, ClientConfig(node.url, poll_interval=0.01)) as c,
            ):
                model_id = await register_model(c, cid)
                config = daemon_config(
                    tmp, "bob", node.url, kubo.api_url, free_port(), poll_interval_s=0.005
                )
                await register_provider(c, BOB, config.endpoint, [model_id], capacity=64)
                async with Daemon(config, BOB) as daemon:
                    warm = await request(c, DAVE, model_id, b"warm up", deadline_blocks=600)
                    await wait_terminal(c, [warm], 120)
                    daemon.timings.clear()
                    first = await c.head_number() + 1
                    ids = []
                    started = time.perf_counter()
                    for i in range(n):
                        rid = await request(
                            c, DAVE, model_id, f"hello {i}".encode(), deadline_blocks=600
                        )
                        ids.append(rid)
                        await wait_terminal(c, [rid], 60)
                    wall = time.perf_counter() - started
                    timings = [t for t in daemon.timings if t.request_id in set(ids)]
                last = await c.head_number()
                sizes: dict[str, list[int]] = {}
                for number in range(first, last + 1):
                    block = await c.block(number)
                    assert block is not None
                    for ext in block.extrinsics:
                        call = BINDINGS.decode_extrinsic(ext).call
                        if call.pallet == inference.calls.PALLET:
                            sizes.setdefault(call.name, []).append(len(ext))
        finally:
            kubo.stop()
    overhead = [t.overhead_s * 1000 for t in timings]
    infer = [t.inference_s * 1000 for t in timings]
    print(f"requests: {n} ({len(timings)} timed), wall {wall:.1f} s")
    print(
        f"daemon overhead (block received -> submit_result called, minus inference): "
        f"p50 {pct(overhead, 0.5):.2f} ms, p95 {pct(overhead, 0.95):.2f} ms, "
        f"mean {statistics.fmean(overhead):.2f} ms (aim: p50 < 20 ms)"
    )
    print(f"inference itself: p50 {pct(infer, 0.5):.2f} ms, p95 {pct(infer, 0.95):.2f} ms")
    per_call = {name: statistics.fmean(v) for name, v in sizes.items()}
    total = sum(sum(v) for v in sizes.values()) / n
    print(f"on-chain bytes per inference: {total:.0f} ({', '.join(f'{k} {v:.0f}' for k, v in sorted(per_call.items()))})")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    asyncio.run(main(parser.parse_args().requests))
