"""Metadata V16: devnode's and a real chain's (Polkadot Asset Hub), decoded and generated, and
view functions run through the client."""

from __future__ import annotations

import gzip
import importlib
import sys
from pathlib import Path
from typing import Any

import pytest
from substrateinterface import Keypair

import devnode
from runtime_types import ChainClient, ClientConfig, MetadataDecodeError, codegen, decode_metadata
from runtime_types._hash import pallet_hashes
from runtime_types._signing import signing_extensions

REAL_V16 = Path(__file__).parent / "fixtures" / "polkadot-asset-hub-v16.scale.gz"
ALICE = Keypair.create_from_uri("//Alice")
VALID_CID = b"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"


def test_devnode_v16_has_view_functions_apis_and_extension_versions() -> None:
    metadata = decode_metadata(devnode.RUNTIME.metadata(16))
    assert metadata.version == 16 and metadata.runtime_type is None
    registry = metadata.pallet("ModelRegistry")
    declared = devnode.RUNTIME.by_name["ModelRegistry"].view_functions
    assert [(v.name, v.id) for v in registry.view_functions] == [
        (v.name, v.id("ModelRegistry")) for v in declared
    ]
    assert registry.view_functions[0].inputs[0][0] == "cid"
    apis = {api.name: api for api in metadata.apis}
    assert apis["Metadata"].version == 2
    assert "validate_transaction" in [m.name for m in apis["TaggedTransactionQueue"].methods]
    assert "RuntimeViewFunction" in apis
    extrinsic = metadata.extrinsic
    assert extrinsic.versions == (4,) and extrinsic.version == 4
    assert extrinsic.extensions_by_version == {0: tuple(range(9))}
    assert [e[0] for e in extrinsic.signed_extensions][-1] == "CheckMetadataHash"
    assert metadata.types[extrinsic.type].path[-1] == "RuntimeCall"
    for version in (14, 15, 16):
        # Signed extrinsics' address and signature types, whichever layout names them.
        layout = decode_metadata(devnode.RUNTIME.metadata(version)).extrinsic
        assert layout.address_type is not None and layout.signature_type is not None
        decoded = decode_metadata(devnode.RUNTIME.metadata(version))
        assert decoded.types[layout.address_type].path[-1] == "MultiAddress"
        assert decoded.types[layout.signature_type].path[-1] == "MultiSignature"
    # The same pallets, whichever version describes them: V16 bindings fit a node serving V14.
    v14 = decode_metadata(devnode.RUNTIME.metadata(14))
    v15 = decode_metadata(devnode.RUNTIME.metadata(15))
    assert pallet_hashes(metadata) == pallet_hashes(v14) == pallet_hashes(v15)
    assert v15.runtime_type is not None and len(v15.apis) == len(metadata.apis) - 1


def test_real_v16_metadata_decodes_and_generates(tmp_path: Path) -> None:
    raw = gzip.decompress(REAL_V16.read_bytes())
    metadata = decode_metadata(raw)
    assert metadata.version == 16
    assert metadata.extrinsic.versions == (4, 5) and metadata.extrinsic.version == 4
    assert metadata.extrinsic.extensions_by_version == {0: tuple(range(9))}
    names = [e[0] for e in metadata.extrinsic.signed_extensions]
    assert names[0] == "CheckNonZeroSender" and "ChargeAssetTxPayment" in names
    assert signing_extensions(metadata) == tuple(names)
    assert metadata.extrinsic.address_type is not None
    assert metadata.types[metadata.extrinsic.address_type].path[-1] == "MultiAddress"
    system = metadata.pallet("System")
    assert dict(system.associated_types)["AccountId"] in metadata.types
    codegen.generate(raw, tmp_path / "rtgen_asset_hub_v16", fmt=False)
    sys.path.insert(0, str(tmp_path))
    try:
        package: Any = importlib.import_module("rtgen_asset_hub_v16")
    finally:
        sys.path.remove(str(tmp_path))
    assert package.METADATA_VERSION == 16 and package.EXTRINSIC_VERSIONS == (4, 5)
    call = package.system.calls.remark(b"hi")
    assert package.BINDINGS.encode_call(call) == bytes([system.index, 0, 8]) + b"hi"


def test_malformed_v16_is_refused() -> None:
    raw = devnode.RUNTIME.metadata(16)
    with pytest.raises(MetadataDecodeError):
        decode_metadata(raw[:-3])
    with pytest.raises(MetadataDecodeError, match="left after"):
        decode_metadata(raw + b"\x00")


async def test_view_functions_through_the_client(rt: Any, devnode_url: str) -> None:
    t = rt.types
    registry = rt.model_registry
    async with ChainClient(
        rt.BINDINGS, ClientConfig(devnode_url, pallets=("System", "ModelRegistry"))
    ) as client:
        assert await client.view(registry.view_functions.model_count()) == 0
        assert await client.view(registry.view_functions.model_of_cid(VALID_CID)) is None
        receipt = await client.submit(
            registry.calls.register_model(
                VALID_CID,
                b"tiny",
                t.ModelTaskTextGeneration(),
                t.WeightFormatSafetensors(),
                1000,
                5,
                1,
                t.Permill(100_000),
            ),
            ALICE,
        )
        assert receipt.success
        assert await client.view(registry.view_functions.model_count()) == 1
        model_id = await client.view(registry.view_functions.model_of_cid(VALID_CID))
        stored = await client.query(registry.storage.cid_to_model(VALID_CID))
        assert model_id == stored and model_id is not None
        # At the block before the registration, the view function answers as storage did then.
        parent = await client.block(receipt.block_number - 1)
        assert parent is not None
        assert await client.view(registry.view_functions.model_count(), at=parent.hash) == 0
