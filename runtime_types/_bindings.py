"""What generated bindings are built from: calls, storage entries, and the `Bindings` object.

A generated package holds typed dataclasses and thin builders; `Bindings` joins them with the
metadata they were generated from, so values encode and decode with no network access.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import xxhash

from ._codec import ClassMap, Codec
from ._errors import CodecError, ModuleError
from ._extrinsic import DecodedExtrinsic, decode_extrinsic
from ._hash import pallet_hashes
from ._metadata import Metadata, VariantDef, decode_metadata
from ._scale import Reader, encode_compact

__all__ = ["Bindings", "Call", "EventRecord", "StorageEntry", "ViewFunction", "hash_key"]

A = TypeVar("A")
V = TypeVar("V")


@dataclass(frozen=True)
class Call(Generic[A]):
    """A call of a pallet, with its typed arguments (an instance of the call variant class)."""

    pallet: str
    pallet_index: int
    name: str
    args: A


@dataclass(frozen=True)
class StorageEntry(Generic[V]):
    """A storage item, with its keys; `V` is the value a query returns."""

    pallet: str
    name: str
    hashers: tuple[str, ...]
    key_types: tuple[int, ...]
    keys: tuple[Any, ...]
    value_type: int
    #: The encoded default (modifier `Default`), None for modifier `Optional`
    default: bytes | None
    prefix: str = ""

    @property
    def storage_prefix(self) -> str:
        return self.prefix or self.pallet


@dataclass(frozen=True)
class ViewFunction(Generic[V]):
    """A pallet's view function (metadata V16) with its arguments; `V` is what it returns."""

    pallet: str
    name: str
    #: `ViewFunctionId`, 32 bytes
    id: bytes
    input_types: tuple[int, ...]
    args: tuple[Any, ...]
    output_type: int


@dataclass(frozen=True)
class EventRecord:
    """One decoded event: which pallet and event, the typed event, and its phase."""

    pallet: str
    name: str
    #: The typed event (an instance of a generated event variant class)
    event: Any
    #: The index of the extrinsic that emitted it, None for initialization/finalization
    extrinsic_index: int | None
    topics: tuple[bytes, ...] = field(default=())


def hash_key(hasher: str, data: bytes) -> bytes:
    if hasher == "Identity":
        return data
    if hasher == "Twox64Concat":
        return xxhash.xxh64_digest(data, seed=0)[::-1] + data
    if hasher in ("Twox128", "Twox256"):
        chunks = 2 if hasher == "Twox128" else 4
        return b"".join(xxhash.xxh64_digest(data, seed=s)[::-1] for s in range(chunks))
    if hasher == "Blake2_128":
        return hashlib.blake2b(data, digest_size=16).digest()
    if hasher == "Blake2_256":
        return hashlib.blake2b(data, digest_size=32).digest()
    if hasher == "Blake2_128Concat":
        return hashlib.blake2b(data, digest_size=16).digest() + data
    raise CodecError(f"unknown storage hasher {hasher}")


class Bindings:
    """The metadata, codec and error classes of one generated package."""

    def __init__(
        self,
        metadata: Metadata,
        classes: ClassMap,
        errors: Iterable[type[ModuleError]] = (),
        pallet_hashes: Mapping[str, str] | None = None,
    ) -> None:
        self.metadata = metadata
        self.codec = Codec(metadata.types, classes)
        self.errors = {(e.pallet_index, e.error_index): e for e in errors}
        self._pallet_hashes = dict(pallet_hashes) if pallet_hashes is not None else None
        self._pallet_names = {p.index: p.name for p in metadata.pallets}
        self._event_type = self._find_event_records()

    @classmethod
    def create(
        cls,
        metadata: bytes,
        namespace: Mapping[str, Any],
        errors: Sequence[type[ModuleError]] = (),
        pallet_hashes: Mapping[str, str] | None = None,
    ) -> Bindings:
        return cls(
            decode_metadata(metadata), ClassMap.from_namespace(namespace), errors, pallet_hashes
        )

    @property
    def metadata_hash(self) -> str:
        return self.metadata.hash

    @property
    def pallet_hashes(self) -> Mapping[str, str]:
        if self._pallet_hashes is None:
            self._pallet_hashes = pallet_hashes(self.metadata)
        return self._pallet_hashes

    def _find_event_records(self) -> int | None:
        for pallet in self.metadata.pallets:
            if pallet.name != "System":
                continue
            for entry in pallet.storage:
                if entry.name == "Events":
                    return entry.value
        return None

    # -- calls ------------------------------------------------------------------------------

    def encode_call(self, call: Call[Any]) -> bytes:
        pallet = self._pallet(call.pallet)
        if pallet.calls is None:
            raise CodecError(f"pallet {call.pallet} has no calls")
        return bytes([pallet.index]) + self.codec.encode(pallet.calls, call.args)

    def decode_call(self, data: bytes) -> Call[Any]:
        reader = Reader(data)
        index = reader.u8()
        pallet = next((p for p in self.metadata.pallets if p.index == index), None)
        if pallet is None or pallet.calls is None:
            raise CodecError(f"no pallet with calls at index {index}")
        args = self.codec.decode_from(pallet.calls, reader)
        if reader.remaining():
            raise CodecError("bytes left over after the call")
        definition = self.metadata.types[pallet.calls].definition
        assert isinstance(definition, VariantDef)
        name = next(v.name for v in definition.variants if v.index == data[1])
        return Call(pallet.name, pallet.index, name, args)

    def decode_extrinsic(self, extrinsic: bytes) -> DecodedExtrinsic:
        """An encoded (length-prefixed, v4) extrinsic, as a block body holds it, read back:
        signer, nonce, era, tip and the typed call (`ExtrinsicDecodeError` if malformed)."""
        return decode_extrinsic(self, extrinsic)

    def _pallet(self, name: str) -> Any:
        try:
            return self.metadata.pallet(name)
        except KeyError as exc:
            raise CodecError(f"no pallet {name} in the metadata") from exc

    # -- storage ----------------------------------------------------------------------------

    def storage_key(self, entry: StorageEntry[Any]) -> bytes:
        key = hash_key("Twox128", entry.storage_prefix.encode()) + hash_key(
            "Twox128", entry.name.encode()
        )
        if len(entry.keys) > len(entry.hashers):
            raise CodecError(f"{entry.pallet}.{entry.name} takes {len(entry.hashers)} keys")
        for hasher, type_id, value in zip(entry.hashers, entry.key_types, entry.keys, strict=False):
            key += hash_key(hasher, self.codec.encode(type_id, value))
        return key

    def decode_storage(self, entry: StorageEntry[V], data: bytes | None) -> V:
        if data is None:
            if entry.default is None:
                return None  # type: ignore[return-value]  # V is `T | None` for Optional entries
            data = entry.default
        value: V = self.codec.decode(entry.value_type, data)
        return value

    # -- view functions -------------------------------------------------------------------

    def encode_view_function(self, view: ViewFunction[Any]) -> bytes:
        """`RuntimeViewFunction_execute_view_function` input: the id, then the encoded inputs."""
        if len(view.args) != len(view.input_types):
            raise CodecError(f"{view.pallet}.{view.name} takes {len(view.input_types)} inputs")
        inputs = b"".join(
            self.codec.encode(t, a) for t, a in zip(view.input_types, view.args, strict=True)
        )
        return view.id + encode_compact(len(inputs)) + inputs

    def decode_view_output(self, view: ViewFunction[V], data: bytes) -> V:
        value: V = self.codec.decode(view.output_type, data)
        return value

    # -- events -----------------------------------------------------------------------------

    def decode_events(self, data: bytes) -> list[EventRecord]:
        """Decode the value of `System.Events` into typed records."""
        if self._event_type is None:
            raise CodecError("the metadata has no System.Events storage")
        raw = self.codec.decode(self._event_type, data)
        return [self._record(r) for r in raw]

    def _record(self, record: Any) -> EventRecord:
        phase, outer, topics = _fields3(record)
        pallet_event = _only_field(outer)
        pallet = getattr(type(outer), "__variant_name__", None)
        name = getattr(type(pallet_event), "__variant_name__", None)
        if pallet is None and isinstance(outer, tuple):
            pallet, payload = outer
            pallet_event = payload
            name = payload[0] if isinstance(payload, tuple) else None
        if name is None and isinstance(pallet_event, tuple) and pallet_event:
            name = pallet_event[0]  # a variant the generated package does not know
        phase_name = getattr(type(phase), "__variant_name__", None)
        if phase_name is None and isinstance(phase, tuple):
            phase_name = phase[0]
        extrinsic_index = _only_field(phase) if phase_name == "ApplyExtrinsic" else None
        if isinstance(phase, tuple):
            extrinsic_index = phase[1] if phase_name == "ApplyExtrinsic" else None
        return EventRecord(
            str(pallet), str(name), pallet_event, extrinsic_index, tuple(bytes(t) for t in topics)
        )

    # -- errors -----------------------------------------------------------------------------

    def module_error(self, pallet_index: int, error: bytes) -> ModuleError:
        """The generated error for a `DispatchError::Module` (error bytes: first is the index)."""
        error_index = error[0] if error else -1
        cls = self.errors.get((pallet_index, error_index))
        if cls is not None:
            return cls(detail=error)
        pallet = self._pallet_names.get(pallet_index, str(pallet_index))
        return ModuleError(f"{pallet} error {error_index}", detail=error)


def _fields3(record: Any) -> tuple[Any, Any, Any]:
    if isinstance(record, dict):
        return record["phase"], record["event"], record["topics"]
    return record.phase, record.event, record.topics


def _only_field(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        if fields:
            return getattr(value, fields[0].name)
    return value
