"""Fixtures for the direct path: devnode in instant mode (a block only when a transaction
arrives, so "no new block" is observable), Kubo, redis-server, a tiny chat model on IPFS, two
real daemons as providers, payment channels and the gateway (a `DirectClient` behind the
OpenAI-compatible server)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ipfs_store import IpfsStore
from runtime_types import ChainClient, ClientConfig
from runtime_types.generated.devnode import BINDINGS
from tests.cache.helpers import RedisServer, start_redis
from tests.chains import PROTOCOL_PALLETS, ChainKind, ChainUnderTest, running_chain
from tests.ipfs_store.conftest import KuboDaemon, store_config


@pytest.fixture(scope="session", autouse=True)
def _quiet_transformers() -> Iterator[None]:
    import transformers

    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    yield


@pytest.fixture(scope="session")
def chat_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random GPT-2 with a byte-level BPE tokenizer and a ChatML template (4 layers, so
    a long generation takes seconds on a CPU: long enough to kill a provider mid-stream)."""
    from inference_engine.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("chat") / "model", "gpt2", hidden=64, layers=4)


@pytest.fixture
async def model_cid(kubo: KuboDaemon, chat_model_dir: Path) -> str:
    async with IpfsStore(store_config(kubo.api_url)) as store:
        return str((await store.add(chat_model_dir)).cid)


@pytest.fixture
def node(request: pytest.FixtureRequest) -> Iterator[ChainUnderTest]:
    """Instant block production: a block is sealed only when a transaction is ready (devnode,
    or the Rust runtime's Instant mode for a test marked `@on_both_chains`)."""
    kind: ChainKind = getattr(request, "param", "devnode")
    yield from running_chain(kind, needs=PROTOCOL_PALLETS)


@pytest.fixture
async def chain(node: ChainUnderTest) -> AsyncIterator[ChainClient]:
    async with ChainClient(BINDINGS, ClientConfig(node.url, poll_interval=0.02)) as client:
        yield client


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = start_redis(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()
