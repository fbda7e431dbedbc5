"""The protocol pallets driven by unmodified substrate-interface over a real WebSocket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from substrateinterface import Keypair, SubstrateInterface
from substrateinterface.base import ExtrinsicReceipt

from devnode._hashing import blake2_256
from devnode.pallets.providers import MIN_STAKE
from devnode.pallets.tokens import GENESIS_ENDOWMENT

CID = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
CID_V1 = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
MODEL_ID = "0x" + blake2_256(CID.encode()).hex()
PRICE = 2 * 10**12
PAY = 2
OUTPUT = b'{"text": "Machine learning is a subset of AI."}'
OUTPUT_HASH = "0x" + blake2_256(OUTPUT).hex()
ESCROW = (1000 + 150) * PRICE // 1000
COST = (1000 + 120) * PRICE // 1000

NAMES = ("Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie")


@pytest.fixture(scope="module")
def keys() -> dict[str, Keypair]:
    return {name: Keypair.create_from_uri(f"//{name}") for name in NAMES}


@pytest.fixture
def chain(substrate: SubstrateInterface) -> Iterator[SubstrateInterface]:
    """A fresh devnode (instant sealing) per test, reached over WebSocket."""
    yield substrate


def send(
    substrate: SubstrateInterface, who: Keypair, pallet: str, call: str, params: dict[str, Any]
) -> ExtrinsicReceipt:
    composed = substrate.compose_call(pallet, call, params)
    return substrate.submit_extrinsic(
        substrate.create_signed_extrinsic(composed, who), wait_for_inclusion=True
    )


def ok(receipt: ExtrinsicReceipt) -> ExtrinsicReceipt:
    assert receipt.is_success, receipt.error_message
    return receipt


def error_of(receipt: ExtrinsicReceipt) -> str:
    assert not receipt.is_success
    return str(receipt.error_message["name"])


def event(receipt: ExtrinsicReceipt, pallet: str, name: str) -> dict[str, Any]:
    for e in receipt.triggered_events:
        if e.value["module_id"] == pallet and e.value["event_id"] == name:
            attributes: dict[str, Any] = e.value["attributes"]
            return attributes
    raise AssertionError(
        f"no {pallet}.{name} in {[e.value['event_id'] for e in receipt.triggered_events]}"
    )


def has_event(receipt: ExtrinsicReceipt, pallet: str, name: str) -> bool:
    return any(
        e.value["module_id"] == pallet and e.value["event_id"] == name
        for e in receipt.triggered_events
    )


def tokens(substrate: SubstrateInterface, who: Keypair, currency: int = PAY) -> dict[str, int]:
    value: dict[str, int] = substrate.query(
        "Tokens", "Accounts", [who.ss58_address, currency]
    ).value
    return value


def register_model(substrate: SubstrateInterface, who: Keypair, cid: str = CID) -> ExtrinsicReceipt:
    return send(
        substrate,
        who,
        "ModelRegistry",
        "register_model",
        {
            "cid": cid,
            "name": "llama-3-8b",
            "task": "TextGeneration",
            "format": "Safetensors",
            "size_bytes": 16 * 10**9,
            "price_per_1k_tokens": PRICE,
            "currency_id": PAY,
            "author_share": 200_000,
        },
    )


def register_provider(substrate: SubstrateInterface, who: Keypair) -> ExtrinsicReceipt:
    return ok(
        send(
            substrate,
            who,
            "Providers",
            "register_provider",
            {
                "stake": MIN_STAKE,
                "endpoint": "https://provider.example/v1",
                "models": [MODEL_ID],
                "capacity": 4,
                "encryption_key": None,
            },
        )
    )


def request(substrate: SubstrateInterface, who: Keypair, **overrides: Any) -> ExtrinsicReceipt:
    params: dict[str, Any] = {
        "model_id": MODEL_ID,
        "input": {"Inline": "0x" + b"What is machine learning?".hex()},
        "prompt_tokens": 1000,
        "max_tokens": 150,
        "max_price_per_1k_tokens": PRICE,
        "deadline_blocks": 20,
    }
    params.update(overrides)
    return send(substrate, who, "Inference", "request", params)


def submit_result(substrate: SubstrateInterface, who: Keypair, request_id: int) -> ExtrinsicReceipt:
    return send(
        substrate,
        who,
        "Inference",
        "submit_result",
        {
            "request_id": request_id,
            "output_hash": OUTPUT_HASH,
            "output_cid": None,
            "prompt_tokens": 1000,
            "completion_tokens": 120,
        },
    )


def by_address(keys: dict[str, Keypair], address: str) -> Keypair:
    return next(k for k in keys.values() if k.ss58_address == address)


def placed(chain: SubstrateInterface, keys: dict[str, Keypair]) -> tuple[int, Keypair]:
    receipt = ok(request(chain, keys["Bob"]))
    attributes = event(receipt, "Inference", "InferenceRequested")
    return int(attributes["request_id"]), by_address(keys, attributes["executor"])


def advance(chain: SubstrateInterface, who: Keypair, blocks: int) -> None:
    for _ in range(blocks):
        ok(send(chain, who, "System", "remark", {"remark": "0x00"}))


def request_state(chain: SubstrateInterface, request_id: int) -> Any:
    return chain.query("Inference", "Requests", [request_id]).value["state"]


# -- Tokens -------------------------------------------------------------------------------


def test_tokens_genesis_transfer_and_maps(
    chain: SubstrateInterface, keys: dict[str, Keypair]
) -> None:
    alice, bob = keys["Alice"], keys["Bob"]
    assert chain.get_constant("Tokens", "ExistentialDeposit").value == 1_000_000
    assert chain.query("Tokens", "TotalIssuance", [1]).value == 6 * GENESIS_ENDOWMENT
    entries = list(chain.query_map("Tokens", "Accounts", [alice.ss58_address]))
    assert sorted(int(key.value) for key, _ in entries) == [1, 2]
    receipt = ok(
        send(
            chain,
            alice,
            "Tokens",
            "transfer",
            {"dest": bob.ss58_address, "currency_id": 2, "amount": 7},
        )
    )
    assert event(receipt, "Tokens", "Transfer") == {
        "currency_id": 2,
        "from": alice.ss58_address,
        "to": bob.ss58_address,
        "amount": 7,
    }
    assert tokens(chain, bob)["free"] == GENESIS_ENDOWMENT + 7
    assert tokens(chain, alice)["free"] == GENESIS_ENDOWMENT - 7
    too_much = send(
        chain,
        bob,
        "Tokens",
        "transfer_keep_alive",
        {"dest": alice.ss58_address, "currency_id": 1, "amount": GENESIS_ENDOWMENT},
    )
    assert error_of(too_much) == "KeepAlive"


# -- ModelRegistry ------------------------------------------------------------------------


def test_register_and_update_model(chain: SubstrateInterface, keys: dict[str, Keypair]) -> None:
    alice, bob = keys["Alice"], keys["Bob"]
    receipt = ok(register_model(chain, alice))
    assert event(receipt, "ModelRegistry", "ModelRegistered")["model_id"] == MODEL_ID
    model = chain.query("ModelRegistry", "Models", [MODEL_ID]).value
    assert model["owner"] == alice.ss58_address
    assert model["version"] == 1 and model["price_per_1k_tokens"] == PRICE
    assert error_of(register_model(chain, bob)) == "DuplicateCid"
    assert error_of(register_model(chain, bob, "QmThisIsNotAValidCid")) == "InvalidCid"
    update = {"model_id": MODEL_ID, "new_cid": CID_V1, "size_bytes": 5}
    assert error_of(send(chain, bob, "ModelRegistry", "update_model", update)) == "NotOwner"
    receipt = ok(send(chain, alice, "ModelRegistry", "update_model", update))
    assert event(receipt, "ModelRegistry", "ModelUpdated")["version"] == 2
    assert chain.query("ModelRegistry", "Models", [MODEL_ID]).value["version"] == 2
    versions = chain.query_map("ModelRegistry", "ModelVersions", [MODEL_ID])
    assert sorted(int(k.value) for k, _ in versions) == [1, 2]


def test_register_provider(chain: SubstrateInterface, keys: dict[str, Keypair]) -> None:
    ok(register_model(chain, keys["Alice"]))
    receipt = register_provider(chain, keys["Charlie"])
    assert event(receipt, "Providers", "ProviderRegistered")["stake"] == MIN_STAKE
    info = chain.query("Providers", "Providers", [keys["Charlie"].ss58_address]).value
    assert info["capacity"] == 4 and info["reputation"] == 0 and info["weight"] == 1000
    assert chain.query("Providers", "ModelProviders", [MODEL_ID]).value == [
        keys["Charlie"].ss58_address
    ]
    assert tokens(chain, keys["Charlie"], 1)["reserved"] == MIN_STAKE


# -- Inference ----------------------------------------------------------------------------


def test_request_result_payout_with_exact_balances(
    chain: SubstrateInterface, keys: dict[str, Keypair]
) -> None:
    alice, bob, charlie = keys["Alice"], keys["Bob"], keys["Charlie"]
    ok(register_model(chain, alice))
    register_provider(chain, charlie)  # the only provider: nobody can be drawn to validate
    request_id, executor = placed(chain, keys)
    assert executor.ss58_address == charlie.ss58_address
    assert tokens(chain, bob)["reserved"] == ESCROW
    assert error_of(submit_result(chain, bob, request_id)) == "NotExecutor"
    receipt = ok(submit_result(chain, charlie, request_id))
    assert event(receipt, "Inference", "InferencePaid") == {
        "request_id": request_id,
        "cost": COST,
        "author": alice.ss58_address,
        "author_amount": COST // 5,
        "executor": charlie.ss58_address,
        "executor_amount": COST - COST // 5,
        "refund": ESCROW - COST,
    }
    assert tokens(chain, bob) == {"free": GENESIS_ENDOWMENT - COST, "reserved": 0, "frozen": 0}
    assert tokens(chain, alice)["free"] == GENESIS_ENDOWMENT + COST // 5
    assert tokens(chain, charlie)["free"] == GENESIS_ENDOWMENT + COST - COST // 5
    assert request_state(chain, request_id) == {"Completed": {"cost": COST}}
    stored = chain.query("Inference", "Requests", [request_id]).value
    assert stored["output_hash"] == OUTPUT_HASH and stored["used_tokens"] == 1120


def test_sampled_validation_pass_and_fail(
    chain: SubstrateInterface, keys: dict[str, Keypair]
) -> None:
    bob = keys["Bob"]
    ok(register_model(chain, keys["Alice"]))
    register_provider(chain, keys["Charlie"])
    register_provider(chain, keys["Dave"])
    outcomes = []
    for valid in (True, False):
        request_id, executor = placed(chain, keys)
        receipt = ok(submit_result(chain, executor, request_id))  # reputation 0: always sampled
        drawn = event(receipt, "Inference", "ValidationRequested")
        assert not has_event(receipt, "Inference", "InferencePaid")
        validator = by_address(keys, drawn["validator"])
        assert validator.ss58_address != executor.ss58_address
        verdict = {"request_id": request_id, "valid": valid}
        assert (
            error_of(send(chain, executor, "Inference", "submit_validation", verdict))
            == "NotValidator"
        )
        outcomes.append(
            (executor, ok(send(chain, validator, "Inference", "submit_validation", verdict)))
        )
    (first_executor, passed), (second_executor, failed) = outcomes
    assert event(passed, "Inference", "InferencePaid")["cost"] == COST
    assert event(passed, "Inference", "InferencePaid")["executor"] == first_executor.ss58_address
    assert has_event(passed, "Inference", "ValidationPassed")
    slashed = event(failed, "Inference", "ValidationFailed")["slashed"]
    assert slashed == MIN_STAKE // 10
    # Bob paid for the first request only; the second was refunded in full.
    assert tokens(chain, bob) == {"free": GENESIS_ENDOWMENT - COST, "reserved": 0, "frozen": 0}
    second = chain.query("Providers", "Providers", [second_executor.ss58_address]).value
    assert second["stake"] == MIN_STAKE - slashed and second["reputation"] == 0
    assert tokens(chain, second_executor, 1)["reserved"] == MIN_STAKE - slashed
    assert chain.query("Tokens", "TotalIssuance", [1]).value == 6 * GENESIS_ENDOWMENT - slashed


def test_request_output_provide_output_and_its_timeout(
    chain: SubstrateInterface, keys: dict[str, Keypair]
) -> None:
    ok(register_model(chain, keys["Alice"]))
    register_provider(chain, keys["Charlie"])
    register_provider(chain, keys["Dave"])
    request_ids = []
    for _ in range(2):
        request_id, executor = placed(chain, keys)
        drawn = event(
            ok(submit_result(chain, executor, request_id)), "Inference", "ValidationRequested"
        )
        validator = by_address(keys, drawn["validator"])
        ok(send(chain, validator, "Inference", "request_output", {"request_id": request_id}))
        request_ids.append((request_id, executor, validator))
    (first, executor, validator), (second, _, _) = request_ids
    bad = {"request_id": first, "output": "0x" + b"tampered".hex()}
    assert (
        error_of(send(chain, executor, "Inference", "provide_output", bad)) == "OutputHashMismatch"
    )
    good = {"request_id": first, "output": "0x" + OUTPUT.hex()}
    assert has_event(
        ok(send(chain, executor, "Inference", "provide_output", good)),
        "Inference",
        "OutputProvided",
    )
    ok(
        send(
            chain, validator, "Inference", "submit_validation", {"request_id": first, "valid": True}
        )
    )
    assert request_state(chain, first) == {"Completed": {"cost": COST}}
    # The second output is never provided: after OutputProvidePeriod blocks the executor is slashed.
    advance(chain, keys["Eve"], 11)
    assert request_state(chain, second) == "Rejected"
    assert tokens(chain, keys["Bob"]) == {
        "free": GENESIS_ENDOWMENT - COST,
        "reserved": 0,
        "frozen": 0,
    }


def test_expiry_refunds_the_requester(chain: SubstrateInterface, keys: dict[str, Keypair]) -> None:
    ok(register_model(chain, keys["Alice"]))
    register_provider(chain, keys["Charlie"])
    receipt = ok(request(chain, keys["Bob"], deadline_blocks=2))
    request_id = int(event(receipt, "Inference", "InferenceRequested")["request_id"])
    advance(chain, keys["Eve"], 2)
    assert request_state(chain, request_id) == "Assigned"
    advance(chain, keys["Eve"], 1)
    assert request_state(chain, request_id) == "Expired"
    assert tokens(chain, keys["Bob"]) == {"free": GENESIS_ENDOWMENT, "reserved": 0, "frozen": 0}
    assert (
        chain.query("Providers", "Providers", [keys["Charlie"].ss58_address]).value["in_flight"]
        == 0
    )


def test_each_request_error_is_raised_by_a_bad_call(
    chain: SubstrateInterface, keys: dict[str, Keypair]
) -> None:
    bob = keys["Bob"]
    ok(register_model(chain, keys["Alice"]))
    assert error_of(request(chain, bob)) == "NoProviderAvailable"
    register_provider(chain, keys["Charlie"])
    cases: list[tuple[dict[str, Any], str]] = [
        ({"model_id": "0x" + "11" * 32}, "UnknownModel"),
        ({"max_price_per_1k_tokens": PRICE - 1}, "PriceAboveMaximum"),
        ({"input": {"Cid": "QmNotACid"}}, "InvalidCid"),
        ({"input": {"Inline": "0x" + "61" * 1025}}, "InputTooLarge"),
        ({"max_tokens": 40_000}, "BandwidthExceeded"),
        ({"deadline_blocks": 1}, "InvalidDeadline"),
    ]
    for overrides, name in cases:
        assert error_of(request(chain, bob, **overrides)) == name, name
    assert tokens(chain, bob)["reserved"] == 0
    assert chain.query("Inference", "NextRequestId").value == 0


def test_size_model_matches_a_real_signed_request(
    chain: SubstrateInterface, keys: dict[str, Keypair]
) -> None:
    from devnode.pallets._sizes import inference_extrinsic_bytes, signed_extrinsic_bytes

    composed = chain.compose_call(
        "Inference",
        "request",
        {
            "model_id": MODEL_ID,
            "input": {"Cid": CID},
            "prompt_tokens": 1000,
            "max_tokens": 150,
            "max_price_per_1k_tokens": PRICE,
            "deadline_blocks": 20,
        },
    )
    extrinsic = chain.create_signed_extrinsic(composed, keys["Bob"])
    call_bytes = bytes(composed.data.data)
    assert len(bytes(extrinsic.data.data)) == signed_extrinsic_bytes(call_bytes, 0, mortal=False)
    # Mortal, nonce 1000: one byte of era and one of nonce more than this one.
    assert inference_extrinsic_bytes(1000, 150).request == len(bytes(extrinsic.data.data)) + 2
