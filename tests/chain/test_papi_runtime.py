"""The Rust runtime (its wasm on chopsticks) driven by unmodified polkadot-api over the new
JSON-RPC interface, as tests/devnode/test_papi.py drives devnode.

The same script (tests/devnode/papi/check.mjs, polkadot-api from the committed lock) runs with
typed descriptors that polkadot-api's own CLI (`papi generate`) builds, offline, from the V16
metadata the runtime serves (`Metadata_metadata_at_version(16)`): it reads protocol storage,
V16 view functions and orml-tokens' accounts through the typed API, has a signed transfer go
through every stage to finalized, and follows the finalized blocks. What it reads is checked
against the runtime's own state over the legacy RPC (substrate-interface).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from substrateinterface import SubstrateInterface
from substrateinterface.utils.ss58 import ss58_encode

from devstack import RuntimeNodeConfig
from tests.chains import ChainUnderTest, running_chain
from tests.devnode.test_papi import ALICE, PAPI, SCRIPT, _node_major

pytestmark = pytest.mark.runtime

ENTRY = "runtime"
ALICE_SS58 = ss58_encode(ALICE, 42)


@pytest.fixture(scope="module")
def runtime() -> Iterator[ChainUnderTest]:
    yield from running_chain("runtime")


@pytest.fixture(scope="module")
def descriptors(runtime: ChainUnderTest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """polkadot-api descriptors for the runtime, built by `papi generate` from its V16 metadata."""
    assert (PAPI / "node_modules" / ".bin" / "papi").exists(), (
        "polkadot-api is not installed: run `make setup` (scripts/setup.d/40-polkadot-api.sh)"
    )
    assert _node_major() >= 20, "polkadot-api needs Node.js 20 or newer"
    answer = runtime.rpc("state_call", "Metadata_metadata_at_version", "0x10000000")
    raw = bytes.fromhex(str(answer).removeprefix("0x"))
    assert raw[0] == 1, "Metadata_metadata_at_version(16) answered None"
    root = tmp_path_factory.mktemp("papi-runtime")
    metadata = root / "runtime.scale"
    # Option<OpaqueMetadata>: drop the Some tag and the compact length before the bytes
    opaque = raw[1:]
    mode = opaque[0] & 3
    metadata.write_bytes(opaque[{0: 1, 1: 2, 2: 4}[mode] :])
    (root / ".papi").mkdir()
    config = {
        "version": 0,
        "descriptorPath": ".papi/descriptors",
        "entries": {ENTRY: {"metadata": str(metadata)}},
        "options": {"noDescriptorsPackage": True},
    }
    (root / ".papi" / "polkadot-api.json").write_text(json.dumps(config))
    (root / "package.json").write_text('{"name": "runtime-papi-descriptors", "private": true}')
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


def test_polkadot_api_reads_typed_storage_and_has_a_transfer_finalized_on_the_runtime(
    runtime: ChainUnderTest, descriptors: Path
) -> None:
    ran = subprocess.run(
        ["node", str(SCRIPT), runtime.url, str(descriptors), ENTRY],
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    result = json.loads(ran.stdout.strip().splitlines()[-1])

    substrate = SubstrateInterface(url=runtime.url)
    try:
        genesis = substrate.get_block_hash(0)
        tokens = substrate.query("Tokens", "Accounts", [ALICE_SS58, 1]).value
        model_count = substrate.query("ModelRegistry", "ModelCount").value
        block_hash = substrate.get_block_hash(result["tx"]["block"])
        extrinsics = substrate.get_block(block_hash)["extrinsics"]
        finalized = substrate.get_block_number(substrate.get_chain_finalised_head())
    finally:
        substrate.close()

    assert result["alice"] == ALICE_SS58
    # chopsticks answers `chainSpec_v1_chainName` (and `system_chain`) with the spec's `id`
    # where a Substrate node gives its `name` ("Development", as devnode does)
    spec = json.loads(RuntimeNodeConfig().spec_path.read_text())
    assert (spec["name"], result["chainSpec"]["name"]) == ("Development", spec["id"])
    assert result["chainSpec"]["genesisHash"] == genesis
    assert result["chainSpec"]["properties"]["ss58Format"] == 42
    # Protocol pallets and orml-tokens read through the typed API agree with the runtime's state.
    assert result["modelCount"] == model_count == 0
    assert result["viewModelCount"] == 0 and result["viewModelOfCid"] is None  # V16 view functions
    assert {k: int(v) for k, v in result["tokens"].items()} == {
        k: int(tokens[k]) for k in ("free", "reserved", "frozen")
    }
    assert int(result["tokens"]["free"]) > 0
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
    assert len(extrinsics) == 2  # the timestamp inherent and the transfer
    # Finalized blocks were followed in order, up to the transfer's block (chopsticks finalizes
    # every new head).
    followed = result["finalized"]
    assert followed == list(range(followed[0], followed[-1] + 1))
    assert result["tx"]["block"] in followed and followed[-1] <= finalized
