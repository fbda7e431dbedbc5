"""UnixFS HAMT-sharded directories (``HAMTShard`` nodes), as boxo builds and reads them.

Pure functions: the murmur3 hash of entry names, the bucket index of a name at a depth, the
link-name prefixes, and the construction of a whole sharded directory from its entries.

A shard is a dag-pb node whose UnixFS data is ``HAMTShard`` with ``hashType`` murmur3-x64-64
(``0x22``), ``fanout`` (256 in both IPIP-0499 profiles) and, as ``Data``, a bitfield of the
occupied buckets (bit ``i`` set for bucket ``i``; a big-endian integer without leading zero
bytes). Its links, in bucket order, are named with the bucket index in upper-case hex padded to
the width of ``fanout - 1``: the prefix alone for a child shard, prefix + name for an entry.
The bucket of a name at depth ``d`` is bits ``[d*w, (d+1)*w)`` (most significant first) of the
64-bit hash, ``w = log2(fanout)``. A bucket holding one name links that entry; one holding
several links a child shard over them, one level deeper.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._cid import DAG_PB, Cid
from ._dagpb import PBLink, PBNode, UnixFSData, UnixFSType, encode_pbnode, encode_unixfs
from ._errors import IpfsStoreError, UnsupportedContent

MURMUR3_X64_64 = 0x22
HASH_BITS = 64
MAX_FANOUT = 1024

_MASK = (1 << 64) - 1
_C1 = 0x87C37B91114253D5
_C2 = 0x4CF5AD432745937F


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _MASK


def _fmix(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _MASK
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _MASK
    return k ^ (k >> 33)


def murmur3_x64_64(data: bytes) -> int:
    """The first 64 bits (h1) of MurmurHash3 x64_128 with seed 0: boxo's HAMT hash."""
    h1 = h2 = 0
    n = len(data)
    end = n - n % 16
    for pos in range(0, end, 16):
        k1 = int.from_bytes(data[pos : pos + 8], "little")
        k2 = int.from_bytes(data[pos + 8 : pos + 16], "little")
        h1 ^= (_rotl((k1 * _C1) & _MASK, 31) * _C2) & _MASK
        h1 = (_rotl(h1, 27) + h2) & _MASK
        h1 = (h1 * 5 + 0x52DCE729) & _MASK
        h2 ^= (_rotl((k2 * _C2) & _MASK, 33) * _C1) & _MASK
        h2 = (_rotl(h2, 31) + h1) & _MASK
        h2 = (h2 * 5 + 0x38495AB5) & _MASK
    tail = data[end:]
    if len(tail) > 8:
        k2 = int.from_bytes(tail[8:], "little")
        h2 ^= (_rotl((k2 * _C2) & _MASK, 33) * _C1) & _MASK
    if tail:
        k1 = int.from_bytes(tail[:8], "little")
        h1 ^= (_rotl((k1 * _C1) & _MASK, 31) * _C2) & _MASK
    h1 ^= n
    h2 ^= n
    h1 = (h1 + h2) & _MASK
    h2 = (h2 + h1) & _MASK
    h1 = _fmix(h1)
    h2 = _fmix(h2)
    return (h1 + h2) & _MASK


def fanout_bits(fanout: int) -> int:
    """log2(fanout); raises ValueError unless fanout is a power of two in [2, MAX_FANOUT]."""
    if fanout < 2 or fanout > MAX_FANOUT or fanout & (fanout - 1):
        raise ValueError(f"HAMT fanout {fanout} is not a power of two in [2, {MAX_FANOUT}]")
    return fanout.bit_length() - 1


def prefix_width(fanout: int) -> int:
    """Characters of the hex bucket prefix of link names (2 for fanout 256)."""
    return len(f"{fanout - 1:X}")


def link_prefix(index: int, fanout: int) -> str:
    return f"{index:0{prefix_width(fanout)}X}"


def max_depth(fanout: int) -> int:
    """Shard levels the 64-bit hash can address (8 for fanout 256)."""
    return HASH_BITS // fanout_bits(fanout)


def bucket(name_hash: int, depth: int, fanout: int) -> int:
    """The bucket of a name (by its murmur3 hash) in a shard at ``depth`` (the root is 0)."""
    bits = fanout_bits(fanout)
    if depth < 0 or depth >= max_depth(fanout):
        raise ValueError(f"HAMT depth {depth} exceeds the {HASH_BITS}-bit hash")
    shift = HASH_BITS - (depth + 1) * bits
    return (name_hash >> shift) & (fanout - 1)


def encode_bitfield(indices: Sequence[int]) -> bytes:
    value = 0
    for index in indices:
        value |= 1 << index
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def decode_bitfield(data: bytes, fanout: int) -> list[int]:
    """Set bucket indices, ascending; ValueError for a bit at or beyond ``fanout``."""
    value = int.from_bytes(data, "big")
    if value >> fanout:
        raise ValueError(f"HAMT bitfield has bits beyond the fanout {fanout}")
    return [i for i in range(fanout) if value >> i & 1]


def shard_data(indices: Sequence[int], fanout: int) -> bytes:
    """The UnixFS ``Data`` of a shard whose occupied buckets are ``indices``."""
    return encode_unixfs(
        UnixFSData(
            UnixFSType.HAMT_SHARD,
            encode_bitfield(indices),
            hash_type=MURMUR3_X64_64,
            fanout=fanout,
        )
    )


@dataclass(frozen=True, slots=True)
class ShardEntry:
    """A named directory entry to place in a sharded directory."""

    name: bytes
    cid: Cid
    tsize: int


@dataclass(frozen=True, slots=True)
class BuiltShard:
    cid: Cid
    tsize: int  # this block plus every block below it
    block: bytes


def build_hamt(
    entries: Sequence[ShardEntry],
    *,
    fanout: int,
    cid_version: int,
    emit: Callable[[Cid, bytes], None] | None = None,
) -> BuiltShard:
    """The root shard of a HAMT directory over ``entries`` (names must be unique).

    ``emit``, if given, is called as ``emit(cid, block)`` for every shard block, children
    first. The structure is the one repeated insertions into boxo's HAMT produce: it depends
    only on the set of names, not on their order.
    """
    fanout_bits(fanout)
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise IpfsStoreError("duplicate names in a directory")
    hashed = [(murmur3_x64_64(e.name), e) for e in entries]

    def shard(items: list[tuple[int, ShardEntry]], depth: int) -> BuiltShard:
        if depth >= max_depth(fanout):
            raise UnsupportedContent(
                f"{len(items)} names share a {HASH_BITS}-bit HAMT hash: cannot shard them"
            )
        buckets: dict[int, list[tuple[int, ShardEntry]]] = {}
        for item in items:
            buckets.setdefault(bucket(item[0], depth, fanout), []).append(item)
        links: list[PBLink] = []
        children_tsize = 0
        for index in sorted(buckets):
            prefix = link_prefix(index, fanout).encode("ascii")
            group = buckets[index]
            if len(group) == 1:
                entry = group[0][1]
                links.append(PBLink(entry.cid, prefix + entry.name, entry.tsize))
                children_tsize += entry.tsize
            else:
                child = shard(group, depth + 1)
                links.append(PBLink(child.cid, prefix, child.tsize))
                children_tsize += child.tsize
        block = encode_pbnode(PBNode(tuple(links), shard_data(sorted(buckets), fanout)))
        cid = Cid.for_block(block, codec=DAG_PB, version=cid_version)
        if emit is not None:
            emit(cid, block)
        return BuiltShard(cid, len(block) + children_tsize, block)

    return shard(hashed, 0)
