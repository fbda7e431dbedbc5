"""Fixtures: the chain (devnode with a short block time in a thread, or the Rust runtime), Kubo (session), redis-server, a tiny model."""

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
from tests.ocw_daemon.helpers import build_tiny_model


@pytest.fixture(scope="session", autouse=True)
def _quiet_transformers() -> Iterator[None]:
    import transformers

    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    yield


@pytest.fixture
async def store(kubo: KuboDaemon) -> AsyncIterator[IpfsStore]:
    async with IpfsStore(store_config(kubo.api_url)) as s:
        yield s


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
async def tiny_cid(store: IpfsStore, tiny_model_dir: Path) -> str:
    return str((await store.add(tiny_model_dir)).cid)


@pytest.fixture
def node(request: pytest.FixtureRequest) -> Iterator[ChainUnderTest]:
    """devnode with a block every 0.2 s; a test marked `@on_both_chains` (tests/chains.py)
    also runs on the Rust runtime."""
    kind: ChainKind = getattr(request, "param", "devnode")
    yield from running_chain(kind, block_time=0.2, needs=PROTOCOL_PALLETS)


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
