"""Pure parts of the direct path: OpenAI parameter checks, tickets (JSON, chain, parity with
the pallet's hash), the incremental text of a stream."""

from __future__ import annotations

import pytest

from devnode.pallets.channels import channel_genesis as pallet_genesis
from devnode.pallets.channels import ticket_hash as pallet_ticket_hash
from inference_gateway import BadParameter, DirectRequest, parse_request
from inference_gateway.protocol import (
    ProtocolError,
    Ticket,
    channel_genesis,
    next_ticket,
    prompt_hash,
)


def test_ticket_hash_is_the_pallets() -> None:
    args = (b"\x01" * 32, 3, b"\x02" * 32, b"\x03" * 32, b"\x04" * 32, 5, 6, 7, 8, 9, 10)
    ticket = Ticket(
        b"\x09" * 32,
        args[2],
        args[1],
        args[9],
        args[0],
        args[3],
        args[4],
        args[5],
        args[6],
        args[7],
        args[8],
        args[10],
    )
    assert ticket.digest == pallet_ticket_hash(*args)
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
