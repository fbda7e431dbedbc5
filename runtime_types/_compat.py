"""Bindings on a node whose metadata is not the one they were generated from.

Two runtimes can encode the same pallet identically and still have different metadata: other
type ids, other type paths (`orml_tokens::module` against `orml_tokens::pallet`), bounded
wrappers (`BoundedVec<u8, N>` where the other has `Vec<u8>`), storage items listed in another
order, more variants in an enum. `compare` walks the bindings' metadata and the node's side by
side, from each pallet's calls, events, errors, storage and constants, and pairs their types by
SCALE shape: primitives by name, composites by field names, enum variants by index and name,
one-field wrappers see through. A pallet is *compatible* when everything the bindings know of it
encodes the same on the node; what the node has beyond that (an event or storage item the
bindings do not know) and what the bindings have that the node lacks below the pallet's own
items (a call variant, a constant) are *notes*, not differences.

`retarget(bindings, node)` then gives `Bindings` that encode and decode with the node's
metadata and the generated classes of the original package: storage entries, view functions
and calls are looked up on the node by name, and every node type paired with a generated class
decodes to that class. The chain client does this when the pallet hashes differ
(`ChainClient`, docs/runtime_types.md).
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._bindings import Bindings, StorageEntry, ViewFunction
from ._codec import ClassMap, is_option
from ._errors import CodecError
from ._metadata import (
    ArrayDef,
    BitSequenceDef,
    CompactDef,
    CompositeDef,
    Metadata,
    PalletMeta,
    PrimitiveDef,
    SequenceDef,
    TupleDef,
    TypeDef,
    VariantDef,
)

__all__ = ["Compatibility", "compare", "retarget"]


@dataclass(frozen=True)
class Compatibility:
    """What `compare` found, per pallet: differences break it, notes do not."""

    differences: dict[str, tuple[str, ...]]
    notes: dict[str, tuple[str, ...]]

    @property
    def incompatible(self) -> tuple[str, ...]:
        """The pallets with at least one difference, in the order compared."""
        return tuple(name for name, found in self.differences.items() if found)


def _kind(definition: TypeDef) -> str:
    if isinstance(definition, PrimitiveDef):
        return definition.name
    return type(definition).__name__.removesuffix("Def").lower()


class _Pairing:
    """Pairs the bindings' types (ours) with the node's (theirs) by shape."""

    def __init__(self, ours: Metadata, theirs: Metadata, classes: ClassMap) -> None:
        self.ours, self.theirs, self.classes = ours, theirs, classes
        self.done: dict[tuple[int, int], list[str]] = {}
        self.structs: dict[int, type] = {}
        self.variants: dict[tuple[int, int], type] = {}
        self.notes: list[str] = []

    def pair(self, a: int, b: int, where: str) -> list[str]:
        key = (a, b)
        if key in self.done:
            return self.done[key]
        self.done[key] = []  # a recursive type meets itself: assume equal until shown not
        found = self._pair(a, b, where)
        self.done[key] = found
        return found

    def _pair(self, a: int, b: int, where: str) -> list[str]:
        ta, tb = self.ours.types[a], self.theirs.types[b]
        da, db = ta.definition, tb.definition
        if type(da) is not type(db) or _kind(da) != _kind(db):
            # a one-field wrapper (BoundedVec, WeakBoundedVec, Cow) encodes as its field
            if isinstance(db, CompositeDef) and len(db.fields) == 1:
                return self.pair(a, db.fields[0].type, where)
            if (
                isinstance(da, CompositeDef)
                and len(da.fields) == 1
                and a not in self.classes.structs
            ):
                return self.pair(da.fields[0].type, b, where)
            return [f"{where}: {_kind(da)} on the bindings, {_kind(db)} on the node"]
        if isinstance(da, PrimitiveDef):
            return []
        if isinstance(da, CompactDef | SequenceDef):
            assert isinstance(db, CompactDef | SequenceDef)
            return self.pair(da.type, db.type, where)
        if isinstance(da, ArrayDef):
            assert isinstance(db, ArrayDef)
            if da.length != db.length:
                return [f"{where}: [_; {da.length}] on the bindings, [_; {db.length}] on the node"]
            return self.pair(da.type, db.type, where)
        if isinstance(da, TupleDef):
            assert isinstance(db, TupleDef)
            if len(da.types) != len(db.types):
                return [f"{where}: a {len(da.types)}-tuple on the bindings, {len(db.types)} on the node"]  # fmt: skip
            return [d for i, (x, y) in enumerate(zip(da.types, db.types, strict=True))
                    for d in self.pair(x, y, f"{where}.{i}")]  # fmt: skip
        if isinstance(da, BitSequenceDef):
            assert isinstance(db, BitSequenceDef)
            return self.pair(da.store, db.store, where) + self.pair(da.order, db.order, where)
        if isinstance(da, CompositeDef):
            assert isinstance(db, CompositeDef)
            found = self._fields(da, db, where)
            cls = self.classes.structs.get(a)
            if cls is not None and not found:
                self.structs[b] = cls
            return found
        assert isinstance(da, VariantDef) and isinstance(db, VariantDef)
        if is_option(ta) != is_option(tb):
            return [f"{where}: an Option on one side only"]
        theirs = {v.index: v for v in db.variants}
        found = []
        for variant in da.variants:
            other = theirs.get(variant.index)
            at = f"{where}.{variant.name}"
            if other is None:
                self.notes.append(f"{at} (index {variant.index}) is not on the node")
                continue
            if other.name != variant.name:
                found.append(f"{at}: index {variant.index} is {other.name} on the node")
                continue
            differing = self._fields(variant, other, at)
            cls = self.classes.variants.get((a, variant.index))
            if cls is not None and not differing:
                self.variants[(b, variant.index)] = cls
            found += differing
        return found

    def _fields(self, ours: Any, theirs: Any, where: str) -> list[str]:
        names_a = [f.name for f in ours.fields]
        names_b = [f.name for f in theirs.fields]
        if names_a != names_b:
            return [f"{where}: fields {names_a} on the bindings, {names_b} on the node"]
        return [d for f, g in zip(ours.fields, theirs.fields, strict=True)
                for d in self.pair(f.type, g.type, f"{where}.{f.name or '_'}")]  # fmt: skip

    def pallet(self, name: str) -> list[str]:
        mine = self.ours.pallet(name)
        try:
            node = self.theirs.pallet(name)
        except KeyError:
            return [f"{name}: no such pallet on the node"]
        found = []
        if mine.index != node.index:
            found.append(f"{name}: index {mine.index} on the bindings, {node.index} on the node")
        for label in ("calls", "event", "error"):
            a, b = getattr(mine, label), getattr(node, label)
            if a is not None and b is None:
                found.append(f"{name}: the node's pallet has no {label}")
            elif a is not None and b is not None:
                found += self.pair(a, b, f"{name}.{label}")
        found += self._storage(mine, node)
        theirs = {c.name: c for c in node.constants}
        for constant in mine.constants:
            other = theirs.get(constant.name)
            at = f"{name}.constants.{constant.name}"
            if other is None:
                self.notes.append(f"{at} is not on the node (the bindings' value stays)")
                continue
            found += self.pair(constant.type, other.type, at)
            if constant.value != other.value:
                self.notes.append(f"{at}: {other.value.hex()} on the node, {constant.value.hex()} in the bindings")  # fmt: skip
        views = {v.name: v for v in node.view_functions}
        for view in mine.view_functions:
            other_view = views.get(view.name)
            at = f"{name}.view_functions.{view.name}"
            if other_view is None:
                self.notes.append(f"{at} is not on the node")
                continue
            if len(view.inputs) != len(other_view.inputs):
                found.append(f"{at}: {len(view.inputs)} inputs, {len(other_view.inputs)} on the node")  # fmt: skip
                continue
            for (arg, x), (_, y) in zip(view.inputs, other_view.inputs, strict=True):
                found += self.pair(x, y, f"{at}.{arg}")
            found += self.pair(view.output, other_view.output, f"{at}.output")
        return found

    def _storage(self, mine: PalletMeta, node: PalletMeta) -> list[str]:
        theirs = {s.name: s for s in node.storage}
        found = []
        for entry in mine.storage:
            other = theirs.get(entry.name)
            at = f"{mine.name}.storage.{entry.name}"
            if other is None:
                found.append(f"{at}: not on the node")
                continue
            if (entry.modifier, entry.hashers) != (other.modifier, other.hashers):
                found.append(f"{at}: {entry.modifier} {entry.hashers} on the bindings, {other.modifier} {other.hashers} on the node")  # fmt: skip
                continue
            if entry.key is not None and other.key is not None:
                found += self.pair(entry.key, other.key, f"{at}.key")
            found += self.pair(entry.value, other.value, f"{at}.value")
        return found

    def apis(self) -> None:
        """Runtime API methods (the client decodes `validate_transaction`'s answer)."""
        theirs = {(a.name, m.name): m for a in self.theirs.apis for m in a.methods}
        for api in self.ours.apis:
            for method in api.methods:
                other = theirs.get((api.name, method.name))
                if other is not None and len(other.inputs) == len(method.inputs):
                    for (_, x), (_, y) in zip(method.inputs, other.inputs, strict=True):
                        self.pair(x, y, f"{api.name}.{method.name}")
                    self.pair(method.output, other.output, f"{api.name}.{method.name}")
        ours, node = self.ours.extrinsic, self.theirs.extrinsic
        for a, b in ((ours.address_type, node.address_type), (ours.signature_type, node.signature_type)):  # fmt: skip
            if a is not None and b is not None:
                self.pair(a, b, "extrinsic")


def compare(
    ours: Metadata, theirs: Metadata, pallets: Iterable[str] | None = None
) -> Compatibility:
    """Whether bindings generated from `ours` encode and decode the same on a node with
    `theirs`, pallet by pallet (default: every pallet of `ours`)."""
    pairing = _Pairing(ours, theirs, ClassMap({}, {}))
    names = [p.name for p in ours.pallets] if pallets is None else list(pallets)
    differences: dict[str, tuple[str, ...]] = {}
    notes: dict[str, tuple[str, ...]] = {}
    for name in names:
        pairing.notes = []
        try:
            ours.pallet(name)
        except KeyError:
            differences[name] = (f"{name}: not in the bindings",)
            continue
        differences[name] = tuple(dict.fromkeys(pairing.pallet(name)))
        notes[name] = tuple(dict.fromkeys(pairing.notes))
    return Compatibility(differences, notes)


class _NodeBindings(Bindings):
    """A generated package's classes over a node's metadata (see the module docstring)."""

    def __init__(self, original: Bindings, node: Metadata, classes: ClassMap) -> None:
        super().__init__(node, classes, original.errors.values())
        self.original = original
        self._entries: dict[tuple[str, str], StorageEntry[Any]] = {}

    def _entry(self, entry: StorageEntry[Any]) -> StorageEntry[Any]:
        known = self._entries.get((entry.pallet, entry.name))
        if known is None:
            try:
                meta = next(s for s in self._pallet(entry.pallet).storage if s.name == entry.name)
            except StopIteration:
                raise CodecError(f"the node has no storage {entry.pallet}.{entry.name}") from None
            if meta.key is None:
                keys: tuple[int, ...] = ()
            elif len(meta.hashers) == 1:
                keys = (meta.key,)
            else:
                definition = self.metadata.types[meta.key].definition
                assert isinstance(definition, TupleDef)
                keys = definition.types
            default = meta.default if meta.modifier == "Default" else None
            known = dataclasses.replace(
                entry, key_types=keys, value_type=meta.value, default=default, keys=()
            )
            self._entries[(entry.pallet, entry.name)] = known
        return dataclasses.replace(known, keys=entry.keys)

    def storage_key(self, entry: StorageEntry[Any]) -> bytes:
        if entry.value_type < 0:  # a key-only entry (System.Events' key in the client)
            return super().storage_key(entry)
        return super().storage_key(self._entry(entry))

    def decode_storage(self, entry: StorageEntry[Any], data: bytes | None) -> Any:
        return super().decode_storage(self._entry(entry), data)

    def _view(self, view: ViewFunction[Any]) -> ViewFunction[Any]:
        meta = next((v for v in self._pallet(view.pallet).view_functions if v.name == view.name), None)  # fmt: skip
        if meta is None:
            raise CodecError(f"the node has no view function {view.pallet}.{view.name}")
        inputs = tuple(t for _, t in meta.inputs)
        return dataclasses.replace(view, id=meta.id, input_types=inputs, output_type=meta.output)

    def encode_view_function(self, view: ViewFunction[Any]) -> bytes:
        return super().encode_view_function(self._view(view))

    def decode_view_output(self, view: ViewFunction[Any], data: bytes) -> Any:
        return super().decode_view_output(self._view(view), data)


_RETARGETED: weakref.WeakKeyDictionary[Bindings, dict[str, Bindings]] = weakref.WeakKeyDictionary()


def retarget(bindings: Bindings, node: Metadata) -> Bindings:
    """`bindings` over `node`'s metadata (see the module docstring); check with `compare`
    first that the pallets in use are compatible. One per (bindings, node metadata)."""
    if isinstance(bindings, _NodeBindings):
        bindings = bindings.original
    if node.hash == bindings.metadata.hash:
        return bindings
    known = _RETARGETED.setdefault(bindings, {})
    if node.hash not in known:
        known[node.hash] = _retarget(bindings, node)
    return known[node.hash]


def _retarget(bindings: Bindings, node: Metadata) -> Bindings:
    pairing = _Pairing(bindings.metadata, node, bindings.codec.classes)
    node_names = {p.name for p in node.pallets}
    for pallet in bindings.metadata.pallets:
        if pallet.name in node_names:
            pairing.pallet(pallet.name)
    pairing.apis()
    return _NodeBindings(bindings, node, ClassMap(pairing.structs, pairing.variants))
