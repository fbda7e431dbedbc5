"""How soon the chain client sees a new block: head subscriptions against the polling fallback.

Starts devnode (in this process) and measures, with the default `ClientConfig`, over the same
node in the same run:
- block notice: a `BlockStream` is waiting; the time from devnode sealing a block to the stream
  yielding it;
- submit: `ChainClient.submit(remark)` until the receipt (`in_block`, a block per submission);
- idle CPU: a stream waits for a block that does not come for 3 s; the process's CPU time over
  that span (devnode, idle, runs in the same process in both runs).
Over `ws://` the client follows `chain_subscribe*Heads`; over `http://` (no subscriptions) it
polls every `poll_interval` (50 ms), the fallback and what every stream did before.

    .venv/bin/python bench/block_notice.py [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from substrateinterface import Keypair  # noqa: E402

from devnode import DevNode, DevNodeConfig  # noqa: E402
from runtime_types import ChainClient, ClientConfig  # noqa: E402
from runtime_types.generated.devnode import BINDINGS, system  # noqa: E402

ALICE = Keypair.create_from_uri("//Alice")


async def block_notice(rounds: int, http: bool) -> float:
    async with DevNode(DevNodeConfig(port=0, block_time=3600)) as node:
        url = node.http_url if http else node.url
        async with ChainClient(BINDINGS, ClientConfig(url)) as client:
            stream = client.blocks(start=node.chain.best_number + 1)
            times = []
            try:
                for _ in range(rounds):
                    waiting = asyncio.ensure_future(anext(stream))
                    await asyncio.sleep(0.03)  # the stream settles into waiting for a head
                    started = time.perf_counter()
                    await node.produce_block()
                    await waiting
                    times.append((time.perf_counter() - started) * 1000)
            finally:
                await stream.aclose()
    return statistics.median(times)


async def submit(rounds: int, http: bool) -> float:
    async with DevNode(DevNodeConfig(port=0)) as node:
        url = node.http_url if http else node.url
        async with ChainClient(BINDINGS, ClientConfig(url)) as client:
            times = []
            for i in range(rounds):
                started = time.perf_counter()
                receipt = await client.submit(system.calls.remark(b"bench %d" % i), ALICE)
                assert receipt.success
                times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def idle_cpu(rounds: int, http: bool) -> float:
    """CPU seconds the process spends while a stream waits 3 s for a block (rounds unused)."""
    del rounds
    async with DevNode(DevNodeConfig(port=0, block_time=3600)) as node:
        url = node.http_url if http else node.url
        async with ChainClient(BINDINGS, ClientConfig(url)) as client:
            stream = client.blocks(start=node.chain.best_number + 1)
            waiting = asyncio.ensure_future(anext(stream))
            try:
                await asyncio.sleep(0.3)  # connected and waiting
                started = time.process_time()
                await asyncio.sleep(3.0)
                spent = time.process_time() - started
            finally:
                waiting.cancel()
                await stream.aclose()
    return spent * 1000


async def main(rounds: int) -> None:
    for name, measure in (
        ("block notice, median", block_notice),
        ("submit in_block, median", submit),
        ("idle CPU per 3 s (ms of CPU)", idle_cpu),
    ):
        subscribed = await measure(rounds, http=False)
        polled = await measure(rounds, http=True)
        print(
            f"{name}: {subscribed:.1f} ms subscribed (ws), {polled:.1f} ms polled (http), "
            f"ratio {subscribed / polled:.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    asyncio.run(main(parser.parse_args().rounds))
