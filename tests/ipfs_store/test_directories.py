"""Directories on the fast path: each file as verified interior nodes plus its plain content
stream cut into leaves (no CAR), through Kubo's RPC API and its gateway, behind a fault proxy
that logs every request and can flip a byte."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ipfs_store import (
    UNIXFS_V0_2015,
    UNIXFS_V1_2025,
    IntegrityError,
    IpfsStore,
    KuboSource,
    cid_of_path,
)

from .conftest import FaultProxy, KuboDaemon, read_tree, write_tree

MiB = 1024 * 1024


def _model(root: Path) -> dict[str, bytes]:
    shard = os.urandom(3 * MiB + 5)
    files = {
        "config.json": b'{"hidden_size": 64}',
        "model-00001-of-00002.safetensors": shard,
        "model-00002-of-00002.safetensors": os.urandom(MiB + 17),
        "copy-of-shard-1.safetensors": shard,  # the same CID linked twice
        "tokenizer/tokenizer.json": b'{"vocab": {"a": 0}}',
        "tokenizer/deeper/merges.txt": b"a b\n",
        "empty.txt": b"",
    }
    return write_tree(root, files)


def _source(kind: str, proxy: FaultProxy, kubo: KuboDaemon) -> KuboSource:
    if kind == "api":
        proxy.upstream = kubo.api_url
        return KuboSource(proxy.url)
    proxy.upstream = kubo.gateway_url
    return KuboSource(proxy.url, proxy.url)


def _car_requests(paths: list[str]) -> list[str]:
    return [p for p in paths if "dag/export" in p or "format=car" in p]


@pytest.mark.parametrize("kind", ["api", "gateway"])
async def test_directory_takes_the_stream_path(
    store: IpfsStore, kubo: KuboDaemon, fault_proxy: FaultProxy, tmp_path: Path, kind: str
) -> None:
    files = _model(tmp_path / "model")
    added = await store.add(tmp_path / "model")
    assert added.cid == cid_of_path(tmp_path / "model", UNIXFS_V1_2025).cid
    out = tmp_path / "out"
    result = await store.fetch(added.cid, out, sources=[_source(kind, fault_proxy, kubo)])
    assert result.is_dir and result.size == sum(len(v) for v in files.values())
    assert read_tree(out) == files
    assert _car_requests(fault_proxy.paths) == []
    # The duplicated file was streamed once and placed twice.
    shard = str(cid_of_path(tmp_path / "model" / "copy-of-shard-1.safetensors").cid)
    streams = [
        p
        for p in fault_proxy.paths
        if shard in p and ("/cat?" in p or (p.startswith("/ipfs/") and "format" not in p))
    ]
    assert len(streams) == 1, fault_proxy.paths


async def test_dag_pb_leaves_take_a_car_per_entry(
    store: IpfsStore, kubo: KuboDaemon, fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    """Files of the legacy profile (dag-pb leaves) come as a CAR of that file alone."""
    files = _model(tmp_path / "model")
    added = await store.add(tmp_path / "model", profile=UNIXFS_V0_2015)
    out = tmp_path / "out"
    await store.fetch(added.cid, out, sources=[_source("gateway", fault_proxy, kubo)])
    assert read_tree(out) == files
    cars = _car_requests(fault_proxy.paths)
    assert cars and not any(str(added.cid) in p for p in cars)  # never the whole directory


@pytest.mark.parametrize("kind", ["api", "gateway"])
async def test_flipped_byte_in_a_directory_file_raises_and_leaves_nothing(
    store: IpfsStore, kubo: KuboDaemon, fault_proxy: FaultProxy, tmp_path: Path, kind: str
) -> None:
    _model(tmp_path / "model")
    added = await store.add(tmp_path / "model")
    fault_proxy.flip_at = 2 * MiB + 100  # inside the third leaf of the 3 MiB shard's stream
    out = tmp_path / "out"
    with pytest.raises(IntegrityError):
        await store.fetch(added.cid, out, sources=[_source(kind, fault_proxy, kubo)])
    assert sorted(os.listdir(tmp_path)) == ["model"]  # no output, no staging leftovers
