"""Kubo fixtures: a store on the suite's shared Kubo (`kubo` in tests/conftest.py), two online
peers with repositories of their own, and a fault proxy."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from devstack import LocalKubo
from ipfs_store import IpfsStore, StoreConfig

ROOT = Path(__file__).resolve().parents[2]


# Kubo processes come from devstack, shared with the demo and the other packages' tests.
KuboDaemon = LocalKubo
start_kubo = LocalKubo.start


def write_tree(root: Path, files: dict[str, bytes]) -> dict[str, bytes]:
    """Write `files` (by relative path) under `root`; returns them."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under `root`, by relative path (what `write_tree` wrote)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def store_config(api_url: str, **overrides: object) -> StoreConfig:
    params: dict[str, object] = {
        "api_url": api_url,
        "retries": 2,
        "retry_backoff": 0.05,
        "connect_timeout": 2.0,
        "read_timeout": 30.0,
    }
    params.update(overrides)
    return StoreConfig(**params)  # type: ignore[arg-type]


@pytest.fixture
async def store(kubo: KuboDaemon) -> AsyncIterator[IpfsStore]:
    async with IpfsStore(store_config(kubo.api_url)) as s:
        yield s


@dataclass
class KuboPeers:
    """A model author's Kubo and a provider's Kubo: two online peers joined over the swarm on
    loopback, each with its own repository."""

    author: KuboDaemon
    provider: KuboDaemon


def start_peers(root: Path) -> KuboPeers:
    root.mkdir(parents=True, exist_ok=True)
    author = LocalKubo.start(root / "author", online=True)
    try:
        provider = LocalKubo.start(root / "provider", online=True)
    except BaseException:
        author.stop()
        raise
    try:
        provider.connect(author)
    except BaseException:
        author.stop()
        provider.stop()
        raise
    return KuboPeers(author, provider)


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[KuboPeers]:
    pair = start_peers(tmp_path / "peers")
    try:
        yield pair
    finally:
        pair.provider.stop()
        pair.author.stop()


@dataclass
class FaultProxy:
    """Forwards every request to an upstream; can flip one byte, cut a response body, or hold
    every call but `version`/`id` (the content fetches) until `hold` is set."""

    upstream: str
    url: str = ""
    flip_at: int | None = None
    cut_at: int | None = None
    hold: asyncio.Event | None = None
    holding: asyncio.Event = field(default_factory=asyncio.Event)  # a fetch is being held
    requests: int = 0
    paths: list[str] = field(default_factory=list)  # each request's path and query


HOLD_EXEMPT = ("/api/v0/version", "/api/v0/id")


@contextlib.asynccontextmanager
async def running_fault_proxy(upstream: str) -> AsyncIterator[FaultProxy]:
    """A `FaultProxy` to `upstream` on a free loopback port, for as long as the block runs."""
    proxy = FaultProxy(upstream)
    session = aiohttp.ClientSession(auto_decompress=False)

    async def forward(request: web.Request) -> web.StreamResponse:
        proxy.requests += 1
        proxy.paths.append(str(request.rel_url))
        if proxy.hold is not None and request.path not in HOLD_EXEMPT:
            proxy.holding.set()
            await proxy.hold.wait()
        upstream_url = proxy.upstream + str(request.rel_url)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host",)}
        async with session.request(
            request.method, upstream_url, headers=headers, data=await request.read()
        ) as upstream:
            response = web.StreamResponse(status=upstream.status)
            # Content-Length too, so a length-delimited body stays one (the raw HTTP path).
            for key in ("Content-Type", "Content-Length"):
                if key in upstream.headers:
                    response.headers[key] = upstream.headers[key]
            await response.prepare(request)
            sent = 0
            async for chunk in upstream.content.iter_any():
                data = bytearray(chunk)
                if proxy.flip_at is not None and sent <= proxy.flip_at < sent + len(data):
                    data[proxy.flip_at - sent] ^= 0x01
                if proxy.cut_at is not None and sent + len(data) >= proxy.cut_at:
                    await response.write(bytes(data[: proxy.cut_at - sent]))
                    # Abort the connection: the client sees a broken chunked stream.
                    assert request.transport is not None
                    request.transport.close()
                    return response
                await response.write(bytes(data))
                sent += len(data)
            await response.write_eof()
            return response

    app = web.Application(client_max_size=1024**3)
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    proxy.url = f"http://127.0.0.1:{port}"
    try:
        yield proxy
    finally:
        if proxy.hold is not None:
            proxy.hold.set()  # let held handlers finish before the runner goes
        await runner.cleanup()
        await session.close()


@pytest.fixture
async def fault_proxy(kubo: KuboDaemon) -> AsyncIterator[FaultProxy]:
    async with running_fault_proxy(kubo.api_url) as proxy:
        yield proxy
