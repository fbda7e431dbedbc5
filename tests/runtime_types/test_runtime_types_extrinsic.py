"""`Bindings.decode_extrinsic`: signed and unsigned extrinsics read back with their signer,
nonce, era, tip and typed call; malformed bytes raise `ExtrinsicDecodeError`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from substrateinterface import Keypair

from runtime_types import (
    ChainClient,
    ClientConfig,
    CodecError,
    Era,
    ExtrinsicDecodeError,
)
from runtime_types._scale import encode_compact
from runtime_types._signing import Mortality, SigningContext, encode_era, signed_extrinsic
from runtime_types.generated import devnode as committed

ALICE = Keypair.create_from_uri("//Alice")
BOB = Keypair.create_from_uri("//Bob")
EXTENSIONS = tuple(name for name, _, _ in committed.BINDINGS.metadata.extrinsic.signed_extensions)
CTX = SigningContext(EXTENSIONS, bytes(32), 1, 1)


def _transfer(amount: int) -> Any:
    t = committed.types
    return committed.balances.calls.transfer_keep_alive(
        t.MultiAddressId(t.AccountId32(BOB.public_key)), amount
    )


@pytest.mark.parametrize(
    ("mortality", "nonce", "tip"),
    [
        (Mortality(64, 1000, bytes(range(32))), 7, 0),
        (Mortality(None), 0, 123_456_789),
        (Mortality(4096, 70_000, bytes(32)), 2**32 - 1, 10**18),
    ],
)
def test_signed_extrinsic_reads_back(mortality: Mortality, nonce: int, tip: int) -> None:
    call = _transfer(10**12)
    raw = signed_extrinsic(committed.BINDINGS.encode_call(call), ALICE, nonce, CTX, mortality, tip)
    decoded = committed.BINDINGS.decode_extrinsic(raw)
    assert decoded.signed and decoded.version == 4
    assert decoded.signer == ALICE.public_key
    assert decoded.nonce == nonce and decoded.tip == tip
    assert decoded.call.pallet == "Balances" and decoded.call.name == "transfer_keep_alive"
    assert decoded.call.args == call.args
    assert isinstance(decoded.call.args, committed.types.PalletBalancesCallTransferKeepAlive)
    assert isinstance(decoded.address, committed.types.MultiAddressId)
    assert decoded.era is not None
    if mortality.immortal:
        assert decoded.era == Era(None) and decoded.era.immortal
    else:
        assert decoded.era.period == mortality.effective_period()
        # length prefix (2), version, MultiAddress::Id, account, MultiSignature, then the era
        era_at = 2 + 1 + 1 + 32 + 1 + 64
        assert raw[era_at : era_at + 2] == encode_era(mortality)
        assert decoded.era.birth_number(mortality.birth_number + 3) == mortality.birth_number
    assert set(decoded.extensions) == set(EXTENSIONS)


def test_unsigned_extrinsic_has_no_signer() -> None:
    call = committed.timestamp.calls.set(1_700_000_000_000)
    body = b"\x04" + committed.BINDINGS.encode_call(call)
    decoded = committed.BINDINGS.decode_extrinsic(encode_compact(len(body)) + body)
    assert not decoded.signed
    assert decoded.signer is None and decoded.nonce is None and decoded.era is None
    assert decoded.call.args == call.args


GOOD_CALL = committed.BINDINGS.encode_call(_transfer(5))


def _good() -> bytes:
    return signed_extrinsic(GOOD_CALL, ALICE, 3, CTX, Mortality(64, 10, bytes(32)), 1)


def _at_call(raw: bytes, offset: int, byte: bytes) -> bytes:
    at = len(raw) - len(GOOD_CALL) + offset
    return raw[:at] + byte + raw[at + 1 :]


@pytest.mark.parametrize(
    ("label", "mangle"),
    [
        ("empty", lambda raw: b""),
        ("truncated", lambda raw: raw[:-3]),
        ("length prefix too long", lambda raw: encode_compact(len(raw) + 5) + raw[2:]),
        ("trailing bytes", lambda raw: encode_compact(len(raw) - 1) + raw[2:] + b"\x00"),
        ("version 5", lambda raw: raw[:2] + b"\x85" + raw[3:]),
        ("unknown pallet", lambda raw: _at_call(raw, 0, b"\xfe")),
        ("unknown call index", lambda raw: _at_call(raw, 1, b"\xfe")),
        ("bad address variant", lambda raw: raw[:3] + b"\x09" + raw[4:]),
    ],
)
def test_malformed_bytes_raise_a_typed_error(label: str, mangle: Any) -> None:
    raw = _good()
    assert len(raw) > 64 and raw[:2] == encode_compact(len(raw) - 2)
    with pytest.raises(ExtrinsicDecodeError) as caught:
        committed.BINDINGS.decode_extrinsic(mangle(raw))
    assert isinstance(caught.value, CodecError), label


def test_era_bytes_are_checked() -> None:
    assert Era.decode(encode_era(Mortality(64, 42, bytes(32)))) == Era(64, 42)
    with pytest.raises(ExtrinsicDecodeError):
        Era.decode(b"\x01\x02\x03")


async def test_an_extrinsic_signed_by_substrate_interface_in_a_devnode_block(
    devnode_url: str,
) -> None:
    """An independent signer (substrate-interface) and a real block: what decode reads back
    is what was signed."""
    from substrateinterface import SubstrateInterface

    def submit() -> int:
        substrate = SubstrateInterface(url=devnode_url)
        try:
            call = substrate.compose_call(
                "Balances", "transfer_keep_alive", {"dest": BOB.ss58_address, "value": 777}
            )
            extrinsic = substrate.create_signed_extrinsic(
                call, ALICE, era={"period": 16}, tip=42, nonce=0
            )
            receipt = substrate.submit_extrinsic(extrinsic, wait_for_inclusion=True)
            header = substrate.get_block_header(receipt.block_hash)["header"]
            return int(header["number"])
        finally:
            substrate.close()

    number = await asyncio.to_thread(submit)
    async with ChainClient(committed.BINDINGS, ClientConfig(devnode_url)) as client:
        block = await client.block(number)
    assert block is not None
    decoded = [committed.BINDINGS.decode_extrinsic(x) for x in block.extrinsics]
    signed = [d for d in decoded if d.signed]
    assert len(signed) == 1 and any(not d.signed for d in decoded)  # the timestamp inherent
    ext = signed[0]
    assert ext.signer == ALICE.public_key and ext.nonce == 0 and ext.tip == 42
    assert ext.era is not None and ext.era.period == 16
    assert ext.era.birth_number(number) <= number < ext.era.birth_number(number) + 16
    assert ext.call.name == "transfer_keep_alive" and ext.call.args.value == 777
