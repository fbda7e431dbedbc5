"""Signing as production wallets sign: mortal eras from the finalized head, tips, renewal of an
extrinsic whose era ended, and refusal of signed extensions the signer does not know."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import aiohttp
import pytest
from scalecodec.base import RuntimeConfiguration
from scalecodec.type_registry import load_type_registry_preset
from substrateinterface import Keypair

import devnode
from devnode import DevNode, DevNodeConfig
from runtime_types import ChainClient, ChainClientError, ClientConfig, decode_metadata
from runtime_types._metadata import PrimitiveDef
from runtime_types._signing import (
    Mortality,
    SigningContext,
    encode_era,
    signed_extrinsic,
    signing_extensions,
)

ALICE = Keypair.create_from_uri("//Alice")
BOB = Keypair.create_from_uri("//Bob")


@pytest.mark.parametrize(
    ("period", "birth"), [(4, 2), (5, 7), (64, 42), (64, 1000), (8192, 100_000), (65536, 70_000)]
)
def test_era_encoding_matches_scalecodec(period: int, birth: int) -> None:
    config = RuntimeConfiguration()
    config.update_type_registry(load_type_registry_preset("legacy"))
    expected = config.create_scale_object("Era").encode({"period": period, "current": birth})
    assert encode_era(Mortality(period, birth, bytes(32))) == bytes(expected.data)
    assert encode_era(Mortality(None)) == b"\x00"


def test_mortality_rounds_like_substrate_and_bad_inputs_are_refused() -> None:
    assert Mortality(5, 10, bytes(32)).effective_period() == 8
    assert Mortality(64, 10, bytes(32)).ends_at() == 74
    assert Mortality(None).ends_at() is None
    ctx = SigningContext(("CheckMortality",), bytes(32), 1, 1)
    with pytest.raises(ValueError, match="tip"):
        signed_extrinsic(b"\x00\x00", ALICE, 0, ctx, tip=-1)
    with pytest.raises(ValueError, match="birth"):
        signed_extrinsic(b"\x00\x00", ALICE, 0, ctx, Mortality(64, 1, b""))
    with pytest.raises(ValueError, match="era_period"):
        ClientConfig(era_period=2)


def test_an_unknown_signed_extension_is_named() -> None:
    metadata = decode_metadata(devnode.RUNTIME.metadata(16))
    u32 = next(t.id for t in metadata.types.values() if t.definition == PrimitiveDef("u32"))
    extrinsic = dataclasses.replace(
        metadata.extrinsic,
        signed_extensions=(*metadata.extrinsic.signed_extensions, ("CheckVoucher", u32, u32)),
    )
    with pytest.raises(ChainClientError, match="CheckVoucher"):
        signing_extensions(dataclasses.replace(metadata, extrinsic=extrinsic))


async def _submit_raw(url: str, extrinsic: bytes) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        request = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "author_submitExtrinsic",
            "params": ["0x" + extrinsic.hex()],
        }
        await ws.send_str(json.dumps(request))
        reply: dict[str, Any] = json.loads((await ws.receive(timeout=10)).data)
        return reply


async def test_mortal_by_default_with_a_tip(rt: Any) -> None:
    async with DevNode(DevNodeConfig(port=0, finality_lag=2)) as node:
        for _ in range(5):
            await node.produce_block()
        finalized = node.chain.finalized
        async with ChainClient(rt.BINDINGS, ClientConfig(node.url, era_period=32)) as client:
            call = rt.balances.calls.transfer_keep_alive(
                rt.types.MultiAddressId(rt.types.AccountId32(BOB.public_key)), 10**12
            )
            receipt = await client.submit(call, ALICE, tip=7_000_000)
        block = node.chain.blocks[receipt.block_number]
        ext = node.chain.runtime.decode_extrinsic(block.extrinsics[receipt.extrinsic_index])
    assert ext.era != "Immortal"
    _, (period, phase) = ext.era
    assert period == 32 and phase == finalized % 32  # born at the finalized head
    assert ext.tip == 7_000_000
    paid = [e.event for e in receipt.events if e.name == "TransactionFeePaid"]
    assert len(paid) == 1 and paid[0].tip == 7_000_000 and paid[0].actual_fee > 7_000_000


async def test_an_ended_era_is_refused_and_the_client_signs_again(
    rt: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Finality lags far behind: an extrinsic born at the finalized head with a period of 4
    # has expired before it reaches the node.
    async with DevNode(DevNodeConfig(port=0, finality_lag=12)) as node:
        for _ in range(14):
            await node.produce_block()
        chain = node.chain
        metadata = decode_metadata(chain.runtime.metadata(16))
        ctx = SigningContext(
            signing_extensions(metadata),
            bytes(chain.genesis_hash),
            chain.runtime.version.spec_version,
            chain.runtime.version.transaction_version,
        )
        call = rt.BINDINGS.encode_call(rt.system.calls.remark(b"late"))
        birth = chain.finalized
        expired = Mortality(4, birth, bytes(chain.blocks[birth].hash))
        refused = await _submit_raw(node.url, signed_extrinsic(call, ALICE, 0, ctx, expired))
        # BadProof, as the runtime says: the birth computed from the current block is another
        assert refused["error"]["code"] == 1010
        assert refused["error"]["data"] == "Transaction has a bad signature"
        # Signed at a block that is still within its era, the same transaction is accepted.
        fresh = Mortality(4, chain.best_number, bytes(chain.best.hash))
        accepted = await _submit_raw(node.url, signed_extrinsic(call, BOB, 0, ctx, fresh))
        assert "result" in accepted, accepted

        submits_before = node.rpc.calls["author_submitExtrinsic"]
        async with ChainClient(rt.BINDINGS, ClientConfig(node.url, era_period=4)) as client:
            with caplog.at_level(logging.INFO, logger="runtime_types.client"):
                receipt = await client.submit(rt.system.calls.remark(b"renewed"), ALICE)
        assert receipt.success
        assert node.rpc.calls["author_submitExtrinsic"] - submits_before == 2
        assert any(
            "era" in r.getMessage() and "signing again" in r.getMessage() for r in caplog.records
        )
        included = chain.runtime.decode_extrinsic(
            chain.blocks[receipt.block_number].extrinsics[receipt.extrinsic_index]
        )
        _, (period, _) = included.era
        assert period == 4


async def test_a_node_with_an_unknown_signed_extension_fails_submissions_by_name(rt: Any) -> None:
    import copy

    from devnode import RUNTIME
    from devnode._types import U32, Composite, Field, TupleType

    # The same runtime, plus an extension carrying data the signer cannot know how to fill.
    runtime = copy.copy(RUNTIME)
    voucher = Composite(["pallet_vouchers", "CheckVoucher"], [Field(None, U32, "u32")])
    runtime.signed_extensions = [*RUNTIME.signed_extensions, ("CheckVoucher", voucher, TupleType())]
    runtime._metadata = {}
    async with DevNode(DevNodeConfig(port=0)) as node:
        node.chain.runtime = runtime
        async with ChainClient(rt.BINDINGS, ClientConfig(node.url)) as client:
            # Reads still work ...
            account = await client.query(
                rt.system.storage.account(rt.types.AccountId32(ALICE.public_key))
            )
            assert account.nonce == 0
            # ... submissions are refused before anything is sent, naming the extension.
            with pytest.raises(ChainClientError, match="CheckVoucher"):
                await client.submit(rt.system.calls.remark(b"x"), ALICE)
        assert node.rpc.calls["author_submitExtrinsic"] == 0
