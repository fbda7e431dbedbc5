"""Integration: the cache fills from Kubo and loads through inference_engine (tiny GPT-2)."""

from __future__ import annotations

import weakref
from pathlib import Path

import pytest

from cache import CacheConfig, EngineLoader, ModelCache, ModelKey
from inference_engine import (
    EngineConfig,
    GenerationRequest,
    RequestId,
    SamplingParams,
    generate_batch,
    load_model,
)
from ipfs_store import IpfsStore
from tests.cache.helpers import CountingOrigin, RedisServer

pytestmark = pytest.mark.timeout(90)


def build_tiny_gpt2(directory: Path) -> Path:
    import torch
    import transformers

    transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    config = transformers.GPT2Config(
        vocab_size=64, n_positions=64, n_embd=16, n_layer=1, n_head=2, eos_token_id=0
    )
    torch.manual_seed(7)
    model = transformers.GPT2LMHeadModel(config)
    model.save_pretrained(str(directory), safe_serialization=True)
    return directory


async def test_engine_loader_round_trip(
    tmp_path: Path, store: IpfsStore, origin: CountingOrigin, redis_server: RedisServer
) -> None:
    source = build_tiny_gpt2(tmp_path / "gpt2")
    key = ModelKey(str((await store.add(source)).cid))
    engine_config = EngineConfig(device="cpu")
    loader = EngineLoader(engine_config, context_tokens=64)
    request = GenerationRequest(RequestId("r1"), (1, 2, 3), SamplingParams(max_tokens=4))
    expected = generate_batch(load_model(source, engine_config), [request])[0]

    config = CacheConfig(disk_dir=tmp_path / "disk", redis_url=redis_server.url, chunk_size=65536)
    async with ModelCache(config, origin, loader) as cache:
        async with cache.use(key) as entry:
            assert entry.source == "origin"
            assert entry.model.placement.device == "cpu"
            assert entry.size == entry.model.memory.total_bytes(1, 64) == cache.tier1_bytes
            output = generate_batch(entry.model, [request])[0]
            assert output.tokens == expected.tokens  # the cached copy is the same model
            loader.warm_up(entry.model)
            assert not await cache.evict(key)  # leased: a request runs on it
        assert await cache.evict(key) and cache.tier1_bytes == 0
    # A second daemon gets the files from Redis and loads an identical model.
    config_b = CacheConfig(disk_dir=tmp_path / "disk-b", redis_url=redis_server.url)
    async with ModelCache(config_b, origin, loader) as cache_b, cache_b.use(key) as entry:
        assert entry.source == "tier2"
        assert generate_batch(entry.model, [request])[0].tokens == expected.tokens
    assert len(origin.fetches) == 1


async def test_evicted_model_is_released_and_garbage_collected(
    tmp_path: Path, store: IpfsStore, origin: CountingOrigin
) -> None:
    """CPU only here (no GPU on this machine): the evicted model and its weights are freed."""
    source = build_tiny_gpt2(tmp_path / "gpt2")
    key = ModelKey(str((await store.add(source)).cid))
    loader = EngineLoader(EngineConfig(device="cpu"), context_tokens=64)
    request = GenerationRequest(RequestId("r1"), (1, 2, 3), SamplingParams(max_tokens=2))
    async with ModelCache(CacheConfig(disk_dir=tmp_path / "disk"), origin, loader) as cache:
        async with cache.use(key) as entry:
            assert generate_batch(entry.model, [request])[0].tokens
            module_ref = weakref.ref(entry.model.module)
            weight = next(entry.model.module.parameters())
            weight_ref = weakref.ref(weight)
            assert weight.device.type == "cpu" and weight.untyped_storage().nbytes() > 0
            del weight
        del entry
        assert module_ref() is not None  # still cached (no lease, not evicted)
        assert await cache.evict(key)
        # No gc.collect() here: the cache and the loader dropped every reference.
        assert module_ref() is None
        assert weight_ref() is None
    # A model someone kept past its lease no longer holds its weights after release.
    kept = load_model(source, EngineConfig(device="cpu"))
    loader.release(kept)
    assert all(p.device.type == "meta" for p in kept.module.parameters())
    assert all(b.device.type == "meta" for b in kept.module.buffers())
