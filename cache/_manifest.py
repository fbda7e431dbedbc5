"""Tier-2 layout: chunk manifests and Redis key names. Pure logic plus small file helpers.

A model (a file or a directory tree) is stored in Redis as fixed-size chunks of each file,
numbered across the whole model, and one manifest naming every file, its size, its chunks and
each chunk's SHA-256. Every key of a model carries the CID in a ``{hash tag}``, so all of them
live in one Redis Cluster slot and one MULTI/EXEC can publish them together.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ._errors import ManifestError
from ._types import ModelKey

MANIFEST_VERSION = 1


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One file of a model: its path relative to the model root, size and chunk range."""

    path: str
    size: int
    first_chunk: int
    chunks: int


@dataclass(frozen=True, slots=True)
class ChunkRef:
    """Where chunk ``index`` goes: which file, at which offset, how many bytes."""

    index: int
    file: int
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a model's tier-2 entry holds. ``is_dir`` is false for a single-file model."""

    key: ModelKey
    chunk_size: int
    is_dir: bool
    files: tuple[FileEntry, ...]
    hashes: tuple[str, ...]

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def chunk_refs(self) -> list[ChunkRef]:
        refs: list[ChunkRef] = []
        for number, entry in enumerate(self.files):
            for i in range(entry.chunks):
                offset = i * self.chunk_size
                length = min(self.chunk_size, entry.size - offset)
                refs.append(ChunkRef(entry.first_chunk + i, number, offset, length))
        return refs

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": MANIFEST_VERSION,
                "key": self.key,
                "chunk_size": self.chunk_size,
                "is_dir": self.is_dir,
                "files": [[f.path, f.size, f.first_chunk, f.chunks] for f in self.files],
                "hashes": list(self.hashes),
            },
            separators=(",", ":"),
        ).encode()

    @staticmethod
    def decode(data: bytes) -> Manifest:
        """Parse and check a manifest; anything inconsistent is a ``ManifestError``."""
        try:
            raw = json.loads(data)
            if raw["v"] != MANIFEST_VERSION:
                raise ManifestError(f"unknown manifest version {raw['v']!r}")
            chunk_size = int(raw["chunk_size"])
            files = tuple(FileEntry(str(p), int(s), int(f), int(n)) for p, s, f, n in raw["files"])
            hashes = tuple(str(h) for h in raw["hashes"])
            manifest = Manifest(
                ModelKey(str(raw["key"])), chunk_size, bool(raw["is_dir"]), files, hashes
            )
        except ManifestError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise ManifestError(f"malformed manifest: {exc}") from exc
        _check(manifest)
        return manifest


def _check(manifest: Manifest) -> None:
    if manifest.chunk_size < 1:
        raise ManifestError("chunk_size must be positive")
    expected = 0
    for entry in manifest.files:
        safe_relpath(entry.path, allow_empty=not manifest.is_dir)
        want = -(-entry.size // manifest.chunk_size)
        if entry.size < 0 or entry.chunks != want or entry.first_chunk != expected:
            raise ManifestError(f"inconsistent chunk range for {entry.path!r}")
        expected += entry.chunks
    if len(manifest.hashes) != expected:
        raise ManifestError("hash count does not match chunk count")
    if not manifest.is_dir and len(manifest.files) != 1:
        raise ManifestError("a single-file model has exactly one file")


def safe_relpath(path: str, *, allow_empty: bool = False) -> PurePosixPath:
    """A relative path with no ``..``, absolute root or empty parts (manifests are input)."""
    if path == "" and allow_empty:
        return PurePosixPath()
    pure = PurePosixPath(path)
    if pure.is_absolute() or not pure.parts or any(p in ("", ".", "..") for p in pure.parts):
        raise ManifestError(f"unsafe path in manifest: {path!r}")
    return pure


def chunk_hash(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def list_files(root: Path) -> tuple[bool, list[tuple[str, int]]]:
    """The files of a model on disk, sorted, as (relative path, size); blocking."""
    if root.is_file():
        return False, [("", root.stat().st_size)]
    found: list[tuple[str, int]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = Path(dirpath) / name
            found.append((full.relative_to(root).as_posix(), full.stat().st_size))
    found.sort()
    return True, found


def plan_manifest_files(files: list[tuple[str, int]], chunk_size: int) -> tuple[FileEntry, ...]:
    entries: list[FileEntry] = []
    first = 0
    for path, size in files:
        count = -(-size // chunk_size)
        entries.append(FileEntry(path, size, first, count))
        first += count
    return tuple(entries)


def read_chunks(
    root: Path, manifest_files: tuple[FileEntry, ...], chunk_size: int
) -> Generator[bytes, None, None]:
    """Each chunk of each file in order; blocking, one chunk in memory at a time."""
    for entry in manifest_files:
        path = root / entry.path if entry.path else root
        with path.open("rb") as handle:
            remaining = entry.size
            while remaining > 0:
                data = handle.read(min(chunk_size, remaining))
                if not data:
                    raise OSError(f"{path} shrank while being read")
                remaining -= len(data)
                yield data


class Keys:
    """Redis key names for one model: ``<prefix>:{<cid>}:<kind>``."""

    def __init__(self, prefix: str, key: ModelKey) -> None:
        self.base = f"{prefix}:{{{key}}}"

    @property
    def manifest(self) -> str:
        return f"{self.base}:m"

    @property
    def lock(self) -> str:
        return f"{self.base}:lock"

    def chunk(self, index: int) -> str:
        return f"{self.base}:c:{index}"

    def staging(self, token: str, index: int) -> str:
        return f"{self.base}:s:{token}:{index}"


class IndexKeys:
    """Redis key names of the tier-2 size index, shared by every daemon of a site.

    ``<prefix>:{@index}:<kind>``: one hash tag (``@`` never appears in a CID), so the index is
    one Redis Cluster slot and one script updates it atomically.
    """

    def __init__(self, prefix: str) -> None:
        base = f"{prefix}:{{@index}}"
        self.priority = f"{base}:pri"  # sorted set: CID -> eviction priority (lowest first)
        self.sizes = f"{base}:size"  # hash: CID -> bytes
        self.freqs = f"{base}:freq"  # hash: CID -> requests while held
        self.seqs = f"{base}:seq"  # hash: CID -> clock at its last insert or hit (ties)
        self.meta = f"{base}:meta"  # hash: bytes (total), L (inflation), clock

    def all(self) -> list[str]:
        return [self.priority, self.sizes, self.freqs, self.seqs, self.meta]
