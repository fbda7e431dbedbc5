"""dag-pb (PBNode/PBLink) and UnixFS Data protobuf encoding and strict decoding.

Decoding raises ``ValueError`` on anything malformed; callers translate it into
``IntegrityError`` where the bytes came from the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from ._cid import Cid
from ._errors import InvalidCid
from ._varint import decode_varint, encode_varint

_VARINT = 0
_LEN = 2


class UnixFSType(IntEnum):
    RAW = 0
    DIRECTORY = 1
    FILE = 2
    METADATA = 3
    SYMLINK = 4
    HAMT_SHARD = 5


@dataclass(frozen=True, slots=True)
class PBLink:
    cid: Cid
    name: bytes | None = None
    tsize: int | None = None


@dataclass(frozen=True, slots=True)
class PBNode:
    links: tuple[PBLink, ...] = ()
    data: bytes | None = None


@dataclass(frozen=True, slots=True)
class UnixFSData:
    type: UnixFSType
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: tuple[int, ...] = field(default=())
    hash_type: int | None = None
    fanout: int | None = None


def _key(field_no: int, wire: int) -> bytes:
    return encode_varint(field_no << 3 | wire)


def _len_field(field_no: int, payload: bytes) -> bytes:
    return _key(field_no, _LEN) + encode_varint(len(payload)) + payload


def encode_pblink(link: PBLink) -> bytes:
    out = _len_field(1, link.cid.to_bytes())
    if link.name is not None:
        out += _len_field(2, link.name)
    if link.tsize is not None:
        out += _key(3, _VARINT) + encode_varint(link.tsize)
    return out


def encode_pbnode(node: PBNode) -> bytes:
    """Canonical dag-pb: links (field 2) first, then data (field 1)."""
    parts = [_len_field(2, encode_pblink(link)) for link in node.links]
    if node.data is not None:
        parts.append(_len_field(1, node.data))
    return b"".join(parts)


def pblink_size(cid_len: int, name_len: int, tsize: int) -> int:
    """Serialized size of a PBLink inside a PBNode (including its field key and length)."""
    inner = 1 + len(encode_varint(cid_len)) + cid_len
    inner += 1 + len(encode_varint(name_len)) + name_len
    inner += 1 + len(encode_varint(tsize))
    return 1 + len(encode_varint(inner)) + inner


def encode_unixfs(d: UnixFSData) -> bytes:
    out = _key(1, _VARINT) + encode_varint(int(d.type))
    if d.data:
        out += _len_field(2, d.data)
    if d.filesize is not None:
        out += _key(3, _VARINT) + encode_varint(d.filesize)
    for size in d.blocksizes:
        out += _key(4, _VARINT) + encode_varint(size)
    if d.hash_type is not None:
        out += _key(5, _VARINT) + encode_varint(d.hash_type)
    if d.fanout is not None:
        out += _key(6, _VARINT) + encode_varint(d.fanout)
    return out


def _fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """Split a protobuf message into (field number, wire type, value) triples."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    end = len(buf)
    while pos < end:
        key, pos = decode_varint(buf, pos)
        field_no, wire = key >> 3, key & 7
        if field_no == 0:
            raise ValueError("protobuf field number 0")
        if wire == _VARINT:
            value, pos = decode_varint(buf, pos)
            out.append((field_no, wire, value))
        elif wire == _LEN:
            length, pos = decode_varint(buf, pos)
            if pos + length > end:
                raise ValueError("truncated protobuf field")
            out.append((field_no, wire, buf[pos : pos + length]))
            pos += length
        elif wire == 5:  # fixed32 (UnixFS mtime nanoseconds)
            if pos + 4 > end:
                raise ValueError("truncated fixed32")
            out.append((field_no, wire, buf[pos : pos + 4]))
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    return out


def decode_pbnode(buf: bytes) -> PBNode:
    """Strict dag-pb decoding: only fields 1 and 2, links before data, each link well formed."""
    links: list[PBLink] = []
    data: bytes | None = None
    for field_no, wire, value in _fields(buf):
        if field_no == 2 and wire == _LEN and isinstance(value, bytes):
            if data is not None:
                raise ValueError("dag-pb link after data")
            links.append(_decode_pblink(value))
        elif field_no == 1 and wire == _LEN and isinstance(value, bytes):
            if data is not None:
                raise ValueError("duplicate dag-pb data")
            data = value
        else:
            raise ValueError(f"unexpected dag-pb field {field_no}")
    return PBNode(tuple(links), data)


def _decode_pblink(buf: bytes) -> PBLink:
    cid: Cid | None = None
    name: bytes | None = None
    tsize: int | None = None
    last = 0
    for field_no, wire, value in _fields(buf):
        if field_no <= last:
            raise ValueError("dag-pb link fields out of order or repeated")
        last = field_no
        if field_no == 1 and wire == _LEN and isinstance(value, bytes):
            try:
                cid = Cid.parse(value)
            except InvalidCid as exc:
                raise ValueError(f"bad link CID: {exc}") from exc
        elif field_no == 2 and wire == _LEN and isinstance(value, bytes):
            name = value
        elif field_no == 3 and wire == _VARINT and isinstance(value, int):
            tsize = value
        else:
            raise ValueError(f"unexpected dag-pb link field {field_no}")
    if cid is None:
        raise ValueError("dag-pb link without hash")
    return PBLink(cid, name, tsize)


def decode_unixfs(buf: bytes) -> UnixFSData:
    type_: int | None = None
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: list[int] = []
    hash_type: int | None = None
    fanout: int | None = None
    for field_no, wire, value in _fields(buf):
        if wire == _VARINT and isinstance(value, int):
            if field_no == 1:
                type_ = value
            elif field_no == 3:
                filesize = value
            elif field_no == 4:
                blocksizes.append(value)
            elif field_no == 5:
                hash_type = value
            elif field_no == 6:
                fanout = value
            elif field_no == 7:
                pass  # mode: permissions are not applied to fetched files
            else:
                raise ValueError(f"unexpected UnixFS field {field_no}")
        elif wire == _LEN and isinstance(value, bytes):
            if field_no == 2:
                data = value
            elif field_no == 4:  # packed blocksizes
                pos = 0
                while pos < len(value):
                    size, pos = decode_varint(value, pos)
                    blocksizes.append(size)
            elif field_no == 8:
                pass  # mtime
            else:
                raise ValueError(f"unexpected UnixFS field {field_no}")
        else:
            raise ValueError(f"unexpected UnixFS field {field_no}")
    if type_ is None:
        raise ValueError("UnixFS data without type")
    try:
        kind = UnixFSType(type_)
    except ValueError:
        raise ValueError(f"unknown UnixFS type {type_}") from None
    return UnixFSData(kind, data, filesize, tuple(blocksizes), hash_type, fanout)
