"""The canonical output encoding and its hash: pure logic, no model."""

from __future__ import annotations

import hashlib
import json
import math

import pytest

from inference_engine import (
    LOGPROB_SCALE,
    FinishReason,
    GenerationOutput,
    InvalidRequestError,
    OutputDecodeError,
    RequestId,
    TokenLogprobs,
    decode_output,
    dequantize_logprob,
    encode_output,
    output_hash,
    quantize_logprob,
)


def _output(k: int = 2, *, text: str = "hi ✓") -> GenerationOutput:
    entries = (
        TokenLogprobs(7, -0.5, ((7, -0.5), (300, -1.25))[:k]),
        TokenLogprobs(200, -3.0, ((5, -0.125), (200, -3.0))[:k]),
    )
    return GenerationOutput(
        request_id=RequestId("req-1"),
        prompt_token_count=3,
        tokens=(7, 200),
        text=text,
        logprobs=entries,
        finish_reason=FinishReason.LENGTH,
        top_logprobs=k,
    )


def test_golden_vector_pins_the_layout() -> None:
    encoded = encode_output(_output())
    # The layout is pinned: a change here is a format change and needs a new version byte.
    parts = [
        "49454f01",  # magic + version
        "05" + b"req-1".hex(),  # request id
        "00",  # finish reason LENGTH
        "02",  # k
        "03",  # prompt token count
        "02",  # token count
        "07" + "8004",  # token 7, logprob -0.5 (512)
        "07" + "8004" + "ac02" + "800a",  # top: (7, -0.5) (300, -1.25)
        "c801" + "8018",  # token 200, logprob -3 (3072)
        "05" + "8001" + "c801" + "8018",  # top: (5, -0.125) (200, -3)
        "06" + "hi ✓".encode().hex(),  # text
    ]
    expected = bytes.fromhex("".join(parts))
    assert encoded == expected
    assert output_hash(encoded) == hashlib.blake2b(expected, digest_size=32).digest()
    assert len(output_hash(encoded)) == 32


def test_roundtrip_is_identity() -> None:
    for k in (0, 1, 2):
        record = _output(k)
        assert decode_output(encode_output(record)) == record


def test_hash_changes_with_any_field() -> None:
    base = output_hash(encode_output(_output()))
    changed = _output(text="hi ✗")
    assert output_hash(encode_output(changed)) != base


def test_quantization() -> None:
    assert quantize_logprob(0.0) == 0
    assert quantize_logprob(1e-7) == 0  # float noise above zero
    assert quantize_logprob(-1.0) == LOGPROB_SCALE
    assert quantize_logprob(-math.inf) == quantize_logprob(-1e9)
    assert dequantize_logprob(quantize_logprob(-0.3)) == pytest.approx(-0.3, abs=1 / 2048)
    with pytest.raises(InvalidRequestError):
        quantize_logprob(math.nan)


def _mutate(data: bytes, index: int, value: int) -> bytes:
    return data[:index] + bytes([value]) + data[index + 1 :]


def test_non_canonical_bytes_are_rejected() -> None:
    good = encode_output(_output())
    cases = {
        "bad magic": b"XEO\x01" + good[4:],
        "trailing": good + b"\x00",
        "truncated": good[:-1],
        "unknown finish": _mutate(good, 10, 9),
        "k too big": _mutate(good, 11, 6),
    }
    # token 7's varint written non-minimally (0x87 0x00) instead of 0x07
    non_minimal = good[:14] + b"\x87\x00" + good[15:]
    cases["non-minimal varint"] = non_minimal
    # swap the two top entries of the first token: no longer sorted
    swapped = good[:17] + bytes.fromhex("ac02800a078004") + good[24:]
    cases["unsorted top"] = swapped
    bad_utf8 = good[:-7] + b"\x06" + b"\xff" * 6
    cases["bad utf-8"] = bad_utf8
    for name, data in cases.items():
        with pytest.raises(OutputDecodeError):
            decode_output(data)
        assert name  # every case raised


def test_encoder_refuses_inconsistent_records() -> None:
    record = _output()
    unsorted = GenerationOutput(
        request_id=record.request_id,
        prompt_token_count=3,
        tokens=(7,),
        text="",
        logprobs=(TokenLogprobs(7, -0.5, ((300, -1.25), (7, -0.5))),),
        finish_reason=FinishReason.EOS,
        top_logprobs=2,
    )
    with pytest.raises(InvalidRequestError):
        encode_output(unsorted)
    mismatched = GenerationOutput(
        request_id=record.request_id,
        prompt_token_count=3,
        tokens=(8,),
        text="",
        logprobs=(TokenLogprobs(7, -0.5, ((7, -0.5), (300, -1.25))),),
        finish_reason=FinishReason.EOS,
        top_logprobs=2,
    )
    with pytest.raises(InvalidRequestError):
        encode_output(mismatched)


def test_compact_against_the_json_of_the_bandwidth_seed() -> None:
    """Seed 004 measured ~640 bytes per output token as JSON with top-5 logprobs and bytes."""
    n = 150
    entries = tuple(
        TokenLogprobs(
            30000 + i,
            -0.0234,
            tuple(
                sorted(((30000 + i + j, -0.0234 - j * 1.3) for j in range(5)), key=lambda p: -p[1])
            ),
        )
        for i in range(n)
    )
    record = GenerationOutput(
        RequestId("r"),
        1000,
        tuple(30000 + i for i in range(n)),
        "x" * 600,
        entries,
        FinishReason.LENGTH,
        5,
    )
    encoded = encode_output(record)
    as_json = json.dumps(
        [
            {
                "token": str(e.token),
                "logprob": e.logprob,
                "bytes": [77, 97, 99, 104],
                "top_logprobs": [
                    {"token": str(t), "logprob": lp, "bytes": [77, 97, 99, 104]} for t, lp in e.top
                ],
            }
            for e in entries
        ]
    )
    per_token = (len(encoded) - 600) / n
    assert per_token <= 32
    assert len(as_json) / len(encoded) > 10
