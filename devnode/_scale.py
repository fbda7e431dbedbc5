"""SCALE codec primitives: compact integers, fixed-width integers, byte vectors.

Plain functions over bytes; everything that touches the wire builds on these.
"""

from __future__ import annotations

from ._errors import ScaleDecodeError

__all__ = [
    "Reader",
    "decode_compact",
    "encode_bytes",
    "encode_compact",
    "encode_str",
]


def encode_compact(value: int) -> bytes:
    """SCALE compact encoding of a non-negative integer."""
    if value < 0:
        raise ValueError(f"compact integers are unsigned, got {value}")
    if value < 1 << 6:
        return bytes([value << 2])
    if value < 1 << 14:
        return ((value << 2) | 0b01).to_bytes(2, "little")
    if value < 1 << 30:
        return ((value << 2) | 0b10).to_bytes(4, "little")
    length = (value.bit_length() + 7) // 8
    if length > 67:
        raise ValueError("integer too large for compact encoding")
    return bytes([((length - 4) << 2) | 0b11]) + value.to_bytes(length, "little")


def encode_bytes(data: bytes) -> bytes:
    """A `Vec<u8>`: compact length then the bytes."""
    return encode_compact(len(data)) + data


def encode_str(text: str) -> bytes:
    return encode_bytes(text.encode())


class Reader:
    """A cursor over SCALE bytes that raises `ScaleDecodeError` instead of reading past the end."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def read(self, count: int) -> bytes:
        end = self.pos + count
        if count < 0 or end > len(self.data):
            raise ScaleDecodeError(
                f"needed {count} bytes at offset {self.pos}, only {len(self.data) - self.pos} left"
            )
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise ScaleDecodeError(f"needed 1 byte at offset {self.pos}, none left")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uint(self, width: int) -> int:
        return int.from_bytes(self.read(width), "little")

    def compact(self) -> int:
        first = self.u8()
        mode = first & 0b11
        if mode == 0b00:
            return first >> 2
        if mode == 0b01:
            return (first | (self.u8() << 8)) >> 2
        if mode == 0b10:
            rest = self.read(3)
            return int.from_bytes(bytes([first]) + rest, "little") >> 2
        length = (first >> 2) + 4
        return int.from_bytes(self.read(length), "little")

    def bytes_vec(self) -> bytes:
        return self.read(self.compact())

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise ScaleDecodeError(f"{len(self.data) - self.pos} trailing bytes after the value")


def decode_compact(data: bytes) -> tuple[int, int]:
    """Decode a compact integer at the start of `data`: (value, bytes consumed)."""
    reader = Reader(data)
    value = reader.compact()
    return value, reader.pos
