"""Block headers and blocks: SCALE encoding, hashing and their JSON-RPC shapes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NewType

from ._hashing import blake2_256
from ._primitives import DIGEST_ITEM
from ._scale import Reader, encode_compact

__all__ = ["Block", "BlockHash", "Header", "extrinsics_root"]

BlockHash = NewType("BlockHash", bytes)


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


@dataclass(frozen=True)
class Header:
    parent_hash: bytes
    number: int
    state_root: bytes
    extrinsics_root: bytes
    #: Encoded `DigestItem`s.
    digest: tuple[bytes, ...] = ()

    def encode(self) -> bytes:
        return (
            self.parent_hash
            + encode_compact(self.number)
            + self.state_root
            + self.extrinsics_root
            + encode_compact(len(self.digest))
            + b"".join(self.digest)
        )

    @classmethod
    def decode(cls, data: bytes) -> Header:
        reader = Reader(data)
        parent = reader.read(32)
        number = reader.compact()
        state_root = reader.read(32)
        extrinsics_root = reader.read(32)
        logs = []
        for _ in range(reader.compact()):
            start = reader.pos
            DIGEST_ITEM.decode(reader)
            logs.append(data[start : reader.pos])
        reader.finish()
        return cls(parent, number, state_root, extrinsics_root, tuple(logs))

    @property
    def hash(self) -> BlockHash:
        return BlockHash(blake2_256(self.encode()))

    def to_json(self) -> dict[str, Any]:
        return {
            "parentHash": _hex(self.parent_hash),
            "number": hex(self.number),
            "stateRoot": _hex(self.state_root),
            "extrinsicsRoot": _hex(self.extrinsics_root),
            "digest": {"logs": [_hex(log) for log in self.digest]},
        }


def extrinsics_root(extrinsics: list[bytes]) -> bytes:
    """A commitment to the block body: blake2-256 of the encoded `Vec` of extrinsics.

    Substrate uses an ordered Merkle-Patricia trie root here; docs/devnode.md lists the difference.
    """
    return blake2_256(encode_compact(len(extrinsics)) + b"".join(extrinsics))


@dataclass(frozen=True)
class Block:
    header: Header
    extrinsics: tuple[bytes, ...]
    hash: BlockHash

    @classmethod
    def build(cls, header: Header, extrinsics: list[bytes]) -> Block:
        return cls(header, tuple(extrinsics), header.hash)

    @property
    def number(self) -> int:
        return self.header.number

    def encode_body(self) -> bytes:
        return encode_compact(len(self.extrinsics)) + b"".join(self.extrinsics)

    def to_json(self) -> dict[str, Any]:
        return {
            "block": {
                "header": self.header.to_json(),
                "extrinsics": [_hex(x) for x in self.extrinsics],
            },
            "justifications": None,
        }
