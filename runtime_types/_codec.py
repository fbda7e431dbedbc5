"""SCALE encoding and decoding of typed values, driven by a metadata type registry.

Each type id is compiled once into an encoder and a decoder closure. Values are the typed
Python values of the generated bindings:

- integers -> `int`, `bool` -> `bool`, `str`/`char` -> `str`
- `Vec<u8>` and `[u8; N]` -> `bytes`; other sequences and arrays -> `list`
- tuples -> `tuple` (the empty tuple -> `None`); `Option<T>` -> `T | None`
- a composite with a generated class -> an instance of it; a composite with one field and no
  class (`BoundedVec`, `Cow`, `BTreeMap`...) -> the field's value
- an enum variant with a generated class -> an instance of it
- a bit sequence -> `list[bool]`

Without generated classes (`classes=None`), composites decode to `dict` (named fields) or
`tuple` (unnamed) and enum values to `(variant_name, payload)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from ._errors import CodecError
from ._metadata import (
    ArrayDef,
    BitSequenceDef,
    CompactDef,
    CompositeDef,
    FieldMeta,
    PortableType,
    PrimitiveDef,
    SequenceDef,
    TupleDef,
    VariantDef,
)
from ._scale import Reader, encode_compact

__all__ = ["ClassMap", "Codec", "is_option"]

Encoder = Callable[[Any, bytearray], None]
Decoder = Callable[[Reader], Any]

_INT_WIDTH = {
    "u8": (1, False),
    "u16": (2, False),
    "u32": (4, False),
    "u64": (8, False),
    "u128": (16, False),
    "u256": (32, False),
    "i8": (1, True),
    "i16": (2, True),
    "i32": (4, True),
    "i64": (8, True),
    "i128": (16, True),
    "i256": (32, True),
}


@dataclasses.dataclass(frozen=True)
class ClassMap:
    """Generated classes by type id: composites, and enum variants by (type id, index)."""

    structs: Mapping[int, type]
    variants: Mapping[tuple[int, int], type]

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]) -> ClassMap:
        structs: dict[int, type] = {}
        variants: dict[tuple[int, int], type] = {}
        for value in namespace.values():
            if not isinstance(value, type):
                continue
            type_id = value.__dict__.get("__type_id__")
            if type_id is None:
                continue
            index = value.__dict__.get("__variant_index__")
            if index is None:
                structs[type_id] = value
            else:
                variants[(type_id, index)] = value
        return cls(structs, variants)


def is_option(portable: PortableType) -> bool:
    definition = portable.definition
    return (
        portable.path == ("Option",)
        and isinstance(definition, VariantDef)
        and [v.name for v in definition.variants] == ["None", "Some"]
        and len(definition.variants[1].fields) == 1
    )


def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


class Codec:
    """Encoders and decoders for every type of one registry."""

    def __init__(self, types: Mapping[int, PortableType], classes: ClassMap | None = None) -> None:
        self.types = types
        self.classes = classes or ClassMap({}, {})
        self._enc: dict[int, Encoder] = {}
        self._dec: dict[int, Decoder] = {}

    def encode(self, type_id: int, value: Any) -> bytes:
        out = bytearray()
        try:
            self.encoder(type_id)(value, out)
        except CodecError:
            raise
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
            raise CodecError(f"cannot encode {value!r} as type {type_id}: {exc}") from exc
        return bytes(out)

    def decode(self, type_id: int, data: bytes, *, exact: bool = True) -> Any:
        reader = Reader(data)
        value = self.decode_from(type_id, reader)
        if exact and reader.remaining():
            raise CodecError(f"{reader.remaining()} bytes left over decoding type {type_id}")
        return value

    def decode_from(self, type_id: int, reader: Reader) -> Any:
        try:
            return self.decoder(type_id)(reader)
        except CodecError:
            raise
        except (IndexError, ValueError, UnicodeDecodeError, TypeError) as exc:
            raise CodecError(f"cannot decode type {type_id}: {exc}") from exc

    # -- compilation ------------------------------------------------------------------------

    def encoder(self, type_id: int) -> Encoder:
        known = self._enc.get(type_id)
        if known is not None:
            return known
        slot: list[Encoder] = []

        def deferred(value: Any, out: bytearray) -> None:
            slot[0](value, out)

        self._enc[type_id] = deferred  # recursion through this type resolves lazily
        compiled = self._compile_encoder(type_id)
        slot.append(compiled)
        self._enc[type_id] = compiled
        return compiled

    def decoder(self, type_id: int) -> Decoder:
        known = self._dec.get(type_id)
        if known is not None:
            return known
        slot: list[Decoder] = []

        def deferred(reader: Reader) -> Any:
            return slot[0](reader)

        self._dec[type_id] = deferred
        compiled = self._compile_decoder(type_id)
        slot.append(compiled)
        self._dec[type_id] = compiled
        return compiled

    def _portable(self, type_id: int) -> PortableType:
        try:
            return self.types[type_id]
        except KeyError as exc:
            raise CodecError(f"unknown type id {type_id}") from exc

    def _is_u8(self, type_id: int) -> bool:
        definition = self._portable(type_id).definition
        return isinstance(definition, PrimitiveDef) and definition.name == "u8"

    def _compile_encoder(self, type_id: int) -> Encoder:
        portable = self._portable(type_id)
        d = portable.definition
        if isinstance(d, PrimitiveDef):
            return _primitive_encoder(d.name)
        if isinstance(d, CompactDef):
            unwrap = self._compact_unwrap(d.type)

            def enc_compact(value: Any, out: bytearray) -> None:
                out += encode_compact(unwrap(value))

            return enc_compact
        if isinstance(d, SequenceDef):
            if self._is_u8(d.type):

                def enc_bytes(value: Any, out: bytearray) -> None:
                    out += encode_compact(len(value))
                    out += bytes(value)

                return enc_bytes
            item = self.encoder(d.type)

            def enc_seq(value: Any, out: bytearray) -> None:
                out += encode_compact(len(value))
                for v in value:
                    item(v, out)

            return enc_seq
        if isinstance(d, ArrayDef):
            length = d.length
            if self._is_u8(d.type):

                def enc_arr_bytes(value: Any, out: bytearray) -> None:
                    if len(value) != length:
                        raise CodecError(f"expected {length} bytes, got {len(value)}")
                    out += bytes(value)

                return enc_arr_bytes
            arr_item = self.encoder(d.type)

            def enc_arr(value: Any, out: bytearray) -> None:
                if len(value) != length:
                    raise CodecError(f"expected {length} items, got {len(value)}")
                for v in value:
                    arr_item(v, out)

            return enc_arr
        if isinstance(d, TupleDef):
            items = [self.encoder(t) for t in d.types]
            if not items:
                return _enc_nothing

            def enc_tuple(value: Any, out: bytearray) -> None:
                if len(value) != len(items):
                    raise CodecError(f"expected a {len(items)}-tuple, got {value!r}")
                for enc, v in zip(items, value, strict=True):
                    enc(v, out)

            return enc_tuple
        if isinstance(d, BitSequenceDef):
            return self._bits_encoder(d)
        if isinstance(d, CompositeDef):
            return self._composite_encoder(type_id, d.fields)
        if is_option(portable):
            inner = self.encoder(d.variants[1].fields[0].type)

            def enc_option(value: Any, out: bytearray) -> None:
                if value is None:
                    out.append(0)
                else:
                    out.append(1)
                    inner(value, out)

            return enc_option
        return self._variant_encoder(type_id, d)

    def _compact_unwrap(self, type_id: int) -> Callable[[Any], int]:
        d = self._portable(type_id).definition
        if isinstance(d, CompositeDef) and len(d.fields) == 1:
            inner = self._compact_unwrap(d.fields[0].type)
            if type_id in self.classes.structs:
                name = _field_names(self.classes.structs[type_id])[0]
                return lambda v: inner(getattr(v, name))
            return inner
        if isinstance(d, TupleDef) and not d.types:
            return lambda v: 0
        return int

    def _compact_wrap(self, type_id: int) -> Callable[[int], Any]:
        d = self._portable(type_id).definition
        if isinstance(d, CompositeDef) and len(d.fields) == 1:
            inner = self._compact_wrap(d.fields[0].type)
            cls = self.classes.structs.get(type_id)
            if cls is not None:
                return lambda v: cls(inner(v))
            return inner
        if isinstance(d, TupleDef) and not d.types:
            return lambda v: None
        return lambda v: v

    def _fields_encoder(self, fields: tuple[FieldMeta, ...], cls: type | None) -> Encoder:
        encoders = [self.encoder(f.type) for f in fields]
        if cls is not None:
            names = _field_names(cls)
            if len(names) != len(encoders):
                raise CodecError(f"{cls.__name__} has {len(names)} fields, type has {len(fields)}")
            pairs = list(zip(names, encoders, strict=True))

            def enc_obj(value: Any, out: bytearray) -> None:
                for name, enc in pairs:
                    enc(getattr(value, name), out)

            return enc_obj
        if not fields:
            return _enc_nothing
        if len(fields) == 1:
            return encoders[0]
        if fields[0].name is None:

            def enc_tuple(value: Any, out: bytearray) -> None:
                for enc, v in zip(encoders, value, strict=True):
                    enc(v, out)

            return enc_tuple
        named = [(str(f.name), enc) for f, enc in zip(fields, encoders, strict=True)]

        def enc_dict(value: Any, out: bytearray) -> None:
            for name, enc in named:
                enc(value[name], out)

        return enc_dict

    def _composite_encoder(self, type_id: int, fields: tuple[FieldMeta, ...]) -> Encoder:
        cls = self.classes.structs.get(type_id)
        inner = self._fields_encoder(fields, cls)
        if cls is None:
            return inner

        def enc_struct(value: Any, out: bytearray) -> None:
            if not isinstance(value, cls):
                raise CodecError(f"expected {cls.__name__}, got {type(value).__name__}")
            inner(value, out)

        return enc_struct

    def _variant_encoder(self, type_id: int, d: VariantDef) -> Encoder:
        by_class: dict[type, tuple[int, Encoder]] = {}
        by_name: dict[str, tuple[int, Encoder]] = {}
        for variant in d.variants:
            cls = self.classes.variants.get((type_id, variant.index))
            enc = self._fields_encoder(variant.fields, cls)
            by_name[variant.name] = (variant.index, enc)
            if cls is not None:
                by_class[cls] = (variant.index, enc)

        def enc_variant(value: Any, out: bytearray) -> None:
            found = by_class.get(type(value))
            payload = value
            if found is None:
                if isinstance(value, str):
                    found, payload = by_name.get(value), None
                elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
                    found, payload = by_name.get(value[0]), value[1]
                elif isinstance(value, dict) and len(value) == 1:
                    ((name, payload),) = value.items()
                    found = by_name.get(name)
            if found is None:
                raise CodecError(f"{value!r} is not a variant of type {type_id}")
            out.append(found[0])
            found[1](payload, out)

        return enc_variant

    def _bits_encoder(self, d: BitSequenceDef) -> Encoder:
        width, msb = self._bit_layout(d)

        def enc_bits(value: Any, out: bytearray) -> None:
            bits = list(value)
            out += encode_compact(len(bits))
            units = (len(bits) + width * 8 - 1) // (width * 8)
            for unit in range(units):
                word = 0
                for bit in range(width * 8):
                    position = unit * width * 8 + bit
                    if position < len(bits) and bits[position]:
                        word |= 1 << (width * 8 - 1 - bit if msb else bit)
                out += word.to_bytes(width, "little")

        return enc_bits

    def _bit_layout(self, d: BitSequenceDef) -> tuple[int, bool]:
        store = self._portable(d.store).definition
        if not isinstance(store, PrimitiveDef) or store.name not in ("u8", "u16", "u32", "u64"):
            raise CodecError("bit sequence store must be u8, u16, u32 or u64")
        order = self._portable(d.order).path
        return _INT_WIDTH[store.name][0], bool(order) and order[-1] == "Msb0"

    def _compile_decoder(self, type_id: int) -> Decoder:
        portable = self._portable(type_id)
        d = portable.definition
        if isinstance(d, PrimitiveDef):
            return _primitive_decoder(d.name)
        if isinstance(d, CompactDef):
            wrap = self._compact_wrap(d.type)
            return lambda r: wrap(r.compact())
        if isinstance(d, SequenceDef):
            if self._is_u8(d.type):
                return Reader.bytes_vec
            item = self.decoder(d.type)

            def dec_seq(reader: Reader) -> Any:
                count = reader.compact()
                if count > reader.remaining():
                    raise CodecError(
                        f"sequence claims {count} items, {reader.remaining()} bytes left"
                    )
                return [item(reader) for _ in range(count)]

            return dec_seq
        if isinstance(d, ArrayDef):
            length = d.length
            if self._is_u8(d.type):
                return lambda r: r.read(length)
            arr_item = self.decoder(d.type)
            return lambda r: [arr_item(r) for _ in range(length)]
        if isinstance(d, TupleDef):
            items = [self.decoder(t) for t in d.types]
            if not items:
                return _dec_nothing
            return lambda r: tuple(dec(r) for dec in items)
        if isinstance(d, BitSequenceDef):
            width, msb = self._bit_layout(d)

            def dec_bits(reader: Reader) -> Any:
                count = reader.compact()
                units = (count + width * 8 - 1) // (width * 8)
                bits: list[bool] = []
                for _ in range(units):
                    word = reader.uint(width)
                    for bit in range(width * 8):
                        if len(bits) < count:
                            shift = width * 8 - 1 - bit if msb else bit
                            bits.append(bool(word >> shift & 1))
                return bits

            return dec_bits
        if isinstance(d, CompositeDef):
            return self._fields_decoder(d.fields, self.classes.structs.get(type_id))
        if is_option(portable):
            inner = self.decoder(d.variants[1].fields[0].type)

            def dec_option(reader: Reader) -> Any:
                tag = reader.u8()
                if tag == 0:
                    return None
                if tag == 1:
                    return inner(reader)
                raise CodecError(f"invalid Option tag {tag}")

            return dec_option
        return self._variant_decoder(type_id, d)

    def _fields_decoder(self, fields: tuple[FieldMeta, ...], cls: type | None) -> Decoder:
        decoders = [self.decoder(f.type) for f in fields]
        if cls is not None:
            return lambda r: cls(*[dec(r) for dec in decoders])
        if not fields:
            return _dec_nothing
        if len(fields) == 1:
            return decoders[0]
        if fields[0].name is None:
            return lambda r: tuple(dec(r) for dec in decoders)
        named = [(str(f.name), dec) for f, dec in zip(fields, decoders, strict=True)]
        return lambda r: {name: dec(r) for name, dec in named}

    def _variant_decoder(self, type_id: int, d: VariantDef) -> Decoder:
        table: dict[int, Decoder] = {}
        for variant in d.variants:
            cls = self.classes.variants.get((type_id, variant.index))
            inner = self._fields_decoder(variant.fields, cls)
            if cls is not None:
                table[variant.index] = inner
            else:
                name = variant.name
                table[variant.index] = _named(name, inner)

        def dec_variant(reader: Reader) -> Any:
            index = reader.u8()
            dec = table.get(index)
            if dec is None:
                raise CodecError(f"type {type_id} has no variant with index {index}")
            return dec(reader)

        return dec_variant


def _named(name: str, inner: Decoder) -> Decoder:
    return lambda r: (name, inner(r))


def _enc_nothing(value: Any, out: bytearray) -> None:
    return None


def _dec_nothing(reader: Reader) -> Any:
    return None


def _primitive_encoder(name: str) -> Encoder:
    if name == "bool":

        def enc_bool(value: Any, out: bytearray) -> None:
            if not isinstance(value, bool):
                raise CodecError(f"expected bool, got {value!r}")
            out.append(1 if value else 0)

        return enc_bool
    if name == "str":

        def enc_str(value: Any, out: bytearray) -> None:
            data = value.encode()
            out += encode_compact(len(data))
            out += data

        return enc_str
    if name == "char":
        return lambda value, out: out.extend(ord(value).to_bytes(4, "little"))
    width, signed = _INT_WIDTH[name]

    def enc_int(value: Any, out: bytearray) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise CodecError(f"expected int for {name}, got {value!r}")
        out += value.to_bytes(width, "little", signed=signed)

    return enc_int


def _primitive_decoder(name: str) -> Decoder:
    if name == "bool":

        def dec_bool(reader: Reader) -> Any:
            byte = reader.u8()
            if byte > 1:
                raise CodecError(f"invalid bool byte {byte}")
            return byte == 1

        return dec_bool
    if name == "str":
        return Reader.str
    if name == "char":
        return lambda r: chr(r.uint(4))
    width, signed = _INT_WIDTH[name]
    return lambda r: int.from_bytes(r.read(width), "little", signed=signed)
