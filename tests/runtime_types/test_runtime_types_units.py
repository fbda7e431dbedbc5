"""Pure logic, no node: the SCALE codec, storage hashers, the nonce manager, receipts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from runtime_types import (
    CodecError,
    EventRecord,
    ExtrinsicHash,
    ModuleError,
    NonceManager,
    Receipt,
    hash_key,
)
from runtime_types._codec import Codec
from runtime_types._metadata import (
    BitSequenceDef,
    CompactDef,
    CompositeDef,
    FieldMeta,
    PortableType,
    PrimitiveDef,
    SequenceDef,
    VariantDef,
    VariantMeta,
)
from runtime_types._scale import encode_compact


def _registry() -> dict[int, PortableType]:
    def t(type_id: int, definition: Any, *path: str) -> PortableType:
        return PortableType(type_id, path, (), definition, ())

    return {
        0: t(0, PrimitiveDef("u8")),
        1: t(1, PrimitiveDef("u32")),
        2: t(2, CompactDef(1)),
        3: t(3, BitSequenceDef(0, 4)),
        4: t(4, CompositeDef(()), "bitvec", "order", "Lsb0"),
        5: t(5, BitSequenceDef(0, 6)),
        6: t(6, CompositeDef(()), "bitvec", "order", "Msb0"),
        7: t(
            7,
            VariantDef(
                (
                    VariantMeta("None", (), 0, ()),
                    VariantMeta("Some", (FieldMeta(None, 1, None, ()),), 1, ()),
                )
            ),
            "Option",
        ),
        8: t(8, SequenceDef(0)),
        9: t(
            9,
            CompositeDef((FieldMeta("a", 1, None, ()), FieldMeta("b", 8, None, ()))),
            "S",
        ),
    }


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (1, "04"),
        (63, "fc"),
        (64, "0101"),
        (16383, "fdff"),
        (16384, "02000100"),
        ((1 << 30) - 1, "feffffff"),
        (1 << 30, "0300000040"),
        ((1 << 32) - 1, "03ffffffff"),
    ],
)
def test_compact_vectors(value: int, encoded: str) -> None:
    assert encode_compact(value).hex() == encoded
    codec = Codec(_registry())
    assert codec.decode(2, bytes.fromhex(encoded)) == value


def test_bit_sequences_lsb0_and_msb0() -> None:
    codec = Codec(_registry())
    bits = [True, False, True, True, False, False, False, False, True]
    assert codec.encode(3, bits) == bytes([9 << 2, 0b00001101, 0b00000001])
    assert codec.encode(5, bits) == bytes([9 << 2, 0b10110000, 0b10000000])
    assert codec.decode(3, codec.encode(3, bits)) == bits
    assert codec.decode(5, codec.encode(5, bits)) == bits


def test_untyped_fallbacks_and_errors() -> None:
    codec = Codec(_registry())
    assert codec.encode(7, None) == b"\x00"
    assert codec.encode(7, 5) == b"\x01\x05\x00\x00\x00"
    assert codec.decode(9, codec.encode(9, {"a": 1, "b": b"xy"})) == {"a": 1, "b": b"xy"}
    with pytest.raises(CodecError):
        codec.encode(1, True)  # a bool is not an int
    with pytest.raises(CodecError):
        codec.encode(0, 256)
    with pytest.raises(CodecError):
        codec.decode(1, b"\x00\x00\x00\x00\x00")  # a byte left over
    with pytest.raises(CodecError):
        codec.decode(8, b"\xfe\xff\xff\xff")  # claims more items than bytes
    with pytest.raises(CodecError):
        codec.decode(99, b"")


def test_storage_hashers() -> None:
    # twox128("System") is the well-known System pallet prefix.
    assert hash_key("Twox128", b"System").hex() == "26aa394eea5630e07c48ae0c9558cef7"
    assert hash_key("Identity", b"ab") == b"ab"
    assert hash_key("Blake2_128Concat", b"ab")[16:] == b"ab"
    assert hash_key("Twox64Concat", b"ab")[8:] == b"ab"
    with pytest.raises(CodecError):
        hash_key("Sha3", b"")


async def test_nonce_manager_hands_out_consecutive_nonces_and_resyncs() -> None:
    fetched: list[str] = []
    chain = {"alice": 7}

    async def fetch(account: str) -> int:
        fetched.append(account)
        await asyncio.sleep(0)
        return chain[account]

    nonces = NonceManager(fetch)
    got = await asyncio.gather(*(nonces.next("alice") for _ in range(50)))
    assert sorted(got) == list(range(7, 57))
    assert fetched == ["alice"]
    chain["alice"] = 100
    nonces.resync("alice")
    assert await nonces.next("alice") == 100
    assert nonces.peek("alice") == 101
    assert fetched == ["alice", "alice"]


def test_receipt_raises_its_typed_error() -> None:
    class Boom(ModuleError):
        pallet = "P"
        error = "Boom"

    record = EventRecord("System", "ExtrinsicFailed", None, 1)
    receipt = Receipt(ExtrinsicHash("0x"), "0x", 1, 1, False, 5, (record,), Boom(), False)  # type: ignore[arg-type]
    with pytest.raises(Boom, match=r"^P\.Boom$"):
        receipt.raise_for_error()
    ok = Receipt(ExtrinsicHash("0x"), "0x", 1, 1, True, 5, (), None, True)  # type: ignore[arg-type]
    ok.raise_for_error()
    assert ok.success
