"""Pure logic, no server: CIDs, codecs, the importer against IPIP-0499 vectors, CAR, DagWriter."""

from __future__ import annotations

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
    UnsupportedContent,
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
from ipfs_store._importer import build_directory
from ipfs_store._verify import DagWriter

from ._data import MiB, deterministic_random

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


def test_hamt_sized_directory_is_refused() -> None:
    leaf = cid_of_bytes(b"x", UNIXFS_V1_2025)
    entries = [(f"{i:011d}", leaf) for i in range(5000)]
    with pytest.raises(UnsupportedContent):
        build_directory(entries, UNIXFS_V1_2025)


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
    async def chunks():  # type: ignore[no-untyped-def]
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
