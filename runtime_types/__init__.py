"""Typed bindings generated from runtime metadata, and the one chain client.

`python -m runtime_types.codegen METADATA.scale --out DIR` writes a typed package for a runtime;
`Bindings` joins such a package with its metadata to encode calls and decode events and storage.
"""

from ._bindings import Bindings, Call, EventRecord, StorageEntry, hash_key
from ._codec import ClassMap, Codec
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

__all__ = [
    "Bindings",
    "Call",
    "ChainClientError",
    "ClassMap",
    "Codec",
    "CodecError",
    "ConnectionLost",
    "DispatchError",
    "EventRecord",
    "ExtrinsicRejected",
    "IncompatibleMetadata",
    "Metadata",
    "MetadataDecodeError",
    "ModuleError",
    "RuntimeTypesError",
    "StorageEntry",
    "decode_metadata",
    "hash_key",
    "pallet_hash",
    "pallet_hashes",
]
