"""Local UnixFS DAG construction: the CID Kubo would give a file or directory under a profile.

Files use fixed-size chunking and the ``balanced`` layout of boxo's importer; directories are
basic UnixFS directories with links sorted by name, or HAMT-sharded directories (``_hamt``)
once their estimated size exceeds the profile's threshold. Everything streams: a file
builder holds one chunk plus at most ``max_links`` pending links per tree level.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._cid import DAG_PB, RAW, Cid
from ._dagpb import (
    PBLink,
    PBNode,
    UnixFSData,
    UnixFSType,
    encode_pbnode,
    encode_unixfs,
    pblink_size,
)
from ._errors import IpfsStoreError, UnsupportedContent
from ._hamt import ShardEntry, build_hamt
from ._profile import UNIXFS_V1_2025, ImportProfile

BlockSink = Callable[[Cid, bytes], None]
_READ_SIZE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class DagEntry:
    """A built (sub-)DAG: its CID, the bytes of all its blocks (Tsize) and its content size."""

    cid: Cid
    tsize: int
    filesize: int


class FileBuilder:
    """Feed bytes, then ``finish()`` for the root. Blocks go to ``sink`` if one is given."""

    def __init__(self, profile: ImportProfile = UNIXFS_V1_2025, sink: BlockSink | None = None):
        self._profile = profile
        self._sink = sink
        self._buf = bytearray()
        self._levels: list[list[DagEntry]] = [[]]
        self._leaves = 0
        self._done = False

    def _emit(self, data: bytes, codec: int) -> Cid:
        cid = Cid.for_block(data, codec=codec, version=self._profile.cid_version)
        if self._sink is not None:
            self._sink(cid, data)
        return cid

    def _leaf(self, chunk: bytes) -> DagEntry:
        if self._profile.raw_leaves:
            return DagEntry(self._emit(chunk, RAW), len(chunk), len(chunk))
        # dag-pb leaves are UnixFS File nodes carrying the chunk (not the legacy Raw type).
        unixfs = encode_unixfs(UnixFSData(UnixFSType.FILE, chunk, len(chunk)))
        block = encode_pbnode(PBNode((), unixfs))
        return DagEntry(self._emit(block, DAG_PB), len(block), len(chunk))

    def _node(self, children: list[DagEntry]) -> DagEntry:
        filesize = sum(c.filesize for c in children)
        unixfs = encode_unixfs(
            UnixFSData(UnixFSType.FILE, None, filesize, tuple(c.filesize for c in children))
        )
        links = tuple(PBLink(c.cid, b"", c.tsize) for c in children)
        block = encode_pbnode(PBNode(links, unixfs))
        cid = self._emit(block, DAG_PB)
        return DagEntry(cid, len(block) + sum(c.tsize for c in children), filesize)

    def _push(self, level: int, entry: DagEntry) -> None:
        if level == len(self._levels):
            self._levels.append([])
        pending = self._levels[level]
        if len(pending) == self._profile.max_links:
            self._levels[level] = []
            self._push(level + 1, self._node(pending))
            pending = self._levels[level]
        pending.append(entry)

    def _add_leaf(self, chunk: bytes) -> None:
        entry = self._leaf(chunk)
        self._leaves += 1
        self._push(0, entry)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self._done:
            raise RuntimeError("FileBuilder already finished")
        size = self._profile.chunk_size
        view = memoryview(data)
        if self._buf:
            take = min(size - len(self._buf), len(view))
            self._buf += view[:take]
            view = view[take:]
            if len(self._buf) < size or not view:
                return
            chunk = bytes(self._buf)
            self._buf.clear()
            self._add_leaf(chunk)
        # A full chunk is only cut once more data follows, so the last chunk is known at finish.
        while len(view) > size:
            self._add_leaf(bytes(view[:size]))
            view = view[size:]
        self._buf += view

    def finish(self) -> DagEntry:
        if self._done:
            raise RuntimeError("FileBuilder already finished")
        self._done = True
        if self._buf or self._leaves == 0:
            self._add_leaf(bytes(self._buf))
            self._buf.clear()
        if self._leaves == 1:
            return self._levels[0][0]
        # Depth of the balanced tree: the smallest d with max_links**d >= leaves.
        depth, capacity = 0, 1
        while capacity < self._leaves:
            depth += 1
            capacity *= self._profile.max_links
        for level in range(depth):
            pending = self._levels[level]
            if pending:
                self._levels[level] = []
                self._push(level + 1, self._node(pending))
        return self._levels[depth][0]


def directory_size_estimate(
    links: Sequence[PBLink], profile: ImportProfile = UNIXFS_V1_2025
) -> int:
    """The size boxo compares with the HAMT threshold for a basic directory of ``links``.

    ``links`` (legacy, ``unixfs-v0-2015``): the sum of name and binary CID lengths.
    ``block`` (``unixfs-v1-2025``): the serialized dag-pb block size.
    """
    if profile.hamt_estimation == "links":
        return sum(len(link.name or b"") + len(link.cid.to_bytes()) for link in links)
    unixfs = encode_unixfs(UnixFSData(UnixFSType.DIRECTORY))
    return sum(
        pblink_size(len(link.cid.to_bytes()), len(link.name or b""), link.tsize or 0)
        for link in links
    ) + len(encode_pbnode(PBNode((), unixfs)))


def build_directory(
    entries: Iterable[tuple[str, DagEntry]],
    profile: ImportProfile = UNIXFS_V1_2025,
    sink: BlockSink | None = None,
) -> DagEntry:
    """A UnixFS directory over named children, as Kubo builds it under ``profile``.

    A basic directory (links sorted by their UTF-8 name bytes) while its estimated size is at
    most ``profile.hamt_threshold``; a HAMT-sharded directory once it exceeds it.
    """
    named = sorted(((name.encode("utf-8"), entry) for name, entry in entries), key=lambda e: e[0])
    links = tuple(PBLink(entry.cid, name, entry.tsize) for name, entry in named)
    if directory_size_estimate(links, profile) > profile.hamt_threshold:
        shard = build_hamt(
            [ShardEntry(name, entry.cid, entry.tsize) for name, entry in named],
            fanout=profile.hamt_fanout,
            cid_version=profile.cid_version,
            emit=sink,
        )
        return DagEntry(shard.cid, shard.tsize, 0)
    block = encode_pbnode(PBNode(links, encode_unixfs(UnixFSData(UnixFSType.DIRECTORY))))
    cid = Cid.for_block(block, codec=DAG_PB, version=profile.cid_version)
    if sink is not None:
        sink(cid, block)
    return DagEntry(cid, len(block) + sum(link.tsize or 0 for link in links), 0)


def cid_of_bytes(
    data: bytes | Iterable[bytes], profile: ImportProfile = UNIXFS_V1_2025
) -> DagEntry:
    """The UnixFS file DAG root for some bytes (or an iterable of byte chunks)."""
    builder = FileBuilder(profile)
    if isinstance(data, bytes | bytearray | memoryview):
        builder.update(data)
    else:
        for piece in data:
            builder.update(piece)
    return builder.finish()


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """One entry of a file tree to import: a path relative to the root, and its kind."""

    relpath: str
    path: Path
    is_dir: bool
    size: int


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def walk_tree(
    root: Path, profile: ImportProfile = UNIXFS_V1_2025, *, follow_symlinks: bool = False
) -> Iterator[TreeEntry]:
    """Depth-first, parents before children, names sorted: what ``add`` uploads.

    Hidden entries (dot files) are skipped unless the profile includes them. Symbolic links
    are followed with ``follow_symlinks`` and refused otherwise (UnixFS symlinks are not
    supported).
    """
    root = Path(root)
    st = root.stat() if follow_symlinks else root.lstat()
    if stat.S_ISLNK(st.st_mode):
        raise UnsupportedContent(f"{root} is a symbolic link (pass follow_symlinks=True)")
    if stat.S_ISREG(st.st_mode):
        yield TreeEntry(root.name, root, False, st.st_size)
        return
    if not stat.S_ISDIR(st.st_mode):
        raise UnsupportedContent(f"{root} is neither a regular file nor a directory")

    def walk(directory: Path, rel: str) -> Iterator[TreeEntry]:
        yield TreeEntry(rel, directory, True, 0)
        with os.scandir(directory) as it:
            children = sorted(it, key=lambda e: e.name.encode("utf-8", "surrogateescape"))
        for child in children:
            if _is_hidden(child.name) and not profile.include_hidden:
                continue
            path = Path(child.path)
            child_rel = f"{rel}/{child.name}"
            if child.is_symlink() and not follow_symlinks:
                raise UnsupportedContent(f"{path} is a symbolic link (pass follow_symlinks=True)")
            if child.is_dir(follow_symlinks=follow_symlinks):
                yield from walk(path, child_rel)
            elif child.is_file(follow_symlinks=follow_symlinks):
                yield TreeEntry(child_rel, path, False, child.stat().st_size)
            else:
                raise UnsupportedContent(f"{path} is neither a regular file nor a directory")

    yield from walk(root, root.name)


def _file_entry(path: Path, profile: ImportProfile, sink: BlockSink | None) -> DagEntry:
    builder = FileBuilder(profile, sink)
    buf = bytearray(_READ_SIZE)
    view = memoryview(buf)
    with open(path, "rb") as fh:
        while n := fh.readinto(buf):
            builder.update(view[:n])
    return builder.finish()


def cid_of_path(
    path: str | os.PathLike[str],
    profile: ImportProfile = UNIXFS_V1_2025,
    *,
    follow_symlinks: bool = False,
    sink: BlockSink | None = None,
) -> DagEntry:
    """The CID Kubo gives ``path`` (a file, or a directory tree) when added with ``profile``.

    Blocking (reads every byte); from async code run it with ``asyncio.to_thread``.
    """
    root = Path(path)
    if not root.exists():
        raise IpfsStoreError(f"{root} does not exist")
    # Directory entries in walk order; a stack of (relpath, children) for open directories.
    stack: list[tuple[str, list[tuple[str, DagEntry]]]] = []
    result: DagEntry | None = None

    def close_until(rel: str | None) -> None:
        nonlocal result
        while stack and (rel is None or not rel.startswith(stack[-1][0] + "/")):
            dir_rel, children = stack.pop()
            entry = build_directory(children, profile, sink)
            if stack:
                stack[-1][1].append((dir_rel.rsplit("/", 1)[-1], entry))
            else:
                result = entry

    for item in walk_tree(root, profile, follow_symlinks=follow_symlinks):
        close_until(item.relpath)
        if item.is_dir:
            stack.append((item.relpath, []))
            continue
        entry = _file_entry(item.path, profile, sink)
        if not stack:
            return entry
        stack[-1][1].append((item.relpath.rsplit("/", 1)[-1], entry))
    close_until(None)
    assert result is not None
    return result
