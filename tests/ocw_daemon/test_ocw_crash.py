"""Crash safety: `ocw-daemon run` as a subprocess, SIGKILLed at random moments of its jobs and
restarted; every request ends exactly once and nothing is paid twice."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import pytest

from runtime_types import ChainClient
from tests.devnode.conftest import NodeThread
from tests.ipfs_store.conftest import KuboDaemon
from tests.ocw_daemon.helpers import (
    BOB,
    DAVE,
    MODEL_CURRENCY,
    daemon_config,
    free_port,
    register_model,
    register_provider,
    request,
    scan,
    token_balance,
    wait_terminal,
    write_daemon_toml,
    write_keystore,
)
from tests.waiting import until

pytestmark = pytest.mark.timeout(420)
ROOT = Path(__file__).resolve().parents[2]


def spawn(config_path: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCW_")}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ocw_daemon", "run", "--config", str(config_path)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def wait_ready(url: str, proc: subprocess.Popen[bytes], within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "the daemon exited"
            try:
                async with session.get(f"{url}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("the daemon did not become ready")


async def pool_empty(node: NodeThread) -> bool:
    """No extrinsic waits in the node's pool (`author_pendingExtrinsics`)."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "author_pendingExtrinsics", "params": []}
    async with aiohttp.ClientSession() as session, session.post(node.http_url, json=body) as resp:
        return (await resp.json())["result"] == []


async def test_sigkill_at_random_moments_every_request_ends_once(
    tmp_path: Path, node: NodeThread, kubo: KuboDaemon, chain: ChainClient, tiny_cid: str
) -> None:
    rng = random.Random(8)
    model_id = await register_model(chain, tiny_cid)
    port = free_port()
    config = daemon_config(tmp_path, "bob", node.url, kubo.api_url, port)
    await register_provider(chain, BOB, config.endpoint, [model_id])
    keystore = write_keystore(tmp_path / "bob-key.json", "//Bob")
    config_path = tmp_path / "daemon.toml"
    write_daemon_toml(config_path, config, keystore)
    log = tmp_path / "daemon.log"
    dave_before = await token_balance(chain, DAVE, MODEL_CURRENCY)
    first = await chain.head_number() + 1

    ids: list[int] = []
    kills = 0
    proc = spawn(config_path, log)
    try:
        for _trial in range(10):
            await wait_ready(config.endpoint, proc)
            for i in range(2):
                ids.append(
                    await request(chain, DAVE, model_id, f"hello {len(ids)} {i}".encode(),
                                  deadline_blocks=600)
                )  # fmt: skip
            await asyncio.sleep(rng.uniform(0.0, 1.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            kills += 1
            proc = spawn(config_path, log)
        await wait_ready(config.endpoint, proc)
        final = await wait_terminal(chain, ids, within=150)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert kills == 10
    assert proc.returncode == 0, log.read_text()[-3000:]  # SIGTERM: a clean exit
    # what the killed incarnations sent last is in a block (or dropped) before the scan
    await until(lambda: pool_empty(node), 30, "the node's transaction pool drained")
    chain_log = await scan(chain, first, await chain.head_number())

    ends: Counter[int] = Counter()
    for name in ("InferencePaid", "RequestExpired", "ValidationFailed", "OutputTimedOut"):
        for event in chain_log.events[name]:
            ends[int(event.request_id)] += 1
    assert all(ends[rid] == 1 for rid in ids), ends
    results = Counter(int(e.request_id) for e in chain_log.events["ResultSubmitted"])
    assert all(n <= 1 for n in results.values())
    paid = {int(e.request_id): e for e in chain_log.events["InferencePaid"]}
    assert len(paid) + len(chain_log.events["RequestExpired"]) == len(ids)
    # deadlines outlast the kills, so every request is completed by a later incarnation
    assert set(paid) == set(ids), {r: type(i.state).__name__ for r, i in final.items()}
    # the requester paid exactly the settled costs; nothing stays reserved
    cost = sum(int(e.cost) for e in paid.values())
    assert await token_balance(chain, DAVE, MODEL_CURRENCY) == (dave_before[0] - cost, 0)
