"""Sealed inputs through the runtime's state transition functions (docs/pallets.md, rule 5):
providers' encryption keys, the chain assigning only providers a key is wrapped to, the salted
commitment recorded and accepted once, the plaintext flag, `decline` refunding in full."""

from __future__ import annotations

from typing import Any

import pytest

from devnode import DispatchFailure
from devnode.pallets._harness import StateMachine
from devnode.pallets.inference import AwaitingValidation, Declined
from devnode.pallets.providers import MIN_STAKE

from .test_pallet_inference import (
    MODEL,
    P1,
    P2,
    P3,
    USER,
    account,
    place,
    setup,
    state,
    steer,
    submit,
)

KEYS = {P1: b"\x01" * 32, P2: b"\x02" * 32, P3: b"\x03" * 32}


def keyed(providers: list[bytes]) -> StateMachine:
    sm = setup(providers)
    for who in providers:
        sm.signed(
            who, "Providers", "update_provider", endpoint=b"https://p.example", models=[MODEL],
            capacity=4, encryption_key=KEYS[who],
        )  # fmt: skip
    return sm


def sealed(
    wraps: list[bytes], commitment: bytes = b"\xcc" * 32, payload: bytes = b"\x5a" * 200
) -> tuple[str, dict[str, Any]]:
    return (
        "SealedInline",
        {
            "commitment": commitment,
            "output_key": b"\x0e" * 32,
            "wraps": [{"provider": w, "wrapped": b"\x77" * 80} for w in wraps],
            "payload": payload,
        },
    )


def test_encryption_key_is_published_and_rotated() -> None:
    sm = keyed([P1])
    assert sm.get("Providers", "Providers", P1).encryption_key == KEYS[P1]
    sm.signed(
        P1, "Providers", "update_provider", endpoint=b"https://p.example", models=[MODEL],
        capacity=4, encryption_key=b"\x09" * 32,
    )  # fmt: skip
    assert sm.get("Providers", "Providers", P1).encryption_key == b"\x09" * 32
    with pytest.raises(DispatchFailure, match=r"^Providers\.InvalidEncryptionKey$"):
        sm.signed(
            P1, "Providers", "update_provider", endpoint=b"https://p.example", models=[MODEL],
            capacity=4, encryption_key=bytes(32),
        )  # fmt: skip


def test_sealed_request_records_commitment_key_and_flag() -> None:
    sm = keyed([P1, P2])
    rid, executor = place(sm, input=sealed([P1, P2]))
    req = sm.get("Inference", "Requests", rid)
    assert executor in (P1, P2)
    assert req.sealed is True and req.output_key == b"\x0e" * 32
    assert req.input_hash == b"\xcc" * 32 and req.input_cid is None
    assert sm.get("Inference", "SealedCommitments", b"\xcc" * 32) == rid
    plain, _ = place(sm)  # plaintext is the explicit Inline input, recorded as such
    assert sm.get("Inference", "Requests", plain).sealed is False
    assert sm.get("Inference", "Requests", plain).output_key is None


def test_only_providers_with_a_wrap_and_a_key_are_assigned() -> None:
    sm = keyed([P1, P2])
    sm.signed(
        P3, "Providers", "register_provider", stake=MIN_STAKE, endpoint=b"https://p3",
        models=[MODEL], capacity=4, encryption_key=None,
    )  # fmt: skip
    for i in range(4):  # P2 has capacity 4
        _, executor = place(sm, input=sealed([P2, P3], commitment=bytes([i]) * 32))
        assert executor == P2  # P1 has no wrap, P3 has no key
    with pytest.raises(DispatchFailure, match=r"^Inference\.NoProviderAvailable$"):
        place(sm, input=sealed([P3], commitment=b"\xee" * 32))


@pytest.mark.parametrize(
    ("input", "error"),
    [
        (sealed([]), "NoRecipients"),
        (sealed([P1, P1]), "DuplicateRecipient"),
        (sealed([P1], payload=b""), "EmptyInput"),
        (sealed([P1], payload=b"x" * 1153), "InputTooLarge"),
        (
            ("SealedCid", sealed([P1], payload=b"not-a-cid")[1]),
            "InvalidCid",
        ),
    ],
)
def test_sealed_input_shape_errors(input: Any, error: str) -> None:
    sm = keyed([P1])
    with pytest.raises(DispatchFailure, match=rf"^Inference\.{error}$"):
        place(sm, input=input)


def test_too_long_wrap_and_too_many_recipients() -> None:
    sm = keyed([P1])
    kind, body = sealed([P1])
    body["wraps"][0]["wrapped"] = b"w" * 129
    with pytest.raises(DispatchFailure, match=r"^Inference\.KeyWrapTooLong$"):
        place(sm, input=(kind, body))
    with pytest.raises(DispatchFailure, match=r"^Inference\.TooManyRecipients$"):
        place(sm, input=sealed([bytes([9, i]) * 16 for i in range(65)]))


def test_a_commitment_is_accepted_once() -> None:
    sm = keyed([P1])
    place(sm, input=sealed([P1]))
    before = account(sm, USER)
    with pytest.raises(DispatchFailure, match=r"^Inference\.InputReplayed$"):
        place(sm, input=sealed([P1]))
    assert account(sm, USER) == before


def test_decline_refunds_in_full_and_frees_the_executor() -> None:
    sm = keyed([P1])
    before = account(sm, USER)
    rid, executor = place(sm, input=sealed([P1]))
    assert account(sm, USER).reserved > before.reserved
    with pytest.raises(DispatchFailure, match=r"^Inference\.NotExecutor$"):
        sm.signed(USER, "Inference", "decline", request_id=rid)
    events = sm.signed(executor, "Inference", "decline", request_id=rid)
    declined = sm.find(events, "Inference", "RequestDeclined")
    assert declined["refund"] == sm.get("Inference", "Requests", rid).escrow
    assert state(sm, rid) == Declined()
    assert account(sm, USER) == before
    info = sm.get("Providers", "Providers", executor)
    assert info.in_flight == 0 and info.reputation == 0
    assert sm.get("Inference", "BandwidthInUse", executor) == 0
    with pytest.raises(DispatchFailure, match=r"^Inference\.InvalidState$"):
        sm.signed(executor, "Inference", "decline", request_id=rid)


def test_sealed_validator_needs_a_key_and_provide_output_is_not_hash_checked() -> None:
    sm = keyed([P1, P2])
    sm.signed(
        P3, "Providers", "register_provider", stake=MIN_STAKE, endpoint=b"https://p3",
        models=[MODEL], capacity=4, encryption_key=None,
    )  # fmt: skip
    rid, executor = place(sm, input=sealed([P1, P2]))
    sm.next_block(parent_hash=steer(b"infer/validate", rid, lambda r: True))
    events = submit(sm, rid, executor)
    drawn = sm.find(events, "Inference", "ValidationRequested")
    assert drawn is not None and drawn["validator"] == ({P1, P2} - {executor}).pop()
    sm.signed(drawn["validator"], "Inference", "request_output", request_id=rid)
    sm.signed(executor, "Inference", "provide_output", request_id=rid, output=b"sealed blob")
    awaiting = state(sm, rid)
    assert isinstance(awaiting, AwaitingValidation) and awaiting.output_deadline is None
