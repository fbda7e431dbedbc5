"""Typed bindings generated from runtime metadata and the one chain client. The account-key
loader (`load_keypair`, `KeyLoadError`) and `OutputAuthError` are `protocol`'s, re-exported here.

`python -m runtime_types.codegen METADATA.scale --out DIR` writes a typed package for a runtime;
`Bindings` joins such a package with its metadata to encode calls and decode events and storage.
"""

from protocol import KeyLoadError, OutputAuthError, load_keypair

from ._bindings import Bindings, Call, EventRecord, StorageEntry, ViewFunction, hash_key
from ._client import BlockStream, ChainClient
from ._client_types import Block, BlockHash, ClientConfig, ExtrinsicHash, Receipt, WaitFor
from ._codec import ClassMap, Codec
from ._connection import RpcFailure
from ._errors import (
    ChainClientClosed,
    ChainClientError,
    CodecError,
    ConnectionLost,
    DispatchError,
    ExtrinsicDecodeError,
    ExtrinsicRejected,
    IncompatibleMetadata,
    MetadataDecodeError,
    ModuleError,
    RuntimeTypesError,
    TransactionRefused,
    node_unreachable_message,
    unreachable_reason,
)
from ._extrinsic import DecodedExtrinsic, Era
from ._hash import pallet_hash, pallet_hashes
from ._metadata import Metadata, decode_metadata
from ._nonce import NonceManager
from ._refusal import Refusal

__all__ = [
    "Bindings",
    "Block",
    "BlockHash",
    "BlockStream",
    "Call",
    "ChainClient",
    "ChainClientClosed",
    "ChainClientError",
    "ClassMap",
    "ClientConfig",
    "Codec",
    "CodecError",
    "ConnectionLost",
    "DecodedExtrinsic",
    "DispatchError",
    "Era",
    "EventRecord",
    "ExtrinsicDecodeError",
    "ExtrinsicHash",
    "ExtrinsicRejected",
    "IncompatibleMetadata",
    "KeyLoadError",
    "Metadata",
    "MetadataDecodeError",
    "ModuleError",
    "NonceManager",
    "OutputAuthError",
    "Receipt",
    "Refusal",
    "RpcFailure",
    "RuntimeTypesError",
    "StorageEntry",
    "TransactionRefused",
    "ViewFunction",
    "WaitFor",
    "decode_metadata",
    "hash_key",
    "load_keypair",
    "node_unreachable_message",
    "pallet_hash",
    "pallet_hashes",
    "unreachable_reason",
]
