"""A small, pure IPFS CID validator: CIDv0 (base58btc `Qm...`) and CIDv1 (base32 `b...`)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import NewType

__all__ = ["Cid", "CidError", "ModelId", "ParsedCid", "parse_cid"]

#: The textual CID as submitted on-chain (ASCII bytes).
Cid = NewType("Cid", bytes)
#: blake2_256 of a model's first CID.
ModelId = NewType("ModelId", bytes)

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_B32 = set("abcdefghijklmnopqrstuvwxyz234567")

#: multicodec content types a CIDv1 may carry.
CODECS = {0x55: "raw", 0x70: "dag-pb", 0x71: "dag-cbor", 0x0129: "dag-json"}
#: multihash function code -> digest length.
HASHES = {0x12: 32, 0x13: 64, 0x1E: 32, 0xB220: 32}


class CidError(ValueError):
    """The bytes are not a CID this chain accepts."""


@dataclass(frozen=True)
class ParsedCid:
    version: int
    codec: int
    hash_code: int
    digest: bytes


def _b58decode(text: str) -> bytes:
    number = 0
    for ch in text:
        if ch not in _B58_INDEX:
            raise CidError(f"invalid base58btc character {ch!r}")
        number = number * 58 + _B58_INDEX[ch]
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    leading = len(text) - len(text.lstrip("1"))
    return b"\x00" * leading + body


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for shift in range(0, 63, 7):
        if pos >= len(data):
            raise CidError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if byte == 0 and shift:
                raise CidError("varint is not minimally encoded")
            return value, pos
    raise CidError("varint too long")


def _multihash(data: bytes, pos: int) -> tuple[int, bytes]:
    code, pos = _varint(data, pos)
    length, pos = _varint(data, pos)
    if code not in HASHES:
        raise CidError(f"unsupported multihash function 0x{code:x}")
    if length != HASHES[code]:
        raise CidError(f"digest length {length} does not match function 0x{code:x}")
    digest = data[pos:]
    if len(digest) != length:
        raise CidError(f"digest has {len(digest)} bytes, multihash says {length}")
    return code, digest


def parse_cid(raw: bytes) -> ParsedCid:
    """Parse a textual CID; raises `CidError` unless it is a well-formed CIDv0 or base32 CIDv1."""
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise CidError("CID is not ASCII") from exc
    if text.startswith("Qm"):
        if len(text) != 46:
            raise CidError("CIDv0 must be 46 characters")
        data = _b58decode(text)
        if len(data) != 34 or data[:2] != b"\x12\x20":
            raise CidError("CIDv0 must be a sha2-256 multihash")
        return ParsedCid(0, 0x70, 0x12, data[2:])
    if text.startswith("b") and len(text) > 1:
        body = text[1:]
        if not set(body) <= _B32:
            raise CidError("CIDv1 must be lower-case base32 without padding")
        if len(body) * 5 % 8 >= 5:
            raise CidError("impossible base32 length")
        try:
            data = base64.b32decode(body.upper() + "=" * (-len(body) % 8))
        except ValueError as exc:
            raise CidError("invalid base32") from exc
        version, pos = _varint(data, 0)
        if version != 1:
            raise CidError(f"unsupported CID version {version}")
        codec, pos = _varint(data, pos)
        if codec not in CODECS:
            raise CidError(f"unsupported codec 0x{codec:x}")
        hash_code, digest = _multihash(data, pos)
        return ParsedCid(1, codec, hash_code, digest)
    raise CidError("CID must be CIDv0 ('Qm...') or base32 CIDv1 ('b...')")


def is_valid_cid(raw: bytes) -> bool:
    try:
        parse_cid(raw)
    except CidError:
        return False
    return True
