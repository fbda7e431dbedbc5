"""Verified materialisation of a UnixFS DAG from a stream of blocks.

``DagWriter`` receives ``(cid, block)`` pairs in any parent-before-child order (a DFS CAR from
``dag/export`` or a trustless gateway) and:

* refuses a block nobody asked for: only the root and CIDs linked from already verified
  blocks are accepted, so everything written is reachable from the requested root;
* checks every block against its multihash before using it;
* checks UnixFS sizes (a node's ``filesize`` equals its inline data plus its children's
  ``blocksizes``; every child delivers exactly the bytes its parent promised);
* writes file bytes straight to their final offsets in files under a staging path, so memory
  stays at one block no matter the file size;
* at the end, refuses a DAG with blocks still missing.

It is synchronous. The async client calls ``accept`` on its event loop thread (hashing a
block of at most 2 MiB takes about a millisecond) with a ``BackgroundFileIO``, so the disk
writes run in a writer thread behind a bounded backlog.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ._cid import DAG_PB, RAW, Cid
from ._dagpb import PBNode, UnixFSData, UnixFSType, decode_pbnode, decode_unixfs
from ._errors import IntegrityError, TooLarge, UnsupportedContent
from ._fileio import BackgroundFileIO, SyncFileIO
from ._hamt import (
    MAX_FANOUT,
    MURMUR3_X64_64,
    bucket,
    decode_bitfield,
    link_prefix,
    max_depth,
    murmur3_x64_64,
    prefix_width,
)

MAX_ENTRIES = 1_000_000


@dataclass(slots=True)
class _OpenFile:
    path: Path
    fd: int | None
    remaining: int


@dataclass(frozen=True, slots=True)
class _Entry:
    """The CID becomes a file or directory at ``path``."""

    path: Path


@dataclass(frozen=True, slots=True)
class _Span:
    """The CID supplies ``size`` bytes of ``file`` starting at ``offset``."""

    file: _OpenFile
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class _ShardPart:
    """The CID is a non-root shard of the HAMT directory at ``path``, reached through the
    buckets ``route`` (one per level above it)."""

    path: Path
    fanout: int
    route: tuple[int, ...]


_Placement = _Entry | _Span | _ShardPart


def _check_name(raw: bytes | None) -> str:
    if not raw:
        raise IntegrityError("directory entry without a name")
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntegrityError(f"directory entry name is not UTF-8: {raw!r}") from exc
    if name in (".", "..") or "/" in name or "\0" in name or "\\" in name:
        raise IntegrityError(f"unsafe directory entry name {name!r}")
    return name


class DagWriter:
    """Materialise the DAG under ``root`` at ``target`` (which must not exist yet)."""

    def __init__(
        self,
        root: Cid,
        target: Path,
        *,
        max_size: int,
        io: SyncFileIO | BackgroundFileIO | None = None,
    ):
        self.root = root
        # Where file writes and closes go: at once by default, or to a writer thread.
        self.io = io or SyncFileIO()
        self.target = target
        self.max_size = max_size
        self.declared = 0  # bytes of file content announced by verified nodes
        self.written = 0  # bytes of file content written
        self.blocks = 0
        self.root_is_dir: bool | None = None
        self._pending: dict[Cid, list[_Placement]] = {root: [_Entry(target)]}
        self._done: set[Cid] = set()
        # Where the content bytes of data-carrying blocks were written, for repeated references.
        self._content_at: dict[Cid, tuple[Path, int, int]] = {}
        # Verified interior nodes (directories, file nodes with links), to expand repeated
        # references; leaves are re-read from where their bytes were written instead.
        self._nodes: dict[Cid, tuple[PBNode, UnixFSData]] = {}
        self._open: list[_OpenFile] = []
        self._entries = 0

    # -- public ------------------------------------------------------------------------------

    def accept(self, cid: Cid, data: bytes | bytearray | memoryview) -> None:
        if cid in self._done:
            # A repeated frame (a CAR with duplicates): harmless once it hashes right.
            if not cid.matches(data):
                raise IntegrityError(f"block {cid} does not match its CID")
            return
        placements = self._pending.pop(cid, None)
        if placements is None:
            raise IntegrityError(f"block {cid} is not reachable from {self.root} (or out of order)")
        if not cid.matches(data):
            raise IntegrityError(f"block {cid} does not match its CID")
        self._done.add(cid)
        self.blocks += 1
        if cid.codec == RAW:
            for placement in placements:
                self._place_content(cid, data, placement)
        elif cid.codec == DAG_PB:
            node, unixfs = self._decode(cid, bytes(data))
            if unixfs.type in (UnixFSType.FILE, UnixFSType.RAW) and not node.links:
                for placement in placements:
                    self._place_content(cid, unixfs.data or b"", placement, unixfs)
                return
            self._nodes[cid] = (node, unixfs)
            for placement in placements:
                self._place_node(cid, node, unixfs, placement)
        else:
            raise UnsupportedContent(f"block {cid} has codec {cid.codec_name}, not raw or dag-pb")

    def received(self, cid: Cid) -> bool:
        """Whether ``cid`` arrived and was verified."""
        return cid in self._done

    def wants(self, cid: Cid) -> bool:
        """Whether ``cid`` is still expected (linked from a verified block, not yet received)."""
        return cid in self._pending

    @property
    def missing(self) -> int:
        return len(self._pending)

    def finish(self) -> None:
        if self._pending:
            example = next(iter(self._pending))
            raise IntegrityError(
                f"stream ended with {len(self._pending)} block(s) of {self.root} missing "
                f"(e.g. {example})"
            )
        unfinished = [f for f in self._open if f.remaining]
        if unfinished:  # cannot happen once all blocks arrived; kept as a last line of defence
            raise IntegrityError(f"{unfinished[0].path} is incomplete")
        self.io.flush()  # every write done (or its error raised) before the rename
        self.close()

    def close(self) -> None:
        """Release every file descriptor; queued writes not yet done are dropped."""
        self.io.abort()
        for f in self._open:
            if f.fd is not None:
                os.close(f.fd)
                f.fd = None
        self._open.clear()

    # -- internals ---------------------------------------------------------------------------

    def _decode(self, cid: Cid, data: bytes) -> tuple[PBNode, UnixFSData]:
        try:
            node = decode_pbnode(data)
            if node.data is None:
                raise ValueError("dag-pb node without UnixFS data")
            return node, decode_unixfs(node.data)
        except ValueError as exc:
            raise IntegrityError(f"block {cid} is not valid dag-pb/UnixFS: {exc}") from exc

    def _schedule(self, cid: Cid, placement: _Placement) -> None:
        if cid.codec not in (RAW, DAG_PB):
            raise UnsupportedContent(f"link to {cid} with codec {cid.codec_name}")
        if cid not in self._done:
            self._pending.setdefault(cid, []).append(placement)
        elif cid in self._nodes:
            node, unixfs = self._nodes[cid]
            self._place_node(cid, node, unixfs, placement)
        else:
            path, offset, size = self._content_at[cid]
            self.io.flush()  # the bytes to re-read may still be queued
            fd = os.open(path, os.O_RDONLY)
            try:
                content = os.pread(fd, size, offset)
            finally:
                os.close(fd)
            if len(content) != size:
                raise IntegrityError(f"could not re-read {size} bytes of {cid} from {path}")
            self._place_content(cid, content, placement)

    def _new_file(self, path: Path, size: int) -> _OpenFile:
        self._count_entry()
        self._declare(size)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        f = _OpenFile(path, fd, size)
        self._open.append(f)
        if self.root_is_dir is None:
            self.root_is_dir = False
        self._maybe_close(f)
        return f

    def _count_entry(self) -> None:
        self._entries += 1
        if self._entries > MAX_ENTRIES:
            raise TooLarge(f"more than {MAX_ENTRIES} files and directories")

    def _declare(self, size: int) -> None:
        self.declared += size
        if self.declared > self.max_size:
            raise TooLarge(f"{self.root} holds more than the {self.max_size}-byte limit")

    def _maybe_close(self, f: _OpenFile) -> None:
        if f.remaining == 0 and f.fd is not None:
            self.io.close(f.fd)
            f.fd = None

    def _write(self, span: _Span, data: bytes | bytearray | memoryview) -> None:
        f = span.file
        if not data:
            return
        if f.fd is None:
            raise IntegrityError(f"more data than announced for {f.path}")
        self.io.pwrite(f.fd, data, span.offset)
        f.remaining -= len(data)
        self.written += len(data)
        self._maybe_close(f)

    def _place_content(
        self,
        cid: Cid,
        content: bytes | bytearray | memoryview,
        placement: _Placement,
        unixfs: UnixFSData | None = None,
    ) -> None:
        """A leaf: a raw block, or a dag-pb File/Raw node without links."""
        if isinstance(placement, _ShardPart):
            raise IntegrityError(
                f"file {cid} linked where a HAMT shard of {placement.path} belongs"
            )
        if unixfs is not None and unixfs.filesize is not None and unixfs.filesize != len(content):
            raise IntegrityError(
                f"block {cid} announces {unixfs.filesize} bytes but carries {len(content)}"
            )
        if isinstance(placement, _Entry):
            f = self._new_file(placement.path, len(content))
            span = _Span(f, 0, len(content))
        else:
            span = placement
            if span.size != len(content):
                raise IntegrityError(
                    f"block {cid} carries {len(content)} bytes where its parent announced {span.size}"
                )
        self._write(span, content)
        self._content_at.setdefault(cid, (span.file.path, span.offset, len(content)))

    def _place_node(
        self, cid: Cid, node: PBNode, unixfs: UnixFSData, placement: _Placement
    ) -> None:
        kind = unixfs.type
        if kind == UnixFSType.HAMT_SHARD:
            self._place_shard(cid, node, unixfs, placement)
            return
        if isinstance(placement, _ShardPart):
            raise IntegrityError(
                f"{kind.name.lower()} node {cid} linked where a HAMT shard of {placement.path} belongs"
            )
        if kind == UnixFSType.DIRECTORY:
            if not isinstance(placement, _Entry):
                raise IntegrityError(f"directory {cid} linked from inside a file")
            self._count_entry()
            os.mkdir(placement.path)
            if self.root_is_dir is None:
                self.root_is_dir = True
            seen: set[str] = set()
            for link in node.links:
                name = _check_name(link.name)
                if name in seen:
                    raise IntegrityError(f"directory {cid} names {name!r} twice")
                seen.add(name)
                self._schedule(link.cid, _Entry(placement.path / name))
            return
        if kind in (UnixFSType.FILE, UnixFSType.RAW):
            content = unixfs.data or b""
            sizes = unixfs.blocksizes
            if len(sizes) != len(node.links):
                raise IntegrityError(
                    f"file node {cid} has {len(node.links)} links but {len(sizes)} blocksizes"
                )
            total = len(content) + sum(sizes)
            if unixfs.filesize is not None and unixfs.filesize != total:
                raise IntegrityError(
                    f"file node {cid} announces {unixfs.filesize} bytes but its parts sum to {total}"
                )
            if isinstance(placement, _Entry):
                f = self._new_file(placement.path, total)
                span = _Span(f, 0, total)
            else:
                span = placement
                if span.size != total:
                    raise IntegrityError(
                        f"file node {cid} holds {total} bytes where its parent announced {span.size}"
                    )
            offset = span.offset
            if content:
                self._write(_Span(span.file, offset, len(content)), content)
                offset += len(content)
            for link, size in zip(node.links, sizes, strict=True):
                self._schedule(link.cid, _Span(span.file, offset, size))
                offset += size
            return
        raise UnsupportedContent(f"{cid} is a UnixFS {kind.name.lower()} node (not supported)")

    def _place_shard(
        self, cid: Cid, node: PBNode, unixfs: UnixFSData, placement: _Placement
    ) -> None:
        """A HAMT shard: check its header, bitfield, link names and every name's bucket."""
        if isinstance(placement, _Span):
            raise IntegrityError(f"HAMT shard {cid} linked from inside a file")
        if unixfs.hash_type != MURMUR3_X64_64:
            raise UnsupportedContent(f"HAMT shard {cid} uses hash function {unixfs.hash_type}")
        fanout = unixfs.fanout
        if fanout is None or fanout < 2 or fanout > MAX_FANOUT or fanout & (fanout - 1):
            raise IntegrityError(f"HAMT shard {cid} has an invalid fanout {fanout}")
        if isinstance(placement, _ShardPart):
            if fanout != placement.fanout:
                raise IntegrityError(
                    f"HAMT shard {cid} has fanout {fanout} under a shard of fanout "
                    f"{placement.fanout}"
                )
            path, route = placement.path, placement.route
        else:
            self._count_entry()
            os.mkdir(placement.path)
            if self.root_is_dir is None:
                self.root_is_dir = True
            path, route = placement.path, ()
        try:
            indices = decode_bitfield(unixfs.data or b"", fanout)
        except ValueError as exc:
            raise IntegrityError(f"HAMT shard {cid}: {exc}") from exc
        if len(indices) != len(node.links):
            raise IntegrityError(
                f"HAMT shard {cid} has {len(node.links)} links but {len(indices)} buckets set"
            )
        width = prefix_width(fanout)
        depth = len(route)
        for link, index in zip(node.links, indices, strict=True):
            raw = link.name or b""
            if raw[:width] != link_prefix(index, fanout).encode("ascii"):
                raise IntegrityError(
                    f"HAMT shard {cid}: link {raw[:64]!r} is not in bucket "
                    f"{link_prefix(index, fanout)}"
                )
            here = (*route, index)
            if len(raw) == width:  # a child shard
                if depth + 1 >= max_depth(fanout):
                    raise IntegrityError(f"HAMT shard {cid} nests deeper than its hash allows")
                self._schedule(link.cid, _ShardPart(path, fanout, here))
                continue
            name = _check_name(raw[width:])
            name_hash = murmur3_x64_64(raw[width:])
            if any(bucket(name_hash, d, fanout) != i for d, i in enumerate(here)):
                raise IntegrityError(f"HAMT shard {cid}: {name!r} is not in its hash bucket")
            self._schedule(link.cid, _Entry(path / name))
