"""Seed derivation, logprob distance, sampling filters and config checks: no model needed."""

from __future__ import annotations

import hashlib
import math

import pytest
import torch

from inference_engine import (
    EngineConfig,
    GenerationRequest,
    InvalidRequestError,
    RequestId,
    SamplingParams,
    derive_seed,
    logprob_distance,
    step_uniform,
)
from inference_engine._sampling import (
    filtered_distribution,
    sample_token,
    sampled_token_consistent,
)


def test_seed_is_a_pinned_function_of_the_request_id() -> None:
    digest = hashlib.blake2b(b"inference-engine/seed/v1\x00req-1", digest_size=8).digest()
    assert derive_seed("req-1") == int.from_bytes(digest, "little")
    assert derive_seed("req-1") != derive_seed("req-2")
    assert 0 <= derive_seed("x") < 1 << 64


def test_step_uniform() -> None:
    seed = derive_seed("req-1")
    values = [step_uniform(seed, step) for step in range(200)]
    assert values == [step_uniform(seed, step) for step in range(200)]
    assert all(0.0 <= v < 1.0 for v in values)
    assert len(set(values)) == 200
    assert 0.35 < sum(values) / len(values) < 0.65
    with pytest.raises(ValueError):
        step_uniform(-1, 0)


def test_logprob_distance() -> None:
    d = logprob_distance([-1.0, -2.0, -3.0], [-1.0, -2.5, -2.0])
    assert d.mean == pytest.approx(0.5)
    assert d.max == pytest.approx(1.0)
    assert d.count == 3
    assert logprob_distance([], []).mean == 0.0
    assert logprob_distance([-math.inf], [-math.inf]).max == 0.0
    assert logprob_distance([-1.0], [-math.inf]).max == math.inf
    with pytest.raises(ValueError):
        logprob_distance([1.0], [])


def test_filters_and_inverse_cdf_sampling() -> None:
    # probabilities 0.5, 0.25, 0.125, 0.125 for tokens 2, 0, 1, 3 (ties by id)
    logits = torch.log(torch.tensor([0.25, 0.125, 0.5, 0.125]))
    plain = SamplingParams(temperature=1.0)
    ids, cdf = filtered_distribution(logits, plain)
    assert ids.tolist() == [2, 0, 1, 3]
    assert cdf.tolist() == pytest.approx([0.5, 0.75, 0.875, 1.0])
    assert sample_token(logits, plain, 0.1) == 2
    assert sample_token(logits, plain, 0.6) == 0
    assert sample_token(logits, plain, 0.99) == 3

    ids, cdf = filtered_distribution(logits, SamplingParams(temperature=1.0, top_k=2))
    assert ids.tolist() == [2, 0]
    assert cdf.tolist() == pytest.approx([2 / 3, 1.0])

    ids, cdf = filtered_distribution(logits, SamplingParams(temperature=1.0, top_p=0.7))
    assert ids.tolist() == [2, 0]
    ids, _ = filtered_distribution(logits, SamplingParams(temperature=1.0, top_p=0.4))
    assert ids.tolist() == [2]

    # low temperature sharpens towards the argmax
    _, cold = filtered_distribution(logits, SamplingParams(temperature=0.1))
    assert float(cold[0]) > 0.99


def test_sampled_token_consistency_check() -> None:
    logits = torch.log(torch.tensor([0.25, 0.125, 0.5, 0.125]))
    params = SamplingParams(temperature=1.0)
    assert sampled_token_consistent(logits, params, 0.6, 0, slack=0.0)
    assert not sampled_token_consistent(logits, params, 0.6, 2, slack=0.0)
    assert sampled_token_consistent(logits, params, 0.51, 2, slack=0.02)  # near the boundary
    top1 = SamplingParams(temperature=1.0, top_k=1)
    assert not sampled_token_consistent(logits, top1, 0.9, 0, slack=0.05)  # filtered out


def test_request_and_param_checks() -> None:
    bad_params = [
        {"max_tokens": 0},
        {"temperature": -1.0},
        {"temperature": math.nan},
        {"top_p": 0.0},
        {"top_p": 1.5},
        {"top_k": -1},
        {"top_logprobs": 6},
        {"stop": ("",)},
    ]
    for kwargs in bad_params:
        with pytest.raises(InvalidRequestError):
            SamplingParams(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError):
        GenerationRequest(RequestId(""), "hi")
    with pytest.raises(InvalidRequestError):
        GenerationRequest(RequestId("r"), ())
    with pytest.raises(InvalidRequestError):
        GenerationRequest(RequestId("r"), (1, -2))
    assert SamplingParams().greedy
    assert not SamplingParams(temperature=0.7).greedy


def test_engine_config_checks() -> None:
    assert EngineConfig().device == "auto"
    assert EngineConfig(device="cuda:1").device == "cuda:1"
    for kwargs in (
        {"device": "tpu"},
        {"device": "cuda:x"},
        {"dtype": "int8"},
        {"max_batch_size": 0},
        {"max_queue": 0},
        {"max_wait_s": -1.0},
        {"request_timeout_s": 0.0},
        {"memory_headroom": 0.0},
    ):
        with pytest.raises(InvalidRequestError):
            EngineConfig(**kwargs)
