"""Fault injection at the HTTP boundary: a proxy between the client and Kubo flips a byte or
cuts the stream; Kubo itself is stopped."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from ipfs_store import (
    Cid,
    GatewaySource,
    IntegrityError,
    IpfsStore,
    KuboSource,
    KuboUnavailable,
    Source,
)
from ipfs_store._cid import DAG_PB
from ipfs_store._dagpb import UnixFSType, decode_pbnode, decode_unixfs
from ipfs_store._varint import decode_varint

from .conftest import FaultProxy, KuboDaemon, start_kubo, store_config

SIZE = 3 * 1024 * 1024 + 11


@pytest.fixture
async def content(store: IpfsStore) -> tuple[str, bytes]:
    data = os.urandom(SIZE)
    added = await store.add_bytes(data)
    return str(added.cid), data


# "dag-export" and "gateway" are CAR paths; "kubo-stream-api" and "kubo-stream-gateway" are
# the fast file path (verified interior nodes, then the plain content stream cut into leaves).
KINDS = ["dag-export", "gateway", "kubo-stream-api", "kubo-stream-gateway"]


def _proxied(kind: str, proxy: FaultProxy, kubo: KuboDaemon) -> Source:
    if kind in ("dag-export", "kubo-stream-api"):
        proxy.upstream = kubo.api_url
        return KuboSource(proxy.url)
    proxy.upstream = kubo.gateway_url
    if kind == "kubo-stream-gateway":
        return KuboSource(proxy.url, proxy.url)
    return GatewaySource(proxy.url)


def _for_kind(store: IpfsStore, kind: str) -> IpfsStore:
    """A store of its own (the fixture's is open already, and a store opens once): the same
    config for the fast path; one that always asks for a CAR otherwise."""
    if kind.startswith("kubo-stream"):
        assert store.config.fast_file_fetch
        return IpfsStore(store.config)
    return IpfsStore(replace(store.config, fast_file_fetch=False))


@pytest.mark.parametrize("kind", KINDS)
async def test_flipped_byte_raises_and_leaves_nothing(
    kind: str,
    store: IpfsStore,
    kubo: KuboDaemon,
    fault_proxy: FaultProxy,
    content: tuple[str, bytes],
    tmp_path: Path,
) -> None:
    cid, _ = content
    source = _proxied(kind, fault_proxy, kubo)
    fault_proxy.flip_at = 1_500_000  # inside the second 1 MiB leaf
    dest = tmp_path / "model.bin"
    async with _for_kind(store, kind) as fetcher:
        with pytest.raises(IntegrityError, match="does not match"):
            await fetcher.fetch(cid, dest, sources=[source])
    # A CAR is one request; the fast path asks for the root block, then the content.
    assert fault_proxy.requests == (2 if kind.startswith("kubo-stream") else 1)
    assert os.listdir(tmp_path) == []  # no file, no staging leftovers


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cut_at", [2_000_000, 1024 * 1024 + 200])
async def test_cut_stream_raises_and_leaves_nothing(
    kind: str,
    cut_at: int,
    store: IpfsStore,
    kubo: KuboDaemon,
    fault_proxy: FaultProxy,
    content: tuple[str, bytes],
    tmp_path: Path,
) -> None:
    cid, _ = content
    source = _proxied(kind, fault_proxy, kubo)
    fault_proxy.cut_at = cut_at
    dest = tmp_path / "model"
    async with _for_kind(store, kind) as fetcher:
        with pytest.raises(IntegrityError):
            await fetcher.fetch(cid, dest, sources=[source])
    assert os.listdir(tmp_path) == []


async def test_next_source_after_tampering(
    store: IpfsStore,
    kubo: KuboDaemon,
    fault_proxy: FaultProxy,
    content: tuple[str, bytes],
    tmp_path: Path,
) -> None:
    cid, data = content
    bad = _proxied("dag-export", fault_proxy, kubo)
    fault_proxy.flip_at = 2_500_000
    good = GatewaySource(kubo.gateway_url)
    dest = tmp_path / "model.bin"
    result = await store.fetch(cid, dest, sources=[bad, good])
    assert result.source == good.describe()
    assert dest.read_bytes() == data
    assert sorted(os.listdir(tmp_path)) == ["model.bin"]


async def test_stopped_kubo_is_unavailable_after_bounded_retries(tmp_path: Path) -> None:
    daemon = start_kubo(tmp_path / "repo")
    try:
        async with IpfsStore(store_config(daemon.api_url)) as live:
            added = await live.add_bytes(b"soon unreachable")
    finally:
        daemon.stop()
    config = store_config(daemon.api_url, retries=2, retry_backoff=0.1)
    async with IpfsStore(config) as store:
        start = time.monotonic()
        with pytest.raises(KuboUnavailable, match="after 3 attempts"):
            await store.version()
        elapsed = time.monotonic() - start
        assert 0.3 <= elapsed < 5  # backoff 0.1 + 0.2, then give up
        with pytest.raises(KuboUnavailable):
            await store.fetch(added.cid, tmp_path / "out")
        with pytest.raises(KuboUnavailable):
            await store.add_bytes(b"x")
    assert not (tmp_path / "out").exists()


async def test_close_is_idempotent(kubo: KuboDaemon) -> None:
    store = IpfsStore(store_config(kubo.api_url))
    async with store:
        assert (await store.version()).version
    await store.close()
    await store.close()


def _frame_offsets(car: bytes) -> list[tuple[int, Cid, bytes]]:
    """(offset of the block in the stream, CID, block) for every frame of a CARv1."""
    header_len, pos = decode_varint(car, 0)
    pos += header_len
    frames = []
    while pos < len(car):
        length, pos = decode_varint(car, pos)
        cid, start = Cid.decode_prefix(car, pos)
        frames.append((start, cid, car[start : pos + length]))
        pos += length
    return frames


@pytest.mark.parametrize("kind", ["dag-export", "gateway"])
async def test_tampered_hamt_shard_raises_and_leaves_nothing(
    kind: str,
    store: IpfsStore,
    kubo: KuboDaemon,
    fault_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    tree = tmp_path / "src" / "tree"
    tree.mkdir(parents=True)
    for i in range(1000):
        (tree / (f"{i:05d}-" + "s" * 240)).write_bytes(b"%d" % i)
    added = await store.add(tree)
    source = _proxied(kind, fault_proxy, kubo)
    async with aiohttp.ClientSession() as session:
        if kind == "dag-export":
            url, params = f"{kubo.api_url}/api/v0/dag/export", {"arg": str(added.cid)}
            async with session.post(url, params=params) as resp:
                car = await resp.read()
        else:
            url = f"{kubo.gateway_url}/ipfs/{added.cid}"
            params = {"format": "car", "dag-scope": "all", "car-dups": "n"}
            async with session.get(url, params=params) as resp:
                car = await resp.read()
    shards = [
        (offset, block)
        for offset, cid, block in _frame_offsets(car)
        if cid != added.cid
        and cid.codec == DAG_PB
        and decode_unixfs(decode_pbnode(block).data or b"").type == UnixFSType.HAMT_SHARD
    ]
    assert shards, "expected child shards below the root shard"
    offset, block = shards[len(shards) // 2]
    fault_proxy.flip_at = offset + len(block) // 2
    dest = tmp_path / "out"
    with pytest.raises(IntegrityError, match="does not match"):
        await store.fetch(added.cid, dest, sources=[source])
    assert sorted(os.listdir(tmp_path)) == ["src"]  # no destination, no staging leftovers
