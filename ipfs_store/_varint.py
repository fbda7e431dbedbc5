"""Unsigned LEB128 varints as used by multiformats and protobuf."""

from __future__ import annotations

# Multiformats caps varints at 9 bytes (63 bits); protobuf allows 10 for 64-bit values.
MAX_VARINT_BYTES = 10


def encode_varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("varint must be non-negative")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(buf: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int]:
    """Decode a minimally encoded varint at ``offset``; return (value, offset after it).

    Raises ValueError on truncation, overlong encodings and values over 64 bits.
    """
    value = 0
    shift = 0
    end = len(buf)
    for i in range(MAX_VARINT_BYTES):
        pos = offset + i
        if pos >= end:
            raise ValueError("truncated varint")
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if byte == 0 and i > 0:
                raise ValueError("varint is not minimally encoded")
            if value >= 1 << 64:
                raise ValueError("varint exceeds 64 bits")
            return value, pos + 1
        shift += 7
    raise ValueError("varint too long")
