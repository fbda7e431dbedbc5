"""Pure pieces of devnode, tested without a server: SCALE, eras, storage history, the pool."""

from __future__ import annotations

import pytest
from scalecodec.base import RuntimeConfigurationObject
from scalecodec.type_registry import load_type_registry_preset
from substrateinterface import Keypair, KeypairType

from devnode import RUNTIME, ScaleDecodeError, TransactionRejected
from devnode._block import Header
from devnode._metadata import TRANSACTION_VALIDITY
from devnode._pallet import Weight
from devnode._pool import PoolTx, TransactionPool
from devnode._primitives import ERA, encode_mortal_era, era_birth
from devnode._runtime import Extrinsic, ValidTransaction
from devnode._scale import Reader, decode_compact, encode_compact
from devnode._storage import VersionedStorage


@pytest.mark.parametrize(
    "value", [0, 1, 63, 64, 16383, 16384, 2**30 - 1, 2**30, 2**64 - 1, 2**128 - 1]
)
def test_compact_round_trip_matches_scalecodec(value: int) -> None:
    config = RuntimeConfigurationObject()
    config.update_type_registry(load_type_registry_preset("core"))
    reference = config.create_scale_object("Compact<u128>").encode(value).data
    assert encode_compact(value) == bytes(reference)
    assert decode_compact(encode_compact(value)) == (value, len(reference))


def test_reader_refuses_to_read_past_the_end() -> None:
    with pytest.raises(ScaleDecodeError):
        Reader(b"\x01").read(2)
    with pytest.raises(ScaleDecodeError):
        Reader(b"\x03").compact()  # big-integer mode with no bytes behind it


@pytest.mark.parametrize(("period", "current"), [(4, 1), (64, 100), (1024, 5000), (65536, 70000)])
def test_mortal_era_round_trip_and_birth(period: int, current: int) -> None:
    phase = current % period
    encoded = encode_mortal_era(period, phase)
    quantize = max(period >> 12, 1)
    assert ERA.decode_all(encoded) == ("Mortal", (period, phase // quantize * quantize))
    birth = era_birth(period, phase // quantize * quantize, current)
    assert birth <= current < birth + period
    assert ERA.decode_all(b"\x00") == "Immortal"


def test_versioned_storage_reads_each_block_and_pages_keys() -> None:
    storage = VersionedStorage()
    root0 = storage.apply(0, {b"a1": b"x", b"a2": b"y", b"b1": b"z"})
    root1 = storage.apply(1, {b"a1": b"x2", b"a2": None, b"a3": b"w"})
    assert root0 != root1
    assert storage.get_at(b"a1", 0) == b"x" and storage.get_at(b"a1", 1) == b"x2"
    assert storage.get_at(b"a2", 0) == b"y" and storage.get_at(b"a2", 1) is None
    assert list(storage.keys_after(b"a", None, 0)) == [b"a1", b"a2"]
    assert list(storage.keys_after(b"a", None, 1)) == [b"a1", b"a3"]
    assert list(storage.keys_after(b"a", b"a1", 1)) == [b"a3"]
    # Writing back the same state gives back the same root: the root commits to content only.
    storage.apply(2, {b"a1": b"x", b"a2": b"y", b"a3": None})
    assert storage.root_at(2) == root0


def test_header_round_trip() -> None:
    header = Header(b"\x01" * 32, 1234, b"\x02" * 32, b"\x03" * 32, (b"\x00\x10abcd",))
    assert Header.decode(header.encode()) == header
    assert len(header.hash) == 32


def _pool_tx(sender: bytes, nonce: int, tip: int = 0) -> PoolTx:
    raw = sender + nonce.to_bytes(4, "little") + tip.to_bytes(4, "little")
    ext = Extrinsic(raw, b"", None, signer=sender, nonce=nonce, tip=tip)
    valid = ValidTransaction(sender, nonce, 1, Weight(1), 10, ready=True)
    return PoolTx(ext, valid, ext.hash)


def test_pool_orders_by_nonce_and_holds_gaps() -> None:
    pool = TransactionPool(max_transactions=10, max_per_sender=3)
    alice, bob = b"a" * 32, b"b" * 32
    for tx in (_pool_tx(alice, 2), _pool_tx(bob, 0), _pool_tx(alice, 0)):
        pool.insert(tx)
    nonces = {alice: 0, bob: 0}
    ready = pool.ready(nonces.__getitem__, 10)
    assert [(t.sender, t.nonce) for t in ready] == [(bob, 0), (alice, 0)]  # alice's 2 waits for 1
    assert pool.next_index(alice, 0) == 1
    pool.insert(_pool_tx(alice, 1))
    assert [
        (t.sender, t.nonce) for t in pool.ready(nonces.__getitem__, 10) if t.sender == alice
    ] == [
        (alice, 0),
        (alice, 1),
        (alice, 2),
    ]
    with pytest.raises(TransactionRejected) as duplicate:
        pool.insert(_pool_tx(bob, 0))
    assert duplicate.value.code == 1013
    with pytest.raises(TransactionRejected) as full:
        pool.insert(_pool_tx(alice, 5))
    assert full.value.code == 1016
    replaced = pool.insert(_pool_tx(bob, 0, tip=5))
    assert replaced is not None and replaced.nonce == 0
    assert [t.nonce for t in pool.prune_stale({alice: 2, bob: 0}.__getitem__)] == [0, 1]


def test_ed25519_validation_reaches_the_fee_check() -> None:
    signer = Keypair.create_from_seed("0x" + "42" * 32, crypto_type=KeypairType.ED25519)
    call = RUNTIME.encode_call("System", "remark", {"remark": b"hi"})
    genesis = b"\x07" * 32
    probe = Extrinsic(b"", call, None, signer=signer.public_key)
    signature = signer.sign(RUNTIME.signing_payload(probe, genesis, genesis))
    body = b"\x84\x00" + signer.public_key + b"\x00" + signature + b"\x00\x00\x00\x00" + call
    ext = RUNTIME.decode_extrinsic(encode_compact(len(body)) + body)
    with pytest.raises(TransactionRejected) as rejected:
        RUNTIME.validate(ext, lambda _k: None, 0, lambda n: genesis if n == 0 else None)
    assert "Inability to pay some fees" in rejected.value.reason
    tampered = bytearray(body)
    tampered[40] ^= 1
    bad = RUNTIME.decode_extrinsic(encode_compact(len(tampered)) + bytes(tampered))
    with pytest.raises(TransactionRejected) as bad_proof:
        RUNTIME.validate(bad, lambda _k: None, 0, lambda n: genesis if n == 0 else None)
    assert "bad signature" in bad_proof.value.reason


def test_malformed_extrinsics_are_bad_format() -> None:
    for raw in (b"", b"\x08\x84", b"\x04\x05\x00", b"\x10\x04\x00\xff\xff"):
        with pytest.raises(TransactionRejected) as rejected:
            RUNTIME.decode_extrinsic(raw)
        assert rejected.value.code == 1001


def test_transaction_that_cannot_pay_at_block_time_leaves_no_trace() -> None:
    signer = Keypair.create_from_seed("0x" + "43" * 32, crypto_type=KeypairType.ED25519)
    call = RUNTIME.encode_call("System", "remark", {"remark": b"x"})
    genesis = b"\x07" * 32
    probe = Extrinsic(b"", call, None, signer=signer.public_key)
    signature = signer.sign(RUNTIME.signing_payload(probe, genesis, genesis))
    body = b"\x84\x00" + signer.public_key + b"\x00" + signature + b"\x00\x00\x00\x00" + call
    ext = RUNTIME.decode_extrinsic(encode_compact(len(body)) + body)
    state: dict[bytes, bytes] = {}
    result = RUNTIME.execute_block(
        state.get, 1, genesis, 1_000, [ext], lambda n: genesis if n == 0 else None
    )
    assert len(result.included) == 1  # only the timestamp inherent
    assert [raw for raw, _ in result.dropped] == [ext.raw]
    account_key = RUNTIME.system.Account.key(signer.public_key)
    assert account_key not in result.changes  # no nonce bump, no fee, no account created
    names = [record["event"][1][0] for record in result.events]
    assert names == ["ExtrinsicSuccess"]  # the inherent's, nothing for the dropped transaction


def _signed_remark(signer: Keypair, genesis: bytes, era: bytes, birth_hash: bytes) -> bytes:
    """A signed System.remark (nonce 0, no tip) with the `era` bytes, signed for `birth_hash`."""
    call = RUNTIME.encode_call("System", "remark", {"remark": b"era"})
    probe = Extrinsic(b"", call, None, signer=signer.public_key, era_bytes=era)
    signature = signer.sign(RUNTIME.signing_payload(probe, genesis, birth_hash))
    body = b"\x84\x00" + signer.public_key + b"\x00" + signature + era + b"\x00\x00\x00" + call
    return bytes(encode_compact(len(body)) + body)


@pytest.mark.parametrize(
    ("period", "phase", "stored", "verdict"),
    [
        (8, 0, True, "Payment"),  # birth 16, in System.BlockHash: signed against its hash
        (8, 0, False, "AncientBirthBlock"),  # birth 16 pruned from System.BlockHash
        (4, 0, False, "Payment"),  # birth 20, the best block: initialize has just added it
        (8, 5, True, "AncientBirthBlock"),  # birth 21, the block being validated for
        (64, 40, True, "AncientBirthBlock"),  # a phase ahead of the chain: birth 40
    ],
)
def test_a_mortal_birth_is_read_as_check_mortality_does(
    period: int, phase: int, stored: bool, verdict: str
) -> None:
    """FRAME's CheckMortality: the birth computed from the current block (21 on best 20) is
    looked up in System.BlockHash; no entry is AncientBirthBlock, whatever the chain holds."""
    signer = Keypair.create_from_seed("0x" + "44" * 32, crypto_type=KeypairType.ED25519)
    genesis = b"\x07" * 32
    chain = {n: bytes([n + 1]) * 32 for n in range(21)} | {0: genesis}
    birth = era_birth(period, phase, 21)
    raw = _signed_remark(
        signer, genesis, encode_mortal_era(period, phase), chain.get(birth, genesis)
    )
    state = {RUNTIME.system.BlockHash.key(n): h for n, h in chain.items() if n < 20}
    if not stored:
        state.pop(RUNTIME.system.BlockHash.key(birth), None)
    request = b"\x02" + raw + chain[20]
    answer = RUNTIME.runtime_api(
        "TaggedTransactionQueue_validate_transaction", request, state.get, 20, chain.get
    )
    assert TRANSACTION_VALIDITY.decode_all(answer) == ("Err", ("Invalid", (verdict, None)))


def test_a_signer_address_other_than_id_cannot_be_looked_up() -> None:
    """The runtime's AccountIdLookup resolves only MultiAddress::Id: UnknownTransaction."""
    signer = Keypair.create_from_seed("0x" + "45" * 32, crypto_type=KeypairType.ED25519)
    genesis = b"\x07" * 32
    raw = bytearray(_signed_remark(signer, genesis, b"\x00", genesis))
    raw[3] = 3  # after the 2-byte length and the version byte: Id (0) -> Address32 (3)
    with pytest.raises(TransactionRejected) as rejected:
        RUNTIME.decode_extrinsic(bytes(raw))
    assert (rejected.value.code, rejected.value.reason) == (
        1011,
        "Could not lookup information required to validate the transaction",
    )
    empty: dict[bytes, bytes] = {}
    answer = RUNTIME.runtime_api(
        "TaggedTransactionQueue_validate_transaction",
        b"\x02" + bytes(raw) + genesis,
        empty.get,
        0,
        {0: genesis}.get,
    )
    assert TRANSACTION_VALIDITY.decode_all(answer) == ("Err", ("Unknown", ("CannotLookup", None)))
