"""Content identifiers: parsing, formatting and computing CIDv0/CIDv1 with sha2-256."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from ._errors import InvalidCid
from ._varint import decode_varint, encode_varint

# Multicodec codes.
RAW = 0x55
DAG_PB = 0x70
DAG_CBOR = 0x71
SHA2_256 = 0x12
IDENTITY = 0x00

CODEC_NAMES = {RAW: "raw", DAG_PB: "dag-pb", DAG_CBOR: "dag-cbor"}

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}
# Identity multihashes inline the data in the CID; keep them small.
MAX_IDENTITY_DIGEST = 128


def b58encode(data: bytes) -> str:
    num = int.from_bytes(data, "big")
    out = []
    while num:
        num, rem = divmod(num, 58)
        out.append(_B58_ALPHABET[rem])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def b58decode(text: str) -> bytes:
    num = 0
    for ch in text:
        try:
            num = num * 58 + _B58_INDEX[ch]
        except KeyError:
            raise InvalidCid(f"invalid base58 character {ch!r}") from None
    pad = len(text) - len(text.lstrip("1"))
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    return b"\0" * pad + body


def _b32decode(text: str) -> bytes:
    upper = text.upper()
    try:
        return base64.b32decode(upper + "=" * (-len(upper) % 8))
    except ValueError as exc:
        raise InvalidCid(f"invalid base32: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Cid:
    """A CID: version (0 or 1), content codec and multihash (hash function code and digest)."""

    version: int
    codec: int
    digest: bytes
    hash_code: int = SHA2_256

    def __post_init__(self) -> None:
        if self.version not in (0, 1):
            raise InvalidCid(f"unsupported CID version {self.version}")
        if self.version == 0 and (
            self.codec != DAG_PB or self.hash_code != SHA2_256 or len(self.digest) != 32
        ):
            raise InvalidCid("CIDv0 must be dag-pb with a sha2-256 digest")
        if self.hash_code == SHA2_256 and len(self.digest) != 32:
            raise InvalidCid("sha2-256 digest must be 32 bytes")
        if self.hash_code == IDENTITY and len(self.digest) > MAX_IDENTITY_DIGEST:
            raise InvalidCid("identity digest too long")

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def parse(cls, value: str | bytes | Cid) -> Cid:
        """Parse a CID from its string form (CIDv0 base58, CIDv1 multibase) or binary form."""
        if isinstance(value, Cid):
            return value
        if isinstance(value, bytes | bytearray | memoryview):
            cid, end = cls.decode_prefix(bytes(value))
            if end != len(value):
                raise InvalidCid("trailing bytes after CID")
            return cid
        text = value.strip()
        if text.startswith("/ipfs/"):
            text = text[len("/ipfs/") :]
        if not text:
            raise InvalidCid("empty CID")
        if len(text) == 46 and text.startswith("Qm"):
            return cls.parse(b58decode(text))
        prefix, body = text[0], text[1:]
        if prefix in "bB":
            raw = _b32decode(body)
        elif prefix == "z":
            raw = b58decode(body)
        elif prefix in "fF":
            try:
                raw = bytes.fromhex(body)
            except ValueError as exc:
                raise InvalidCid(f"invalid base16: {exc}") from exc
        else:
            raise InvalidCid(f"unsupported multibase prefix {prefix!r} in {text!r}")
        cid = cls.parse(raw)
        if cid.version == 0:
            raise InvalidCid("a CIDv0 is never multibase-encoded")
        return cid

    @classmethod
    def decode_prefix(cls, buf: bytes | bytearray | memoryview, offset: int = 0) -> tuple[Cid, int]:
        """Decode a binary CID starting at ``offset``; return it and the offset just after it."""
        try:
            if len(buf) - offset >= 2 and buf[offset] == 0x12 and buf[offset + 1] == 0x20:
                end = offset + 34
                if end > len(buf):
                    raise InvalidCid("truncated CIDv0")
                return cls(0, DAG_PB, bytes(buf[offset + 2 : end])), end
            version, pos = decode_varint(buf, offset)
            if version != 1:
                raise InvalidCid(f"unsupported CID version {version}")
            codec, pos = decode_varint(buf, pos)
            hash_code, pos = decode_varint(buf, pos)
            length, pos = decode_varint(buf, pos)
        except ValueError as exc:
            raise InvalidCid(f"malformed CID: {exc}") from exc
        if hash_code not in (SHA2_256, IDENTITY):
            raise InvalidCid(f"unsupported multihash function 0x{hash_code:x}")
        end = pos + length
        if end > len(buf):
            raise InvalidCid("truncated multihash")
        return cls(1, codec, bytes(buf[pos:end]), hash_code), end

    @classmethod
    def for_block(cls, data: bytes | bytearray | memoryview, *, codec: int, version: int) -> Cid:
        """The sha2-256 CID of a block."""
        return cls(version, codec, hashlib.sha256(data).digest())

    # -- properties -------------------------------------------------------------------------------

    @property
    def multihash(self) -> bytes:
        return encode_varint(self.hash_code) + encode_varint(len(self.digest)) + self.digest

    def to_bytes(self) -> bytes:
        if self.version == 0:
            return self.multihash
        return encode_varint(1) + encode_varint(self.codec) + self.multihash

    @property
    def codec_name(self) -> str:
        return CODEC_NAMES.get(self.codec, f"0x{self.codec:x}")

    def to_v1(self) -> Cid:
        return Cid(1, self.codec, self.digest, self.hash_code)

    def matches(self, data: bytes | bytearray | memoryview) -> bool:
        """Whether ``data`` hashes to this CID's multihash."""
        if self.hash_code == SHA2_256:
            return hashlib.sha256(data).digest() == self.digest
        if self.hash_code == IDENTITY:
            return bytes(data) == self.digest
        return False

    def __str__(self) -> str:
        if self.version == 0:
            return b58encode(self.multihash)
        return "b" + base64.b32encode(self.to_bytes()).decode("ascii").lower().rstrip("=")

    def __repr__(self) -> str:
        return f"Cid({str(self)!r})"
