"""The CUDA path (half precision, placement, batched == unbatched, the new families, MiniLM in
fp16, GPU memory freed on eviction); skipped without a GPU (CI and the dev machines have none)."""

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


@pytest.fixture(scope="module", params=["qwen3", "gemma2", "gemma3_text", "phi3", "olmo2"])
def cuda_family(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[LoadedModel, LoadedModel]:
    from inference_engine.tiny import build_tiny_model

    directory = build_tiny_model(tmp_path_factory.mktemp(request.param), request.param, seed=3)
    return load_model(directory, EngineConfig()), load_model(directory, EngineConfig(device="cpu"))


def test_new_families_on_gpu_validate_on_cpu(cuda_family: tuple[LoadedModel, LoadedModel]) -> None:
    gpu, cpu = cuda_family
    assert gpu.placement.device.startswith("cuda:")
    for request in _requests(0.0):
        (out,) = generate_batch(gpu, [request])
        report = validate(cpu, request, out, tolerance=0.1, token_tolerance=0.1)
        assert report.passed, report


def test_minilm_on_gpu_in_fp16_validates_on_cpu() -> None:
    from inference_engine import EmbeddingRequest, embed_batch, validate_embedding
    from inference_engine.tiny import packaged_minilm

    path = packaged_minilm()
    gpu = load_model(path, EngineConfig())
    cpu = load_model(path, EngineConfig(device="cpu"))
    assert gpu.placement.dtype == "float16"
    texts = ["A man is eating food.", "The new movie is awesome.", "hello chain " * 40]
    requests = [EmbeddingRequest(RequestId(f"g{i}"), t) for i, t in enumerate(texts)]
    for request, out in zip(requests, embed_batch(gpu, requests), strict=True):
        report = validate_embedding(cpu, request, out)
        assert report.passed, report


def test_eviction_frees_gpu_memory(gpt2_dir: Path) -> None:
    from cache import EngineLoader
    from inference_engine import release_model

    torch.cuda.synchronize()
    baseline = torch.cuda.memory_allocated()
    model = load_model(gpt2_dir, EngineConfig())
    held = torch.cuda.memory_allocated() - baseline
    assert held >= model.loaded_bytes > 0
    assert release_model(model) == model.loaded_bytes
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() - baseline < model.loaded_bytes // 10
    # the cache's loader (what tier-1 eviction calls) frees it the same way
    loader = EngineLoader(EngineConfig())
    loaded = loader.load(gpt2_dir, "evict-me")  # type: ignore[arg-type]
    assert torch.cuda.memory_allocated() - baseline >= loaded.loaded_bytes
    loader.release(loaded)
    del loaded
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() - baseline < held // 10
