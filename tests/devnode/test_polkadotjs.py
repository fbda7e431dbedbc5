"""devnode driven by unmodified polkadot.js (@polkadot/api) over a real WebSocket."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from devnode import DEV_ACCOUNTS, DevNode, DevNodeConfig

SCRIPT = Path(__file__).parent / "polkadotjs" / "check.mjs"


async def test_polkadotjs_reads_transfers_and_sees_finality() -> None:
    async with DevNode(DevNodeConfig(port=0, block_time=0.2, finality_lag=1)) as node:
        process = await asyncio.create_subprocess_exec(
            "node",
            str(SCRIPT),
            node.url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
        assert process.returncode == 0, stderr.decode()[-2000:]
        result = json.loads(stdout.decode().strip().splitlines()[-1])
        best = node.chain.best_number
        finalized = node.chain.finalized
    assert result["chain"] == "Development"
    assert result["specName"] == "devnode"
    assert result["ss58"] == 42 and result["decimals"] == [12]
    assert int(result["partialFee"]) > 0
    assert result["events"] == [
        "balances.Withdraw",
        "balances.Transfer",
        "transactionPayment.TransactionFeePaid",
        "system.ExtrinsicSuccess",
    ]
    assert result["received"] == "1234567890123"
    assert result["accounts"] == len(DEV_ACCOUNTS)
    assert 0 < result["finalizedNumber"] <= finalized < best
