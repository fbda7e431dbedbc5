"""Streaming generation: tokens arrive before the request finishes, concurrent streams batch
together, and the final record is exactly what `generate` returns (same hash, validates)."""

from __future__ import annotations

import asyncio

from inference_engine import (
    EngineConfig,
    GenerationOutput,
    GenerationRequest,
    InferenceEngine,
    LoadedModel,
    RequestId,
    SamplingParams,
    TokenChunk,
    encode_output,
    generate_batch,
)


def _request(i: int, **params: object) -> GenerationRequest:
    sampling = SamplingParams(**{"max_tokens": 12, "ignore_eos": True, **params})  # type: ignore[arg-type]
    return GenerationRequest(RequestId(f"stream-{i}"), "hello world", sampling)


async def _collect(
    engine: InferenceEngine, request: GenerationRequest
) -> tuple[list[TokenChunk], GenerationOutput]:
    chunks: list[TokenChunk] = []
    async for event in engine.stream(request):
        if isinstance(event, GenerationOutput):
            return chunks, event
        chunks.append(event)
    raise AssertionError("the stream ended without a record")


async def test_stream_yields_tokens_then_the_same_record_as_generate(model: LoadedModel) -> None:
    request = _request(0, temperature=0.8, top_p=0.9)
    async with InferenceEngine(model, EngineConfig(device="cpu")) as engine:
        chunks, record = await _collect(engine, request)
    (alone,) = generate_batch(model, [request])
    assert encode_output(record) == encode_output(alone)
    tokens = [c.entry for c in chunks if c.entry is not None]
    assert tuple(tokens) == record.logprobs
    assert "".join(c.text for c in chunks) == record.text


async def test_first_token_arrives_before_the_request_finishes(gpt2: LoadedModel) -> None:
    request = _request(1, max_tokens=40)
    async with InferenceEngine(gpt2, EngineConfig(device="cpu")) as engine:
        stream = engine.stream(request)
        first = await anext(stream)
        assert isinstance(first, TokenChunk) and first.index == 0
        # the batch is still running: the worker has more tokens to produce
        rest = [event async for event in stream]
    record = rest[-1]
    assert isinstance(record, GenerationOutput) and len(record.tokens) == 40


async def test_stop_sequences_are_never_streamed(gpt2: LoadedModel) -> None:
    plain = generate_batch(gpt2, [_request(2, max_tokens=20)])[0]
    stop = plain.text[4:6] if len(plain.text) > 6 else plain.text[-2:]
    request = _request(2, max_tokens=20, stop=(stop,))
    async with InferenceEngine(gpt2, EngineConfig(device="cpu")) as engine:
        chunks, record = await _collect(engine, request)
    assert stop not in "".join(c.text for c in chunks)
    assert "".join(c.text for c in chunks) == record.text


async def test_concurrent_streams_batch_together(gpt2: LoadedModel) -> None:
    config = EngineConfig(device="cpu", max_batch_size=8, max_wait_s=0.05)
    requests = [_request(10 + i) for i in range(4)]
    async with InferenceEngine(gpt2, config) as engine:
        results = await asyncio.gather(*(_collect(engine, r) for r in requests))
        stats = engine.stats
    assert stats.largest_batch > 1
    for request, (_, record) in zip(requests, results, strict=True):
        assert record.tokens == generate_batch(gpt2, [request])[0].tokens


async def test_closing_the_stream_cancels_the_request(gpt2: LoadedModel) -> None:
    async with InferenceEngine(gpt2, EngineConfig(device="cpu")) as engine:
        stream = engine.stream(_request(20, max_tokens=60))
        await anext(stream)
        await stream.aclose()
        # the worker is free again: a new request completes
        out = await engine.generate(_request(21, max_tokens=3))
    assert len(out.tokens) == 3
