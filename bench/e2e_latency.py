"""Daemon overhead per request and on-chain bytes per inference, on devnode and/or the runtime.

Starts the chain, an offline Kubo and one `ocw_daemon.Daemon` on the CPU with a tiny GPT-2
(one provider: no validation is drawn), then places N requests one after another. For each,
the daemon records when it received the block announcing the request, how long inference took,
and when it called `submit_result`; the figure is `submit called - block received -
inference`, p50 and p95. On-chain bytes are the encoded `request` and `submit_result`
extrinsics of those requests, read back from the chain's blocks.

The chain (`--chain`): `devnode` (the default: in this process, a block as soon as
transactions arrive), `runtime` (the Rust runtime's wasm on chopsticks, started with
`devstack.LocalRuntimeNode` in `Instant` mode: a block per transaction; needs `make
chain-build`) or `both`, one after the other in the same run, with the runtime's figures
printed next to devnode's and their ratio. Only RPCs that both nodes serve are used (blocks
come from the transactions themselves, on both).

    .venv/bin/python bench/e2e_latency.py [--requests 100] [--chain devnode|runtime|both]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devnode import DevNode, DevNodeConfig  # noqa: E402
from devstack import LocalRuntimeNode  # noqa: E402
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

CHAINS = ("devnode", "runtime")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Chain:
    url: str
    #: the node's process id when it runs in its own process (the runtime's chopsticks)
    pid: int | None = None

    def cpu_s(self) -> float:
        """CPU seconds the node's own process has used so far (0 for devnode, in this one)."""
        if self.pid is None:
            return 0.0
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@asynccontextmanager
async def start_chain(kind: str) -> AsyncIterator[Chain]:
    """A fresh chain of `kind` with the dev genesis."""
    if kind == "devnode":
        async with DevNode(DevNodeConfig(port=0)) as node:
            yield Chain(node.url)
        return
    runtime = await asyncio.to_thread(LocalRuntimeNode.start)
    try:
        yield Chain(runtime.url, runtime.proc.pid)
    finally:
        await asyncio.to_thread(runtime.stop)


@dataclass
class Figures:
    chain: str
    requests: int
    timed: int
    wall_s: float
    overhead_ms: list[float]
    inference_ms: list[float]
    #: `request` submitted -> its receipt (included in a block)
    included_ms: list[float]
    #: receipt -> the request seen terminal (daemon, inference, `submit_result` included, polled)
    settled_ms: list[float]
    #: CPU seconds of the node's own process over the N requests (chopsticks; 0 for devnode)
    node_cpu_s: float
    sizes: dict[str, list[int]]

    @property
    def bytes_per_inference(self) -> float:
        return sum(sum(v) for v in self.sizes.values()) / self.requests

    def per_call(self) -> dict[str, float]:
        return {name: statistics.fmean(v) for name, v in sorted(self.sizes.items())}


async def measure(kind: str, n: int, tmp: Path, kubo_api: str, cid: str) -> Figures:
    async with (
        start_chain(kind) as chain,
        ChainClient(BINDINGS, ClientConfig(chain.url, poll_interval=0.01)) as c,
    ):
        model_id = await register_model(c, cid)
        config = daemon_config(
            tmp, f"bob-{kind}", chain.url, kubo_api, free_port(), poll_interval_s=0.005
        )
        await register_provider(c, BOB, config.endpoint, [model_id], capacity=64)
        async with Daemon(config, BOB) as daemon:
            warm = await request(c, DAVE, model_id, b"warm up", deadline_blocks=600)
            await wait_terminal(c, [warm], 120)
            daemon.timings.clear()
            first = await c.head_number() + 1
            ids = []
            started, node_cpu = time.perf_counter(), chain.cpu_s()
            included_ms, settled_ms = [], []
            for i in range(n):
                sent = time.perf_counter()
                rid = await request(c, DAVE, model_id, f"hello {i}".encode(), deadline_blocks=600)
                placed = time.perf_counter()
                ids.append(rid)
                await wait_terminal(c, [rid], 60)
                included_ms.append((placed - sent) * 1000)
                settled_ms.append((time.perf_counter() - placed) * 1000)
            wall, node_cpu = time.perf_counter() - started, chain.cpu_s() - node_cpu
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
    return Figures(
        kind,
        n,
        len(timings),
        wall,
        [t.overhead_s * 1000 for t in timings],
        [t.inference_s * 1000 for t in timings],
        included_ms,
        settled_ms,
        node_cpu,
        sizes,
    )


def report(f: Figures) -> None:
    node = f", node process CPU {f.node_cpu_s:.1f} s" if f.node_cpu_s else ""
    print(f"[{f.chain}] requests: {f.requests} ({f.timed} timed), wall {f.wall_s:.1f} s{node}")
    print(
        f"[{f.chain}] daemon overhead (block received -> submit_result called, minus inference): "
        f"p50 {pct(f.overhead_ms, 0.5):.2f} ms, p95 {pct(f.overhead_ms, 0.95):.2f} ms, "
        f"mean {statistics.fmean(f.overhead_ms):.2f} ms (aim: p50 < 20 ms)"
    )
    print(
        f"[{f.chain}] inference itself: p50 {pct(f.inference_ms, 0.5):.2f} ms, "
        f"p95 {pct(f.inference_ms, 0.95):.2f} ms"
    )
    print(
        f"[{f.chain}] request submitted -> included: p50 {pct(f.included_ms, 0.5):.2f} ms; "
        f"included -> seen Completed (0.2 s polls): p50 {pct(f.settled_ms, 0.5):.2f} ms"
    )
    calls = ", ".join(f"{k} {v:.0f}" for k, v in f.per_call().items())
    print(f"[{f.chain}] on-chain bytes per inference: {f.bytes_per_inference:.0f} ({calls})")


def compare(devnode: Figures, runtime: Figures) -> None:
    """The two chains side by side, with runtime / devnode."""
    rows: list[tuple[str, float, float]] = [
        ("wall per request (ms)", devnode.wall_s * 1000 / devnode.requests,
         runtime.wall_s * 1000 / runtime.requests),
        ("node CPU per request (ms)", math.nan, runtime.node_cpu_s * 1000 / runtime.requests),
        ("overhead p50 (ms)", pct(devnode.overhead_ms, 0.5), pct(runtime.overhead_ms, 0.5)),
        ("overhead p95 (ms)", pct(devnode.overhead_ms, 0.95), pct(runtime.overhead_ms, 0.95)),
        ("overhead mean (ms)", statistics.fmean(devnode.overhead_ms),
         statistics.fmean(runtime.overhead_ms)),
        ("request included p50 (ms)", pct(devnode.included_ms, 0.5), pct(runtime.included_ms, 0.5)),
        ("then Completed p50 (ms)", pct(devnode.settled_ms, 0.5), pct(runtime.settled_ms, 0.5)),
        ("inference p50 (ms)", pct(devnode.inference_ms, 0.5), pct(runtime.inference_ms, 0.5)),
        ("bytes per inference", devnode.bytes_per_inference, runtime.bytes_per_inference),
    ]  # fmt: skip
    d_calls, r_calls = devnode.per_call(), runtime.per_call()
    for name in sorted(set(d_calls) | set(r_calls)):
        rows.append((f"  {name} bytes", d_calls.get(name, 0.0), r_calls.get(name, 0.0)))
    print(f"{'':>26} {'devnode':>10} {'runtime':>10} {'runtime/devnode':>16}")
    for label, d, r in rows:
        if math.isnan(d):  # devnode runs in this process: its CPU is not apart
            print(f"{label:>26} {'in-process':>10} {r:>10.2f} {'-':>16}")
            continue
        ratio = f"{r / d:.2f}x" if d else "-"
        print(f"{label:>26} {d:>10.2f} {r:>10.2f} {ratio:>16}")


async def main(n: int, chain: str) -> None:
    kinds = CHAINS if chain == "both" else (chain,)
    figures: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        kubo = start_kubo(tmp / "kubo")
        try:
            model_dir = build_tiny_model(tmp / "model")
            async with IpfsStore(StoreConfig(api_url=kubo.api_url)) as store:
                cid = str((await store.add(model_dir)).cid)
            for kind in kinds:
                figures[kind] = await measure(kind, n, tmp, kubo.api_url, cid)
        finally:
            kubo.stop()
    for kind in kinds:
        report(figures[kind])
    if len(figures) == 2:
        compare(figures["devnode"], figures["runtime"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument(
        "--chain",
        choices=(*CHAINS, "both"),
        default="devnode",
        help="devnode (default), the Rust runtime on chopsticks, or both in one run",
    )
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.chain))
