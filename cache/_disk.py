"""The local, content-addressed, size-capped model directory the loader reads from.

Layout under the root: ``objects/<cid>`` (a file or a directory, written elsewhere and moved
in with one ``rename``), ``tmp/`` for staging, ``locks/<cid>.lock`` for the per-entry file
lock that keeps two processes from filling the same entry. An entry's modification time is
its last use; eviction removes the least recently used entries not locked by anyone.
All methods block: call them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import shutil
import time
from pathlib import Path

from ._errors import InsufficientSpaceError
from ._types import Eviction, ModelKey


def tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            with contextlib.suppress(FileNotFoundError):
                total += (Path(dirpath) / name).stat().st_size
    return total


def remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class DiskStore:
    def __init__(self, root: Path, capacity: int) -> None:
        self.root = root
        self.capacity = capacity
        self.objects = root / "objects"
        self.tmp = root / "tmp"
        self.locks = root / "locks"
        for directory in (self.objects, self.tmp, self.locks):
            directory.mkdir(parents=True, exist_ok=True)

    def path(self, key: ModelKey) -> Path:
        return self.objects / key

    def lookup(self, key: ModelKey) -> Path | None:
        """The entry's path if present (and marks it used), else ``None``."""
        path = self.path(key)
        try:
            os.utime(path)
        except FileNotFoundError:
            return None
        return path

    def try_lock(self, key: ModelKey) -> int | None:
        """An exclusive lock on ``key``'s entry as an open descriptor, or ``None`` if held."""
        fd = os.open(self.locks / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    @staticmethod
    def unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def staging(self) -> Path:
        """A fresh directory under ``tmp/`` to build an entry in."""
        path = self.tmp / secrets.token_hex(8)
        path.mkdir()
        return path

    def reserve(self, size: int, keep: ModelKey) -> list[Eviction]:
        """Make room for ``size`` more bytes, evicting least recently used entries.

        Raises ``InsufficientSpaceError`` (naming the directory and the size) when the entry
        is bigger than the cap, or when the file system has less free space than it needs.
        """
        if size > self.capacity:
            raise InsufficientSpaceError(self.root, size, self.capacity)
        entries: list[tuple[float, Path, int]] = []
        used = 0
        for path in self.objects.iterdir():
            try:
                mtime = path.stat().st_mtime
            except FileNotFoundError:
                continue
            entry_size = tree_size(path)
            used += entry_size
            if path.name != keep:
                entries.append((mtime, path, entry_size))
        entries.sort()
        evicted: list[Eviction] = []
        now = time.time()
        for mtime, path, entry_size in entries:
            if used + size <= self.capacity:
                break
            fd = self.try_lock(ModelKey(path.name))
            if fd is None:
                continue  # being filled or read by someone: leave it
            try:
                remove_tree(path)
            finally:
                self.unlock(fd)
            used -= entry_size
            evicted.append(Eviction("disk", ModelKey(path.name), entry_size, now - mtime))
        if used + size > self.capacity:
            raise InsufficientSpaceError(self.root, size, max(0, self.capacity - used))
        free = shutil.disk_usage(self.root).free
        if free < size:
            raise InsufficientSpaceError(self.root, size, free)
        return evicted

    def commit(self, key: ModelKey, staged: Path) -> Path:
        """Move a finished entry into place atomically; returns its path."""
        target = self.path(key)
        try:
            os.rename(staged, target)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR):
                raise
            remove_tree(staged)  # someone else committed the same content first
        return target

    def discard(self, staged: Path) -> None:
        remove_tree(staged)

    def clean_tmp(self, older_than: float = 3600.0) -> None:
        """Remove staging leftovers of crashed fills (another process may be filling now)."""
        cutoff = time.time() - older_than
        for path in self.tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    remove_tree(path)


def space_error(directory: Path, requested: int, exc: OSError) -> InsufficientSpaceError | None:
    """The cache's error for a full disk, or ``None`` if ``exc`` is something else."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return InsufficientSpaceError(directory, requested, shutil.disk_usage(directory).free)
    return None
