"""ModelRegistry and Providers through the runtime's state transition functions, no server."""

from __future__ import annotations

import pytest

from devnode import DispatchFailure
from devnode._errors import ScaleDecodeError
from devnode._hashing import blake2_256
from devnode._pallet import Origin
from devnode.pallets._cid import Cid, CidError, parse_cid
from devnode.pallets._harness import StateMachine
from devnode.pallets.model_registry import ModelActive, ModelDeprecated, model_id_of
from devnode.pallets.providers import MIN_STAKE, UNBONDING_PERIOD, provider_weight
from devnode.pallets.tokens import GENESIS_ENDOWMENT, TokenAccount

A, B, C = (bytes([i]) * 32 for i in (1, 2, 3))
CID_V0 = b"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
CID_V1 = b"bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
CID_RAW = b"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def model_args(cid: object = CID_V0, **overrides: object) -> dict[str, object]:
    args: dict[str, object] = {
        "cid": cid,
        "name": b"llama-3-8b",
        "task": "TextGeneration",
        "format": "Safetensors",
        "size_bytes": 16_000_000_000,
        "price_per_1k_tokens": 2 * 10**12,
        "currency_id": 2,
        "author_share": 200_000,
    }
    args.update(overrides)
    return args


@pytest.fixture
def sm() -> StateMachine:
    machine = StateMachine([A, B, C])
    machine.next_block()
    return machine


# -- CID validation -----------------------------------------------------------------------


def test_parse_cid_accepts_v0_and_base32_v1() -> None:
    v0 = parse_cid(CID_V0)
    assert (v0.version, v0.hash_code, len(v0.digest)) == (0, 0x12, 32)
    v1 = parse_cid(CID_V1)
    assert (v1.version, v1.codec, v1.hash_code) == (1, 0x70, 0x12)
    # The same multihash inside a v0 and a v1 CID.
    assert v0.digest != v1.digest
    assert parse_cid(CID_RAW).digest == bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"Qm",
        CID_V0[:-1],
        CID_V0[:-1] + b"0",  # '0' is not base58
        b"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdGQm",
        CID_V1.upper(),
        CID_V1[:-2],  # truncated digest
        CID_V1 + b"aa",  # trailing bytes
        b"zdj7WWeQ43G6JJvLWQWZpyHuAMq6uYWRjkBXFad11vE2LHhQ7",  # base58 v1: not accepted
        "bafy\u00e9".encode(),
        b"https://example.com/model.safetensors",
    ],
)
def test_parse_cid_rejects(bad: bytes) -> None:
    with pytest.raises(CidError):
        parse_cid(bad)


# -- ModelRegistry ------------------------------------------------------------------------


def test_register_model_stores_record_version_and_index(sm: StateMachine) -> None:
    events = sm.signed(A, "ModelRegistry", "register_model", **model_args())
    model_id = model_id_of(Cid(CID_V0))
    assert model_id == blake2_256(CID_V0)
    assert sm.find(events, "ModelRegistry", "ModelRegistered") == {
        "model_id": model_id,
        "owner": A,
        "cid": CID_V0,
    }
    info = sm.get("ModelRegistry", "Models", model_id)
    assert info.owner == A and info.version == 1 and info.status == ModelActive()
    assert info.price_per_1k_tokens == 2 * 10**12 and info.author_share == 200_000
    assert sm.get("ModelRegistry", "ModelVersions", model_id, 1).cid == CID_V0
    assert sm.get("ModelRegistry", "CidToModel", CID_V0) == model_id
    assert sm.get("ModelRegistry", "ModelCount") == 1


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"cid": b"QmNotACid"}, "InvalidCid"),
        ({"cid": b"b" + b"a" * 200}, "CidTooLong"),
        ({"name": b""}, "EmptyName"),
        ({"name": b"x" * 65}, "NameTooLong"),
        ({"size_bytes": 0}, "ZeroSize"),
        ({"currency_id": 9}, "UnknownCurrency"),
    ],
)
def test_register_model_errors(sm: StateMachine, overrides: dict[str, object], error: str) -> None:
    with pytest.raises(DispatchFailure, match=rf"^ModelRegistry\.{error}$"):
        sm.signed(A, "ModelRegistry", "register_model", **model_args(**overrides))
    assert sm.get("ModelRegistry", "ModelCount") == 0


def test_an_author_share_above_100_percent_does_not_decode(sm: StateMachine) -> None:
    # `Permill`'s SCALE decoding rejects a value above 1_000_000 (as the Rust runtime's): such a
    # call is an invalid transaction, and `InvalidAuthorShare` is unreachable.
    runtime = sm.runtime
    full = bytes(
        runtime.encode_call("ModelRegistry", "register_model", model_args(author_share=1_000_000))
    )
    assert runtime.call_enum.decode_all(full)[1][1]["author_share"] == 1_000_000
    above = full[:-4] + (1_000_001).to_bytes(4, "little")
    with pytest.raises(ScaleDecodeError, match="Permill"):
        runtime.call_enum.decode_all(above)


def test_update_keeps_versions_and_rejects_duplicates_and_strangers(sm: StateMachine) -> None:
    sm.signed(A, "ModelRegistry", "register_model", **model_args())
    model_id = model_id_of(Cid(CID_V0))
    with pytest.raises(DispatchFailure, match=r"^ModelRegistry\.DuplicateCid$"):
        sm.signed(B, "ModelRegistry", "register_model", **model_args())
    with pytest.raises(DispatchFailure, match=r"^ModelRegistry\.NotOwner$"):
        sm.signed(
            B, "ModelRegistry", "update_model", model_id=model_id, new_cid=CID_V1, size_bytes=1
        )
    with pytest.raises(DispatchFailure, match=r"^ModelRegistry\.DuplicateCid$"):
        sm.signed(
            A, "ModelRegistry", "update_model", model_id=model_id, new_cid=CID_V0, size_bytes=1
        )
    with pytest.raises(DispatchFailure, match=r"^ModelRegistry\.UnknownModel$"):
        sm.signed(
            A, "ModelRegistry", "update_model", model_id=bytes(32), new_cid=CID_V1, size_bytes=1
        )
    events = sm.signed(
        A, "ModelRegistry", "update_model", model_id=model_id, new_cid=CID_V1, size_bytes=7
    )
    assert sm.find(events, "ModelRegistry", "ModelUpdated") == {
        "model_id": model_id,
        "version": 2,
        "cid": CID_V1,
    }
    info = sm.get("ModelRegistry", "Models", model_id)
    assert (info.version, info.cid, info.size_bytes) == (2, CID_V1, 7)
    assert sm.get("ModelRegistry", "ModelVersions", model_id, 1).cid == CID_V0
    assert sm.get("ModelRegistry", "ModelVersions", model_id, 2).cid == CID_V1
    # A CID used by a later version cannot be registered as a new model either.
    with pytest.raises(DispatchFailure, match=r"^ModelRegistry\.DuplicateCid$"):
        sm.signed(B, "ModelRegistry", "register_model", **model_args(CID_V1))


def test_price_ownership_and_deprecation(sm: StateMachine) -> None:
    sm.signed(A, "ModelRegistry", "register_model", **model_args())
    model_id = model_id_of(Cid(CID_V0))
    sm.signed(
        A, "ModelRegistry", "set_price", model_id=model_id, price_per_1k_tokens=5, currency_id=1
    )
    info = sm.get("ModelRegistry", "Models", model_id)
    assert (info.price_per_1k_tokens, info.currency_id) == (5, 1)
    sm.signed(A, "ModelRegistry", "transfer_ownership", model_id=model_id, new_owner=("Id", B))
    with pytest.raises(DispatchFailure, match=r"^ModelRegistry\.NotOwner$"):
        sm.signed(A, "ModelRegistry", "deprecate_model", model_id=model_id)
    sm.signed(B, "ModelRegistry", "deprecate_model", model_id=model_id)
    assert sm.get("ModelRegistry", "Models", model_id).status == ModelDeprecated()
    with pytest.raises(DispatchFailure, match=r"^ModelRegistry\.ModelDeprecated$"):
        sm.signed(
            B, "ModelRegistry", "set_price", model_id=model_id, price_per_1k_tokens=1, currency_id=1
        )


# -- Providers ----------------------------------------------------------------------------


def register(
    sm: StateMachine, who: bytes, model_id: bytes, stake: int = MIN_STAKE, capacity: int = 4
) -> None:
    sm.signed(
        who,
        "Providers",
        "register_provider",
        stake=stake,
        endpoint=b"https://p.example/v1",
        models=[model_id],
        capacity=capacity,
    )


def test_register_provider_reserves_stake_and_indexes(sm: StateMachine) -> None:
    sm.signed(A, "ModelRegistry", "register_model", **model_args())
    model_id = model_id_of(Cid(CID_V0))
    register(sm, B, model_id, stake=3 * MIN_STAKE)
    info = sm.get("Providers", "Providers", B)
    assert info.stake == 3 * MIN_STAKE and info.reputation == 0
    assert info.weight == provider_weight(3 * MIN_STAKE, 0) == 300 * 10
    assert sm.get("Providers", "TotalWeight") == info.weight
    assert sm.get("Providers", "ModelProviders", model_id) == [B]
    assert sm.get("Tokens", "Accounts", B, 1) == TokenAccount(
        free=GENESIS_ENDOWMENT - 3 * MIN_STAKE, reserved=3 * MIN_STAKE, frozen=0
    )
    sm.call(Origin.root(), "Providers", "set_reputation", who=("Id", B), reputation=100)
    assert sm.get("Providers", "TotalWeight") == 300 * 110
    with pytest.raises(DispatchFailure, match=r"^Providers\.InvalidReputation$"):
        sm.call(Origin.root(), "Providers", "set_reputation", who=("Id", B), reputation=101)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"stake": MIN_STAKE - 1}, "InsufficientStake"),
        ({"endpoint": b""}, "EmptyEndpoint"),
        ({"endpoint": b"x" * 257}, "EndpointTooLong"),
        ({"models": []}, "NoModels"),
        ({"models": [bytes(32)]}, "UnknownModel"),
        ({"capacity": 0}, "InvalidCapacity"),
        ({"capacity": 1025}, "InvalidCapacity"),
        ({"stake": GENESIS_ENDOWMENT + 1}, "BalanceTooLow"),
    ],
)
def test_register_provider_errors(sm: StateMachine, args: dict[str, object], error: str) -> None:
    sm.signed(A, "ModelRegistry", "register_model", **model_args())
    full: dict[str, object] = {
        "stake": MIN_STAKE,
        "endpoint": b"https://p",
        "models": [model_id_of(Cid(CID_V0))],
        "capacity": 1,
    }
    full.update(args)
    with pytest.raises(DispatchFailure, match=rf"\.{error}$"):
        sm.signed(B, "Providers", "register_provider", **full)
    assert sm.get("Providers", "Providers", B) is None
    assert sm.get("Tokens", "Accounts", B, 1).reserved == 0


def test_update_unregister_and_withdraw_after_unbonding(sm: StateMachine) -> None:
    sm.signed(A, "ModelRegistry", "register_model", **model_args())
    sm.signed(A, "ModelRegistry", "register_model", **model_args(CID_V1))
    m0, m1 = model_id_of(Cid(CID_V0)), model_id_of(Cid(CID_V1))
    register(sm, B, m0)
    with pytest.raises(DispatchFailure, match=r"^Providers\.AlreadyRegistered$"):
        register(sm, B, m0)
    with pytest.raises(DispatchFailure, match=r"^Providers\.NotRegistered$"):
        sm.signed(C, "Providers", "unregister")
    sm.signed(B, "Providers", "update_provider", endpoint=b"https://q", models=[m1], capacity=9)
    assert sm.get("Providers", "ModelProviders", m0) == []
    assert sm.get("Providers", "ModelProviders", m1) == [B]
    assert sm.get("Providers", "Providers", B).capacity == 9
    with pytest.raises(DispatchFailure, match=r"^Providers\.NotUnbonding$"):
        sm.signed(B, "Providers", "withdraw_unbonded")
    sm.signed(B, "Providers", "unregister")
    assert sm.get("Providers", "ModelProviders", m1) == []
    assert sm.get("Providers", "TotalWeight") == 0
    with pytest.raises(DispatchFailure, match=r"^Providers\.NotActive$"):
        sm.signed(B, "Providers", "unregister")
    for _ in range(UNBONDING_PERIOD - 1):
        sm.next_block()
    with pytest.raises(DispatchFailure, match=r"^Providers\.StillUnbonding$"):
        sm.signed(B, "Providers", "withdraw_unbonded")
    sm.next_block()
    events = sm.signed(B, "Providers", "withdraw_unbonded")
    assert sm.find(events, "Providers", "ProviderUnregistered") == {
        "provider": B,
        "stake": MIN_STAKE,
    }
    assert sm.get("Providers", "Providers", B) is None
    assert sm.get("Tokens", "Accounts", B, 1).reserved == 0
