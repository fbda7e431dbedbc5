"""runtime_types' bindings against the Rust runtime's metadata (V16, from chopsticks).

The protocol pallets' bindings generated from the runtime's metadata are the ones generated
from devnode's (same calls, events, errors, storage, view functions and constants, up to type
ids and the order of storage items), and `runtime_types.compare` finds no difference for them:
so the committed devnode package is what every client uses on both nodes (`ChainClient`
retargets it onto the runtime's metadata). Tokens is the real orml-tokens on the runtime: where
it differs from devnode's Tokens (its type paths, storage and constants it has beyond devnode's,
devnode's two constants it lacks) the test pins the difference.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest
from substrateinterface import Keypair

import runtime_types.generated.devnode as rt
from runtime_types import ChainClient, ClientConfig, IncompatibleMetadata, Metadata
from runtime_types import decode_metadata as decode
from runtime_types._compat import compare
from runtime_types.codegen import render_package, snake
from tests.chains import ChainUnderTest, running_chain

pytestmark = pytest.mark.runtime

PROTOCOL = ("ModelRegistry", "Providers", "Inference", "Channels")
MODULES = ("calls", "events", "errors", "storage", "view_functions", "constants")
ALICE = Keypair.create_from_uri("//Alice")
BOB = Keypair.create_from_uri("//Bob")


@pytest.fixture(scope="module")
def runtime() -> Iterator[ChainUnderTest]:
    yield from running_chain("runtime")


@pytest.fixture(scope="module")
def runtime_metadata(runtime: ChainUnderTest) -> Metadata:
    version = (16).to_bytes(4, "little").hex()
    answer = runtime.rpc("state_call", "Metadata_metadata_at_version", "0x" + version)
    return decode(bytes.fromhex(str(answer).removeprefix("0x")))


def api(files: dict[str, str], module: str) -> dict[str, str]:
    """A generated pallet module's public surface: each function's and class's signature (its
    arguments, annotations and fields), without docs, type ids or order."""
    tree = ast.parse(files.get(f"{module}.py", ""))
    surface: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            surface[node.name] = ast.unparse(node.args) + " -> " + ast.unparse(node.returns or ast.Constant(None))  # fmt: skip
        elif isinstance(node, ast.AnnAssign | ast.Assign):
            surface[ast.unparse(node).split(":")[0].split("=")[0].strip()] = ast.unparse(node)
    return surface


def pallet_files(metadata: Metadata, pallet: str) -> dict[str, str]:
    files = render_package(metadata).files
    prefix = snake(pallet) + "/"
    return {rel.removeprefix(prefix): text for rel, text in files.items() if rel.startswith(prefix)}


@pytest.mark.parametrize("pallet", PROTOCOL)
def test_a_protocol_pallets_bindings_from_the_runtime_are_devnodes(
    pallet: str, runtime_metadata: Metadata
) -> None:
    if pallet not in {p.name for p in runtime_metadata.pallets}:
        pytest.xfail(f"the Rust runtime has no {pallet} pallet yet (#11)")
    ours, theirs = (
        pallet_files(rt.BINDINGS.metadata, pallet),
        pallet_files(runtime_metadata, pallet),
    )
    for module in MODULES:
        assert api(theirs, module) == api(ours, module), f"{pallet}.{module}"
    report = compare(rt.BINDINGS.metadata, runtime_metadata, [pallet])
    assert report.differences[pallet] == ()
    assert report.notes[pallet] == ()  # not even a constant's value differs


def test_tokens_is_orml_and_differs_from_devnode_only_where_pinned(
    runtime_metadata: Metadata,
) -> None:
    report = compare(rt.BINDINGS.metadata, runtime_metadata, ["Tokens"])
    assert report.differences["Tokens"] == ()
    # devnode's Tokens names two constants orml-tokens keeps in its Config, not in metadata
    assert report.notes["Tokens"] == (
        "Tokens.constants.ExistentialDeposit is not on the node (the bindings' value stays)",
        "Tokens.constants.GenesisEndowment is not on the node (the bindings' value stays)",
    )
    tokens = runtime_metadata.pallet("Tokens")
    devnode_tokens = rt.BINDINGS.metadata.pallet("Tokens")
    assert {s.name for s in tokens.storage} - {s.name for s in devnode_tokens.storage} == {
        "Locks",
        "Reserves",
    }
    assert {c.name for c in tokens.constants} == {"MaxLocks", "MaxReserves"}
    # orml's pallet module is `module`, so a package generated from the runtime names its
    # classes ModuleCall*/ModuleEvent* where devnode's says OrmlTokensCall*: the clients use
    # devnode's package on both nodes, so no client sees the other names
    call_type = runtime_metadata.types[tokens.calls or 0]
    assert call_type.path == ("orml_tokens", "module", "Call")


async def test_the_clients_bindings_work_on_the_runtime(runtime: ChainUnderTest) -> None:
    t = rt.types
    pallets = ("System", "Balances", "Tokens", "ModelRegistry", "Sudo")
    async with ChainClient(rt.BINDINGS, ClientConfig(runtime.url, pallets=pallets)) as client:
        assert client.bindings is not rt.BINDINGS  # retargeted onto the runtime's metadata
        before = await client.query(rt.tokens.storage.accounts(t.AccountId32(BOB.public_key), 2))
        receipt = await client.submit(
            rt.tokens.calls.transfer(t.MultiAddressId(t.AccountId32(BOB.public_key)), 2, 5), ALICE
        )
        assert receipt.success
        transfer = [e.event for e in receipt.events if e.pallet == "Tokens"]
        assert transfer == [
            rt.tokens.events.Transfer(
                2, t.AccountId32(ALICE.public_key), t.AccountId32(BOB.public_key), 5
            )
        ]
        after = await client.query(rt.tokens.storage.accounts(t.AccountId32(BOB.public_key), 2))
        assert after.free == before.free + 5
        bad = rt.model_registry.calls.register_model(
            b"not-a-cid", b"x", t.ModelTaskTextGeneration(), t.WeightFormatSafetensors(),
            1, 1, 1, t.Permill(0),
        )  # fmt: skip
        failed = await client.submit(bad, ALICE)
        assert isinstance(failed.error, rt.model_registry.errors.InvalidCid)
        count = await client.view(rt.model_registry.view_functions.model_count())
        assert count == await client.query(rt.model_registry.storage.model_count())
    # A pallet the runtime does not have is refused by name, before anything is sent.
    present = {p for p in runtime.pallets()}
    absent = tuple(p for p in PROTOCOL if p not in present)
    if absent:
        with pytest.raises(IncompatibleMetadata) as caught:
            async with ChainClient(rt.BINDINGS, ClientConfig(runtime.url, pallets=absent)):
                pass
        assert caught.value.pallets == absent
