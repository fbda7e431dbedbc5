"""Unmodified polkadot.js and polkadot-api on the Rust runtime (the wasm on chopsticks): the
scripts devnode's compatibility tests run (tests/devnode/polkadotjs, tests/devnode/papi), here
against the runtime; polkadot-api's descriptors are generated from the runtime's own metadata."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from substrateinterface import Keypair

from runtime_types._scale import Reader
from tests.chains import ChainUnderTest, running_chain
from tests.devnode.test_papi import ALICE, build_descriptors
from tests.devnode.test_papi import SCRIPT as PAPI_SCRIPT
from tests.devnode.test_polkadotjs import SCRIPT as POLKADOTJS_SCRIPT

pytestmark = pytest.mark.runtime

TRANSFER_EVENTS = ["Withdraw", "Transfer", "TransactionFeePaid", "ExtrinsicSuccess"]


@pytest.fixture(scope="module")
def runtime() -> Iterator[ChainUnderTest]:
    yield from running_chain("runtime")


async def run_script(*args: str, within: float) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        "node", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=within)
    assert process.returncode == 0, stderr.decode()[-3000:]
    result: dict[str, object] = json.loads(stdout.decode().strip().splitlines()[-1])
    return result


async def test_polkadotjs_reads_transfers_and_sees_finality(runtime: ChainUnderTest) -> None:
    result = await run_script(str(POLKADOTJS_SCRIPT), runtime.url, within=120)
    assert result["chain"] == "genai_dev"  # chopsticks answers system_chain with the spec's id
    assert result["specName"] == "genai-substrate"
    assert result["ss58"] == 42 and result["decimals"] == [12]
    assert int(str(result["partialFee"])) > 0
    assert result["events"] == [
        "balances.Withdraw",
        "balances.Transfer",
        "transactionPayment.TransactionFeePaid",
        "system.ExtrinsicSuccess",
    ]
    assert result["received"] == "1234567890123"
    assert isinstance(result["accounts"], int) and result["accounts"] >= 6
    head = int(runtime.rpc("chain_getHeader")["number"], 16)
    assert 0 < int(str(result["finalizedNumber"])) <= head


async def test_polkadot_api_reads_typed_storage_transfers_and_follows_finality(
    runtime: ChainUnderTest, tmp_path: Path
) -> None:
    version = (16).to_bytes(4, "little").hex()
    answer = str(runtime.rpc("state_call", "Metadata_metadata_at_version", "0x" + version))
    # Option<OpaqueMetadata>: 0x01, the compact length, then the metadata itself
    raw = bytes.fromhex(answer.removeprefix("0x"))
    reader = Reader(raw[1:])
    metadata = reader.read(reader.compact())
    descriptors = build_descriptors(tmp_path, metadata)
    result = await run_script(str(PAPI_SCRIPT), runtime.url, str(descriptors), within=150)
    spec = result["chainSpec"]
    assert isinstance(spec, dict)
    assert spec["genesisHash"] == runtime.rpc("chain_getBlockHash", 0)
    assert spec["properties"]["ss58Format"] == 42
    assert result["alice"] == Keypair(public_key=ALICE, ss58_format=42).ss58_address
    # The protocol pallets through the typed API and V16 view functions, on the runtime.
    assert result["viewModelCount"] == result["modelCount"]
    assert result["viewModelOfCid"] is None
    assert result["tokens"] == {"free": str(10**18), "reserved": "0", "frozen": "0"}
    assert result["providers"] == 0
    assert int(str(result["fee"])) > 0
    tx = result["tx"]
    assert isinstance(tx, dict)
    assert tx["seen"] == ["signed", "broadcasted", "txBestBlocksState", "finalized"]
    assert tx["ok"] is True
    assert [e.split(".")[1] for e in tx["events"]] == TRANSFER_EVENTS
    assert result["received"] == "1234567890123"
    followed = result["finalized"]
    assert isinstance(followed, list) and tx["block"] in followed
    assert followed == list(range(followed[0], followed[-1] + 1))
