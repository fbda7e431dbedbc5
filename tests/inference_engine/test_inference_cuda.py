"""The CUDA path (half precision, placement, batched == unbatched); skipped without a GPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from inference_engine import (
    EngineConfig,
    GenerationRequest,
    LoadedModel,
    RequestId,
    SamplingParams,
    generate_batch,
    load_model,
    validate,
)

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (CI and this machine have none)"
)


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def cuda_model(request: pytest.FixtureRequest) -> LoadedModel:
    directory: Path = request.getfixturevalue(f"{request.param}_dir")
    return load_model(directory, EngineConfig())


def _requests(temperature: float) -> list[GenerationRequest]:
    params = SamplingParams(max_tokens=12, temperature=temperature, ignore_eos=True)
    prompts = ["hello world", "the quick brown fox jumps over", "a", "validators re-run"]
    return [GenerationRequest(RequestId(f"cuda-{i}"), p, params) for i, p in enumerate(prompts)]


def test_placed_on_a_gpu_in_half_precision(cuda_model: LoadedModel) -> None:
    assert cuda_model.placement.device.startswith("cuda:")
    expected = "bfloat16" if torch.cuda.get_device_capability()[0] >= 8 else "float16"
    assert cuda_model.placement.dtype == expected
    assert next(cuda_model.module.parameters()).dtype == getattr(torch, expected)


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_batched_equals_unbatched_on_gpu(cuda_model: LoadedModel, temperature: float) -> None:
    requests = _requests(temperature)
    batched = generate_batch(cuda_model, requests)
    for request, out in zip(requests, batched, strict=True):
        (alone,) = generate_batch(cuda_model, [request])
        first = [a.logprob for a in out.logprobs]
        second = [b.logprob for b in alone.logprobs]
        # Half precision: the sequences may diverge only where two candidates are near-tied.
        common = next(
            (i for i, (a, b) in enumerate(zip(out.tokens, alone.tokens, strict=True)) if a != b), 12
        )
        assert common >= 4
        assert max(abs(a - b) for a, b in zip(first[:common], second[:common], strict=True)) < 0.1
        assert validate(cuda_model, request, out, tolerance=0.1).passed


def test_cpu_output_validates_on_gpu(cuda_model: LoadedModel) -> None:
    cpu_model = load_model(cuda_model.manifest.path, EngineConfig(device="cpu"))
    for request in _requests(0.0):
        (out,) = generate_batch(cpu_model, [request])
        report = validate(cuda_model, request, out, tolerance=0.1, token_tolerance=0.1)
        assert report.passed, report
