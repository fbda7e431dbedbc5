"""The protocol layer: torch-free, one implementation that every side re-exports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from substrateinterface import Keypair

import protocol

HEAVY = ("torch", "transformers", "redis")


def test_importing_the_client_side_loads_no_torch_transformers_or_redis() -> None:
    code = (
        "import json, sys\n"
        "import protocol, inference_client, model_registry, runtime_types, sealing\n"
        "import inference_gateway\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_every_side_uses_the_one_implementation() -> None:
    import devnode._hashing
    import inference_client
    import inference_engine
    import runtime_types
    from ocw_daemon import _chain
    from ocw_daemon import protocol as daemon_protocol

    assert devnode._hashing.blake2_256 is protocol.blake2_256
    assert _chain.blake2_256 is protocol.blake2_256
    assert daemon_protocol.sign_output_request is protocol.sign_output_request
    assert inference_client.sign_output_request is protocol.sign_output_request
    assert runtime_types.load_keypair is protocol.load_keypair
    assert runtime_types.KeyLoadError is protocol.KeyLoadError
    assert runtime_types.OutputAuthError is protocol.OutputAuthError
    # the engine's records are protocol's (so a record crosses between them unchanged)
    assert inference_engine.GenerationOutput is protocol.GenerationOutput
    assert inference_engine.EmbeddingOutput is protocol.EmbeddingOutput
    assert inference_engine.FinishReason is protocol.FinishReason
    assert inference_engine.TokenLogprobs is protocol.TokenLogprobs
    assert inference_client.RequestId is protocol.RequestId


def _record() -> protocol.GenerationOutput:
    return protocol.GenerationOutput(
        request_id=protocol.RecordId("7"),
        prompt_token_count=3,
        tokens=(5, 9),
        text="hi",
        logprobs=(
            protocol.TokenLogprobs(5, -0.5, ((5, -0.5), (2, -1.0))),
            protocol.TokenLogprobs(9, -0.25, ((9, -0.25), (4, -2.0))),
        ),
        finish_reason=protocol.FinishReason.LENGTH,
        top_logprobs=2,
    )


def test_records_round_trip_and_hash() -> None:
    record = _record()
    data = protocol.encode_record(record)
    assert data.startswith(protocol.MAGIC)
    assert protocol.decode_record(data) == record
    assert protocol.output_hash(data) == protocol.blake2_256(data)
    embedding = protocol.EmbeddingOutput(protocol.RecordId("8"), 4, (0.5, -1.0), truncated=True)
    assert protocol.decode_record(protocol.encode_record(embedding)) == embedding


def test_codec_errors_are_typed_and_the_engine_translates_them() -> None:
    import inference_engine

    with pytest.raises(protocol.RecordDecodeError):
        protocol.decode_record(protocol.encode_record(_record()) + b"\x00")
    unsorted = protocol.GenerationOutput(
        protocol.RecordId("7"), 1, (5,), "x",
        (protocol.TokenLogprobs(5, -0.5, ((2, -1.0), (5, -0.5))),),
        protocol.FinishReason.EOS, top_logprobs=2,
    )  # fmt: skip
    with pytest.raises(protocol.RecordEncodeError):
        protocol.encode_record(unsorted)
    with pytest.raises(inference_engine.InvalidRequestError) as caught:
        inference_engine.encode_record(unsorted)
    assert isinstance(caught.value.__cause__, protocol.RecordEncodeError)
    with pytest.raises(inference_engine.OutputDecodeError):
        inference_engine.decode_record(b"IEO\x01")


def test_signed_output_request() -> None:
    alice = Keypair.create_from_uri("//Alice")
    headers = protocol.sign_output_request(alice, 42, timestamp_ms=1_000_000)
    assert protocol.verify_output_request(headers, 42, now_ms=1_000_500) == alice.public_key
    with pytest.raises(protocol.OutputAuthError) as caught:
        protocol.verify_output_request(headers, 42, {b"\x00" * 32}, now_ms=1_000_500)
    assert caught.value.status == 403
    with pytest.raises(protocol.OutputAuthError, match="does not verify"):
        protocol.verify_output_request(headers, 43, now_ms=1_000_500)


def test_model_ids() -> None:
    text = "AB" * 32
    assert protocol.parse_model_id(text) == "0x" + "ab" * 32
    with pytest.raises(protocol.InvalidIdError):
        protocol.parse_model_id("0x1234")
