"""Ordered file writes, done at once (``SyncFileIO``) or by a background thread
(``BackgroundFileIO``) so that the thread verifying blocks never waits on the disk.

Both take ``pwrite(fd, data, offset)`` and ``close(fd)`` and perform them in submission order;
``flush()`` returns once everything submitted is done and raises the first error a write met.
The background variant merges writes to consecutive offsets of one file into one ``pwritev``.
Buffers handed to ``pwrite`` must not change afterwards.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from dataclasses import dataclass

Buffer = bytes | bytearray | memoryview

# Bytes merged into one pwritev call, and buffers per call (well under IOV_MAX).
_MAX_BATCH_BYTES = 8 * 1024 * 1024
_MAX_BATCH_BUFFERS = 64


def pwrite_all(fd: int, buffers: list[Buffer], offset: int) -> None:
    """Write ``buffers`` back to back at ``offset``, resuming after short writes."""
    views = [memoryview(b).cast("B") for b in buffers if len(b)]
    while views:
        written = (
            os.pwritev(fd, views, offset) if len(views) > 1 else os.pwrite(fd, views[0], offset)
        )
        if written <= 0:
            raise OSError(f"pwrite wrote {written} bytes")
        offset += written
        while views and written >= len(views[0]):
            written -= len(views[0])
            views.pop(0)
        if written:
            views[0] = views[0][written:]


class SyncFileIO:
    """Writes and closes happen in the caller's thread, immediately."""

    def pwrite(self, fd: int, data: Buffer, offset: int) -> None:
        pwrite_all(fd, [data], offset)

    def close(self, fd: int) -> None:
        os.close(fd)

    def flush(self) -> None:
        pass

    def has_room(self) -> bool:
        return True

    def wait_room(self) -> None:
        pass

    def abort(self) -> None:
        pass


@dataclass(slots=True)
class _Op:
    fd: int
    data: Buffer | None  # None: close the fd
    offset: int = 0


class BackgroundFileIO:
    """A writer thread fed through an unbounded, ordered queue whose size the caller bounds:
    ``has_room()`` turns false once ``max_pending`` bytes wait, and ``wait_room()`` blocks
    until they drop below it again."""

    def __init__(self, max_pending: int):
        self.max_pending = max_pending
        self._ops: deque[_Op] = deque()
        self._pending = 0
        self._busy = False
        self._error: BaseException | None = None
        self._stopping = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    # -- caller side ----------------------------------------------------------------------------

    def _submit(self, op: _Op) -> None:
        with self._cond:
            if self._error is not None and op.data is not None:
                raise self._error
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="ipfs-store-writer", daemon=True
                )
                self._thread.start()
            self._ops.append(op)
            if op.data is not None:
                self._pending += len(op.data)
            self._cond.notify_all()

    def pwrite(self, fd: int, data: Buffer, offset: int) -> None:
        if len(data):
            self._submit(_Op(fd, data, offset))

    def close(self, fd: int) -> None:
        self._submit(_Op(fd, None))

    def has_room(self) -> bool:
        return self._pending < self.max_pending

    def wait_room(self) -> None:
        with self._cond:
            while self._pending >= self.max_pending and self._error is None:
                self._cond.wait()
            if self._error is not None:
                raise self._error

    def flush(self) -> None:
        with self._cond:
            while (self._ops or self._busy) and self._error is None:
                self._cond.wait()
            if self._error is not None:
                raise self._error
        self._stop()

    def abort(self) -> None:
        """Drop queued writes, still closing every queued fd, and stop the thread."""
        with self._cond:
            kept = deque(op for op in self._ops if op.data is None)
            self._pending = 0
            self._ops = kept
            self._cond.notify_all()
        self._stop()

    def _stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        with self._cond:
            self._stopping = False

    # -- writer thread --------------------------------------------------------------------------

    def _take(self) -> list[_Op] | None:
        with self._cond:
            while not self._ops:
                if self._stopping:
                    return None
                self._cond.wait()
            first = self._ops.popleft()
            batch = [first]
            if first.data is not None:
                end = first.offset + len(first.data)
                size = len(first.data)
                while self._ops and len(batch) < _MAX_BATCH_BUFFERS and size < _MAX_BATCH_BYTES:
                    nxt = self._ops[0]
                    if nxt.data is None or nxt.fd != first.fd or nxt.offset != end:
                        break
                    self._ops.popleft()
                    batch.append(nxt)
                    end += len(nxt.data)
                    size += len(nxt.data)
            self._busy = True
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            written = 0
            try:
                first = batch[0]
                if first.data is None:
                    os.close(first.fd)
                elif self._error is None:
                    buffers = [op.data for op in batch if op.data is not None]
                    pwrite_all(first.fd, buffers, first.offset)
                    written = sum(len(b) for b in buffers)
                else:
                    written = sum(len(op.data) for op in batch if op.data is not None)
            except BaseException as exc:  # handed to the caller at its next call
                with self._cond:
                    if self._error is None:
                        self._error = exc
                written = sum(len(op.data) for op in batch if op.data is not None)
            with self._cond:
                self._pending = max(0, self._pending - written)
                self._busy = False
                self._cond.notify_all()
