"""Fixtures: generated bindings for the real-chain metadata fixtures and devnode's runtime, and
helpers that build random typed values and the same values as scalecodec expects them."""

from __future__ import annotations

import dataclasses
import importlib
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from scalecodec.base import RuntimeConfigurationObject, ScaleBytes
from scalecodec.type_registry import load_type_registry_preset

import devnode
from runtime_types import codegen
from runtime_types._codec import is_option
from runtime_types._metadata import (
    ArrayDef,
    BitSequenceDef,
    CompactDef,
    CompositeDef,
    FieldMeta,
    Metadata,
    PrimitiveDef,
    SequenceDef,
    TupleDef,
    VariantDef,
)

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "metadata"
V14_FIXTURES = ("kusama-v14", "substrate-v14", "substrate-contracts-node-v14")
ALL_FIXTURES = (*V14_FIXTURES, "substrate-v15")


def package_name(fixture: str) -> str:
    return "rtgen_" + fixture.replace("-", "_")


@pytest.fixture(scope="session")
def generated_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every fixture (and devnode's runtime) generated once, importable for the session."""
    root = tmp_path_factory.mktemp("generated")
    for fixture in ALL_FIXTURES:
        codegen.generate((FIXTURES / f"{fixture}.scale").read_bytes(), root / package_name(fixture))
    # V14 for the scalecodec oracle (V14 only); V16 (view functions) for the client tests.
    codegen.generate(devnode.RUNTIME.metadata(14), root / "rtgen_devnode")
    codegen.generate(devnode.RUNTIME.metadata(16), root / "rtgen_devnode_v16")
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))


@pytest.fixture(scope="session")
def load_generated(generated_root: Path) -> Any:
    def load(fixture: str) -> ModuleType:
        return importlib.import_module(package_name(fixture))

    return load


# -- random typed values ------------------------------------------------------------------------

_INT_BITS = {"u8": 8, "u16": 16, "u32": 32, "u64": 64, "u128": 128, "u256": 256}


class Unsupported(Exception):
    """A type that scalecodec cannot take as a plain value (bit sequences, nested calls)."""


class ValueMaker:
    """Random typed values for a generated package, and their scalecodec equivalents."""

    def __init__(self, package: ModuleType, rng: random.Random) -> None:
        self.bindings = package.BINDINGS
        self.metadata: Metadata = self.bindings.metadata
        self.classes = self.bindings.codec.classes
        self.rng = rng
        self.call_type = self._outer("RuntimeCall", "Call")

    def _outer(self, *names: str) -> int | None:
        for t in self.metadata.types.values():
            if (
                t.path
                and t.path[-1] in names
                and len(t.path) == 2
                and t.path[0].endswith("runtime")
            ):
                return t.id
        return None

    def value(self, type_id: int, depth: int = 0) -> Any:
        if depth > 12 or type_id == self.call_type:
            raise Unsupported(f"type {type_id}")
        t = self.metadata.types[type_id]
        d = t.definition
        r = self.rng
        if isinstance(d, PrimitiveDef):
            if d.name == "bool":
                return r.random() < 0.5
            if d.name == "str":
                return r.choice(["", "abc", "héllo", "x" * 70])
            if d.name == "char":
                raise Unsupported("char")
            if d.name.startswith("i"):
                bits = int(d.name[1:])
                return r.randint(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
            top = (1 << _INT_BITS[d.name]) - 1
            return min(top, r.choice([0, 1, 63, 64, 16383, 16384, top]))
        if isinstance(d, CompactDef):
            inner = self.metadata.types[d.type].definition
            limit = 128
            if isinstance(inner, PrimitiveDef):
                limit = _INT_BITS.get(inner.name, 128)
            number = r.choice(
                [0, 1, 63, 64, 16383, 16384, (1 << 30) - 1, 1 << 30, (1 << limit) - 1]
            )
            number = min(number, (1 << limit) - 1)
            return self.bindings.codec._compact_wrap(d.type)(number)
        if isinstance(d, SequenceDef | ArrayDef):
            item = self.metadata.types[d.type].definition
            length = d.length if isinstance(d, ArrayDef) else r.randint(0, 3)
            if isinstance(item, PrimitiveDef) and item.name == "u8":
                if isinstance(d, SequenceDef):
                    length = r.choice([0, 1, 5, 70])
                return r.randbytes(length)
            return [self.value(d.type, depth + 1) for _ in range(length)]
        if isinstance(d, TupleDef):
            if not d.types:
                return None
            return tuple(self.value(i, depth + 1) for i in d.types)
        if isinstance(d, BitSequenceDef):
            raise Unsupported("bit sequence")
        if isinstance(d, CompositeDef):
            values = [self.value(f.type, depth + 1) for f in d.fields]
            cls = self.classes.structs.get(type_id)
            if cls is None:
                return values[0]
            return cls(*values)
        assert isinstance(d, VariantDef)
        if is_option(t):
            return None if r.random() < 0.3 else self.value(d.variants[1].fields[0].type, depth + 1)
        variants = list(d.variants)
        r.shuffle(variants)
        for variant in variants:
            try:
                return self.variant(type_id, variant.index, depth)
            except Unsupported:
                continue
        raise Unsupported(f"enum {type_id}")

    def variant(self, type_id: int, index: int, depth: int = 0) -> Any:
        cls = self.classes.variants[(type_id, index)]
        d = self.metadata.types[type_id].definition
        assert isinstance(d, VariantDef)
        variant = next(v for v in d.variants if v.index == index)
        return cls(*[self.value(f.type, depth + 1) for f in variant.fields])

    # -- the same value as scalecodec takes it ---------------------------------------------------

    def scalecodec_value(self, type_id: int, value: Any) -> Any:
        t = self.metadata.types[type_id]
        d = t.definition
        if isinstance(d, PrimitiveDef):
            return value
        if isinstance(d, CompactDef):
            return self.bindings.codec._compact_unwrap(d.type)(value)
        if isinstance(d, SequenceDef | ArrayDef):
            if isinstance(value, bytes):
                return "0x" + value.hex()
            return [self.scalecodec_value(d.type, v) for v in value]
        if isinstance(d, TupleDef):
            if not d.types:
                return ()
            return tuple(self.scalecodec_value(i, v) for i, v in zip(d.types, value, strict=True))
        if isinstance(d, CompositeDef):
            if type_id not in self.classes.structs:
                inner = self.scalecodec_value(d.fields[0].type, value)
                # scalecodec reads a list given to a one-field composite as its field list
                return [inner] if isinstance(inner, list | tuple) else inner
            return self._fields(d.fields, value)
        assert isinstance(d, VariantDef)
        if is_option(t):
            return (
                None
                if value is None
                else self.scalecodec_value(d.variants[1].fields[0].type, value)
            )
        variant = next(v for v in d.variants if v.index == type(value).__variant_index__)
        if not variant.fields:
            return variant.name
        return {variant.name: self._fields(variant.fields, value)}

    def _fields(self, fields: tuple[FieldMeta, ...], value: Any) -> Any:
        values = [getattr(value, f.name) for f in dataclasses.fields(value)]
        converted = [self.scalecodec_value(f.type, v) for f, v in zip(fields, values, strict=True)]
        if not fields:
            return None
        if fields[0].name is None:
            if len(fields) == 1:
                inner = converted[0]
                return [inner] if isinstance(inner, list | tuple) else inner
            return tuple(converted)
        return {str(f.name): v for f, v in zip(fields, converted, strict=True)}


def scalecodec_runtime(raw: bytes) -> RuntimeConfigurationObject:
    return scalecodec_metadata(raw)[0]


def scalecodec_metadata(raw: bytes) -> tuple[RuntimeConfigurationObject, Any]:
    """A scalecodec runtime configuration holding the metadata's portable registry."""
    config = RuntimeConfigurationObject()
    config.update_type_registry(load_type_registry_preset("core"))
    metadata = config.create_scale_object("MetadataVersioned", data=ScaleBytes(raw))
    metadata.decode()
    config.add_portable_registry(metadata)
    return config, metadata


def scalecodec_encode(config: RuntimeConfigurationObject, type_id: int, value: Any) -> bytes:
    obj = config.create_scale_object(f"scale_info::{type_id}")
    return bytes(obj.encode(value).data)


# -- devnode in the test's own event loop ---------------------------------------------------------
# The client never blocks the event loop, so the node can share it: a client that blocked the
# loop would stall the node and time out.


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def devnode_url() -> Any:
    from devnode import DevNode, DevNodeConfig

    async with DevNode(DevNodeConfig(port=0)) as node:
        yield node.url


@pytest.fixture
def rt(load_generated: Any) -> ModuleType:
    """Bindings freshly generated from devnode's current runtime (its V16 metadata)."""
    package: ModuleType = load_generated("devnode-v16")
    return package
