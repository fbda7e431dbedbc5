"""Low-level SCALE reading and writing."""

from __future__ import annotations

from ._errors import CodecError

__all__ = ["Reader", "encode_compact"]


def encode_compact(value: int) -> bytes:
    if value < 0:
        raise CodecError(f"compact integers are unsigned, got {value}")
    if value < 1 << 6:
        return bytes([value << 2])
    if value < 1 << 14:
        return ((value << 2) | 1).to_bytes(2, "little")
    if value < 1 << 30:
        return ((value << 2) | 2).to_bytes(4, "little")
    length = (value.bit_length() + 7) // 8
    if length > 67:
        raise CodecError("compact integer too large")
    return bytes([((length - 4) << 2) | 3]) + value.to_bytes(length, "little")


class Reader:
    """A cursor over SCALE bytes; raises `IndexError` when data runs out."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def read(self, count: int) -> bytes:
        end = self.pos + count
        if end > len(self.data) or count < 0:
            raise IndexError(f"needed {count} bytes at offset {self.pos}, have {len(self.data)}")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def u8(self) -> int:
        if self.pos >= len(self.data):
            raise IndexError(f"needed 1 byte at offset {self.pos}")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uint(self, width: int) -> int:
        return int.from_bytes(self.read(width), "little")

    def compact(self) -> int:
        first = self.u8()
        mode = first & 3
        if mode == 0:
            return first >> 2
        if mode == 1:
            return (first | (self.u8() << 8)) >> 2
        if mode == 2:
            return int.from_bytes(bytes([first]) + self.read(3), "little") >> 2
        return int.from_bytes(self.read((first >> 2) + 4), "little")

    def bytes_vec(self) -> bytes:
        return self.read(self.compact())

    def str(self) -> str:
        return self.bytes_vec().decode()

    def remaining(self) -> int:
        return len(self.data) - self.pos
