"""Pure logic, no server: CIDs, codecs, the importer against IPIP-0499 vectors, CAR, DagWriter."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ipfs_store import (
    UNIXFS_V0_2015,
    UNIXFS_V1_2025,
    Cid,
    FileBuilder,
    IntegrityError,
    InvalidCid,
    TooLarge,
    cid_of_bytes,
    cid_of_path,
    encode_car,
)
from ipfs_store._car import ChunkReader, read_car
from ipfs_store._cid import DAG_PB, RAW
from ipfs_store._dagpb import (
    PBLink,
    PBNode,
    UnixFSData,
    UnixFSType,
    decode_pbnode,
    decode_unixfs,
    encode_pbnode,
    encode_unixfs,
)
from ipfs_store._fileio import BackgroundFileIO, pwrite_all
from ipfs_store._hamt import (
    bucket,
    decode_bitfield,
    encode_bitfield,
    link_prefix,
    murmur3_x64_64,
)
from ipfs_store._importer import build_directory, directory_size_estimate
from ipfs_store._rawhttp import RawHttpUnsupported, parse_head
from ipfs_store._verify import DagWriter

from ._data import MiB, deterministic_names, deterministic_random

# -- CIDs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH",
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
        "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354",
    ],
)
def test_cid_round_trips(text: str) -> None:
    cid = Cid.parse(text)
    assert str(cid) == text
    assert Cid.parse(cid.to_bytes()) == cid
    assert Cid.parse("/ipfs/" + text) == cid


@pytest.mark.parametrize(
    "bad",
    ["", "Qm123", "x1234", "bafy!!!", "zzzz", "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQ0"],
)
def test_invalid_cids_raise(bad: str) -> None:
    with pytest.raises(InvalidCid):
        Cid.parse(bad)


def test_cidv0_is_dag_pb_only() -> None:
    with pytest.raises(InvalidCid):
        Cid(0, RAW, bytes(32))


# -- IPIP-0499 vectors -------------------------------------------------------------------------


def test_ipip499_small_files() -> None:
    assert str(cid_of_bytes(b"hello world", UNIXFS_V1_2025).cid) == (
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    )
    assert str(cid_of_bytes(b"hello world", UNIXFS_V0_2015).cid) == (
        "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"
    )


def test_empty_directory_vectors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert str(cid_of_path(tmp_path / "empty", UNIXFS_V0_2015).cid) == (
        "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn"
    )
    assert str(cid_of_path(tmp_path / "empty", UNIXFS_V1_2025).cid) == (
        "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354"
    )


@pytest.mark.parametrize(
    ("profile", "size", "seed", "expected"),
    [
        (
            UNIXFS_V1_2025,
            MiB,
            "chunk-v1-seed",
            "bafkreiacndfy443ter6qr2tmbbdhadvxxheowwf75s6zehscklu6ezxmta",
        ),
        (
            UNIXFS_V1_2025,
            MiB + 1,
            "chunk-v1-seed",
            "bafybeigmix7t42i6jacydtquhet7srwvgpizfg7gjbq7627d35mjomtu64",
        ),
        (UNIXFS_V0_2015, 262144, "chunk-v0-seed", "QmWmRj3dFDZdb6ABvbmKhEL6TmPbAfBZ1t5BxsEyJrcZhE"),
        (UNIXFS_V0_2015, 262145, "chunk-v0-seed", "QmYyLxtzZyW22zpoVAtKANLRHpDjZtNeDjQdJrcQNWoRkJ"),
        (UNIXFS_V0_2015, 174 * 262144, "v0-seed", "QmUbBALi174SnogsUzLpYbD4xPiBSFANF4iztWCsHbMKh2"),
        (
            UNIXFS_V0_2015,
            174 * 262144 + 1,
            "v0-seed",
            "QmV81WL765sC8DXsRhE5fJv2rwhS4icHRaf3J9Zk5FdRnW",
        ),
        # The IPIP text's "over max links" vector: 175 full chunks, a two-level DAG.
        (UNIXFS_V0_2015, 175 * 262144, "v0-seed", "QmepeWtdmS1hHXx1oZXsPUv6bMrfRRKfZcoPPU4eEfjnbf"),
    ],
)
def test_ipip499_deterministic_files(profile, size: int, seed: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    assert str(cid_of_bytes(deterministic_random(size, seed), profile).cid) == expected


def test_ipip499_v1_max_links_vectors() -> None:
    """1024 x 1 MiB (single level), 1024 x 1 MiB + 1 and 1025 MiB (two levels), one pass."""
    at, over, over_mib = (FileBuilder(UNIXFS_V1_2025) for _ in range(3))
    for index, piece in enumerate(deterministic_random(1025 * MiB, "v1-2025-seed")):
        if index < 1024:
            at.update(piece)
            over.update(piece)
        else:
            over.update(piece[:1])
        over_mib.update(piece)
    assert str(at.finish().cid) == "bafybeihmf37wcuvtx4hpu7he5zl5qaf2ineo2lqlfrapokkm5zzw7zyhvm"
    assert str(over.finish().cid) == "bafybeibdsi225ugbkmpbdohnxioyab6jsqrmkts3twhpvfnzp77xtzpyhe"
    assert (
        str(over_mib.finish().cid) == "bafybeihmzokxxjqwxjcryerhp5ezpcog2wcawfryb2xm64xiakgm4a5jue"
    )


def test_builder_is_independent_of_write_sizes() -> None:
    data = bytes(range(256)) * 9000  # 2.2 MiB
    whole = cid_of_bytes(data, UNIXFS_V1_2025)
    pieces = cid_of_bytes((data[i : i + 4097] for i in range(0, len(data), 4097)), UNIXFS_V1_2025)
    assert whole == pieces
    assert whole.filesize == len(data)


def test_balanced_layout_depth() -> None:
    """Three levels once leaves exceed max_links**2 (tiny profile to keep it fast)."""
    from dataclasses import replace

    tiny = replace(UNIXFS_V1_2025, name="tiny", chunk_size=4, max_links=3)
    blocks: dict[Cid, bytes] = {}
    root = FileBuilder(tiny, sink=lambda c, b: blocks.__setitem__(c, b))
    root.update(bytes(range(40)))  # 10 leaves > 3**2
    entry = root.finish()
    node = decode_pbnode(blocks[entry.cid])
    assert [
        decode_unixfs(decode_pbnode(blocks[link.cid]).data or b"").filesize for link in node.links
    ] == [36, 4]
    child = decode_pbnode(blocks[node.links[1].cid])
    grandchild = decode_pbnode(blocks[child.links[0].cid])
    assert grandchild.links[0].cid.codec == RAW  # the last leaf sits at the same depth


# IPIP-0499 / Kubo test/cli cid_profiles_test.go: directories of 1-byte "x" files whose names
# come from Kubo's deterministic generator, exactly at and one byte over the HAMT threshold.
HAMT_VECTORS = [
    (UNIXFS_V0_2015, 4096, 30, 30, "QmX5GtRk3TSSEHtdrykgqm4eqMEn3n2XhfkFAis5fjyZmN", False),
    (UNIXFS_V0_2015, 4033, 31, 31, "QmeMiJzmhpJAUgynAcxTQYek5PPKgdv3qEvFsdV3XpVnvP", True),
    (
        UNIXFS_V1_2025,
        4766,
        11,
        21,
        "bafybeic3h7rwruealwxkacabdy45jivq2crwz6bufb5ljwupn36gicplx4",
        False,
    ),
    (
        UNIXFS_V1_2025,
        4766,
        11,
        22,
        "bafybeiegvuterwurhdtkikfhbxcldohmxp566vpjdofhzmnhv6o4freidu",
        True,
    ),
]


@pytest.mark.parametrize(
    ("profile", "count", "length", "last", "expected", "sharded"),
    HAMT_VECTORS,
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else None,
)
def test_ipip499_hamt_threshold_vectors(  # type: ignore[no-untyped-def]
    profile, count: int, length: int, last: int, expected: str, sharded: bool
) -> None:
    seed = f"hamt-{profile.name}"
    names = deterministic_names(count, length, last, seed)
    assert len(set(names)) == count
    leaf = cid_of_bytes(b"x", profile)
    blocks: dict[Cid, bytes] = {}
    entry = build_directory(
        [(name, leaf) for name in names], profile, sink=lambda c, b: blocks.__setitem__(c, b)
    )
    assert str(entry.cid) == expected
    root = decode_unixfs(decode_pbnode(blocks[entry.cid]).data or b"")
    if sharded:
        assert root.type == UnixFSType.HAMT_SHARD
        assert (root.fanout, root.hash_type) == (256, 0x22)
        # Every shard block is at most fanout links; every name sits under its hash bucket.
        assert all(len(decode_pbnode(b).links) <= 256 for b in blocks.values())
    else:
        assert root.type == UnixFSType.DIRECTORY
        estimate = directory_size_estimate(decode_pbnode(blocks[entry.cid]).links, profile)
        assert estimate == profile.hamt_threshold  # exactly at the threshold stays basic


def test_hamt_helpers() -> None:
    assert link_prefix(10, 256) == "0A" and link_prefix(255, 256) == "FF"
    assert link_prefix(3, 16) == "3"
    assert decode_bitfield(encode_bitfield([0, 9, 255]), 256) == [0, 9, 255]
    assert encode_bitfield([0, 9]) == b"\x02\x01"  # big-endian, no leading zero bytes
    with pytest.raises(ValueError):
        decode_bitfield(b"\x01" + bytes(32), 256)  # a bit beyond the fanout
    h = murmur3_x64_64(b"name")
    assert [bucket(h, d, 256) for d in range(8)] == list(h.to_bytes(8, "big"))
    assert murmur3_x64_64(b"") == 0  # seed 0, no input: every step keeps zero


def test_hamt_structure_is_independent_of_entry_order() -> None:
    leaf = cid_of_bytes(b"x", UNIXFS_V1_2025)
    names = [f"entry-{i:04d}-" + "n" * 200 for i in range(1300)]
    forward = build_directory([(n, leaf) for n in names], UNIXFS_V1_2025)
    backward = build_directory([(n, leaf) for n in reversed(names)], UNIXFS_V1_2025)
    assert forward == backward
    small = build_directory([(n, leaf) for n in names[:10]], UNIXFS_V1_2025)
    assert small.cid != forward.cid


# -- dag-pb ----------------------------------------------------------------------------------


def test_pbnode_round_trip_and_strictness() -> None:
    link = PBLink(cid_of_bytes(b"a").cid, b"name", 1)
    node = PBNode((link,), encode_unixfs(UnixFSData(UnixFSType.DIRECTORY)))
    raw = encode_pbnode(node)
    assert decode_pbnode(raw) == node
    with pytest.raises(ValueError):
        decode_pbnode(raw[:-1])
    with pytest.raises(ValueError):
        decode_pbnode(raw[-4:] + raw[:-4])  # data before links


# -- CAR and DagWriter -------------------------------------------------------------------------


def _dag(data: bytes, profile=UNIXFS_V1_2025) -> tuple[Cid, list[tuple[Cid, bytes]]]:  # type: ignore[no-untyped-def]
    blocks: list[tuple[Cid, bytes]] = []
    builder = FileBuilder(profile, sink=lambda c, b: blocks.append((c, b)))
    builder.update(data)
    root = builder.finish().cid
    blocks.reverse()  # the builder emits children first; a CAR lists parents first
    return root, blocks


async def _frames(
    car: bytes, max_block: int = 2 * MiB
) -> tuple[list[Cid], list[tuple[Cid, bytes]]]:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(car), 1000):
            yield car[i : i + 1000]

    roots, frames = await read_car(ChunkReader(chunks()), max_block_size=max_block)
    return roots, [(c, bytes(b)) for c, b in [f async for f in frames]]


async def test_car_round_trip() -> None:
    root, blocks = _dag(bytes(3 * MiB + 7))
    roots, frames = await _frames(encode_car([root], blocks))
    assert roots == [root]
    assert frames == blocks


async def test_car_truncated_and_oversized_frames_raise() -> None:
    root, blocks = _dag(b"x" * (MiB + 1))
    car = encode_car([root], blocks)
    with pytest.raises(IntegrityError):
        await _frames(car[:-10])
    with pytest.raises(IntegrityError):
        await _frames(car, max_block=1000)


def _write(
    root: Cid, blocks: list[tuple[Cid, bytes]], target: Path, max_size: int = 1 << 40
) -> DagWriter:
    writer = DagWriter(root, target, max_size=max_size)
    try:
        for cid, block in blocks:
            writer.accept(cid, block)
        writer.finish()
    finally:
        writer.close()
    return writer


def test_writer_materialises_repeated_chunks(tmp_path: Path) -> None:
    data = bytes(MiB) * 3 + b"tail"  # three identical leaves: one block, written three times
    root, blocks = _dag(data)
    unique = list(dict(blocks).items())
    writer = _write(root, unique, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == data
    assert writer.blocks == 3


def test_writer_rejects_tampering(tmp_path: Path) -> None:
    root, blocks = _dag(bytes(range(256)) * 5000)
    cid, block = blocks[1]
    tampered = [
        *blocks[:1],
        (cid, block[:100] + bytes([block[100] ^ 1]) + block[101:]),
        *blocks[2:],
    ]
    with pytest.raises(IntegrityError, match="does not match"):
        _write(root, tampered, tmp_path / "a")


def test_writer_rejects_unreachable_and_missing_blocks(tmp_path: Path) -> None:
    root, blocks = _dag(bytes(range(256)) * 5000)
    stranger = (Cid.for_block(b"other", codec=RAW, version=1), b"other")
    with pytest.raises(IntegrityError, match="not reachable"):
        _write(root, [*blocks[:1], stranger], tmp_path / "b")
    with pytest.raises(IntegrityError, match="missing"):
        _write(root, blocks[:-1], tmp_path / "c")


def test_writer_checks_unixfs_sizes(tmp_path: Path) -> None:
    leaf = b"abc"
    leaf_cid = Cid.for_block(leaf, codec=RAW, version=1)
    lying = encode_pbnode(
        PBNode(
            (PBLink(leaf_cid, b"", 3),), encode_unixfs(UnixFSData(UnixFSType.FILE, None, 5, (5,)))
        )
    )
    root = Cid.for_block(lying, codec=DAG_PB, version=1)
    with pytest.raises(IntegrityError, match="announced"):
        _write(root, [(root, lying), (leaf_cid, leaf)], tmp_path / "d")


def test_writer_refuses_unsafe_names(tmp_path: Path) -> None:
    leaf = cid_of_bytes(b"x").cid
    node = encode_pbnode(
        PBNode((PBLink(leaf, b"..", 1),), encode_unixfs(UnixFSData(UnixFSType.DIRECTORY)))
    )
    root = Cid.for_block(node, codec=DAG_PB, version=1)
    with pytest.raises(IntegrityError, match="unsafe"):
        _write(root, [(root, node)], tmp_path / "e")


def test_writer_enforces_size_limit(tmp_path: Path) -> None:
    root, blocks = _dag(bytes(range(256)) * 5000)
    with pytest.raises(TooLarge):
        _write(root, blocks, tmp_path / "f", max_size=1000)


def _hamt_dag(count: int = 1300) -> tuple[Cid, list[tuple[Cid, bytes]], dict[str, bytes]]:
    """A sharded directory (blocks parents first) of small distinct files, and its files."""
    blocks: list[tuple[Cid, bytes]] = []

    def sink(cid: Cid, block: bytes) -> None:
        blocks.append((cid, block))

    files = {f"file-{i:04d}-" + "n" * 200: f"content {i}".encode() for i in range(count)}
    entries = []
    for name, data in files.items():
        builder = FileBuilder(UNIXFS_V1_2025, sink=sink)
        builder.update(data)
        entries.append((name, builder.finish()))
    root = build_directory(entries, UNIXFS_V1_2025, sink=sink).cid
    blocks.reverse()  # emitted children first; a DFS CAR lists parents first
    return root, blocks, files


def _is_shard(block: bytes) -> bool:
    node = decode_pbnode(block)
    return node.data is not None and decode_unixfs(node.data).type == UnixFSType.HAMT_SHARD


def test_writer_materialises_hamt_directory(tmp_path: Path) -> None:
    root, blocks, files = _hamt_dag()
    shards = [b for c, b in blocks if c.codec == DAG_PB and _is_shard(b)]
    assert len(shards) > 1  # a root shard and child shards
    writer = _write(root, blocks, tmp_path / "dir")
    assert writer.root_is_dir
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == sorted(files)
    for name in (min(files), max(files)):
        assert (tmp_path / "dir" / name).read_bytes() == files[name]


def test_writer_rejects_tampered_hamt_shard(tmp_path: Path) -> None:
    root, blocks, _ = _hamt_dag()
    index = next(i for i, (c, b) in enumerate(blocks) if i > 0 and _is_shard(b))
    cid, block = blocks[index]
    blocks[index] = (cid, block[:50] + bytes([block[50] ^ 1]) + block[51:])
    with pytest.raises(IntegrityError, match="does not match"):
        _write(root, blocks, tmp_path / "g")


def _reshard(block: bytes, edit) -> bytes:  # type: ignore[no-untyped-def]
    node = decode_pbnode(block)
    return encode_pbnode(PBNode(tuple(edit(list(node.links))), node.data))


def test_writer_rejects_names_outside_their_hash_bucket(tmp_path: Path) -> None:
    """A consistently re-hashed root shard whose entry claims another bucket's prefix."""
    root, blocks, _ = _hamt_dag(1300)
    root_block = dict(blocks)[root]

    def swap_names(links: list[PBLink]) -> list[PBLink]:
        # Two direct entries keep their bucket prefixes but trade names: each name is then
        # in a bucket its hash does not select.
        i, j = [k for k, link in enumerate(links) if len(link.name or b"") > 2][:2]
        a, b = links[i], links[j]
        links[i] = PBLink(a.cid, (a.name or b"")[:2] + (b.name or b"")[2:], a.tsize)
        links[j] = PBLink(b.cid, (b.name or b"")[:2] + (a.name or b"")[2:], b.tsize)
        return links

    forged = _reshard(root_block, swap_names)
    forged_root = Cid.for_block(forged, codec=DAG_PB, version=1)
    rest = [(c, b) for c, b in blocks if c != root]
    with pytest.raises(IntegrityError, match="not in its hash bucket"):
        _write(forged_root, [(forged_root, forged), *rest], tmp_path / "h")

    def drop_link(links: list[PBLink]) -> list[PBLink]:
        return links[1:]  # the bitfield still announces the dropped bucket

    forged = _reshard(root_block, drop_link)
    forged_root = Cid.for_block(forged, codec=DAG_PB, version=1)
    with pytest.raises(IntegrityError, match="buckets set"):
        _write(forged_root, [(forged_root, forged), *rest], tmp_path / "i")


# -- file writer and raw HTTP head parsing ---------------------------------------------------


def test_background_file_io_writes_in_order_and_merges(tmp_path: Path) -> None:
    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    io = BackgroundFileIO(max_pending=1 << 20)
    pieces = [bytes([i]) * 1000 for i in range(50)]
    for i, piece in enumerate(pieces):  # contiguous: merged into pwritev batches
        io.pwrite(fd, piece, i * 1000)
    io.pwrite(fd, b"later", 100_000)  # a gap: its own write
    io.pwrite(fd, b"X", 0)  # rewrites the first byte after the batch, in order
    io.close(fd)
    io.flush()
    data = path.read_bytes()
    assert data[:50_000] == b"X" + b"".join(pieces)[1:]
    assert data[100_000:] == b"later" and data[50_000:100_000] == bytes(50_000)
    with pytest.raises(OSError):
        os.fstat(fd)  # closed by the writer thread


def test_background_file_io_reports_errors_and_aborts(tmp_path: Path) -> None:
    io = BackgroundFileIO(max_pending=10)
    io.pwrite(987_654, b"bad fd", 0)  # EBADF in the writer thread
    with pytest.raises(OSError):
        io.flush()
    fd = os.open(tmp_path / "g", os.O_WRONLY | os.O_CREAT)
    io2 = BackgroundFileIO(max_pending=10)
    io2.pwrite(fd, b"0123456789abc", 0)
    assert not io2.has_room()  # 13 bytes pending > 10
    io2.wait_room()
    assert io2.has_room()
    io2.close(fd)
    io2.abort()
    with pytest.raises(OSError):
        os.fstat(fd)  # queued closes still happen on abort


def test_pwrite_all_resumes_after_short_writes(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    real = os.pwritev

    def short(fd: int, buffers: list[memoryview], offset: int) -> int:
        return real(fd, [buffers[0][: max(1, len(buffers[0]) // 2)]], offset)

    monkeypatch.setattr(os, "pwritev", short)
    fd = os.open(tmp_path / "s", os.O_WRONLY | os.O_CREAT)
    try:
        pwrite_all(fd, [b"abcdef", b"ghij", b"", b"klmnop"], 3)
    finally:
        os.close(fd)
    assert (tmp_path / "s").read_bytes() == bytes(3) + b"abcdefghijklmnop"


def test_parse_head() -> None:
    status, headers = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A:  b ")
    assert status == 200 and headers == {"content-length": "12", "x-a": "b"}
    with pytest.raises(RawHttpUnsupported):
        parse_head(b"SPDY/3 200 OK")
    with pytest.raises(RawHttpUnsupported):
        parse_head(b"HTTP/1.1 200 OK\r\nno colon here")
