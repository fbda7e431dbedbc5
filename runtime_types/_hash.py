"""Structural hashes of pallets: equal when everything a pallet's bindings touch is equal.

Type ids differ between runtimes that are otherwise identical, so the hash walks the types a
pallet reaches (calls, events, errors, storage, constants) in a fixed order, numbers them in the
order first met and hashes their shapes: paths, field and variant names, indices, primitives.
Docs are left out: a changed doc comment does not break bindings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from ._metadata import (
    ArrayDef,
    BitSequenceDef,
    CompactDef,
    CompositeDef,
    FieldMeta,
    Metadata,
    PalletMeta,
    PrimitiveDef,
    SequenceDef,
    TupleDef,
    VariantDef,
)

__all__ = ["pallet_hash", "pallet_hashes"]


class _Walker:
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata
        self.local: dict[int, int] = {}
        self.queue: list[int] = []

    def ref(self, type_id: int) -> str:
        number = self.local.get(type_id)
        if number is None:
            number = len(self.local)
            self.local[type_id] = number
            self.queue.append(type_id)
        return f"#{number}"

    def fields(self, fields: Iterable[FieldMeta]) -> str:
        return ",".join(f"{f.name or ''}:{self.ref(f.type)}" for f in fields)

    def shape(self, type_id: int) -> str:
        portable = self.metadata.types[type_id]
        d = portable.definition
        head = "::".join(portable.path)
        if isinstance(d, CompositeDef):
            body = f"struct({self.fields(d.fields)})"
        elif isinstance(d, VariantDef):
            body = (
                "enum("
                + ";".join(f"{v.index}={v.name}({self.fields(v.fields)})" for v in d.variants)
                + ")"
            )
        elif isinstance(d, SequenceDef):
            body = f"vec({self.ref(d.type)})"
        elif isinstance(d, ArrayDef):
            body = f"array({d.length},{self.ref(d.type)})"
        elif isinstance(d, TupleDef):
            body = "tuple(" + ",".join(self.ref(t) for t in d.types) + ")"
        elif isinstance(d, PrimitiveDef):
            body = d.name
        elif isinstance(d, CompactDef):
            body = f"compact({self.ref(d.type)})"
        else:
            assert isinstance(d, BitSequenceDef)
            body = f"bits({self.ref(d.store)},{self.ref(d.order)})"
        return f"{head}{body}"


def pallet_hash(metadata: Metadata, pallet: PalletMeta) -> str:
    walker = _Walker(metadata)
    parts = [f"pallet {pallet.name} {pallet.index} {pallet.storage_prefix}"]
    for label, root in (("calls", pallet.calls), ("event", pallet.event), ("error", pallet.error)):
        parts.append(f"{label} {walker.ref(root) if root is not None else '-'}")
    for entry in pallet.storage:
        key = walker.ref(entry.key) if entry.key is not None else "-"
        parts.append(
            f"storage {entry.name} {entry.modifier} {','.join(entry.hashers)} {key} "
            f"{walker.ref(entry.value)} {entry.default.hex()}"
        )
    for constant in pallet.constants:
        parts.append(f"constant {constant.name} {walker.ref(constant.type)} {constant.value.hex()}")
    position = 0
    while position < len(walker.queue):
        type_id = walker.queue[position]
        parts.append(f"type #{position} {walker.shape(type_id)}")
        position += 1
    return "0x" + hashlib.blake2b("\n".join(parts).encode(), digest_size=32).hexdigest()


def pallet_hashes(metadata: Metadata) -> dict[str, str]:
    return {p.name: pallet_hash(metadata, p) for p in metadata.pallets}
