"""Inference through the runtime's state transition functions, no server.

Randomness on devnode derives from the parent hash, so tests pick parent hashes that steer the
executor, sampling and validator draws, and assert the exact outcome of each branch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from devnode import DispatchFailure
from devnode._hashing import blake2_256
from devnode._pallet import Origin
from devnode.pallets._cid import Cid
from devnode.pallets._harness import StateMachine
from devnode.pallets.inference import (
    BLOCK_BANDWIDTH_BYTES,
    OUTPUT_PROVIDE_PERIOD,
    VALIDATION_PERIOD,
    Assigned,
    AwaitingValidation,
    Completed,
    Expired,
    Rejected,
    RequestState,
    bandwidth_estimate,
    escrow_for,
    fraud_slash,
    pick_weighted,
    randomness,
    split_payout,
    validation_probability_ppm,
)
from devnode.pallets.model_registry import model_id_of
from devnode.pallets.providers import MIN_STAKE
from devnode.pallets.tokens import GENESIS_ENDOWMENT, TokenAccount

AUTHOR, USER, P1, P2, P3 = (bytes([i]) * 32 for i in (1, 2, 3, 4, 5))
ACCOUNTS = [AUTHOR, USER, P1, P2, P3]
CID = b"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
INPUT_CID = b"bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
MODEL = model_id_of(Cid(CID))
PRICE = 2 * 10**12
SHARE = 200_000
PAY = 2  # the model's currency
STAKE = 1  # the staking currency
OUTPUT = b'{"text": "Machine learning is..."}'
OUTPUT_HASH = blake2_256(OUTPUT)


def setup(providers: list[bytes], stake: int = MIN_STAKE, capacity: int = 4) -> StateMachine:
    sm = StateMachine(ACCOUNTS)
    sm.next_block()
    sm.signed(
        AUTHOR,
        "ModelRegistry",
        "register_model",
        cid=CID,
        name=b"llama",
        task="TextGeneration",
        format="Safetensors",
        size_bytes=10**10,
        price_per_1k_tokens=PRICE,
        currency_id=PAY,
        author_share=SHARE,
    )
    for who in providers:
        sm.signed(
            who,
            "Providers",
            "register_provider",
            stake=stake,
            endpoint=b"https://provider.example",
            models=[MODEL],
            capacity=capacity,
        )
    return sm


def set_reputation(sm: StateMachine, who: bytes, reputation: int) -> None:
    sm.call(Origin.root(), "Providers", "set_reputation", who=("Id", who), reputation=reputation)


def steer(tag: bytes, request_id: int, want: Callable[[int], bool]) -> bytes:
    """A parent hash whose draw for (`tag`, `request_id`) satisfies `want`."""
    for i in range(10_000):
        parent = blake2_256(i.to_bytes(4, "little"))
        if want(randomness(tag, parent, request_id)):
            return parent
    raise AssertionError("no parent hash found")


def request_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "model_id": MODEL,
        "input": ("Inline", b"What is machine learning?"),
        "prompt_tokens": 1000,
        "max_tokens": 150,
        "max_price_per_1k_tokens": PRICE,
        "deadline_blocks": 5,
    }
    args.update(overrides)
    return args


def place(sm: StateMachine, **overrides: Any) -> tuple[int, bytes]:
    events = sm.signed(USER, "Inference", "request", **request_args(**overrides))
    placed = sm.find(events, "Inference", "InferenceRequested")
    return placed["request_id"], placed["executor"]


def submit(sm: StateMachine, request_id: int, executor: bytes, completion: int = 120) -> list[Any]:
    return sm.signed(
        executor,
        "Inference",
        "submit_result",
        request_id=request_id,
        output_hash=OUTPUT_HASH,
        output_cid=None,
        prompt_tokens=1000,
        completion_tokens=completion,
    )


def account(sm: StateMachine, who: bytes, currency: int = PAY) -> TokenAccount:
    data: TokenAccount = sm.get("Tokens", "Accounts", who, currency)
    return data


def state(sm: StateMachine, request_id: int) -> RequestState:
    state: RequestState = sm.get("Inference", "Requests", request_id).state
    return state


# -- pure helpers -------------------------------------------------------------------------


def test_money_bandwidth_and_sampling_formulas() -> None:
    assert escrow_for(1150, PRICE) == 2_300_000_000_000
    assert escrow_for(1, 999) == 1  # rounded up
    assert bandwidth_estimate(1000, 150) == 3_000 + 96_000
    assert validation_probability_ppm(0) == 1_000_000
    assert validation_probability_ppm(100) == 10_000
    candidates = [(b"x", 1), (b"y", 3)]
    assert [pick_weighted(candidates, d) for d in (0, 1, 3, 4, 5)] == [b"x", b"y", b"y", b"x", b"y"]
    assert split_payout(999, 100_000) == (99, 900)  # the author's share rounds down
    assert split_payout(0, 100_000) == (0, 0)
    assert split_payout(7, 1_000_000) == (7, 0)
    assert fraud_slash(1_000_001) == 100_000  # 10 %, rounded down


# -- request ------------------------------------------------------------------------------


def test_request_escrows_assigns_and_reserves_bandwidth() -> None:
    sm = setup([P1, P2])
    events = sm.signed(USER, "Inference", "request", **request_args())
    placed = sm.find(events, "Inference", "InferenceRequested")
    executor = placed["executor"]
    assert executor in (P1, P2)
    assert placed == {
        "request_id": 0,
        "requester": USER,
        "model_id": MODEL,
        "executor": executor,
        "escrow": 2_300_000_000_000,
        "deadline": 1 + 5,
    }
    assert account(sm, USER) == TokenAccount(
        free=GENESIS_ENDOWMENT - 2_300_000_000_000, reserved=2_300_000_000_000, frozen=0
    )
    req = sm.get("Inference", "Requests", 0)
    assert req.state == Assigned()
    assert req.input_hash == blake2_256(b"What is machine learning?")
    assert req.author == AUTHOR and req.price_per_1k_tokens == PRICE
    assert sm.get("Providers", "Providers", executor).in_flight == 1
    assert sm.get("Inference", "BandwidthInUse", executor) == 99_000
    assert sm.get("Inference", "Timeouts", 7) == [0]
    assert sm.get("Inference", "NextRequestId") == 1


def test_assignment_follows_the_parent_hash_draw_and_weight() -> None:
    sm = setup([P1, P2])
    set_reputation(sm, P2, 100)  # P1 weight 1000, P2 weight 11000
    sm.next_block(steer(b"infer/assign", 0, lambda r: r % 12_000 < 1_000))
    assert place(sm)[1] == P1
    sm.next_block(steer(b"infer/assign", 1, lambda r: r % 12_000 >= 1_000))
    assert place(sm)[1] == P2


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"model_id": bytes(32)}, "UnknownModel"),
        ({"max_price_per_1k_tokens": PRICE - 1}, "PriceAboveMaximum"),
        ({"input": ("Inline", b"x" * 1025)}, "InputTooLarge"),
        ({"input": ("Inline", b"")}, "EmptyInput"),
        ({"input": ("Cid", b"QmNope")}, "InvalidCid"),
        ({"max_tokens": 0}, "InvalidTokenCount"),
        ({"prompt_tokens": 99_000, "max_tokens": 1_001}, "InvalidTokenCount"),
        ({"deadline_blocks": 1}, "InvalidDeadline"),
        ({"deadline_blocks": 601}, "InvalidDeadline"),
        ({"max_tokens": 40_000}, "BandwidthExceeded"),
    ],
)
def test_request_errors_leave_no_trace(overrides: dict[str, Any], error: str) -> None:
    sm = setup([P1])
    with pytest.raises(DispatchFailure, match=rf"^Inference\.{error}$"):
        sm.signed(USER, "Inference", "request", **request_args(**overrides))
    assert account(sm, USER).reserved == 0
    assert sm.get("Inference", "NextRequestId") == 0
    assert sm.get("Providers", "Providers", P1).in_flight == 0


def test_request_accepts_a_cid_input_and_stores_only_hashes() -> None:
    sm = setup([P1])
    request_id, _ = place(sm, input=("Cid", INPUT_CID))
    req = sm.get("Inference", "Requests", request_id)
    assert req.input_cid == INPUT_CID and req.input_hash == blake2_256(INPUT_CID)


def test_no_provider_available_cases() -> None:
    sm = setup([])
    with pytest.raises(DispatchFailure, match=r"^Inference\.NoProviderAvailable$"):
        place(sm)
    sm = setup([USER])  # the requester never serves its own request
    with pytest.raises(DispatchFailure, match=r"^Inference\.NoProviderAvailable$"):
        place(sm)
    sm = setup([P1], capacity=1)
    place(sm)
    with pytest.raises(DispatchFailure, match=r"^Inference\.NoProviderAvailable$"):
        place(sm)


def test_deprecated_model_rejects_requests() -> None:
    sm = setup([P1])
    sm.signed(AUTHOR, "ModelRegistry", "deprecate_model", model_id=MODEL)
    with pytest.raises(DispatchFailure, match=r"^Inference\.ModelDeprecated$"):
        place(sm)


def test_bandwidth_is_shared_by_weight_and_released_on_completion() -> None:
    sm = setup([P1], capacity=100)
    set_reputation(sm, P1, 100)
    # One provider holds the whole budget: 21_500 KiB / (3 + 640 * 10_000) per request -> 3 fit.
    big = {"prompt_tokens": 0, "max_tokens": 10_000}
    for _ in range(3):
        place(sm, **big)
    assert sm.get("Inference", "BandwidthInUse", P1) == 3 * 6_400_000 <= BLOCK_BANDWIDTH_BYTES
    with pytest.raises(DispatchFailure, match=r"^Inference\.BandwidthExceeded$"):
        place(sm, **big)
    sm.next_block(steer(b"infer/validate", 0, lambda r: r % 1_000_000 >= 10_000))
    submit(sm, 0, P1, completion=10)
    assert sm.get("Inference", "BandwidthInUse", P1) == 2 * 6_400_000
    place(sm, **big)  # the freed share is usable again


# -- results and payouts ------------------------------------------------------------------


def test_result_without_validation_pays_author_executor_and_refunds() -> None:
    sm = setup([P1])
    set_reputation(sm, P1, 100)
    request_id, executor = place(sm)
    sm.next_block(steer(b"infer/validate", request_id, lambda r: r % 1_000_000 >= 10_000))
    events = submit(sm, request_id, executor, completion=120)
    cost = 1120 * PRICE // 1000
    paid = sm.find(events, "Inference", "InferencePaid")
    assert paid == {
        "request_id": request_id,
        "cost": cost,
        "author": AUTHOR,
        "author_amount": cost // 5,
        "executor": P1,
        "executor_amount": cost - cost // 5,
        "refund": 2_300_000_000_000 - cost,
    }
    assert ("Inference", "ValidationRequested") not in sm.event_names(events)
    assert account(sm, USER) == TokenAccount(GENESIS_ENDOWMENT - cost, 0, 0)
    assert account(sm, AUTHOR).free == GENESIS_ENDOWMENT + cost // 5
    assert account(sm, P1).free == GENESIS_ENDOWMENT + cost - cost // 5
    assert sm.get("Tokens", "TotalIssuance", PAY) == len(ACCOUNTS) * GENESIS_ENDOWMENT
    assert state(sm, request_id) == Completed(cost)
    assert sm.get("Providers", "Providers", P1).in_flight == 0
    assert sm.get("Inference", "BandwidthInUse", P1) == 0
    with pytest.raises(DispatchFailure, match=r"^Inference\.InvalidState$"):
        submit(sm, request_id, executor)


def test_submit_result_errors() -> None:
    sm = setup([P1])
    request_id, executor = place(sm, deadline_blocks=2)
    with pytest.raises(DispatchFailure, match=r"^Inference\.UnknownRequest$"):
        submit(sm, 99, executor)
    with pytest.raises(DispatchFailure, match=r"^Inference\.NotExecutor$"):
        submit(sm, request_id, USER)
    with pytest.raises(DispatchFailure, match=r"^Inference\.InvalidTokenCount$"):
        submit(sm, request_id, executor, completion=151)
    with pytest.raises(DispatchFailure, match=r"^Inference\.InvalidCid$"):
        sm.signed(
            executor,
            "Inference",
            "submit_result",
            request_id=request_id,
            output_hash=OUTPUT_HASH,
            output_cid=b"bafyNotACid",
            prompt_tokens=1,
            completion_tokens=1,
        )
    sm.number += 3  # past the deadline (block 3) without running the block hook
    with pytest.raises(DispatchFailure, match=r"^Inference\.DeadlinePassed$"):
        submit(sm, request_id, executor)


# -- sampled validation -------------------------------------------------------------------


def validated(sm: StateMachine) -> tuple[int, bytes, bytes]:
    """Place and submit a request whose executor (reputation 0) is always sampled."""
    request_id, executor = place(sm)
    events = submit(sm, request_id, executor)
    drawn = sm.find(events, "Inference", "ValidationRequested")
    assert drawn["deadline"] == sm.number + VALIDATION_PERIOD
    assert drawn["validator"] not in (executor, USER)
    assert ("Inference", "InferencePaid") not in sm.event_names(events)
    return request_id, executor, drawn["validator"]


def test_validation_pass_pays_and_raises_reputation() -> None:
    sm = setup([P1, P2])
    request_id, executor, validator = validated(sm)
    assert account(sm, USER).reserved == 2_300_000_000_000  # payment held
    with pytest.raises(DispatchFailure, match=r"^Inference\.NotValidator$"):
        sm.signed(executor, "Inference", "submit_validation", request_id=request_id, valid=True)
    events = sm.signed(
        validator, "Inference", "submit_validation", request_id=request_id, valid=True
    )
    assert sm.find(events, "Inference", "ValidationPassed") == {
        "request_id": request_id,
        "validator": validator,
    }
    cost = 1120 * PRICE // 1000
    assert sm.find(events, "Inference", "InferencePaid")["executor_amount"] == cost - cost // 5
    assert sm.get("Providers", "Providers", executor).reputation == 5
    assert account(sm, USER).reserved == 0
    assert state(sm, request_id) == Completed(cost)


def test_validation_fail_slashes_and_refunds_in_full() -> None:
    sm = setup([P1, P2])
    request_id, executor, validator = validated(sm)
    set_reputation(sm, executor, 40)
    events = sm.signed(
        validator, "Inference", "submit_validation", request_id=request_id, valid=False
    )
    slashed = MIN_STAKE // 10
    assert sm.find(events, "Inference", "ValidationFailed") == {
        "request_id": request_id,
        "validator": validator,
        "slashed": slashed,
    }
    assert account(sm, USER) == TokenAccount(GENESIS_ENDOWMENT, 0, 0)
    assert account(sm, executor, STAKE).reserved == MIN_STAKE - slashed
    info = sm.get("Providers", "Providers", executor)
    assert (info.stake, info.reputation, info.in_flight) == (MIN_STAKE - slashed, 0, 0)
    assert sm.get("Tokens", "TotalIssuance", STAKE) == len(ACCOUNTS) * GENESIS_ENDOWMENT - slashed
    assert sm.get("Tokens", "TotalIssuance", PAY) == len(ACCOUNTS) * GENESIS_ENDOWMENT
    assert state(sm, request_id) == Rejected()


def test_output_request_then_provide_then_validate() -> None:
    sm = setup([P1, P2])
    request_id, executor, validator = validated(sm)
    with pytest.raises(DispatchFailure, match=r"^Inference\.InvalidState$"):
        sm.signed(executor, "Inference", "provide_output", request_id=request_id, output=OUTPUT)
    events = sm.signed(validator, "Inference", "request_output", request_id=request_id)
    assert sm.find(events, "Inference", "OutputRequested") == {
        "request_id": request_id,
        "deadline": sm.number + OUTPUT_PROVIDE_PERIOD,
    }
    with pytest.raises(DispatchFailure, match=r"^Inference\.OutputAlreadyRequested$"):
        sm.signed(validator, "Inference", "request_output", request_id=request_id)
    with pytest.raises(DispatchFailure, match=r"^Inference\.OutputHashMismatch$"):
        sm.signed(executor, "Inference", "provide_output", request_id=request_id, output=b"other")
    with pytest.raises(DispatchFailure, match=r"^Inference\.OutputTooLarge$"):
        sm.signed(
            executor, "Inference", "provide_output", request_id=request_id, output=b"x" * 65_537
        )
    sm.next_block()
    events = sm.signed(
        executor, "Inference", "provide_output", request_id=request_id, output=OUTPUT
    )
    assert sm.event_names(events) == [("Inference", "OutputProvided")]
    awaiting = state(sm, request_id)
    assert isinstance(awaiting, AwaitingValidation) and awaiting.output_deadline is None
    sm.signed(validator, "Inference", "submit_validation", request_id=request_id, valid=True)
    assert isinstance(state(sm, request_id), Completed)


def test_output_not_provided_in_time_is_slashed_at_block_start() -> None:
    sm = setup([P1, P2])
    request_id, executor, validator = validated(sm)
    sm.signed(validator, "Inference", "request_output", request_id=request_id)
    for _ in range(OUTPUT_PROVIDE_PERIOD):
        assert sm.next_block() == []
    events = sm.next_block()
    assert sm.find(events, "Inference", "OutputTimedOut") == {
        "request_id": request_id,
        "slashed": MIN_STAKE // 10,
    }
    assert state(sm, request_id) == Rejected()
    assert account(sm, USER) == TokenAccount(GENESIS_ENDOWMENT, 0, 0)
    assert sm.get("Providers", "Providers", executor).stake == MIN_STAKE - MIN_STAKE // 10


def test_silent_validator_lets_the_payment_through_at_its_deadline() -> None:
    sm = setup([P1, P2])
    request_id, executor, _ = validated(sm)
    for _ in range(VALIDATION_PERIOD):
        sm.next_block()
    assert isinstance(state(sm, request_id), AwaitingValidation)
    events = sm.next_block()
    assert sm.find(events, "Inference", "InferencePaid")["executor"] == executor
    assert sm.get("Providers", "Providers", executor).reputation == 0


# -- deadlines ----------------------------------------------------------------------------


def test_expiry_at_block_start_refunds_and_lowers_reputation() -> None:
    sm = setup([P1])
    set_reputation(sm, P1, 50)
    request_id, executor = place(sm, deadline_blocks=2)
    sm.next_block()
    sm.next_block()
    assert state(sm, request_id) == Assigned()
    events = sm.next_block()
    assert sm.find(events, "Inference", "RequestExpired") == {
        "request_id": request_id,
        "refund": 2_300_000_000_000,
    }
    assert account(sm, USER) == TokenAccount(GENESIS_ENDOWMENT, 0, 0)
    info = sm.get("Providers", "Providers", executor)
    assert (info.reputation, info.in_flight) == (40, 0)
    assert sm.get("Inference", "BandwidthInUse", executor) == 0
    assert state(sm, request_id) == Expired()


def test_anyone_may_expire_a_request_past_its_deadline() -> None:
    sm = setup([P1])
    request_id, _ = place(sm, deadline_blocks=2)
    with pytest.raises(DispatchFailure, match=r"^Inference\.NotExpired$"):
        sm.signed(P3, "Inference", "expire", request_id=request_id)
    sm.number += 3  # the hook has not run (a production node under load, say)
    events = sm.signed(P3, "Inference", "expire", request_id=request_id)
    assert sm.find(events, "Inference", "RequestExpired")["refund"] == 2_300_000_000_000
    with pytest.raises(DispatchFailure, match=r"^Inference\.NotExpired$"):
        sm.signed(P3, "Inference", "expire", request_id=request_id)


def test_unbonding_provider_gets_no_work_and_cannot_leave_with_work_in_flight() -> None:
    sm = setup([P1], capacity=2)
    request_id, executor = place(sm, deadline_blocks=600)
    sm.signed(P1, "Providers", "unregister")
    with pytest.raises(DispatchFailure, match=r"^Inference\.NoProviderAvailable$"):
        place(sm)
    for _ in range(10):
        sm.next_block()
    with pytest.raises(DispatchFailure, match=r"^Providers\.RequestsInFlight$"):
        sm.signed(P1, "Providers", "withdraw_unbonded")
    # An unbonding executor still finishes its work (no validator left: settled at once).
    events = submit(sm, request_id, executor)
    assert sm.find(events, "Inference", "InferencePaid")["executor"] == P1
    sm.signed(P1, "Providers", "withdraw_unbonded")
    assert account(sm, P1, STAKE) == TokenAccount(GENESIS_ENDOWMENT, 0, 0)
