"""Channels through the runtime's state transition functions, no server: hash-chained tickets
signed with a real sr25519 key, batched settlement, exact payouts, replay, expiry, overdraw,
the withdrawal delay and sampled validation (draws steered by the parent hash)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from substrateinterface import Keypair

from devnode import DispatchFailure
from devnode._hashing import blake2_256
from devnode._pallet import Origin
from devnode.pallets._cid import Cid
from devnode.pallets._harness import StateMachine
from devnode.pallets.channels import (
    CLOSE_DELAY,
    channel_genesis,
    ticket_hash,
    ticket_message,
)
from devnode.pallets.inference import (
    PPM,
    SLASH_FRACTION,
    VALIDATION_PERIOD,
    escrow_for,
    randomness,
    validation_probability_ppm,
)
from devnode.pallets.model_registry import model_id_of
from devnode.pallets.providers import MIN_STAKE

REQUESTER_KEY = Keypair.create_from_uri("//ChannelUser")
USER = bytes(REQUESTER_KEY.public_key)
AUTHOR, P1, P2 = (bytes([i]) * 32 for i in (1, 3, 4))
CID = b"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
MODEL = model_id_of(Cid(CID))
PRICE = 2 * 10**12
SHARE = 200_000
PAY = 2
STAKE_CURRENCY = 1


def setup(reputation: int = 100) -> StateMachine:
    sm = StateMachine([AUTHOR, USER, P1, P2])
    sm.next_block()
    sm.signed(
        AUTHOR, "ModelRegistry", "register_model", cid=CID, name=b"m", task="TextGeneration",
        format="Safetensors", size_bytes=10**9, price_per_1k_tokens=PRICE, currency_id=PAY,
        author_share=SHARE,
    )  # fmt: skip
    for who in (P1, P2):
        sm.signed(
            who, "Providers", "register_provider", stake=MIN_STAKE,
            endpoint=b"http://p.example", models=[MODEL], capacity=4,
        )  # fmt: skip
        sm.call(
            Origin.root(), "Providers", "set_reputation", who=("Id", who), reputation=reputation
        )
    return sm


@dataclass
class Gateway:
    """The requester's side of one channel: it chains and signs tickets."""

    channel_id: int
    executor: bytes
    head: bytes = b""
    nonce: int = 0
    cumulative: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    heads: dict[int, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.head = channel_genesis(self.channel_id)

    def ticket(self, expiry: int, max_amount: int, prompt_tokens: int = 100,
               completion_tokens: int = 20, max_tokens: int = 50) -> dict[str, Any]:  # fmt: skip
        self.nonce += 1
        self.cumulative += max_amount
        prompt_hash = blake2_256(b"prompt %d" % self.nonce)
        self.head = ticket_hash(
            self.head, self.channel_id, self.executor, MODEL, prompt_hash, max_tokens, PRICE,
            max_amount, self.cumulative, self.nonce, expiry,
        )  # fmt: skip
        self.heads[self.nonce] = self.head
        result = {
            "model_index": 0,
            "prompt_hash": prompt_hash,
            "max_tokens": max_tokens,
            "max_price_per_1k_tokens": PRICE,
            "max_amount": max_amount,
            "expiry": expiry,
            "output_hash": blake2_256(b"output %d" % self.nonce),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
        }
        self.results.append(result)
        return result

    def settlement(self, first: int, results: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "requester": USER,
            "first_nonce": first,
            "models": [MODEL],
            "results": results,
            "signature": bytes(
                REQUESTER_KEY.sign(ticket_message(self.heads[first + len(results) - 1]))
            ),
        }


def open_channel(sm: StateMachine, executor: bytes, amount: int) -> Gateway:
    events = sm.signed(
        USER, "Channels", "open_channel", executor=executor, currency_id=PAY, amount=amount
    )
    funded = sm.find(events, "Channels", "ChannelFunded")
    return Gateway(funded["channel_id"], executor)


def balances(sm: StateMachine, who: bytes) -> tuple[int, int]:
    data = sm.get("Tokens", "Accounts", who, PAY)
    return data.free, data.reserved


def steer_direct(sm: StateMachine, ids: range, sampled: bool, reputation: int) -> None:
    """Seal blocks until the parent hash draws `sampled` for every direct id in `ids`."""
    threshold = validation_probability_ppm(reputation)
    for _ in range(20_000):
        parent = blake2_256(sm.parent_hash + b"steer")
        draws = [randomness(b"direct/validate", parent, i) % PPM < threshold for i in ids]
        if all(d == sampled for d in draws):
            sm.next_block(parent)
            return
        sm.parent_hash = parent
    raise AssertionError("no parent hash found")


def test_batched_settlement_pays_the_exact_split_and_keeps_the_rest() -> None:
    sm = setup(reputation=100)
    gateway = open_channel(sm, P1, 10**15)
    amount = escrow_for(100 + 50, PRICE)
    for i in range(5):
        gateway.ticket(expiry=50, max_amount=amount, prompt_tokens=100, completion_tokens=10 + i)
    user_before, author_before, p1_before = (balances(sm, w) for w in (USER, AUTHOR, P1))
    steer_direct(sm, range(5), sampled=False, reputation=100)
    events = sm.signed(
        P1, "Channels", "settle", settlements=[gateway.settlement(1, gateway.results)]
    )
    costs = [escrow_for(110 + i, PRICE) for i in range(5)]
    paid = [e["event"][1][1] for e in events if e["event"][0] == "Channels"
            and e["event"][1][0] == "DirectPaid"]  # fmt: skip
    assert len(paid) == 5
    author_total = sum(c * SHARE // PPM for c in costs)
    executor_total = sum(c - c * SHARE // PPM for c in costs)
    assert balances(sm, AUTHOR)[0] == author_before[0] + author_total
    assert balances(sm, P1)[0] == p1_before[0] + executor_total
    assert balances(sm, USER) == (user_before[0], user_before[1] - sum(costs))
    channel = sm.get("Channels", "Channels", USER, P1)
    assert channel.deposit == 10**15 - sum(costs)
    assert channel.nonce == 5 and channel.head == gateway.head
    assert channel.settled_cumulative == 5 * amount

    # a ticket settles once
    with pytest.raises(DispatchFailure, match="TicketReplayed"):
        sm.signed(P1, "Channels", "settle", settlements=[gateway.settlement(1, gateway.results)])
    # a gap is refused
    gateway.ticket(expiry=50, max_amount=amount)
    later = gateway.ticket(expiry=50, max_amount=amount)
    with pytest.raises(DispatchFailure, match="TicketGap"):
        sm.signed(P1, "Channels", "settle", settlements=[gateway.settlement(7, [later])])


def test_forged_and_expired_tickets_are_refused() -> None:
    sm = setup()
    gateway = open_channel(sm, P1, 10**15)
    amount = escrow_for(150, PRICE)
    gateway.ticket(expiry=50, max_amount=amount)
    settlement = gateway.settlement(1, [dict(gateway.results[0], completion_tokens=21)])
    settlement["results"][0]["prompt_hash"] = blake2_256(b"another prompt")
    with pytest.raises(DispatchFailure, match="BadTicketSignature"):
        sm.signed(P1, "Channels", "settle", settlements=[settlement])
    # another executor cannot settle the requester's tickets to P1
    with pytest.raises(DispatchFailure, match="NoChannel"):
        sm.signed(P2, "Channels", "settle", settlements=[gateway.settlement(1, gateway.results)])
    # more completion tokens than the ticket allows
    too_many = [dict(gateway.results[0], completion_tokens=51)]
    with pytest.raises(DispatchFailure, match="InvalidTokenCount"):
        sm.signed(P1, "Channels", "settle", settlements=[gateway.settlement(1, too_many)])

    expired = Gateway(gateway.channel_id, P1)
    expired.ticket(expiry=3, max_amount=amount)
    while sm.number <= 3:
        sm.next_block()
    with pytest.raises(DispatchFailure, match="TicketExpired"):
        sm.signed(P1, "Channels", "settle", settlements=[expired.settlement(1, expired.results)])

    # an expired ticket inside a run is carried for the chain but never paid
    run = Gateway(gateway.channel_id, P1)
    run.ticket(expiry=3, max_amount=amount)
    run.ticket(expiry=60, max_amount=amount)
    user_before = balances(sm, USER)
    steer_direct(sm, range(1), sampled=False, reputation=100)
    events = sm.signed(P1, "Channels", "settle", settlements=[run.settlement(1, run.results)])
    names = [e["event"][1][0] for e in events if e["event"][0] == "Channels"]
    assert names.count("TicketExpired") == 1 and names.count("DirectPaid") == 1
    cost = escrow_for(120, PRICE)
    assert balances(sm, USER) == (user_before[0], user_before[1] - cost)


def test_overdraw_fails_for_the_requester_not_the_executors() -> None:
    sm = setup()
    free = balances(sm, USER)[0]
    first = open_channel(sm, P1, free // 2)
    # the second channel cannot take more than what is left free
    with pytest.raises(DispatchFailure, match="BalanceTooLow"):
        sm.signed(
            USER, "Channels", "open_channel", executor=P2, currency_id=PAY, amount=free // 2 + 1
        )
    second = open_channel(sm, P2, free - free // 2)
    assert balances(sm, USER) == (0, free)
    # tickets beyond a channel's deposit: an executor checks the cumulative amount before
    # serving; the chain refuses to pay past the deposit, never from another channel
    big = free // 2
    first.ticket(expiry=50, max_amount=big, prompt_tokens=10**9, completion_tokens=50)
    first.ticket(expiry=50, max_amount=big, prompt_tokens=10**9, completion_tokens=50)
    assert first.cumulative > free // 2  # what an executor sees and refuses to serve
    steer_direct(sm, range(2), sampled=False, reputation=100)
    with pytest.raises(DispatchFailure, match="InsufficientDeposit"):
        sm.signed(P1, "Channels", "settle", settlements=[first.settlement(1, first.results)])
    # within the deposit both executors are paid in full
    events = sm.signed(
        P1, "Channels", "settle", settlements=[first.settlement(1, first.results[:1])]
    )
    assert sm.find(events, "Channels", "DirectSettled")["cost"] == big
    second.ticket(expiry=50, max_amount=escrow_for(150, PRICE))
    sm.signed(P2, "Channels", "settle", settlements=[second.settlement(1, second.results)])
    assert balances(sm, USER)[1] == free - big - escrow_for(120, PRICE)


def test_withdrawal_waits_longer_than_a_ticket_lives() -> None:
    sm = setup()
    gateway = open_channel(sm, P1, 10**15)
    amount = escrow_for(150, PRICE)
    gateway.ticket(expiry=sm.number + 90, max_amount=amount)
    events = sm.signed(USER, "Channels", "close_channel", executor=P1)
    closes_at = sm.find(events, "Channels", "ChannelClosing")["closes_at"]
    assert closes_at == sm.number + CLOSE_DELAY
    with pytest.raises(DispatchFailure, match="ChannelClosing"):
        sm.signed(USER, "Channels", "open_channel", executor=P1, currency_id=PAY, amount=1)
    with pytest.raises(DispatchFailure, match="StillClosing"):
        sm.signed(USER, "Channels", "withdraw", executor=P1)
    # the executor still settles while the channel closes
    while sm.number < 80:
        sm.next_block()
    steer_direct(sm, range(1), sampled=False, reputation=100)
    sm.signed(P1, "Channels", "settle", settlements=[gateway.settlement(1, gateway.results)])
    while sm.number < closes_at:
        sm.next_block()
    free, reserved = balances(sm, USER)
    events = sm.signed(USER, "Channels", "withdraw", executor=P1)
    left = 10**15 - escrow_for(120, PRICE)
    assert sm.find(events, "Channels", "ChannelWithdrawn")["amount"] == left
    assert balances(sm, USER) == (free + left, reserved - left)
    assert sm.get("Channels", "Channels", USER, P1) is None


@pytest.mark.parametrize("valid", [True, False])
def test_sampled_direct_results_are_validated(valid: bool) -> None:
    sm = setup(reputation=0)  # probability 1: every result is sampled
    gateway = open_channel(sm, P1, 10**15)
    gateway.ticket(expiry=50, max_amount=escrow_for(150, PRICE))
    gateway.ticket(expiry=50, max_amount=escrow_for(150, PRICE), completion_tokens=30)
    user_before, author_before, p1_before = (balances(sm, w) for w in (USER, AUTHOR, P1))
    stake_before = sm.get("Tokens", "Accounts", P1, STAKE_CURRENCY).reserved
    events = sm.signed(
        P1, "Channels", "settle", settlements=[gateway.settlement(1, gateway.results)]
    )
    requested = [e["event"][1][1] for e in events if e["event"][0] == "Channels"
                 and e["event"][1][0] == "DirectValidationRequested"]  # fmt: skip
    assert [r["validator"] for r in requested] == [P2, P2]
    costs = [escrow_for(120, PRICE), escrow_for(130, PRICE)]
    assert sm.get("Channels", "Channels", USER, P1).held == sum(costs)
    assert balances(sm, USER) == user_before  # nothing paid before the verdict
    with pytest.raises(DispatchFailure, match="NotValidator"):
        sm.signed(P1, "Channels", "submit_direct_validations", verdicts=[(0, True)])
    sm.signed(P2, "Channels", "submit_direct_validations", verdicts=[(0, valid), (1, valid)])
    channel = sm.get("Channels", "Channels", USER, P1)
    assert channel.held == 0
    if valid:
        assert channel.deposit == 10**15 - sum(costs)
        assert balances(sm, AUTHOR)[0] == author_before[0] + sum(c * SHARE // PPM for c in costs)
        assert balances(sm, P1)[0] == p1_before[0] + sum(c - c * SHARE // PPM for c in costs)
        assert sm.get("Providers", "Providers", P1).reputation == 10
    else:
        assert channel.deposit == 10**15
        assert balances(sm, USER) == user_before and balances(sm, P1) == p1_before
        slashed = MIN_STAKE * SLASH_FRACTION // PPM
        slashed += (MIN_STAKE - slashed) * SLASH_FRACTION // PPM
        assert sm.get("Tokens", "Accounts", P1, STAKE_CURRENCY).reserved == (stake_before - slashed)
    with pytest.raises(DispatchFailure, match="UnknownCheck"):
        sm.signed(P2, "Channels", "submit_direct_validations", verdicts=[(0, True)])


def test_an_unanswered_check_is_paid_after_the_validation_period() -> None:
    sm = setup(reputation=0)
    gateway = open_channel(sm, P1, 10**15)
    gateway.ticket(expiry=50, max_amount=escrow_for(150, PRICE))
    p1_before = balances(sm, P1)
    events = sm.signed(
        P1, "Channels", "settle", settlements=[gateway.settlement(1, gateway.results)]
    )
    deadline = sm.find(events, "Channels", "DirectValidationRequested")["deadline"]
    while sm.number < deadline:
        assert sm.get("Channels", "Channels", USER, P1).held > 0
        sm.next_block()
    events = sm.next_block()
    cost = escrow_for(120, PRICE)
    assert (
        sm.find(events, "Channels", "DirectPaid")["executor_amount"] == cost - cost * SHARE // PPM
    )
    assert sm.get("Channels", "Channels", USER, P1).held == 0
    assert balances(sm, P1)[0] == p1_before[0] + cost - cost * SHARE // PPM
    assert VALIDATION_PERIOD + 1 < CLOSE_DELAY  # a check always ends before a withdrawal
