"""devnode driven by unmodified polkadot-api over the new JSON-RPC interface.

The typed descriptors are generated here, offline, by polkadot-api's own CLI (`papi generate`)
from the V16 metadata devnode serves; the client uses the raw WebSocket provider, so nothing is
translated to the legacy RPC on the way (devnode's method counts show what it was asked).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import pytest

from devnode import DevNode, DevNodeConfig, Runtime
from devnode._runtime import RUNTIME

PAPI = Path(__file__).parent / "papi"
SCRIPT = PAPI / "check.mjs"
ALICE = bytes.fromhex("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d")


def _node_major() -> int:
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    return int(version.stdout.strip().lstrip("v").split(".")[0])


@pytest.fixture(scope="module")
def descriptors(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """polkadot-api descriptors for devnode's runtime, built by `papi generate` from V16."""
    return build_descriptors(tmp_path_factory.mktemp("papi"), RUNTIME.metadata(16))


def build_descriptors(root: Path, metadata_v16: bytes) -> Path:
    """`papi generate` in `root` from these metadata bytes; the built descriptors' index.js
    (exported as `devnode`, the name check.mjs imports, whichever runtime they describe)."""
    assert (PAPI / "node_modules" / ".bin" / "papi").exists(), (
        "polkadot-api is not installed: run `make setup` (scripts/setup.d/40-polkadot-api.sh)"
    )
    assert _node_major() >= 20, "polkadot-api needs Node.js 20 or newer"
    metadata = root / "devnode.scale"
    metadata.write_bytes(metadata_v16)
    (root / ".papi").mkdir()
    config = {
        "version": 0,
        "descriptorPath": ".papi/descriptors",
        "entries": {"devnode": {"metadata": str(metadata)}},
        # No descriptors package and no `npm install`: the test imports the built file.
        "options": {"noDescriptorsPackage": True},
    }
    (root / ".papi" / "polkadot-api.json").write_text(json.dumps(config))
    (root / "package.json").write_text('{"name": "devnode-papi-descriptors", "private": true}')
    os.symlink(PAPI / "node_modules", root / "node_modules")
    generated = subprocess.run(
        [str(PAPI / "node_modules" / ".bin" / "papi"), "generate"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert generated.returncode == 0, generated.stdout[-2000:] + generated.stderr[-2000:]
    index = root / ".papi" / "descriptors" / "dist" / "index.js"
    assert index.exists(), generated.stdout[-2000:]
    return index


def _tokens_account(runtime: Runtime, node: DevNode, who: bytes, currency: int) -> dict[str, int]:
    tokens = runtime.by_name["Tokens"]
    item = tokens.storage["Accounts"]
    raw = node.chain.storage.get(item.key(who, currency))
    assert raw is not None
    account = item.value.decode_all(raw)
    return {"free": account.free, "reserved": account.reserved, "frozen": account.frozen}


async def test_polkadot_api_reads_typed_storage_transfers_and_follows_finality(
    descriptors: Path,
) -> None:
    config = DevNodeConfig(port=0, block_time=0.2, finality_lag=1)
    async with DevNode(config) as node:
        process = await asyncio.create_subprocess_exec(
            "node",
            str(SCRIPT),
            node.url,
            str(descriptors),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=150)
        assert process.returncode == 0, stderr.decode()[-3000:]
        result = json.loads(stdout.decode().strip().splitlines()[-1])
        tokens = _tokens_account(node.chain.runtime, node, ALICE, 1)
        finalized = node.chain.finalized
        calls = dict(node.rpc.calls)
        transfer_block = node.chain.blocks[result["tx"]["block"]]

    assert result["chainSpec"]["name"] == "Development"
    assert result["chainSpec"]["genesisHash"] == "0x" + bytes(node.chain.genesis_hash).hex()
    assert result["chainSpec"]["properties"]["ss58Format"] == 42
    # Protocol pallets read through the typed API agree with devnode's own state.
    assert result["modelCount"] == 0
    assert result["viewModelCount"] == 0 and result["viewModelOfCid"] is None  # V16 view functions
    assert {k: int(v) for k, v in result["tokens"].items()} == tokens
    assert result["providers"] == 0
    assert int(result["fee"]) > 0
    # The signed transfer went through every stage to finalized, with its events.
    assert result["tx"]["seen"] == ["signed", "broadcasted", "txBestBlocksState", "finalized"]
    assert result["tx"]["ok"] is True
    assert result["tx"]["events"] == [
        "Balances.Withdraw",
        "Balances.Transfer",
        "TransactionPayment.TransactionFeePaid",
        "System.ExtrinsicSuccess",
    ]
    assert result["received"] == "1234567890123"
    assert len(transfer_block.extrinsics) == 2  # the timestamp inherent and the transfer
    # Finalized blocks were followed in order, up to the transfer's block.
    followed = result["finalized"]
    assert followed == list(range(followed[0], followed[-1] + 1))
    assert result["tx"]["block"] in followed and followed[-1] <= finalized
    # Only the new interface was spoken.
    assert calls.get("chainHead_v1_follow", 0) >= 1
    assert calls.get("chainHead_v1_storage", 0) >= 1
    assert calls.get("chainHead_v1_call", 0) >= 1
    assert calls.get("transaction_v1_broadcast", 0) == 1
    assert calls.get("state_call", 0) == 0  # view functions went through chainHead_v1_call too
    legacy = {m for m in calls if m.split("_")[0] in ("chain", "state", "author", "system")}
    assert legacy == set()
