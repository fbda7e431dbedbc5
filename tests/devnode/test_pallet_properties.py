"""Random call sequences from several accounts through the pallets' state transition functions,
with the protocol's invariants checked after every step.

hypothesis draws the sequences (through a `random.Random` whose every choice it controls, so a
failing sequence shrinks to a short one); a few fixed seeds run the same walk as plain regressions.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devnode import DispatchFailure
from devnode._hashing import blake2_256
from devnode._pallet import Origin
from devnode._runtime import RUNTIME
from devnode.pallets._harness import StateMachine
from devnode.pallets._sizes import (
    SEED_BYTES_PER_INFERENCE,
    InferenceBytes,
    signed_extrinsic_bytes,
)
from devnode.pallets.inference import (
    MAX_INLINE_INPUT,
    TERMINAL,
    Assigned,
    AwaitingValidation,
    Completed,
)
from devnode.pallets.providers import MIN_STAKE, ProviderActive
from devnode.pallets.tokens import GENESIS_ENDOWMENT
from ipfs_store import cid_of_bytes

from .test_pallet_inference import ACCOUNTS, MODEL, OUTPUT, OUTPUT_HASH, PAY, PRICE, STAKE, setup

ENDINGS = ("InferencePaid", "RequestExpired", "ValidationFailed", "OutputTimedOut")


class Checker:
    def __init__(self, sm: StateMachine) -> None:
        self.sm = sm
        self.slashed = 0
        self.endings: Counter[int] = Counter()
        self.terminal: dict[int, Any] = {}

    def observe(self, events: list[dict[str, Any]]) -> None:
        for record in events:
            pallet, (name, payload) = record["event"]
            if pallet == "Tokens" and name == "Slashed":
                assert payload["currency_id"] == STAKE
                self.slashed += payload["reserved_amount"]
            if pallet == "Inference" and name in ENDINGS:
                self.endings[payload["request_id"]] += 1

    def check(self) -> None:
        sm = self.sm
        requests = [
            sm.get("Inference", "Requests", i) for i in range(sm.get("Inference", "NextRequestId"))
        ]
        # Issuance: changed only by slashes (of stake), and equal to the sum of all balances.
        for currency in (STAKE, PAY):
            expected = len(ACCOUNTS) * GENESIS_ENDOWMENT - (
                self.slashed if currency == STAKE else 0
            )
            assert sm.get("Tokens", "TotalIssuance", currency) == expected
            held = sum(
                sm.get("Tokens", "Accounts", who, currency).free
                + sm.get("Tokens", "Accounts", who, currency).reserved
                for who in ACCOUNTS
            )
            assert held == expected
        # Reserves: stake of providers, escrow of open requests; nothing else, nothing orphaned.
        for who in ACCOUNTS:
            info = sm.get("Providers", "Providers", who)
            assert sm.get("Tokens", "Accounts", who, STAKE).reserved == (info.stake if info else 0)
            open_escrow = sum(
                r.escrow
                for r in requests
                if r.requester == who and not isinstance(r.state, TERMINAL)
            )
            assert sm.get("Tokens", "Accounts", who, PAY).reserved == open_escrow
            if info:
                assert info.in_flight == sum(
                    1 for r in requests if r.executor == who and not isinstance(r.state, TERMINAL)
                )
            assert sm.get("Inference", "BandwidthInUse", who) == sum(
                r.bandwidth_bytes
                for r in requests
                if r.executor == who and isinstance(r.state, Assigned)
            )
        # Each request in exactly one state; terminal states never change; one ending each.
        for request_id, req in enumerate(requests):
            state = req.state
            assert isinstance(state, (Assigned, AwaitingValidation, *TERMINAL))
            if request_id in self.terminal:
                assert state == self.terminal[request_id]
            if isinstance(state, TERMINAL):
                self.terminal[request_id] = state
                assert self.endings[request_id] == 1
                if isinstance(state, Completed):
                    assert state.cost <= req.escrow
            else:
                assert self.endings[request_id] == 0
        total_weight = sum(
            info.weight
            for who in ACCOUNTS
            if (info := sm.get("Providers", "Providers", who)) and info.status == ProviderActive()
        )
        assert sm.get("Providers", "TotalWeight") == total_weight


def random_step(rng: random.Random, sm: StateMachine) -> list[dict[str, Any]]:
    who = rng.choice(ACCOUNTS)
    count = sm.get("Inference", "NextRequestId")
    open_ids = [
        i
        for i in range(count)
        if not isinstance(sm.get("Inference", "Requests", i).state, TERMINAL)
    ]
    if open_ids and rng.random() < 0.7:
        request_id = rng.choice(open_ids)
    else:
        request_id = rng.randrange(count + 1)
    req = sm.get("Inference", "Requests", request_id) if request_id < count else None
    actor = who
    if req is not None and rng.random() < 0.8:
        validator = req.state.validator if isinstance(req.state, AwaitingValidation) else None
        actor = validator if validator and rng.random() < 0.5 else req.executor
    kind = rng.choice(
        ["request"] * 4
        + ["result"] * 3
        + ["validate"] * 2
        + ["output", "provide", "expire"]
        + ["block"] * 3
        + ["reputation", "unregister", "withdraw", "register"]
    )
    if kind == "block":
        return sm.next_block(blake2_256(rng.randbytes(8)))
    if kind == "request":
        return sm.signed(
            who,
            "Inference",
            "request",
            model_id=MODEL,
            input=rng.choice(
                [("Inline", b"prompt"), ("Cid", b"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG")]
            ),
            prompt_tokens=rng.randrange(0, 2_000),
            max_tokens=rng.randrange(1, 12_000),
            max_price_per_1k_tokens=PRICE + rng.choice([0, 0, 0, 1, -1]),
            deadline_blocks=rng.randrange(2, 12),
        )
    if kind == "result":
        return sm.signed(
            actor,
            "Inference",
            "submit_result",
            request_id=request_id,
            output_hash=OUTPUT_HASH,
            output_cid=None,
            prompt_tokens=rng.randrange(0, 3_000),
            completion_tokens=rng.randrange(0, 3_000),
        )
    if kind == "validate":
        return sm.signed(
            actor, "Inference", "submit_validation", request_id=request_id, valid=rng.random() < 0.7
        )
    if kind == "output":
        return sm.signed(actor, "Inference", "request_output", request_id=request_id)
    if kind == "provide":
        output = OUTPUT if rng.random() < 0.7 else b"forged"
        return sm.signed(actor, "Inference", "provide_output", request_id=request_id, output=output)
    if kind == "expire":
        return sm.signed(who, "Inference", "expire", request_id=request_id)
    if kind == "reputation":
        return sm.call(
            Origin.root(),
            "Providers",
            "set_reputation",
            who=("Id", who),
            reputation=rng.randrange(0, 101),
        )
    if kind == "unregister":
        return sm.signed(who, "Providers", "unregister")
    if kind == "withdraw":
        return sm.signed(who, "Providers", "withdraw_unbonded")
    return sm.signed(
        who,
        "Providers",
        "register_provider",
        stake=MIN_STAKE * rng.randrange(1, 4),
        endpoint=b"https://p",
        models=[MODEL],
        capacity=rng.randrange(1, 4),
    )


def run_sequence(rng: random.Random, steps: int) -> tuple[Counter[str], Counter[str]]:
    """Drive `steps` random calls, checking every invariant after each; returns outcome counts."""
    sm = setup(list(ACCOUNTS[2:]))
    checker = Checker(sm)
    checker.check()
    outcomes: Counter[str] = Counter()
    for _ in range(steps):
        before = dict(sm.state)
        try:
            events = random_step(rng, sm)
        except DispatchFailure:
            assert sm.state == before  # a failed call changes nothing
            outcomes["failed"] += 1
            continue
        checker.observe(events)
        checker.check()
        outcomes["ok"] += 1
    states = Counter(
        type(sm.get("Inference", "Requests", i).state).__name__
        for i in range(sm.get("Inference", "NextRequestId"))
    )
    return outcomes, states


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rng=st.randoms(use_true_random=False))
def test_hypothesis_call_sequences_keep_the_invariants(rng: random.Random) -> None:
    run_sequence(rng, 120)


@pytest.mark.parametrize("seed", range(4))
def test_random_call_sequences_keep_the_invariants(seed: int) -> None:
    outcomes, states = run_sequence(random.Random(seed), 300)
    # The sequences reach every terminal state, not only errors.
    assert outcomes["ok"] > 50
    assert states["Completed"] > 0 and states["Expired"] > 0


def onchain_bytes_of(prompt: bytes, output: bytes, completion_tokens: int) -> InferenceBytes:
    """The extrinsics of one inference of `prompt` that produced `output`, built from the content
    as the client and the daemon build them: the input inline when it fits `MaxInlineInput`, by
    CID otherwise; the result carries the output's hash and CID."""
    prompt_tokens = len(prompt.split())
    inline = len(prompt) <= MAX_INLINE_INPUT
    chain_input = ("Inline", prompt) if inline else ("Cid", str(cid_of_bytes(prompt).cid).encode())
    request = RUNTIME.encode_call(
        "Inference",
        "request",
        {
            "model_id": blake2_256(b"model"),
            "input": chain_input,
            "prompt_tokens": prompt_tokens,
            "max_tokens": completion_tokens,
            "max_price_per_1k_tokens": 2 * 10**12,
            "deadline_blocks": 20,
        },
    )
    result = RUNTIME.encode_call(
        "Inference",
        "submit_result",
        {
            "request_id": 2**40,
            "output_hash": blake2_256(output),
            "output_cid": str(cid_of_bytes(output).cid).encode(),
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
        },
    )
    validation = RUNTIME.encode_call(
        "Inference", "submit_validation", {"request_id": 2**40, "valid": True}
    )
    return InferenceBytes(
        signed_extrinsic_bytes(request),
        signed_extrinsic_bytes(result),
        signed_extrinsic_bytes(validation),
    )


def test_onchain_extrinsic_bytes_do_not_grow_with_token_counts() -> None:
    """request + result (+ validation) sizes are the same for a 1,000-token prompt with 150
    tokens of output and for 10x both: the prompt and the output stay off-chain."""
    rng = random.Random(5)

    def content(tokens: int) -> bytes:
        return b" ".join(b"%x" % rng.getrandbits(20) for _ in range(tokens))

    small = onchain_bytes_of(content(1_000), content(150), 150)
    large = onchain_bytes_of(content(10_000), content(1_500), 1_500)
    assert small == large
    # Against the seed's ~102 KB per inference: under 1 KB even with a validation (>100x less).
    assert small.with_validation < 1_000
    assert SEED_BYTES_PER_INFERENCE // small.with_validation > 100
    assert small.without_validation == small.request + small.result
