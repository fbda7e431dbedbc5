"""Streaming CARv1 parsing (and writing, for tests and tools).

A CAR is a varint-prefixed dag-cbor header ``{"roots": [CID...], "version": 1}`` followed by
varint-prefixed ``CID || block`` frames. Every malformation raises ``IntegrityError``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Iterable

from ._cid import Cid
from ._errors import IntegrityError, InvalidCid
from ._varint import encode_varint

MAX_HEADER_SIZE = 64 * 1024
_CID_TAG = 42


class ChunkReader:
    """Exact-size reads over an async iterator of byte chunks (e.g. an HTTP response body).

    Chunks are kept as received (memoryviews, no concatenation); ``readexactly`` copies the
    requested bytes once, into the buffer it returns.
    """

    def __init__(self, chunks: AsyncIterator[bytes]):
        self._chunks = chunks
        self._pending: deque[memoryview] = deque()
        self._size = 0
        self._eof = False
        self.consumed = 0

    async def _fill(self, n: int) -> None:
        while self._size < n and not self._eof:
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                self._eof = True
                break
            if chunk:
                self._pending.append(memoryview(chunk))
                self._size += len(chunk)

    async def at_eof(self) -> bool:
        await self._fill(1)
        return self._size == 0

    async def readexactly(self, n: int) -> bytearray:
        await self._fill(n)
        if self._size < n:
            raise IntegrityError(
                f"stream truncated: wanted {n} bytes at offset {self.consumed}, got {self._size}"
            )
        out = bytearray(n)
        pos = 0
        pending = self._pending
        while pos < n:
            head = pending[0]
            take = min(len(head), n - pos)
            out[pos : pos + take] = head[:take]
            pos += take
            if take == len(head):
                pending.popleft()
            else:
                pending[0] = head[take:]
        self._size -= n
        self.consumed += n
        return out

    async def read_varint(self) -> int:
        await self._fill(9)  # at most 9 bytes; fewer only at the end of the stream
        value = 0
        for i in range(9):
            if not self._size:
                raise IntegrityError(f"stream truncated inside a varint at offset {self.consumed}")
            head = self._pending[0]
            byte = head[0]
            if len(head) == 1:
                self._pending.popleft()
            else:
                self._pending[0] = head[1:]
            self._size -= 1
            self.consumed += 1
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if byte == 0 and i > 0:
                    raise IntegrityError("CAR varint is not minimally encoded")
                return value
        raise IntegrityError("CAR varint too long")


# -- a minimal dag-cbor decoder, enough for CAR headers ---------------------------------------


def _cbor_item(buf: bytes, pos: int, depth: int = 0) -> tuple[object, int]:
    if depth > 8:
        raise ValueError("CBOR nesting too deep")
    if pos >= len(buf):
        raise ValueError("truncated CBOR")
    initial = buf[pos]
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if info < 24:
        arg = info
    elif info in (24, 25, 26, 27):
        width = 1 << (info - 24)
        if pos + width > len(buf):
            raise ValueError("truncated CBOR argument")
        arg = int.from_bytes(buf[pos : pos + width], "big")
        pos += width
    else:
        raise ValueError("indefinite-length or reserved CBOR item")
    if major == 0:
        return arg, pos
    if major in (2, 3):
        if pos + arg > len(buf):
            raise ValueError("truncated CBOR string")
        raw = buf[pos : pos + arg]
        return (raw if major == 2 else raw.decode("utf-8")), pos + arg
    if major == 4:
        items = []
        for _ in range(arg):
            item, pos = _cbor_item(buf, pos, depth + 1)
            items.append(item)
        return items, pos
    if major == 5:
        mapping: dict[object, object] = {}
        for _ in range(arg):
            key, pos = _cbor_item(buf, pos, depth + 1)
            value, pos = _cbor_item(buf, pos, depth + 1)
            if not isinstance(key, str):
                raise ValueError("non-string CBOR map key")
            mapping[key] = value
        return mapping, pos
    if major == 6 and arg == _CID_TAG:
        tagged, pos = _cbor_item(buf, pos, depth + 1)
        if not isinstance(tagged, bytes) or not tagged.startswith(b"\0"):
            raise ValueError("malformed CID in CBOR")
        return Cid.parse(tagged[1:]), pos
    raise ValueError(f"unsupported CBOR item (major type {major})")


def decode_car_header(buf: bytes) -> list[Cid]:
    """The roots of a CARv1 header; raises IntegrityError for anything else."""
    try:
        header, end = _cbor_item(buf, 0)
    except (ValueError, InvalidCid, UnicodeDecodeError) as exc:
        raise IntegrityError(f"malformed CAR header: {exc}") from exc
    if end != len(buf) or not isinstance(header, dict):
        raise IntegrityError("malformed CAR header")
    if header.get("version") != 1:
        raise IntegrityError(f"unsupported CAR version {header.get('version')!r}")
    roots = header.get("roots")
    if not isinstance(roots, list) or not all(isinstance(r, Cid) for r in roots):
        raise IntegrityError("CAR header roots are not a list of CIDs")
    return [r for r in roots if isinstance(r, Cid)]


async def read_car(
    reader: ChunkReader, *, max_block_size: int
) -> tuple[list[Cid], AsyncIterator[tuple[Cid, memoryview]]]:
    """Parse the header, then return the roots and an iterator over ``(cid, block)`` frames.

    Blocks are *not* verified here; frames larger than ``max_block_size`` (plus CID) are
    refused before being read, so a hostile stream cannot make us buffer without bound.
    """
    header_len = await reader.read_varint()
    if header_len == 0 or header_len > MAX_HEADER_SIZE:
        raise IntegrityError(f"CAR header length {header_len} out of range")
    roots = decode_car_header(bytes(await reader.readexactly(header_len)))

    async def frames() -> AsyncIterator[tuple[Cid, memoryview]]:
        while not await reader.at_eof():
            frame_len = await reader.read_varint()
            if frame_len > max_block_size + 128:
                raise IntegrityError(f"CAR frame of {frame_len} bytes exceeds the block limit")
            frame = await reader.readexactly(frame_len)
            try:
                cid, offset = Cid.decode_prefix(frame)
            except InvalidCid as exc:
                raise IntegrityError(f"malformed CID in CAR frame: {exc}") from exc
            yield cid, memoryview(frame)[offset:]  # no copy of the block

    return roots, frames()


def encode_car(roots: Iterable[Cid], blocks: Iterable[tuple[Cid, bytes]]) -> bytes:
    """Serialize a CARv1 (small DAGs only: it builds the whole thing in memory)."""
    root_list = list(roots)
    root_items = b"".join(_cbor_cid(r) for r in root_list)
    header = (
        b"\xa2"
        + _cbor_text("roots")
        + _cbor_head(4, len(root_list))
        + root_items
        + _cbor_text("version")
        + b"\x01"
    )
    out = [encode_varint(len(header)), header]
    for cid, data in blocks:
        frame = cid.to_bytes() + data
        out += [encode_varint(len(frame)), frame]
    return b"".join(out)


def _cbor_head(major: int, arg: int) -> bytes:
    if arg < 24:
        return bytes([major << 5 | arg])
    for info, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if arg < 1 << (8 * width):
            return bytes([major << 5 | info]) + arg.to_bytes(width, "big")
    raise ValueError("CBOR argument too large")


def _cbor_text(text: str) -> bytes:
    raw = text.encode()
    return _cbor_head(3, len(raw)) + raw


def _cbor_cid(cid: Cid) -> bytes:
    raw = b"\0" + cid.to_bytes()
    return b"\xd8\x2a" + _cbor_head(2, len(raw)) + raw
