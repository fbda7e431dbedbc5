"""The async engine: batching of concurrent requests, timeouts, cancellation, close."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from inference_engine import (
    EngineClosedError,
    EngineConfig,
    EngineOverloadedError,
    GenerationRequest,
    GenerationTimeoutError,
    InferenceEngine,
    InvalidRequestError,
    LoadedModel,
    RequestId,
    SamplingParams,
    generate_batch,
)

PROMPTS = ["hello world", "the lazy dog", "a model", "validators", "numbers 012", "hello chain"]


def _request(i: int, max_tokens: int = 10, temperature: float = 0.0) -> GenerationRequest:
    params = SamplingParams(max_tokens=max_tokens, temperature=temperature, ignore_eos=True)
    return GenerationRequest(RequestId(f"async-{i}"), PROMPTS[i % len(PROMPTS)], params)


async def _until_a_batch_runs(engine: InferenceEngine) -> None:
    for _ in range(5000):
        if engine.stats.batches:
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the worker never started a batch")


async def test_concurrent_requests_are_batched_and_match_unbatched(model: LoadedModel) -> None:
    config = EngineConfig(device="cpu", max_batch_size=8, max_wait_s=0.05)
    requests = [_request(i, temperature=0.0 if i % 2 else 0.9) for i in range(8)]
    async with InferenceEngine(model, config) as engine:
        outputs = await asyncio.gather(*(engine.generate(r) for r in requests))
        stats = engine.stats
    assert stats.requests == 8
    assert stats.largest_batch > 1
    assert stats.batches < 8
    for request, out in zip(requests, outputs, strict=True):
        (alone,) = generate_batch(model, [request])
        assert out.request_id == request.request_id
        assert out.tokens == alone.tokens


async def test_validate_through_the_engine(gpt2: LoadedModel, other_gpt2: LoadedModel) -> None:
    config = EngineConfig(device="cpu")
    request = _request(0, temperature=1.0)
    async with (
        InferenceEngine(gpt2, config) as engine,
        InferenceEngine(other_gpt2, config) as other,
    ):
        out = await engine.generate(request)
        good = await engine.validate(request, out)
        bad = await other.validate(request, out)
        assert engine.stats.validations == 1
    assert good.passed
    assert not bad.passed


async def test_open_loads_off_the_loop(gpt2_dir: Path) -> None:
    async with await InferenceEngine.open(gpt2_dir, EngineConfig(device="cpu")) as engine:
        out = await engine.generate(_request(1))
    assert len(out.tokens) == 10
    assert engine.model.model_id == gpt2_dir.name


def _full_run_s(model: LoadedModel) -> float:
    """How long the 240-token request used below takes when nothing stops it."""
    started = time.monotonic()
    generate_batch(model, [_request(0, max_tokens=240)])
    return time.monotonic() - started


async def test_timeout_stops_at_a_token_boundary(gpt2: LoadedModel) -> None:
    full = _full_run_s(gpt2)
    async with InferenceEngine(gpt2, EngineConfig(device="cpu")) as engine:
        started = time.monotonic()
        with pytest.raises(GenerationTimeoutError):
            await engine.generate(_request(0, max_tokens=240), timeout_s=full / 20)
        # the worker is free again long before the full run would have ended
        await engine.generate(_request(1, max_tokens=1))
        assert time.monotonic() - started < full / 2
        assert len((await engine.generate(_request(1, max_tokens=3))).tokens) == 3


async def test_cancellation_frees_the_worker(gpt2: LoadedModel) -> None:
    full = _full_run_s(gpt2)
    config = EngineConfig(device="cpu", max_batch_size=1)
    async with InferenceEngine(gpt2, config) as engine:
        started = time.monotonic()
        slow = asyncio.create_task(engine.generate(_request(0, max_tokens=240)))
        await _until_a_batch_runs(engine)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        out = await engine.generate(_request(1, max_tokens=2))
        assert len(out.tokens) == 2
        assert time.monotonic() - started < full / 2


async def test_event_loop_stays_responsive(gpt2: LoadedModel) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    async with InferenceEngine(gpt2, EngineConfig(device="cpu")) as engine:
        task = asyncio.create_task(ticker())
        started = time.monotonic()
        await asyncio.gather(*(engine.generate(_request(i, max_tokens=60)) for i in range(4)))
        elapsed = time.monotonic() - started
        task.cancel()
    # a loop blocked by model work would tick (almost) never during generation
    assert ticks > elapsed / 0.001 / 20


async def test_bounded_queue_overloads(gpt2: LoadedModel) -> None:
    config = EngineConfig(device="cpu", max_batch_size=1, max_wait_s=0.0, max_queue=1)
    async with InferenceEngine(gpt2, config) as engine:
        first = asyncio.create_task(engine.generate(_request(0, max_tokens=240)))
        await _until_a_batch_runs(engine)
        second = asyncio.create_task(engine.generate(_request(1, max_tokens=2)))
        await asyncio.sleep(0)
        with pytest.raises(EngineOverloadedError):
            await engine.generate(_request(2, max_tokens=2))
        first.cancel()
        assert len((await second).tokens) == 2
        with pytest.raises(asyncio.CancelledError):
            await first


async def test_close_is_idempotent_and_final(gpt2: LoadedModel) -> None:
    engine = InferenceEngine(gpt2, EngineConfig(device="cpu"))
    with pytest.raises(EngineClosedError):
        await engine.generate(_request(0))  # not started
    engine.start()
    running = asyncio.create_task(engine.generate(_request(0, max_tokens=240)))
    await _until_a_batch_runs(engine)
    await asyncio.gather(engine.close(), engine.close())
    await engine.close()
    with pytest.raises(EngineClosedError):
        await running
    with pytest.raises(EngineClosedError):
        await engine.generate(_request(1))
    with pytest.raises(EngineClosedError):
        engine.start()


async def test_bad_request_fails_alone(gpt2: LoadedModel) -> None:
    config = EngineConfig(device="cpu", max_wait_s=0.05)
    too_long = GenerationRequest(RequestId("long"), (1,) * 250, SamplingParams(max_tokens=10))
    async with InferenceEngine(gpt2, config) as engine:
        good, bad = await asyncio.gather(
            engine.generate(_request(0)), engine.generate(too_long), return_exceptions=True
        )
    assert not isinstance(good, BaseException)
    assert len(good.tokens) == 10
    assert isinstance(bad, InvalidRequestError)
