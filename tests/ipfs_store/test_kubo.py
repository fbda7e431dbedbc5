"""Round trips against a real Kubo: local CIDs equal Kubo's, fetches are verified and exact."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path

import pytest

from ipfs_store import (
    UNIXFS_V0_2015,
    UNIXFS_V1_2025,
    Cid,
    ContentNotFound,
    FileBuilder,
    GatewaySource,
    ImportProfile,
    IntegrityError,
    IpfsStore,
    KuboSource,
    Source,
    TooLarge,
    cid_of_bytes,
    cid_of_path,
)
from ipfs_store._dagpb import UnixFSType, decode_pbnode, decode_unixfs

from ._data import apattern, pattern
from .conftest import KuboDaemon

PROFILES = [UNIXFS_V1_2025, UNIXFS_V0_2015]


def _sizes(profile: ImportProfile) -> list[int]:
    c = profile.chunk_size
    return [0, 1, c - 1, c, c + 1, 3 * c + 17]


async def test_version_and_id(store: IpfsStore) -> None:
    version = await store.version()
    assert version.version == "0.43.0"
    node = await store.id()
    assert node.peer_id.startswith("12D3Koo")


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
async def test_file_round_trips_and_local_cids(
    store: IpfsStore, profile: ImportProfile, tmp_path: Path
) -> None:
    for size in _sizes(profile):
        data = os.urandom(size)
        added = await store.add_bytes(data, name=f"f{size}", profile=profile)
        assert added.cid == cid_of_bytes(data, profile).cid, size
        assert added.cid.version == profile.cid_version
        dest = tmp_path / f"f{size}"
        fetched = await store.fetch(added.cid, dest)
        assert dest.read_bytes() == data
        assert fetched.size == size and not fetched.is_dir


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
async def test_links_times_chunk_boundaries_match_kubo(
    store: IpfsStore, profile: ImportProfile
) -> None:
    """links x chunk and links x chunk + 1: one-level vs two-level DAG (Kubo hashes only)."""
    for size in (
        profile.max_links * profile.chunk_size,
        profile.max_links * profile.chunk_size + 1,
    ):
        kubo = await store.add_bytes(apattern(size), profile=profile, only_hash=True)
        local = FileBuilder(profile)
        for part in pattern(size):
            local.update(part)
        assert kubo.cid == local.finish().cid, size


def _model_dir(root: Path) -> Path:
    model = root / "tiny-llm"
    (model / "tokenizer").mkdir(parents=True)
    (model / "config.json").write_text('{"hidden_size": 64, "layers": 2}')
    (model / "model-00001-of-00002.safetensors").write_bytes(os.urandom(2 * 1024 * 1024 + 3))
    (model / "model-00002-of-00002.safetensors").write_bytes(os.urandom(700_000))
    (model / "tokenizer" / "tokenizer.json").write_text('{"vocab": {"a": 0}}')
    (model / "tokenizer" / "merges.txt").write_text("")
    (model / "empty-dir").mkdir()
    (model / "spaces and ünïcode+plus.txt").write_text("name escaping")
    (model / ".cache").write_text("hidden: not part of the model")
    return model


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
async def test_model_directory_round_trip(
    store: IpfsStore, profile: ImportProfile, tmp_path: Path
) -> None:
    model = _model_dir(tmp_path)
    seen: list[tuple[int, int | None]] = []
    added = await store.add(
        model, profile=profile, progress=lambda done, total: seen.append((done, total))
    )
    assert added.cid == cid_of_path(model, profile).cid
    assert added.profile == profile.name
    total = sum(p.stat().st_size for p in model.rglob("*") if p.is_file() and p.name != ".cache")
    assert seen[-1] == (total, total)
    out = tmp_path / "out"
    fetched = await store.fetch(added.cid, out)
    assert fetched.is_dir and fetched.size == total
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    expected = sorted(str(p.relative_to(model)) for p in model.rglob("*") if p.name != ".cache")
    assert files == expected
    for rel in expected:
        if (model / rel).is_file():
            assert (out / rel).read_bytes() == (model / rel).read_bytes(), rel


async def test_fetch_through_gateway_and_dag_export(
    store: IpfsStore, kubo: KuboDaemon, tmp_path: Path
) -> None:
    data = os.urandom(2 * 1024 * 1024 + 5)
    added = await store.add_bytes(data)
    sources: dict[str, Source] = {
        "dag-export": KuboSource(kubo.api_url),
        "kubo-gateway": KuboSource(kubo.api_url, kubo.gateway_url),
        "gateway": GatewaySource(kubo.gateway_url),
    }
    car_only = IpfsStore(replace(store.config, fast_file_fetch=False))
    async with car_only:
        for fetcher, mode in ((store, "stream"), (car_only, "car")):
            for name, source in sources.items():
                dest = tmp_path / f"{name}-{mode}"
                fetched = await fetcher.fetch(added.cid, dest, sources=[source])
                assert dest.read_bytes() == data
                assert fetched.blocks == 4 and fetched.source == source.describe()


async def test_stream_path_falls_back_to_car_for_dag_pb_leaves(
    store: IpfsStore, kubo: KuboDaemon, tmp_path: Path
) -> None:
    """unixfs-v0-2015 leaves are dag-pb: the fast path declines and the CAR is used."""
    data = os.urandom(3 * 262144 + 5)
    added = await store.add_bytes(data, profile=UNIXFS_V0_2015)
    source = KuboSource(kubo.api_url, kubo.gateway_url)
    fetched = await store.fetch(added.cid, tmp_path / "v0", sources=[source])
    assert (tmp_path / "v0").read_bytes() == data
    assert fetched.blocks == 5  # root + 4 dag-pb leaves, all verified from the CAR


async def test_pin_unpin(store: IpfsStore) -> None:
    added = await store.add_bytes(b"pin me " + os.urandom(8), pin=False)
    assert not await store.is_pinned(added.cid)
    await store.pin(added.cid)
    assert await store.is_pinned(added.cid)
    await store.unpin(added.cid)
    assert not await store.is_pinned(added.cid)
    with pytest.raises(ContentNotFound):
        await store.unpin(added.cid)


async def test_missing_content_is_not_found(
    store: IpfsStore, kubo: KuboDaemon, tmp_path: Path
) -> None:
    absent = Cid.for_block(os.urandom(32), codec=0x55, version=1)
    for source in (KuboSource(kubo.api_url), GatewaySource(kubo.gateway_url)):
        with pytest.raises(ContentNotFound):
            await asyncio.wait_for(store.fetch(absent, tmp_path / "x", sources=[source]), 30)
    assert not (tmp_path / "x").exists()
    assert os.listdir(tmp_path) == []


async def test_expected_cid_mismatch_unpins(store: IpfsStore) -> None:
    data = os.urandom(100)
    wrong = cid_of_bytes(data, UNIXFS_V0_2015).cid  # right bytes, other profile
    with pytest.raises(IntegrityError):
        await store.add_bytes(data, expected_cid=wrong)
    assert not await store.is_pinned(cid_of_bytes(data).cid)
    ok = await store.add_bytes(data, expected_cid=cid_of_bytes(data).cid)
    assert ok.pinned


async def test_size_limits(store: IpfsStore, tmp_path: Path) -> None:
    added = await store.add_bytes(os.urandom(300_000))
    with pytest.raises(TooLarge):
        await store.fetch(added.cid, tmp_path / "big", max_size=100_000)
    assert os.listdir(tmp_path) == []
    assert len(await store.fetch_bytes(added.cid)) == 300_000
    with pytest.raises(TooLarge):
        await store.fetch_bytes(added.cid, max_size=1000)


def _sharded_tree(root: Path, files: int = 1000) -> Path:
    """A directory whose ``big/`` holds ``files`` long-named files: over 256 KiB under both the
    links-bytes and the block-bytes estimate, so Kubo shards it whatever its configuration."""
    tree = root / "sharded-model"
    big = tree / "big"
    big.mkdir(parents=True)
    (tree / "config.json").write_text('{"shards": true}')
    for i in range(files):
        (big / (f"{i:05d}-" + "w" * 240)).write_bytes(b"%d" % i)
    return tree


@pytest.fixture(scope="module")
def sharded_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _sharded_tree(tmp_path_factory.mktemp("hamt"))


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
async def test_hamt_directory_round_trip(
    store: IpfsStore, profile: ImportProfile, sharded_tree: Path, tmp_path: Path
) -> None:
    blocks: dict[Cid, bytes] = {}
    local = cid_of_path(sharded_tree, profile, sink=lambda c, b: blocks.__setitem__(c, b))
    kinds = {
        decode_unixfs(decode_pbnode(b).data or b"").type
        for c, b in blocks.items()
        if c.codec == 0x70 and decode_pbnode(b).links
    }
    assert UnixFSType.HAMT_SHARD in kinds and UnixFSType.DIRECTORY in kinds
    added = await store.add(sharded_tree, profile=profile)
    assert added.cid == local.cid
    out = tmp_path / "out"
    fetched = await store.fetch(added.cid, out)
    assert fetched.is_dir
    names = sorted(p.name for p in (out / "big").iterdir())
    assert names == sorted(p.name for p in (sharded_tree / "big").iterdir())
    assert len(names) == 1000
    for name in (names[0], names[537], names[-1]):
        assert (out / "big" / name).read_bytes() == (sharded_tree / "big" / name).read_bytes()
    assert (out / "config.json").read_text() == '{"shards": true}'
