"""Every allow-listed causal-LM family, built from its own transformers config class: loading,
batched generation, the canonical record, and teacher-forced validation (honest and forged)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from inference_engine import (
    ALLOWED_ARCHITECTURES,
    EngineConfig,
    GenerationRequest,
    LoadedModel,
    RequestId,
    SamplingParams,
    TokenLogprobs,
    UnknownArchitectureRefusedError,
    decode_output,
    encode_output,
    generate_batch,
    inspect_model_dir,
    load_model,
    validate,
)
from inference_engine.tiny import FAMILIES, build_tiny_model

NEW_FAMILIES = ["qwen3", "gemma2", "gemma3_text", "phi3", "olmo2", "smollm"]


@pytest.fixture(scope="module", params=NEW_FAMILIES)
def family(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> LoadedModel:
    kind: str = request.param
    directory = build_tiny_model(tmp_path_factory.mktemp(kind), kind, seed=3)
    return load_model(directory, EngineConfig(device="cpu"))


def _requests(temperature: float) -> list[GenerationRequest]:
    params = SamplingParams(max_tokens=14, temperature=temperature, ignore_eos=True)
    prompts = ["hello world", "the quick brown fox jumps over the lazy dog, again", "a"]
    return [GenerationRequest(RequestId(f"fam-{i}"), p, params) for i, p in enumerate(prompts)]


def test_every_family_is_allow_listed_with_its_own_class() -> None:
    for kind, (_, class_name, _) in FAMILIES.items():
        model_type = "llama" if kind == "smollm" else kind
        assert ALLOWED_ARCHITECTURES[model_type] == class_name


def test_loaded_with_the_family_class(family: LoadedModel) -> None:
    config = json.loads((family.manifest.path / "config.json").read_text())
    assert type(family.module).__name__ == ALLOWED_ARCHITECTURES[config["model_type"]]
    assert config["architectures"] == [type(family.module).__name__]
    # the estimate the cache accounts with is the loaded size (buffers aside: rotary tables)
    assert family.memory.weight_bytes <= family.loaded_bytes <= family.memory.weight_bytes * 1.01


@pytest.mark.parametrize("temperature", [0.0, 0.9])
def test_batched_equals_unbatched_and_validates(family: LoadedModel, temperature: float) -> None:
    requests = _requests(temperature)
    batched = generate_batch(family, requests)
    for request, out in zip(requests, batched, strict=True):
        (alone,) = generate_batch(family, [request])
        assert alone.tokens == out.tokens
        diffs = [abs(a.logprob - b.logprob) for a, b in zip(alone.logprobs, out.logprobs, strict=True)]  # fmt: skip
        assert max(diffs) <= 2e-3
        shipped = decode_output(encode_output(out))
        assert shipped == out
        report = validate(family, request, shipped)
        assert report.passed, report
        assert report.compared == 14 * 6


def test_forged_outputs_fail(family: LoadedModel) -> None:
    request = _requests(0.0)[1]
    (out,) = generate_batch(family, [request])
    entry = out.logprobs[4]
    replacement = next(t for t, _ in entry.top if t != entry.token)
    tokens = list(out.tokens)
    tokens[4] = replacement
    entries = list(out.logprobs)
    entries[4] = TokenLogprobs(replacement, entry.logprob, entry.top)
    forged = dataclasses.replace(
        out, tokens=tuple(tokens), logprobs=tuple(entries), text=family.decode(tokens)
    )
    report = validate(family, request, forged)
    assert not report.passed and report.first_bad_position == 4
    shifted = tuple(
        TokenLogprobs(e.token, e.logprob - 0.5, tuple((t, lp - 0.5) for t, lp in e.top))
        for e in out.logprobs
    )
    report = validate(family, request, dataclasses.replace(out, logprobs=shifted))
    assert not report.passed and "distance" in report.reason


def test_declared_architecture_must_match_the_type(tmp_path: Path) -> None:
    directory = build_tiny_model(tmp_path / "q", "qwen3")
    config = json.loads((directory / "config.json").read_text())
    config["architectures"] = ["Qwen3ForSequenceClassification"]
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnknownArchitectureRefusedError, match="do not match"):
        inspect_model_dir(directory)


def test_multimodal_gemma3_is_not_a_causal_lm(tmp_path: Path) -> None:
    directory = build_tiny_model(tmp_path / "g", "gemma3_text")
    config = json.loads((directory / "config.json").read_text())
    config.update(model_type="gemma3", architectures=["Gemma3ForConditionalGeneration"])
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnknownArchitectureRefusedError, match="gemma3"):
        inspect_model_dir(directory)
