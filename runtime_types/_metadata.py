"""A decoder for runtime metadata V14, V15 and V16 into a small, typed model.

scalecodec decodes V14 but not V15 or V16 (it raises on their version bytes), so the metadata
itself is decoded here: the format is small and stable, and owning it lets codegen treat every
version alike. V15 adds runtime APIs and outer enums; V16 adds pallet view functions, associated
types, deprecation info, several extrinsic versions and transaction extensions by version (the
layouts are frame-metadata's v15.rs and v16.rs). Values *inside* the chain (calls, events,
storage) are handled by `_codec`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from ._errors import MetadataDecodeError
from ._scale import Reader

__all__ = [
    "HASHERS",
    "PRIMITIVES",
    "ArrayDef",
    "BitSequenceDef",
    "CompactDef",
    "CompositeDef",
    "ConstantMeta",
    "ExtrinsicMeta",
    "FieldMeta",
    "Metadata",
    "PalletMeta",
    "PortableType",
    "PrimitiveDef",
    "RuntimeApiMeta",
    "RuntimeApiMethodMeta",
    "SequenceDef",
    "StorageMeta",
    "TupleDef",
    "TypeDef",
    "VariantDef",
    "VariantMeta",
    "ViewFunctionMeta",
    "decode_metadata",
]

PRIMITIVES = (
    "bool",
    "char",
    "str",
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "u256",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "i256",
)
HASHERS = (
    "Blake2_128",
    "Blake2_256",
    "Blake2_128Concat",
    "Twox128",
    "Twox256",
    "Twox64Concat",
    "Identity",
)

T = TypeVar("T")


@dataclass(frozen=True)
class FieldMeta:
    name: str | None
    type: int
    type_name: str | None
    docs: tuple[str, ...]


@dataclass(frozen=True)
class VariantMeta:
    name: str
    fields: tuple[FieldMeta, ...]
    index: int
    docs: tuple[str, ...]


@dataclass(frozen=True)
class CompositeDef:
    fields: tuple[FieldMeta, ...]


@dataclass(frozen=True)
class VariantDef:
    variants: tuple[VariantMeta, ...]


@dataclass(frozen=True)
class SequenceDef:
    type: int


@dataclass(frozen=True)
class ArrayDef:
    length: int
    type: int


@dataclass(frozen=True)
class TupleDef:
    types: tuple[int, ...]


@dataclass(frozen=True)
class PrimitiveDef:
    name: str


@dataclass(frozen=True)
class CompactDef:
    type: int


@dataclass(frozen=True)
class BitSequenceDef:
    store: int
    order: int


TypeDef = (
    CompositeDef
    | VariantDef
    | SequenceDef
    | ArrayDef
    | TupleDef
    | PrimitiveDef
    | CompactDef
    | BitSequenceDef
)


@dataclass(frozen=True)
class PortableType:
    id: int
    path: tuple[str, ...]
    params: tuple[tuple[str, int | None], ...]
    definition: TypeDef
    docs: tuple[str, ...]


@dataclass(frozen=True)
class StorageMeta:
    name: str
    #: "Optional" or "Default"
    modifier: str
    hashers: tuple[str, ...]
    #: None for a plain value
    key: int | None
    value: int
    default: bytes
    docs: tuple[str, ...]


@dataclass(frozen=True)
class ConstantMeta:
    name: str
    type: int
    value: bytes
    docs: tuple[str, ...]


@dataclass(frozen=True)
class ViewFunctionMeta:
    """A pallet's read-only query (V16), run by `RuntimeViewFunction_execute_view_function`."""

    #: `ViewFunctionId`: 32 bytes (twox128 of the pallet name, then of the signature)
    id: bytes
    name: str
    inputs: tuple[tuple[str, int], ...]
    output: int
    docs: tuple[str, ...]
    deprecated: bool = False


@dataclass(frozen=True)
class RuntimeApiMethodMeta:
    name: str
    inputs: tuple[tuple[str, int], ...]
    output: int
    docs: tuple[str, ...]


@dataclass(frozen=True)
class RuntimeApiMeta:
    """A runtime API (V15+); `version` is known from V16 on."""

    name: str
    methods: tuple[RuntimeApiMethodMeta, ...]
    docs: tuple[str, ...]
    version: int | None = None


@dataclass(frozen=True)
class PalletMeta:
    name: str
    index: int
    storage_prefix: str | None
    storage: tuple[StorageMeta, ...]
    calls: int | None
    event: int | None
    constants: tuple[ConstantMeta, ...]
    error: int | None
    docs: tuple[str, ...]
    view_functions: tuple[ViewFunctionMeta, ...] = ()
    #: (name, type) of the pallet's associated types (V16)
    associated_types: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class ExtrinsicMeta:
    #: The extrinsic version signed transactions use (4; the highest one listed up to 4)
    version: int
    #: V14: the extrinsic type; V15 and V16: the call type (the outer `RuntimeCall`)
    type: int
    #: (identifier, extra type, additional-signed type) of the extensions a v4 signed
    #: extrinsic carries, in order (V16: those of transaction extension version 0)
    signed_extensions: tuple[tuple[str, int, int], ...]
    #: Every extrinsic version the runtime accepts (V16 lists several)
    versions: tuple[int, ...] = ()
    #: V16: transaction extension version -> indices into `transaction_extensions`
    extensions_by_version: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    #: V16: every transaction extension (identifier, type, implicit type)
    transaction_extensions: tuple[tuple[str, int, int], ...] = ()
    #: The `MultiAddress` and `MultiSignature` types of signed extrinsics (V14: the extrinsic
    #: type's `Address` and `Signature` parameters; None if it names none)
    address_type: int | None = None
    signature_type: int | None = None


@dataclass(frozen=True)
class Metadata:
    version: int
    types: Mapping[int, PortableType]
    pallets: tuple[PalletMeta, ...]
    extrinsic: ExtrinsicMeta
    #: V14 and V15 name the runtime type; V16 does not (None)
    runtime_type: int | None
    #: blake2b-256 of the metadata bytes, hex with 0x
    hash: str
    raw: bytes
    apis: tuple[RuntimeApiMeta, ...] = ()
    #: (call, event, error) outer enum types, V15+
    outer_enums: tuple[int, int, int] | None = None

    def pallet(self, name: str) -> PalletMeta:
        for pallet in self.pallets:
            if pallet.name == name:
                return pallet
        raise KeyError(name)

    def find_type(self, *path: str) -> PortableType | None:
        for portable in self.types.values():
            if portable.path == path:
                return portable
        return None


def _vec(reader: Reader, item: Callable[[Reader], T]) -> tuple[T, ...]:
    count = reader.compact()
    if count > reader.remaining():
        raise MetadataDecodeError(f"vector claims {count} items, {reader.remaining()} bytes left")
    return tuple(item(reader) for _ in range(count))


def _option(reader: Reader, item: Callable[[Reader], T]) -> T | None:
    tag = reader.u8()
    if tag == 0:
        return None
    if tag == 1:
        return item(reader)
    raise MetadataDecodeError(f"invalid Option tag {tag}")


def _str(reader: Reader) -> str:
    return reader.str()


def _strs(reader: Reader) -> tuple[str, ...]:
    return _vec(reader, _str)


def _field(reader: Reader) -> FieldMeta:
    name = _option(reader, _str)
    ty = reader.compact()
    type_name = _option(reader, _str)
    return FieldMeta(name, ty, type_name, _strs(reader))


def _variant(reader: Reader) -> VariantMeta:
    name = reader.str()
    fields = _vec(reader, _field)
    index = reader.u8()
    return VariantMeta(name, fields, index, _strs(reader))


def _type_def(reader: Reader) -> TypeDef:
    tag = reader.u8()
    if tag == 0:
        return CompositeDef(_vec(reader, _field))
    if tag == 1:
        return VariantDef(_vec(reader, _variant))
    if tag == 2:
        return SequenceDef(reader.compact())
    if tag == 3:
        length = reader.uint(4)
        return ArrayDef(length, reader.compact())
    if tag == 4:
        return TupleDef(_vec(reader, Reader.compact))
    if tag == 5:
        index = reader.u8()
        if index >= len(PRIMITIVES):
            raise MetadataDecodeError(f"unknown primitive {index}")
        return PrimitiveDef(PRIMITIVES[index])
    if tag == 6:
        return CompactDef(reader.compact())
    if tag == 7:
        store = reader.compact()
        return BitSequenceDef(store, reader.compact())
    raise MetadataDecodeError(f"unknown type definition tag {tag}")


def _param(reader: Reader) -> tuple[str, int | None]:
    name = reader.str()
    return name, _option(reader, Reader.compact)


def _portable(reader: Reader) -> PortableType:
    type_id = reader.compact()
    path = _strs(reader)
    params = _vec(reader, _param)
    definition = _type_def(reader)
    return PortableType(type_id, path, params, definition, _strs(reader))


def _deprecation(reader: Reader) -> bool:
    """V16 `ItemDeprecationInfo`; True when deprecated."""
    tag = reader.u8()
    if tag == 0:
        return False
    if tag == 1:
        return True
    if tag == 2:
        reader.str()  # note
        _option(reader, _str)  # since
        return True
    raise MetadataDecodeError(f"unknown deprecation info tag {tag}")


def _enum_deprecation(reader: Reader) -> None:
    """V16 `EnumDeprecationInfo`: a map from variant index to `VariantDeprecationInfo`."""
    for _ in range(reader.compact()):
        reader.u8()
        tag = reader.u8()
        if tag == 2:
            reader.str()
            _option(reader, _str)
        elif tag != 1:
            raise MetadataDecodeError(f"unknown variant deprecation tag {tag}")


def _storage_entry_v16(reader: Reader) -> StorageMeta:
    entry = _storage_entry(reader)
    _deprecation(reader)
    return entry


def _constant_v16(reader: Reader) -> ConstantMeta:
    constant = _constant(reader)
    _deprecation(reader)
    return constant


def _named_type(reader: Reader) -> tuple[str, int]:
    name = reader.str()
    return name, reader.compact()


def _view_function(reader: Reader) -> ViewFunctionMeta:
    function_id = reader.read(32)
    name = reader.str()
    inputs = _vec(reader, _named_type)
    output = reader.compact()
    docs = _strs(reader)
    return ViewFunctionMeta(bytes(function_id), name, inputs, output, docs, _deprecation(reader))


def _associated_type(reader: Reader) -> tuple[str, int]:
    name, ty = _named_type(reader)
    _strs(reader)
    return name, ty


def _api(version: int) -> Callable[[Reader], RuntimeApiMeta]:
    def method(reader: Reader) -> RuntimeApiMethodMeta:
        name = reader.str()
        inputs = _vec(reader, _named_type)
        output = reader.compact()
        docs = _strs(reader)
        if version >= 16:
            _deprecation(reader)
        return RuntimeApiMethodMeta(name, inputs, output, docs)

    def decode(reader: Reader) -> RuntimeApiMeta:
        name = reader.str()
        methods = _vec(reader, method)
        docs = _strs(reader)
        api_version = None
        if version >= 16:
            api_version = reader.compact()
            _deprecation(reader)
        return RuntimeApiMeta(name, methods, docs, api_version)

    return decode


def _storage_entry(reader: Reader) -> StorageMeta:
    name = reader.str()
    modifier = reader.u8()
    if modifier > 1:
        raise MetadataDecodeError(f"unknown storage modifier {modifier}")
    kind = reader.u8()
    if kind == 0:
        hashers: tuple[str, ...] = ()
        key: int | None = None
        value = reader.compact()
    elif kind == 1:

        def hasher(r: Reader) -> str:
            index = r.u8()
            if index >= len(HASHERS):
                raise MetadataDecodeError(f"unknown storage hasher {index}")
            return HASHERS[index]

        hashers = _vec(reader, hasher)
        key = reader.compact()
        value = reader.compact()
    else:
        raise MetadataDecodeError(f"unknown storage entry kind {kind}")
    default = reader.bytes_vec()
    return StorageMeta(
        name, ("Optional", "Default")[modifier], hashers, key, value, default, _strs(reader)
    )


def _constant(reader: Reader) -> ConstantMeta:
    name = reader.str()
    ty = reader.compact()
    value = reader.bytes_vec()
    return ConstantMeta(name, ty, value, _strs(reader))


def _pallet(version: int) -> Callable[[Reader], PalletMeta]:
    v16 = version >= 16
    entry = _storage_entry_v16 if v16 else _storage_entry
    constant = _constant_v16 if v16 else _constant

    def enum_type(reader: Reader) -> int:
        type_id = reader.compact()
        if v16:
            _enum_deprecation(reader)
        return type_id

    def decode(reader: Reader) -> PalletMeta:
        name = reader.str()
        storage = _option(reader, lambda r: (r.str(), _vec(r, entry)))
        calls = _option(reader, enum_type)
        event = _option(reader, enum_type)
        constants = _vec(reader, constant)
        error = _option(reader, enum_type)
        associated: tuple[tuple[str, int], ...] = ()
        views: tuple[ViewFunctionMeta, ...] = ()
        if v16:
            associated = _vec(reader, _associated_type)
            views = _vec(reader, _view_function)
        index = reader.u8()
        docs = _strs(reader) if version >= 15 else ()
        if v16:
            _deprecation(reader)
        return PalletMeta(
            name,
            index,
            storage[0] if storage else None,
            storage[1] if storage else (),
            calls,
            event,
            constants,
            error,
            docs,
            views,
            associated,
        )

    return decode


def _signed_extension(reader: Reader) -> tuple[str, int, int]:
    identifier = reader.str()
    ty = reader.compact()
    return identifier, ty, reader.compact()


def _unwrap(raw: bytes) -> bytes:
    for skip_option in (False, True):
        if raw[:4] == b"meta":
            return raw
        try:
            reader = Reader(raw)
            if skip_option and reader.u8() != 1:
                continue
            inner = reader.bytes_vec()
        except IndexError:
            continue
        if inner[:4] == b"meta" and reader.remaining() == 0:
            return inner
    return raw


def decode_metadata(raw: bytes) -> Metadata:
    """Decode `RuntimeMetadataPrefixed` bytes (magic `meta`, version 14, 15 or 16).

    Also accepts the bytes wrapped as `Vec<u8>` or `Option<Vec<u8>>`, as the runtime APIs
    `Metadata_metadata` and `Metadata_metadata_at_version` return them.
    """
    raw = _unwrap(raw)
    if raw[:4] != b"meta":
        raise MetadataDecodeError("metadata does not start with the magic 'meta'")
    version = raw[4] if len(raw) > 4 else -1
    if version not in (14, 15, 16):
        raise MetadataDecodeError(
            f"metadata version {version} is not supported (14, 15 and 16 are)"
        )
    reader = Reader(raw[5:])
    apis: tuple[RuntimeApiMeta, ...] = ()
    outer_enums: tuple[int, int, int] | None = None
    runtime_type: int | None = None
    try:
        types = _vec(reader, _portable)
        pallets = _vec(reader, _pallet(version))
        if version == 14:
            ext_type = reader.compact()
            ext_version = reader.u8()
            extensions = _vec(reader, _signed_extension)
            runtime_type = reader.compact()
            ext_portable = next((t for t in types if t.id == ext_type), None)
            params = dict(ext_portable.params) if ext_portable is not None else {}
            extrinsic = ExtrinsicMeta(
                ext_version,
                ext_type,
                extensions,
                (ext_version,),
                address_type=params.get("Address"),
                signature_type=params.get("Signature"),
            )
        else:
            extrinsic = _extrinsic_v15(reader) if version == 15 else _extrinsic_v16(reader)
            if version == 15:
                runtime_type = reader.compact()
            apis = _vec(reader, _api(version))
            call_enum = reader.compact()
            event_enum = reader.compact()
            outer_enums = (call_enum, event_enum, reader.compact())
            # Custom values: name -> (type, bytes); not needed for bindings, but checked.
            _vec(reader, lambda r: (r.str(), r.compact(), r.bytes_vec()))
            if reader.remaining():
                raise MetadataDecodeError(f"{reader.remaining()} bytes left after the metadata")
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise MetadataDecodeError(f"malformed metadata V{version}: {exc}") from exc
    by_id = {t.id: t for t in types}
    if len(by_id) != len(types):
        raise MetadataDecodeError("duplicate type ids in the portable registry")
    return Metadata(
        version=version,
        types=by_id,
        pallets=pallets,
        extrinsic=extrinsic,
        runtime_type=runtime_type,
        hash="0x" + hashlib.blake2b(raw, digest_size=32).hexdigest(),
        raw=raw,
        apis=apis,
        outer_enums=outer_enums,
    )


def _extrinsic_v15(reader: Reader) -> ExtrinsicMeta:
    ext_version = reader.u8()
    address_type = reader.compact()
    call_type = reader.compact()
    signature_type = reader.compact()
    reader.compact()  # extra type
    extensions = _vec(reader, _signed_extension)
    return ExtrinsicMeta(
        ext_version,
        call_type,
        extensions,
        (ext_version,),
        address_type=address_type,
        signature_type=signature_type,
    )


def _extrinsic_v16(reader: Reader) -> ExtrinsicMeta:
    versions = tuple(reader.read(reader.compact()))
    address_type = reader.compact()
    call_type = reader.compact()
    signature_type = reader.compact()
    by_version: dict[int, tuple[int, ...]] = {}
    for _ in range(reader.compact()):
        extension_version = reader.u8()
        by_version[extension_version] = _vec(reader, Reader.compact)
    extensions = _vec(reader, _signed_extension)
    for indices in by_version.values():
        if any(i >= len(extensions) for i in indices):
            raise MetadataDecodeError("a transaction extension version lists an unknown index")
    # A v4 signed extrinsic carries the extensions of transaction extension version 0.
    signed = tuple(extensions[i] for i in by_version.get(0, range(len(extensions))))
    usable = [v for v in versions if v <= 4]
    return ExtrinsicMeta(
        max(usable) if usable else max(versions, default=4),
        call_type,
        signed,
        versions,
        by_version,
        extensions,
        address_type,
        signature_type,
    )
