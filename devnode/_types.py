"""Declarative SCALE types that both encode values and describe themselves as metadata V14.

A pallet declares its storage, calls and events with these types; the same objects produce the
runtime metadata's portable type registry, so the metadata cannot drift from the code.

Python values used for each kind of type:
- integers (fixed and compact) -> `int`; `bool` -> `bool`; `str` -> `str`
- `Vec<u8>` and `[u8; N]` -> `bytes`; other sequences and arrays -> `list`
- tuples -> `tuple`
- composites: no fields -> `None`, one unnamed field -> the field's value,
  named fields -> `dict`, several unnamed fields -> `tuple`
- enums -> `(variant_name, payload)` with the payload shaped as a composite's value
- a composite or an enum case declared with a `record` class (a frozen dataclass whose fields
  are the named fields) -> an instance of that class instead
- `Option<T>` -> `None` or the value
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._errors import ScaleDecodeError
from ._scale import Reader, encode_compact, encode_str

__all__ = [
    "BOOL",
    "H256",
    "STR",
    "U8",
    "U16",
    "U32",
    "U64",
    "U128",
    "VEC_U8",
    "Array",
    "Compact",
    "Composite",
    "Field",
    "OptionType",
    "Primitive",
    "ScaleType",
    "SequenceType",
    "TupleType",
    "TypeRegistry",
    "Variant",
    "VariantCase",
    "bytes_array",
    "record_maker",
]

_PRIMITIVE_INDEX = {
    "bool": 0,
    "char": 1,
    "str": 2,
    "u8": 3,
    "u16": 4,
    "u32": 5,
    "u64": 6,
    "u128": 7,
    "u256": 8,
    "i8": 9,
    "i16": 10,
    "i32": 11,
    "i64": 12,
    "i128": 13,
    "i256": 14,
}


def _encode_strings(items: Sequence[str]) -> bytes:
    return encode_compact(len(items)) + b"".join(encode_str(s) for s in items)


class ScaleType:
    """Base of every declared type."""

    path: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()

    def type_params(self) -> Sequence[tuple[str, ScaleType | None]]:
        return ()

    def encode(self, value: Any) -> bytes:
        raise NotImplementedError

    def decode(self, reader: Reader) -> Any:
        raise NotImplementedError

    def decode_all(self, data: bytes) -> Any:
        reader = Reader(data)
        value = self.decode(reader)
        reader.finish()
        return value

    def children(self) -> Iterable[ScaleType]:
        return ()

    def structural_key(self, registry: TypeRegistry) -> tuple[Any, ...] | None:
        """A key under which structurally equal anonymous types share one registry id."""
        return None

    def encode_def(self, registry: TypeRegistry) -> bytes:
        raise NotImplementedError


class Primitive(ScaleType):
    def __init__(self, name: str) -> None:
        if name not in _PRIMITIVE_INDEX:
            raise ValueError(f"unknown primitive {name}")
        self.name = name
        self.signed = name.startswith("i")
        fixed = {"bool": 1, "char": 4, "str": 0}
        self.width = fixed[name] if name in fixed else int(name[1:]) // 8

    def encode(self, value: Any) -> bytes:
        if self.name == "bool":
            return b"\x01" if value else b"\x00"
        if self.name == "str":
            return encode_str(value)
        if self.name == "char":
            return ord(value).to_bytes(4, "little")
        return int(value).to_bytes(self.width, "little", signed=self.signed)

    def decode(self, reader: Reader) -> Any:
        if self.name == "bool":
            byte = reader.u8()
            if byte > 1:
                raise ScaleDecodeError(f"invalid bool byte {byte}")
            return byte == 1
        if self.name == "str":
            try:
                return reader.bytes_vec().decode()
            except UnicodeDecodeError as exc:
                raise ScaleDecodeError("string is not valid UTF-8") from exc
        if self.name == "char":
            return chr(reader.uint(4))
        return int.from_bytes(reader.read(self.width), "little", signed=self.signed)

    def structural_key(self, registry: TypeRegistry) -> tuple[Any, ...]:
        return ("primitive", self.name)

    def encode_def(self, registry: TypeRegistry) -> bytes:
        return bytes([5, _PRIMITIVE_INDEX[self.name]])


class Compact(ScaleType):
    def __init__(self, inner: ScaleType) -> None:
        self.inner = inner

    def encode(self, value: Any) -> bytes:
        return encode_compact(int(value))

    def decode(self, reader: Reader) -> Any:
        return reader.compact()

    def children(self) -> Iterable[ScaleType]:
        return (self.inner,)

    def structural_key(self, registry: TypeRegistry) -> tuple[Any, ...]:
        return ("compact", registry.id_of(self.inner))

    def encode_def(self, registry: TypeRegistry) -> bytes:
        return b"\x06" + encode_compact(registry.id_of(self.inner))


class SequenceType(ScaleType):
    def __init__(self, inner: ScaleType) -> None:
        self.inner = inner
        self._is_bytes = isinstance(inner, Primitive) and inner.name == "u8"

    def encode(self, value: Any) -> bytes:
        if self._is_bytes:
            return encode_compact(len(value)) + bytes(value)
        return encode_compact(len(value)) + b"".join(self.inner.encode(v) for v in value)

    def decode(self, reader: Reader) -> Any:
        if self._is_bytes:
            return reader.bytes_vec()
        count = reader.compact()
        if count > reader.remaining():
            raise ScaleDecodeError(
                f"sequence claims {count} items, only {reader.remaining()} bytes left"
            )
        return [self.inner.decode(reader) for _ in range(count)]

    def children(self) -> Iterable[ScaleType]:
        return (self.inner,)

    def structural_key(self, registry: TypeRegistry) -> tuple[Any, ...]:
        return ("sequence", registry.id_of(self.inner))

    def encode_def(self, registry: TypeRegistry) -> bytes:
        return b"\x02" + encode_compact(registry.id_of(self.inner))


class Array(ScaleType):
    def __init__(self, length: int, inner: ScaleType) -> None:
        self.length = length
        self.inner = inner
        self._is_bytes = isinstance(inner, Primitive) and inner.name == "u8"

    def encode(self, value: Any) -> bytes:
        if len(value) != self.length:
            raise ValueError(f"expected {self.length} items, got {len(value)}")
        if self._is_bytes:
            return bytes(value)
        return b"".join(self.inner.encode(v) for v in value)

    def decode(self, reader: Reader) -> Any:
        if self._is_bytes:
            return reader.read(self.length)
        return [self.inner.decode(reader) for _ in range(self.length)]

    def children(self) -> Iterable[ScaleType]:
        return (self.inner,)

    def structural_key(self, registry: TypeRegistry) -> tuple[Any, ...]:
        return ("array", self.length, registry.id_of(self.inner))

    def encode_def(self, registry: TypeRegistry) -> bytes:
        return (
            b"\x03" + self.length.to_bytes(4, "little") + encode_compact(registry.id_of(self.inner))
        )


class TupleType(ScaleType):
    def __init__(self, *items: ScaleType) -> None:
        self.items = items

    def encode(self, value: Any) -> bytes:
        if not self.items:
            return b""
        return b"".join(t.encode(v) for t, v in zip(self.items, value, strict=True))

    def decode(self, reader: Reader) -> Any:
        return tuple(t.decode(reader) for t in self.items)

    def children(self) -> Iterable[ScaleType]:
        return self.items

    def structural_key(self, registry: TypeRegistry) -> tuple[Any, ...]:
        return ("tuple", *(registry.id_of(t) for t in self.items))

    def encode_def(self, registry: TypeRegistry) -> bytes:
        return (
            b"\x04"
            + encode_compact(len(self.items))
            + b"".join(encode_compact(registry.id_of(t)) for t in self.items)
        )


@dataclass(frozen=True)
class Field:
    name: str | None
    type: ScaleType
    type_name: str | None = None
    docs: tuple[str, ...] = ()

    def encode_meta(self, registry: TypeRegistry) -> bytes:
        out = bytearray()
        out += b"\x00" if self.name is None else b"\x01" + encode_str(self.name)
        out += encode_compact(registry.id_of(self.type))
        out += b"\x00" if self.type_name is None else b"\x01" + encode_str(self.type_name)
        out += _encode_strings(self.docs)
        return bytes(out)


def _compile_encoder(fields: Sequence[Field]) -> Callable[[Any], bytes]:
    """An encoder for a field list, resolved once instead of on every value."""
    if not fields:
        return lambda value: b""
    if len(fields) == 1 and fields[0].name is None:
        return fields[0].type.encode
    encoders = [f.type.encode for f in fields]
    if fields[0].name is None:

        def encode_unnamed(value: Any) -> bytes:
            return b"".join([enc(v) for enc, v in zip(encoders, value, strict=True)])

        return encode_unnamed
    named = [(f.name, f.type.encode) for f in fields]

    def encode_named(value: Any) -> bytes:
        try:
            return b"".join([enc(value[name]) for name, enc in named])
        except KeyError as exc:
            raise ValueError(f"missing field {exc.args[0]!r}") from exc

    return encode_named


def _compile_record_encoder(fields: Sequence[Field], record: type) -> Callable[[Any], bytes]:
    """An encoder for instances of `record`, whose attributes are the named `fields`."""
    named = [(f.name or "", f.type.encode) for f in fields]

    def encode_record(value: Any) -> bytes:
        if type(value) is not record:
            raise ValueError(f"expected a {record.__qualname__}, got {type(value).__qualname__}")
        return b"".join([enc(getattr(value, name)) for name, enc in named])

    return encode_record


def _fixed_slots(
    scale_type: ScaleType, path: str, namespace: dict[str, Any], slots: list[tuple[str, int, bool]]
) -> str | None:
    """Flatten a type made only of fixed-width integers (records, and one-field wrappers of an
    integer) into `slots` (attribute path, width, signedness) and return the Python expression
    that rebuilds its value from `ints`; None for any other type."""
    if isinstance(scale_type, Primitive):
        if scale_type.name in ("str", "char", "bool"):
            return None
        slots.append((path, scale_type.width, scale_type.signed))
        return f"ints[{len(slots) - 1}]"
    if not isinstance(scale_type, Composite) or not scale_type.fields:
        return None
    if scale_type.record is None:
        if len(scale_type.fields) == 1 and scale_type.fields[0].name is None:
            return _fixed_slots(scale_type.fields[0].type, path, namespace, slots)
        return None
    parts = []
    for f in scale_type.fields:
        part = _fixed_slots(f.type, f"{path}.{f.name}", namespace, slots)
        if part is None:
            return None
        parts.append(part)
    name = f"R{len(namespace)}"
    namespace[name] = _record_maker(scale_type.record, [f.name or "" for f in scale_type.fields])
    return f"{name}({', '.join(parts)})"


def record_maker(record: type) -> Callable[..., Any]:
    """A fast constructor of a frozen dataclass `record`, from all its field values in order."""
    return _record_maker(record, [f.name for f in dataclasses.fields(record)])


def _record_maker(record: type, names: list[str]) -> Callable[..., Any]:
    """Build a `record` from its field values without running its frozen `__init__` (one
    `object.__setattr__` per field): decoding is the hot path, and the values are decoded ones."""
    new = object.__new__

    def make(*values: Any) -> Any:
        value: Any = new(record)
        value.__dict__.update(zip(names, values, strict=True))
        return value

    return make


def _compile_fixed_record(
    composite: Composite,
) -> tuple[Callable[[Reader], Any], Callable[[Any], bytes]] | None:
    """A decoder and an encoder for a record of fixed-width integers (accounts, the hottest
    values): one read, and the value rebuilt by slot, instead of walking the type per field."""
    namespace: dict[str, Any] = {}
    slots: list[tuple[str, int, bool]] = []
    build = _fixed_slots(composite, "value", namespace, slots)
    if build is None:
        return None
    width = sum(w for _, w, _ in slots)
    spans, offset = [], 0
    for _, w, signed in slots:
        spans.append(f"from_bytes(data[{offset}:{offset + w}], 'little', signed={signed})")
        offset += w
    namespace["from_bytes"] = int.from_bytes
    decode_source = (
        f"lambda reader: (lambda data: (lambda ints: {build})([{', '.join(spans)}]))"
        f"(reader.read({width}))"
    )
    encode_parts = ", ".join(f"{p}.to_bytes({w}, 'little', signed={s})" for p, w, s in slots)
    namespace["record"] = composite.record
    encode_source = (
        "lambda value: b''.join(("
        + encode_parts
        + ",)) if type(value) is record else _wrong(value)"
    )

    def wrong(value: Any) -> bytes:
        assert composite.record is not None
        raise ValueError(
            f"expected a {composite.record.__qualname__}, got {type(value).__qualname__}"
        )

    namespace["_wrong"] = wrong
    decode = eval(decode_source, namespace)
    encode = eval(encode_source, namespace)
    return decode, encode


def _decode_record(fields: Sequence[Field], record: type, reader: Reader) -> Any:
    return record(**{f.name: f.type.decode(reader) for f in fields if f.name is not None})


def _encode_fields(fields: Sequence[Field], value: Any) -> bytes:
    return _compile_encoder(fields)(value)


def _decode_fields(fields: Sequence[Field], reader: Reader) -> Any:
    if not fields:
        return None
    if len(fields) == 1 and fields[0].name is None:
        return fields[0].type.decode(reader)
    if fields[0].name is None:
        return tuple(f.type.decode(reader) for f in fields)
    return {f.name: f.type.decode(reader) for f in fields}


def _fixed_layout(scale_type: ScaleType) -> list[tuple[tuple[str, ...], int, bool]] | None:
    """Flatten a composite made only of fixed-width integers into (path, width, signed) slots."""
    if isinstance(scale_type, Primitive):
        if scale_type.name in ("str", "char", "bool"):
            return None
        return [((), scale_type.width, scale_type.signed)]
    if isinstance(scale_type, Composite) and scale_type.fields:
        named = scale_type.fields[0].name is not None
        if not named and len(scale_type.fields) != 1:
            return None
        slots: list[tuple[tuple[str, ...], int, bool]] = []
        for f in scale_type.fields:
            inner = _fixed_layout(f.type)
            if inner is None:
                return None
            prefix = (f.name,) if named and f.name is not None else ()
            slots += [(prefix + path, width, signed) for path, width, signed in inner]
        return slots
    return None


class Composite(ScaleType):
    def __init__(
        self,
        path: Sequence[str],
        fields: Sequence[Field],
        params: Sequence[tuple[str, ScaleType | None]] = (),
        docs: Sequence[str] = (),
        record: type | None = None,
    ) -> None:
        self.path = tuple(path)
        self.fields = list(fields)
        self.params = list(params)
        self.docs = tuple(docs)
        #: The frozen dataclass values of this type are (None: dicts, as for any composite)
        self.record = record
        self._layout: list[tuple[tuple[str, ...], int, bool]] | bool | None = False
        self._encoder: Callable[[Any], bytes] | None = None
        self._fixed_record: tuple[Callable[[Reader], Any], Callable[[Any], bytes]] | bool | None = (
            False
        )

    def type_params(self) -> Sequence[tuple[str, ScaleType | None]]:
        return self.params

    def _fixed_record_codec(
        self,
    ) -> tuple[Callable[[Reader], Any], Callable[[Any], bytes]] | None:
        # Hot records (accounts) are all fixed-width integers: compiled once, lazily (a
        # record's fields may be declared before the types they hold are filled).
        if self._fixed_record is False:
            self._fixed_record = _compile_fixed_record(self)
        return self._fixed_record if isinstance(self._fixed_record, tuple) else None

    def _fixed(self) -> list[tuple[tuple[str, ...], int, bool]] | None:
        # Hot records (accounts) are all fixed-width integers: encode and decode them by slot,
        # without walking the type tree per value. Computed lazily: fields may be filled late.
        if self._layout is False:
            layout = _fixed_layout(self)
            self._layout = layout if layout and all(path for path, _, _ in layout) else None
        return self._layout if isinstance(self._layout, list) else None

    def encode(self, value: Any) -> bytes:
        if self._encoder is not None:
            return self._encoder(value)
        if self.record is not None:
            fixed = self._fixed_record_codec()
            self._encoder = (
                fixed[1] if fixed is not None else _compile_record_encoder(self.fields, self.record)
            )
            return self._encoder(value)
        layout = self._fixed()
        if layout is None:
            self._encoder = _compile_encoder(self.fields)
            return self._encoder(value)
        out = bytearray()
        for path, width, signed in layout:
            item = value
            for name in path:
                item = item[name]
            out += int(item).to_bytes(width, "little", signed=signed)
        return bytes(out)

    def decode(self, reader: Reader) -> Any:
        if self.record is not None:
            fixed = self._fixed_record_codec()
            if fixed is not None:
                return fixed[0](reader)
            return _decode_record(self.fields, self.record, reader)
        layout = self._fixed()
        if layout is None:
            return _decode_fields(self.fields, reader)
        result: dict[str, Any] = {}
        for path, width, signed in layout:
            target = result
            for name in path[:-1]:
                target = target.setdefault(name, {})
            target[path[-1]] = int.from_bytes(reader.read(width), "little", signed=signed)
        return result

    def children(self) -> Iterable[ScaleType]:
        return [f.type for f in self.fields]

    def encode_def(self, registry: TypeRegistry) -> bytes:
        return (
            b"\x00"
            + encode_compact(len(self.fields))
            + b"".join(f.encode_meta(registry) for f in self.fields)
        )


@dataclass
class VariantCase:
    name: str
    index: int
    fields: list[Field] = field(default_factory=list)
    docs: tuple[str, ...] = ()
    #: The frozen dataclass this case's values are (its fields the named fields), if any
    record: type | None = None


class Variant(ScaleType):
    """An enum. Cases may be added after construction, so recursive types can be declared."""

    def __init__(
        self,
        path: Sequence[str],
        cases: Sequence[VariantCase] = (),
        params: Sequence[tuple[str, ScaleType | None]] = (),
        docs: Sequence[str] = (),
    ) -> None:
        self.path = tuple(path)
        self.params = list(params)
        self.docs = tuple(docs)
        self.cases: list[VariantCase] = []
        self._encoders: dict[str, tuple[bytes, Callable[[Any], bytes]]] = {}
        self._by_name: dict[str, VariantCase] = {}
        self._by_index: dict[int, VariantCase] = {}
        self._by_record: dict[type, tuple[bytes, Callable[[Any], bytes]]] = {}
        for case in cases:
            self.add(case)

    def add(self, case: VariantCase) -> VariantCase:
        if case.name in self._by_name or case.index in self._by_index:
            raise ValueError(f"{'::'.join(self.path)}: duplicate variant {case.name}/{case.index}")
        self.cases.append(case)
        self._encoders.pop(case.name, None)
        self._by_name[case.name] = case
        self._by_index[case.index] = case
        if case.record is not None:
            self._by_record[case.record] = (
                bytes([case.index]),
                _compile_record_encoder(case.fields, case.record),
            )
        return case

    def case(self, name: str) -> VariantCase:
        return self._by_name[name]

    def case_at(self, index: int) -> VariantCase | None:
        return self._by_index.get(index)

    def type_params(self) -> Sequence[tuple[str, ScaleType | None]]:
        return self.params

    def encode(self, value: Any) -> bytes:
        typed = self._by_record.get(type(value))
        if typed is not None:
            return typed[0] + typed[1](value)
        if isinstance(value, str):
            name, payload = value, None
        else:
            name, payload = value
        compiled = self._encoders.get(name)
        if compiled is None:
            try:
                case = self._by_name[name]
            except KeyError as exc:
                raise ValueError(f"{'::'.join(self.path)} has no variant {name!r}") from exc
            compiled = (bytes([case.index]), _compile_encoder(case.fields))
            self._encoders[name] = compiled
        tag, encode_payload = compiled
        return tag + encode_payload(payload)

    def decode(self, reader: Reader) -> Any:
        index = reader.u8()
        case = self._by_index.get(index)
        if case is None:
            raise ScaleDecodeError(f"{'::'.join(self.path)} has no variant with index {index}")
        if case.record is not None:
            return _decode_record(case.fields, case.record, reader)
        return (case.name, _decode_fields(case.fields, reader))

    def children(self) -> Iterable[ScaleType]:
        return [f.type for c in self.cases for f in c.fields]

    def encode_def(self, registry: TypeRegistry) -> bytes:
        out = bytearray(b"\x01")
        ordered = sorted(self.cases, key=lambda c: c.index)
        out += encode_compact(len(ordered))
        for case in ordered:
            out += encode_str(case.name)
            out += encode_compact(len(case.fields))
            out += b"".join(f.encode_meta(registry) for f in case.fields)
            out += bytes([case.index])
            out += _encode_strings(case.docs)
        return bytes(out)


class OptionType(Variant):
    """`Option<T>`: Python `None` or the value itself."""

    def __init__(self, inner: ScaleType) -> None:
        super().__init__(
            ["Option"],
            [VariantCase("None", 0), VariantCase("Some", 1, [Field(None, inner)])],
            params=[("T", inner)],
        )
        self.inner = inner

    def encode(self, value: Any) -> bytes:
        return b"\x00" if value is None else b"\x01" + self.inner.encode(value)

    def decode(self, reader: Reader) -> Any:
        tag = reader.u8()
        if tag == 0:
            return None
        if tag == 1:
            return self.inner.decode(reader)
        raise ScaleDecodeError(f"invalid Option tag {tag}")

    def structural_key(self, registry: TypeRegistry) -> tuple[Any, ...]:
        return ("option", registry.id_of(self.inner))


class TypeRegistry:
    """Assigns portable type ids and encodes the registry as metadata V14 expects."""

    def __init__(self) -> None:
        self._ids: dict[int, int] = {}
        self._structural: dict[tuple[Any, ...], int] = {}
        self._types: list[ScaleType] = []

    def id_of(self, scale_type: ScaleType) -> int:
        known = self._ids.get(id(scale_type))
        if known is not None:
            return known
        key = scale_type.structural_key(self)
        if key is not None and key in self._structural:
            type_id = self._structural[key]
            self._ids[id(scale_type)] = type_id
            return type_id
        type_id = len(self._types)
        self._types.append(scale_type)
        self._ids[id(scale_type)] = type_id
        if key is not None:
            self._structural[key] = type_id
        for child in scale_type.children():
            self.id_of(child)
        for _, param in scale_type.type_params():
            if param is not None:
                self.id_of(param)
        return type_id

    def encode(self) -> bytes:
        # Encoding a definition may register more types, so walk by index until stable.
        index = 0
        encoded: list[bytes] = []
        while index < len(self._types):
            scale_type = self._types[index]
            entry = bytearray(encode_compact(index))
            entry += _encode_strings(scale_type.path)
            params = scale_type.type_params()
            entry += encode_compact(len(params))
            for name, param in params:
                entry += encode_str(name)
                entry += b"\x00" if param is None else b"\x01" + encode_compact(self.id_of(param))
            entry += scale_type.encode_def(self)
            entry += _encode_strings(scale_type.docs)
            encoded.append(bytes(entry))
            index += 1
        out = bytearray(encode_compact(len(self._types)))
        for entry_bytes in encoded:
            out += entry_bytes
        return bytes(out)


BOOL = Primitive("bool")
STR = Primitive("str")
U8 = Primitive("u8")
U16 = Primitive("u16")
U32 = Primitive("u32")
U64 = Primitive("u64")
U128 = Primitive("u128")
VEC_U8 = SequenceType(U8)


def bytes_array(length: int) -> Array:
    return Array(length, U8)


H256 = Composite(["primitive_types", "H256"], [Field(None, bytes_array(32), "[u8; 32]")])
