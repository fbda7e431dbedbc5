"""`infer gateway` and `infer --stream` as commands, against real daemons."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from runtime_types import ChainClient
from tests.devnode.conftest import NodeThread
from tests.inference_gateway.helpers import BOB, CHARLIE, open_channel, start_stack
from tests.ipfs_store.conftest import KuboDaemon
from tests.ocw_daemon.helpers import EVE

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(300)


def _env(node: NodeThread, state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INFER_", "OCW_"))}
    env.update(INFER_KEY_URI="//Eve", INFER_CHAIN_URL=node.url, INFER_GATEWAY_STATE=str(state))
    return env


async def test_infer_stream_and_infer_gateway_commands(
    tmp_path: Path, node: NodeThread, kubo: KuboDaemon, chain: ChainClient, model_cid: str
) -> None:
    stack = await start_stack(tmp_path, node, kubo, chain, model_cid, None)
    try:
        for executor in (BOB, CHARLIE):
            await open_channel(chain, EVE, executor, 10**15)
        model = "0x" + stack.model_id.hex()
        state = tmp_path / "eve-tickets.json"
        infer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "inference_client",
            "--stream",
            "--model",
            model,
            "--prompt",
            "hello world",
            "--max-tokens",
            "6",
            "--url",
            node.url,
            cwd=ROOT,
            env=_env(node, state),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(infer.communicate(), 120)
        assert infer.returncode == 0, err.decode()
        assert out.endswith(b"\n")
        counted = re.search(r"(\d+) completion tokens", err.decode())
        assert counted is not None and 1 <= int(counted.group(1)) <= 6  # sampled: EOS may end it
        assert state.exists()  # the ticket chain outlives the process

        gateway = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "inference_client",
            "gateway",
            "--port",
            "0",
            cwd=ROOT,
            env=_env(node, state),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert gateway.stdout is not None
            line = await asyncio.wait_for(gateway.stdout.readline(), 120)
            info = json.loads(line)
            assert info["account"] == EVE.ss58_address
            oa = openai.AsyncOpenAI(base_url=info["gateway_url"], api_key="unused", max_retries=0)
            async with oa:
                answer = await oa.completions.create(
                    model=model, prompt="hello world", max_tokens=3, temperature=0
                )
            assert answer.usage is not None and answer.usage.completion_tokens == 3
            # the second process continued the chain the first one left
            assert (answer.model_extra or {})["direct"]["ticket_nonce"] >= 1
        finally:
            gateway.terminate()
            assert await asyncio.wait_for(gateway.wait(), 30) == 0
        assert await stack.settle() == 2
    finally:
        await stack.close()
