"""Typed bindings generated from runtime metadata, and the one chain client.

`python -m runtime_types.codegen METADATA.scale --out DIR` writes a typed package for a runtime;
`Bindings` joins such a package with its metadata to encode calls and decode events and storage.
"""

from ._bindings import Bindings, Call, EventRecord, StorageEntry, hash_key
from ._client import BlockStream, ChainClient
from ._client_types import Block, BlockHash, ClientConfig, ExtrinsicHash, Receipt, WaitFor
from ._codec import ClassMap, Codec
from ._connection import RpcFailure
from ._errors import (
    ChainClientError,
    CodecError,
    ConnectionLost,
    DispatchError,
    ExtrinsicRejected,
    IncompatibleMetadata,
    MetadataDecodeError,
    ModuleError,
    RuntimeTypesError,
)
from ._hash import pallet_hash, pallet_hashes
from ._metadata import Metadata, decode_metadata
from ._nonce import NonceManager

__all__ = [
    "Bindings",
    "Block",
    "BlockHash",
    "BlockStream",
    "Call",
    "ChainClient",
    "ChainClientError",
    "ClassMap",
    "ClientConfig",
    "Codec",
    "CodecError",
    "ConnectionLost",
    "DispatchError",
    "EventRecord",
    "ExtrinsicHash",
    "ExtrinsicRejected",
    "IncompatibleMetadata",
    "Metadata",
    "MetadataDecodeError",
    "ModuleError",
    "NonceManager",
    "Receipt",
    "RpcFailure",
    "RuntimeTypesError",
    "StorageEntry",
    "WaitFor",
    "decode_metadata",
    "hash_key",
    "pallet_hash",
    "pallet_hashes",
]
