"""`runtime_types._compat` without a second node: devnode's metadata against itself, against
real chains' fixtures, and against copies of itself with one thing changed."""

from __future__ import annotations

import dataclasses

from runtime_types import decode_metadata
from runtime_types._compat import compare, retarget
from runtime_types._metadata import CompositeDef, Metadata, PrimitiveDef, VariantDef
from runtime_types.generated.devnode import BINDINGS, model_registry

from .conftest import FIXTURES

DEVNODE = BINDINGS.metadata


def with_type(metadata: Metadata, type_id: int, definition: object) -> Metadata:
    portable = dataclasses.replace(metadata.types[type_id], definition=definition)
    return dataclasses.replace(metadata, types={**metadata.types, type_id: portable})


def test_the_same_metadata_is_compatible_and_keeps_the_bindings() -> None:
    report = compare(DEVNODE, DEVNODE)
    assert report.incompatible == ()
    assert all(notes == () for notes in report.notes.values())
    assert retarget(BINDINGS, DEVNODE) is BINDINGS


def test_real_chains_are_not_devnodes_pallets() -> None:
    kusama = decode_metadata((FIXTURES / "kusama-v14.scale").read_bytes())
    report = compare(DEVNODE, kusama, ["System", "Balances", "ModelRegistry"])
    assert report.incompatible == ("System", "Balances", "ModelRegistry")
    assert report.differences["ModelRegistry"] == ("ModelRegistry: no such pallet on the node",)
    # pallet_balances' index is 4 on Kusama, 5 on devnode
    assert "Balances: index 5 on the bindings, 4 on the node" in report.differences["Balances"]


def test_a_renamed_variant_or_a_wider_integer_is_a_difference() -> None:
    pallet = DEVNODE.pallet("ModelRegistry")
    assert pallet.event is not None
    events = DEVNODE.types[pallet.event].definition
    assert isinstance(events, VariantDef)
    renamed = VariantDef(
        (dataclasses.replace(events.variants[0], name="Registered"), *events.variants[1:])
    )
    report = compare(DEVNODE, with_type(DEVNODE, pallet.event, renamed), ["ModelRegistry"])
    assert report.differences["ModelRegistry"] == (
        "ModelRegistry.event.ModelRegistered: index 0 is Registered on the node",
    )
    count = next(s for s in pallet.storage if s.name == "ModelCount")
    wider = with_type(DEVNODE, count.value, PrimitiveDef("u64"))
    found = compare(DEVNODE, wider, ["ModelRegistry"]).differences["ModelRegistry"]
    # u32 is one type, reported where the walk first meets it
    assert found == ("ModelRegistry.calls.register_model.currency_id: u32 on the bindings, u64 on the node",)  # fmt: skip


def test_a_bounded_wrapper_and_an_extra_event_are_not_differences() -> None:
    pallet = DEVNODE.pallet("ModelRegistry")
    assert pallet.event is not None
    events = DEVNODE.types[pallet.event].definition
    assert isinstance(events, VariantDef)
    extra = dataclasses.replace(events.variants[-1], name="Extra", index=200, fields=())
    node = with_type(DEVNODE, pallet.event, VariantDef((*events.variants, extra)))
    # `ModelCount`'s u32 behind a one-field struct, as a BoundedVec wraps its Vec
    count = next(s for s in pallet.storage if s.name == "ModelCount")
    wrapper_id = max(node.types) + 1
    inner = node.types[count.value]
    wrapper = dataclasses.replace(
        inner,
        id=wrapper_id,
        path=("bounded", "Wrapper"),
        definition=CompositeDef((dataclasses.replace(_any_field(), type=count.value),)),
    )
    node = dataclasses.replace(node, types={**node.types, wrapper_id: wrapper})
    storage = tuple(
        dataclasses.replace(s, value=wrapper_id) if s.name == "ModelCount" else s
        for s in pallet.storage
    )
    pallets = tuple(
        dataclasses.replace(p, storage=storage) if p.name == "ModelRegistry" else p
        for p in node.pallets
    )
    node = dataclasses.replace(node, pallets=pallets, hash="0x" + "11" * 32)
    report = compare(DEVNODE, node, ["ModelRegistry"])
    assert report.differences["ModelRegistry"] == ()
    # the retargeted bindings read the node's layout into the generated classes
    bindings = retarget(BINDINGS, node)
    assert bindings is not BINDINGS
    assert bindings.decode_storage(model_registry.storage.model_count(), bytes([7, 0, 0, 0])) == 7
    assert bindings.storage_key(model_registry.storage.model_count()) == BINDINGS.storage_key(
        model_registry.storage.model_count()
    )


def _any_field() -> object:
    for portable in DEVNODE.types.values():
        if isinstance(portable.definition, CompositeDef) and portable.definition.fields:
            return portable.definition.fields[0]
    raise AssertionError("no composite with a field")
