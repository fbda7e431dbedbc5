"""A request's stages, as the dApp client reports them, on a real devstack: devnode, Kubo, Redis
and two real daemons (one executes, the other is drawn to validate)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from inference_client import InferenceClient, InferenceClientConfig, Stage, StageName
from ocw_daemon import Daemon
from runtime_types import ChainClient
from tests.cache.helpers import RedisServer
from tests.devnode.conftest import NodeThread
from tests.ipfs_store.conftest import KuboDaemon
from tests.ocw_daemon.helpers import (
    BOB,
    CHARLIE,
    DAVE,
    daemon_config,
    free_port,
    register_model,
    register_provider,
    set_reputation,
)

pytestmark = pytest.mark.timeout(240)

WITH_VALIDATION = [
    StageName.PLACED,
    StageName.ASSIGNED,
    StageName.RESULT_SUBMITTED,
    StageName.VALIDATION_DRAWN,
    StageName.VALIDATED,
    StageName.PAID,
    StageName.OUTPUT_VERIFIED,
]


async def test_stages_in_order_with_a_validator_drawn(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    tiny_cid: str,
    redis_server: RedisServer,
) -> None:
    model_id = await register_model(chain, tiny_cid)
    daemons = []
    for who, name in ((BOB, "bob"), (CHARLIE, "charlie")):
        config = daemon_config(
            tmp_path, name, node.url, kubo.api_url, free_port(), redis_server.url
        )
        daemon = Daemon(config, who)  # its X25519 key: the client seals to it (docs/privacy.md)
        key = daemon.encryption_key.public
        await register_provider(chain, who, config.endpoint, [model_id], encryption_key=key)
        daemons.append(daemon)
    for who in (BOB, CHARLIE):
        await set_reputation(chain, who, 0)  # reputation 0: a validator is always drawn
    try:
        for daemon in daemons:
            await daemon.start()
        config = InferenceClientConfig(chain_url=node.url, ipfs_api_url=kubo.api_url)
        seen: list[Stage] = []
        async with InferenceClient(config, DAVE) as client:
            result = await client.infer(
                "0x" + model_id.hex(), "hello world", max_tokens=4, on_stage=seen.append
            )
        assert [s.name for s in seen] == WITH_VALIDATION
        assigned, drawn, validated = seen[1], seen[3], seen[4]
        assert assigned.executor == result.executor
        assert drawn.validator is not None and drawn.validator != result.executor
        assert drawn.validator in {BOB.ss58_address, CHARLIE.ss58_address}
        assert validated.validator == drawn.validator
        numbers = [s.block_number for s in seen if s.block_number is not None]
        assert numbers == sorted(numbers) and numbers[0] == numbers[1]

        environ = {k: v for k, v in os.environ.items() if not k.startswith("INFER_")}
        environ.update(
            INFER_KEY_URI="//Dave", INFER_CHAIN_URL=node.url, INFER_IPFS_API_URL=kubo.api_url
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "inference_client", "--model", "0x" + model_id.hex(),
            "--prompt", "hello chain", "--max-tokens", "4", "--json",
            env=environ, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 0, err.decode()
        printed = json.loads(out)
        lines = [line for line in err.decode().splitlines() if line.startswith("infer: [")]
        names = [line.split("] ", 1)[1].split(" (", 1)[0] for line in lines]
        assert names == [name.value for name in WITH_VALIDATION], err.decode()
        assert printed["executor"] in lines[1] and "validator 5" in lines[3]
    finally:
        for daemon in daemons:
            await daemon.close()
