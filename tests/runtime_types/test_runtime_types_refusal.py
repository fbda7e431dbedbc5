"""Refused transactions are told apart by the node's structured answer (the JSON-RPC code, the
`InvalidTransaction` text Substrate sends as data, or the runtime's decoded verdict), never by
looking for words in a message."""

from __future__ import annotations

from typing import Any

import pytest
from substrateinterface import Keypair

from devnode import DevNode, DevNodeConfig
from runtime_types import (
    ChainClient,
    ClientConfig,
    ExtrinsicRejected,
    TransactionRefused,
    decode_metadata,
)
from runtime_types._connection import RpcFailure
from runtime_types._refusal import Refusal, refusal_from_rpc
from runtime_types._signing import Mortality, SigningContext, signed_extrinsic, signing_extensions

ALICE = Keypair.create_from_uri("//Alice")
NOBODY = Keypair.create_from_uri("//Nobody")


@pytest.mark.parametrize(
    ("code", "data", "expected"),
    [
        (1010, "Transaction is outdated", Refusal.STALE),
        (1010, "Transaction will be valid in the future", Refusal.FUTURE),
        (1010, "Transaction has a bad signature", Refusal.BAD_PROOF),
        (1010, "Transaction has an ancient birth block", Refusal.ANCIENT_BIRTH_BLOCK),
        (1010, "Inability to pay some fees (e.g. account balance too low)", Refusal.PAYMENT),
        (1010, "Custom error: 3", Refusal.CUSTOM),
        (1013, "0x1234", Refusal.ALREADY_IMPORTED),
        (1014, "The transaction has too low priority to replace another", Refusal.PRIORITY_TOO_LOW),
        (1012, None, Refusal.TEMPORARILY_BANNED),
        (1016, "Immediately Dropped", Refusal.IMMEDIATELY_DROPPED),
        (-32602, "Invalid params: outdated future stale", Refusal.OTHER),
        (None, "Transaction is outdated", Refusal.OTHER),
        # the node's own wording of an invalid transaction: only the runtime can tell
        (1010, "Transaction is outdated (its mortal era ended at block 9)", None),
        (1010, None, None),
    ],
)
def test_the_code_and_data_name_the_refusal(code: Any, data: Any, expected: Any) -> None:
    assert refusal_from_rpc(code, data) is expected


def test_only_nonce_refusals_resync() -> None:
    wrong = {r for r in Refusal if r.wrong_nonce}
    assert wrong == {Refusal.STALE, Refusal.FUTURE, Refusal.PRIORITY_TOO_LOW}


async def test_devnode_refusals_are_classified(rt: Any) -> None:
    # No blocks unless produced: two transactions of one nonce meet in the pool.
    async with DevNode(DevNodeConfig(port=0, block_time=3600, finality_lag=12)) as node:
        for _ in range(14):
            await node.produce_block()
        chain = node.chain
        ctx = SigningContext(
            signing_extensions(decode_metadata(chain.runtime.metadata(16))),
            bytes(chain.genesis_hash),
            chain.runtime.version.spec_version,
            chain.runtime.version.transaction_version,
        )
        fresh = Mortality(64, chain.best_number, bytes(chain.best.hash))

        def sign(remark: bytes, nonce: int, who: Keypair = ALICE, era: Mortality = fresh) -> bytes:
            call = rt.BINDINGS.encode_call(rt.system.calls.remark(remark))
            return signed_extrinsic(call, who, nonce, ctx, era)

        async with ChainClient(rt.BINDINGS, ClientConfig(node.url)) as client:

            async def refusal(extrinsic: bytes) -> Refusal:
                with pytest.raises(RpcFailure) as caught:
                    await client._rpc.rpc("author_submitExtrinsic", ["0x" + extrinsic.hex()])
                return await client._refusal(caught.value, extrinsic)

            first = sign(b"first", 0)
            await client._rpc.rpc("author_submitExtrinsic", ["0x" + first.hex()])
            assert await refusal(first) is Refusal.ALREADY_IMPORTED
            assert await refusal(sign(b"same nonce, no higher tip", 0)) is Refusal.PRIORITY_TOO_LOW
            await node.produce_block()
            assert await refusal(sign(b"used nonce", 0)) is Refusal.STALE
            assert await refusal(sign(b"no funds", 0, NOBODY)) is Refusal.PAYMENT

            # An ended era is BadProof, as a Substrate runtime says (the birth it computes from
            # the current block names another block), and the era check confirms it.
            birth = chain.finalized
            expired = Mortality(4, birth, bytes(chain.blocks[birth].hash))
            late = sign(b"late", 1, era=expired)
            with pytest.raises(RpcFailure) as caught:
                await client._rpc.rpc("author_submitExtrinsic", ["0x" + late.hex()])
            assert refusal_from_rpc(caught.value.code, caught.value.data) is Refusal.BAD_PROOF
            verdict = await client._refusal(caught.value, late)
            assert verdict is Refusal.BAD_PROOF
            assert await client._era_ended(verdict, expired)
            assert not await client._era_ended(verdict, fresh)
            assert not await client._era_ended(Refusal.STALE, expired)

            # What a caller of submit() gets: the typed reason, and the RPC code and data.
            with pytest.raises(TransactionRefused) as refused:
                await client.submit(rt.system.calls.remark(b"no funds"), NOBODY)
            assert refused.value.refusal is Refusal.PAYMENT and refused.value.code == 1010
            assert isinstance(refused.value, ExtrinsicRejected)
