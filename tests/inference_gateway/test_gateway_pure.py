"""Pure parts of the direct path: OpenAI parameter checks, tickets (JSON, chain, parity with
the pallet's hash), the incremental text of a stream."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from devnode._crypto import verify_signature
from devnode.pallets.channels import channel_genesis as pallet_genesis
from devnode.pallets.channels import ticket_hash as pallet_ticket_hash
from devnode.pallets.channels import ticket_message as pallet_ticket_message
from inference_gateway import BadParameter, DirectRequest, parse_request
from inference_gateway.protocol import (
    ProtocolError,
    Ticket,
    channel_genesis,
    next_ticket,
    prompt_hash,
    ticket_message,
)
from tests.inference_gateway.helpers import DAVE


def test_ticket_hash_and_signed_message_are_the_pallets() -> None:
    """The gateway's ticket code is a second implementation of the pallet's (the gateway
    must not import devnode): every field moves the digest the same way on both sides, and a
    ticket the gateway's code signs verifies as the pallet checks it in `settle`."""
    ticket = Ticket(
        requester=DAVE.public_key,
        executor=b"\x02" * 32,
        channel_id=3,
        nonce=9,
        prev=b"\x01" * 32,
        model_id=b"\x03" * 32,
        prompt_hash=b"\x04" * 32,
        max_tokens=5,
        max_price=6 + 2**100,
        max_amount=7 + 2**90,
        cumulative=8 + 2**80,
        expiry=10,
    )

    def pallets(t: Ticket) -> bytes:
        return pallet_ticket_hash(
            t.prev, t.channel_id, t.executor, t.model_id, t.prompt_hash, t.max_tokens,
            t.max_price, t.max_amount, t.cumulative, t.nonce, t.expiry,
        )  # fmt: skip

    assert ticket.digest == pallets(ticket)
    changed: dict[str, Any] = {
        "prev": b"\x11" * 32, "channel_id": 4, "executor": b"\x12" * 32,
        "model_id": b"\x13" * 32, "prompt_hash": b"\x14" * 32, "max_tokens": 6,
        "max_price": 7, "max_amount": 8, "cumulative": 9, "nonce": 10, "expiry": 11,
    }  # fmt: skip
    digests = {ticket.digest}
    for name, value in changed.items():
        other = replace(ticket, **{name: value})
        assert other.digest == pallets(other), name
        digests.add(other.digest)
    assert len(digests) == len(changed) + 1, "every field is committed"
    assert ticket_message(ticket.digest) == pallet_ticket_message(ticket.digest)
    signature = bytes(DAVE.sign(ticket_message(ticket.digest)))
    assert verify_signature(
        "Sr25519", signature, pallet_ticket_message(pallets(ticket)), ticket.requester
    )
    assert channel_genesis(42) == pallet_genesis(42)


def test_tickets_chain_and_round_trip_through_json() -> None:
    first = next_ticket(
        requester=b"\x01" * 32,
        executor=b"\x02" * 32,
        channel_id=0,
        nonce=0,
        head=channel_genesis(0),
        cumulative=0,
        model_id=b"\x03" * 32,
        prompt_hash=prompt_hash({"prompt": "hi"}),
        max_tokens=8,
        max_price=10,
        max_amount=100,
        expiry=50,
    )
    second = next_ticket(
        requester=first.requester,
        executor=first.executor,
        channel_id=0,
        nonce=first.nonce,
        head=first.digest,
        cumulative=first.cumulative,
        model_id=first.model_id,
        prompt_hash=first.prompt_hash,
        max_tokens=8,
        max_price=10,
        max_amount=30,
        expiry=50,
    )
    assert (second.nonce, second.prev, second.cumulative) == (2, first.digest, 130)
    signed = second.signed(b"\x05" * 64)
    assert Ticket.from_json(signed.to_json()) == signed
    assert Ticket.from_json(second.to_json()).signature is None
    broken = signed.to_json()
    broken["prev"] = "00"
    with pytest.raises(ProtocolError, match="prev"):
        Ticket.from_json(broken)
    with pytest.raises(ProtocolError, match="max_tokens"):
        Ticket.from_json({**signed.to_json(), "max_tokens": -1})


def test_prompt_commitment_binds_every_field() -> None:
    request = DirectRequest("completion", prompt="hello", max_tokens=4, seed=1)
    body = request.body(b"\x01" * 32)
    again = dict(body)
    assert prompt_hash(body) == prompt_hash(again)
    for key, value in (("max_tokens", 5), ("temperature", 0.5), ("prompt", "hellO"), ("seed", 2)):
        assert prompt_hash({**body, key: value}) != prompt_hash(body)
    assert request.body(b"\x01" * 32)["nonce"] != body["nonce"]  # every request is distinct


@pytest.mark.parametrize(
    ("kind", "body", "param"),
    [
        ("completion", {"prompt": "x"}, "model"),
        ("completion", {"model": "m", "prompt": ""}, "prompt"),
        ("completion", {"model": "m", "prompt": "x", "max_tokens": 0}, "max_tokens"),
        ("completion", {"model": "m", "prompt": "x", "temperature": 3}, "temperature"),
        ("completion", {"model": "m", "prompt": "x", "top_p": 0}, "top_p"),
        ("completion", {"model": "m", "prompt": "x", "n": 2}, "n"),
        ("completion", {"model": "m", "prompt": "x", "stop": ["a"] * 5}, "stop"),
        ("completion", {"model": "m", "prompt": "x", "logprobs": 9}, "logprobs"),
        ("completion", {"model": "m", "prompt": "x", "seed": "s"}, "seed"),
        (
            "completion",
            {"model": "m", "prompt": "x", "stream_options": {"include_usage": True}},
            "stream_options",
        ),
        ("chat", {"model": "m", "messages": []}, "messages"),
        ("chat", {"model": "m", "messages": [{"role": "user", "content": 3}]}, "messages"),
        (
            "chat",
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "top_logprobs": 2},
            "top_logprobs",
        ),
        (
            "chat",
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "presence_penalty": 1},
            "presence_penalty",
        ),
    ],
)
def test_bad_parameters_are_400_with_the_parameter_named(
    kind: str, body: dict[str, object], param: str
) -> None:
    with pytest.raises(BadParameter) as error:
        parse_request(kind, body)
    assert error.value.status == 400 and error.value.param == param
    assert error.value.to_json()["error"]["type"] == "invalid_request_error"  # type: ignore[index]


def test_parameters_map_onto_the_direct_request() -> None:
    model, request, options = parse_request(
        "chat",
        {
            "model": "tiny",
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            ],
            "max_completion_tokens": 7,
            "temperature": 0,
            "top_p": 0.5,
            "stop": "x",
            "seed": 3,
            "logprobs": True,
            "top_logprobs": 2,
            "user": "u1",
        },
    )
    assert model == "tiny"
    assert request == DirectRequest(
        "chat",
        messages=(("system", "be brief"), ("user", "hi")),
        max_tokens=7,
        temperature=0.0,
        top_p=0.5,
        stop=("x",),
        seed=3,
        pieces=True,
    )
    assert options == {"stream": True, "include_usage": True, "logprobs": True, "top_logprobs": 2}
    _, completion, options = parse_request(
        "completion", {"model": "tiny", "prompt": ["hello"], "logprobs": 3, "max_tokens": 5}
    )
    assert completion == DirectRequest(
        "completion", prompt="hello", max_tokens=5, pieces=True, temperature=1.0
    )
    assert (options["logprobs"], options["top_logprobs"]) == (True, 3)
