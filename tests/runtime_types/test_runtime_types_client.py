"""The async chain client against a real devnode over WebSocket."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from substrateinterface import Keypair

from devnode import DevNode, DevNodeConfig
from runtime_types import (
    ChainClient,
    ClientConfig,
    ConnectionLost,
    DispatchError,
    ExtrinsicRejected,
    IncompatibleMetadata,
    ModuleError,
)

from .conftest import free_port

UNIT = 10**12
ENDOWMENT = DevNodeConfig().endowment
ALICE = Keypair.create_from_uri("//Alice")
BOB = Keypair.create_from_uri("//Bob")
VALID_CID = b"QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"


def dest(rt: Any, who: Keypair) -> Any:
    return rt.types.MultiAddressId(rt.types.AccountId32(who.public_key))


async def test_typed_transfer_receipt_events_and_storage(rt: Any, devnode_url: str) -> None:
    async with ChainClient(rt.BINDINGS, ClientConfig(devnode_url)) as client:
        before = await client.query(rt.system.storage.account(rt.types.AccountId32(BOB.public_key)))
        assert isinstance(before, rt.types.AccountInfo)
        assert before.data.free == ENDOWMENT
        receipt = await client.submit(
            rt.balances.calls.transfer_keep_alive(dest(rt, BOB), 3 * UNIT), ALICE
        )
        assert receipt.success and receipt.error is None
        assert receipt.fee > 0
        transfers = [
            e.event for e in receipt.events if isinstance(e.event, rt.balances.events.Transfer)
        ]
        assert transfers == [
            rt.balances.events.Transfer(
                rt.types.AccountId32(ALICE.public_key),
                rt.types.AccountId32(BOB.public_key),
                3 * UNIT,
            )
        ]
        assert receipt.events[-1].name == "ExtrinsicSuccess"
        after = await client.query(rt.system.storage.account(rt.types.AccountId32(BOB.public_key)))
        assert after.data.free == ENDOWMENT + 3 * UNIT
        block = await client.block(receipt.block_number)
        assert block is not None and block.hash == receipt.block_hash
        assert len(block.extrinsics) > receipt.extrinsic_index


async def test_failing_call_surfaces_its_dispatch_error(rt: Any, devnode_url: str) -> None:
    async with ChainClient(rt.BINDINGS, ClientConfig(devnode_url)) as client:
        call = rt.balances.calls.transfer_keep_alive(dest(rt, ALICE), 2 * ENDOWMENT)
        receipt = await client.submit(call, BOB)
        assert not receipt.success
        # pallet-balances' fungible transfer fails with a token error, not a module error
        assert type(receipt.error) is DispatchError
        token = rt.types.DispatchErrorToken(rt.types.TokenErrorFundsUnavailable())
        assert receipt.error.detail == token
        assert receipt.fee > 0
        with pytest.raises(DispatchError):
            receipt.raise_for_error()
        assert receipt.events[-1].name == "ExtrinsicFailed"


async def test_typed_protocol_call_and_its_error(rt: Any, devnode_url: str) -> None:
    t = rt.types
    registry = rt.model_registry

    def register(cid: bytes) -> Any:
        return registry.calls.register_model(
            cid,
            b"tiny",
            t.ModelTaskTextGeneration(),
            t.WeightFormatSafetensors(),
            1000,
            5,
            1,  # a genesis currency
            t.Permill(100_000),
        )

    async with ChainClient(
        rt.BINDINGS, ClientConfig(devnode_url, pallets=("System", "Balances", "ModelRegistry"))
    ) as client:
        receipt = await client.submit(register(VALID_CID), ALICE, wait="finalized")
        assert receipt.success and receipt.finalized
        registered = [
            e.event for e in receipt.events if isinstance(e.event, registry.events.ModelRegistered)
        ]
        assert len(registered) == 1 and registered[0].cid == VALID_CID
        failed = await client.submit(register(b"not-a-cid"), ALICE)
        assert isinstance(failed.error, registry.errors.InvalidCid)
        assert isinstance(failed.error, ModuleError) and failed.error.pallet == "ModelRegistry"


async def test_incompatible_metadata_is_refused(
    rt: Any, load_generated: Any, devnode_url: str
) -> None:
    kusama = load_generated("kusama-v14")
    with pytest.raises(IncompatibleMetadata) as caught:
        async with ChainClient(
            kusama.BINDINGS, ClientConfig(devnode_url, pallets=("System", "Balances"))
        ):
            pass
    assert caught.value.pallets == ("System", "Balances")
    with pytest.raises(IncompatibleMetadata) as missing:
        async with ChainClient(kusama.BINDINGS, ClientConfig(devnode_url, pallets=("Staking",))):
            pass
    assert missing.value.pallets == ("Staking",)


async def test_two_hundred_in_flight_from_one_account(rt: Any, devnode_url: str) -> None:
    async with ChainClient(rt.BINDINGS, ClientConfig(devnode_url)) as client:
        started = time.monotonic()
        receipts = await asyncio.gather(
            *(
                client.submit(rt.balances.calls.transfer_keep_alive(dest(rt, BOB), UNIT + i), ALICE)
                for i in range(200)
            )
        )
        elapsed = time.monotonic() - started
        assert all(r.success for r in receipts)
        assert len({r.extrinsic_hash for r in receipts}) == 200
        info = await client.query(rt.system.storage.account(rt.types.AccountId32(ALICE.public_key)))
        assert info.nonce == 200
        bob = await client.query(rt.system.storage.account(rt.types.AccountId32(BOB.public_key)))
        assert bob.data.free == ENDOWMENT + sum(UNIT + i for i in range(200))
        print(f"200 extrinsics in flight, all included in {elapsed:.1f}s")


async def test_rejected_nonce_is_resynced(rt: Any, devnode_url: str) -> None:
    from substrateinterface import SubstrateInterface

    async with ChainClient(rt.BINDINGS, ClientConfig(devnode_url)) as client:
        call = rt.balances.calls.transfer_keep_alive(dest(rt, BOB), UNIT)
        assert (await client.submit(call, ALICE)).success

        # Someone else uses Alice's next nonce behind the client's back.
        def outside() -> None:
            substrate = SubstrateInterface(url=devnode_url)
            other = substrate.compose_call("System", "remark", {"remark": "0x01"})
            substrate.submit_extrinsic(
                substrate.create_signed_extrinsic(other, ALICE), wait_for_inclusion=True
            )
            substrate.close()

        await asyncio.to_thread(outside)
        receipt = await client.submit(call, ALICE)
        assert receipt.success
        info = await client.query(rt.system.storage.account(rt.types.AccountId32(ALICE.public_key)))
        assert info.nonce == 3


async def test_bad_signer_funds_are_rejected_with_typed_error(rt: Any, devnode_url: str) -> None:
    nobody = Keypair.create_from_uri("//Nobody")
    async with ChainClient(rt.BINDINGS, ClientConfig(devnode_url)) as client:
        with pytest.raises(ExtrinsicRejected) as caught:
            await client.submit(rt.balances.calls.transfer_keep_alive(dest(rt, BOB), UNIT), nobody)
        assert caught.value.code == 1010


async def test_finalized_stream_has_every_block_with_typed_events(rt: Any) -> None:
    node_config = DevNodeConfig(port=0, block_time=0.05, finality_lag=2)
    async with (
        DevNode(node_config) as node,
        ChainClient(rt.BINDINGS, ClientConfig(node.url)) as client,
        client.blocks(finalized=True, start=1) as stream,
    ):
        blocks = []
        async for block in stream:
            blocks.append(block)
            if len(blocks) == 8:
                break
        assert stream.next_number == 9
        best, finalized = await client.head_number(), await client.head_number(finalized=True)
        assert best - finalized >= 1
    assert [b.number for b in blocks] == list(range(1, 9))
    assert all(b.parent_hash == a.hash for a, b in itertools.pairwise(blocks))
    for block in blocks:
        # The timestamp inherent's events: phase ApplyExtrinsic(0), pallet System
        assert block.events and block.events[0].pallet == "System"
        assert block.events[0].extrinsic_index == 0
        assert isinstance(block.events[0].event, rt.system.events.ExtrinsicSuccess)


def _spawn_node(port: int, base_path: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "devnode", "--base-path", str(base_path)]
    command += ["--rpc-port", str(port), "--block-time", "0.05", "--log-level", "WARNING"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _wait_for_port(port: int, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            writer.close()
            return


async def test_stream_survives_the_node_being_killed_and_restarted(rt: Any, tmp_path: Path) -> None:
    """`devnode --base-path` killed (SIGKILL) while a block stream is open, then restarted."""
    port = free_port()
    node = _spawn_node(port, tmp_path / "chain")
    seen: list[Any] = []
    try:
        await _wait_for_port(port)
        config = ClientConfig(
            f"ws://127.0.0.1:{port}", reconnect_initial_delay=0.05, reconnect_max_delay=0.2
        )
        async with ChainClient(rt.BINDINGS, config) as client, client.blocks(start=1) as stream:
            async for block in stream:
                seen.append(block)
                if len(seen) == 5:
                    node.kill()
                    node.wait()
                    node = _spawn_node(port, tmp_path / "chain")
                if len(seen) == 15:
                    break
            # The client's other connections reconnect too: a submission after the restart works.
            call = rt.balances.calls.transfer_keep_alive(dest(rt, BOB), UNIT)
            receipt = await client.submit(call, ALICE)
            assert receipt.success and receipt.block_number > 15
    finally:
        node.kill()
        node.wait()
    assert [b.number for b in seen] == list(range(1, 16))
    assert all(b.parent_hash == a.hash for a, b in itertools.pairwise(seen))


async def test_unreachable_node_raises_connection_lost_and_close_is_idempotent(rt: Any) -> None:
    client = ChainClient(
        rt.BINDINGS,
        ClientConfig(
            f"ws://127.0.0.1:{free_port()}", reconnect_timeout=0.3, reconnect_initial_delay=0.05
        ),
    )
    with pytest.raises(ConnectionLost):
        await client.connect()
    await client.close()
    await client.close()


async def test_optional_and_default_storage_values(rt: Any, devnode_url: str) -> None:
    async with ChainClient(rt.BINDINGS, ClientConfig(devnode_url)) as client:
        nobody = rt.types.AccountId32(bytes(32))
        empty = await client.query(rt.system.storage.account(nobody))  # Default: the zero value
        assert empty.nonce == 0 and empty.data.free == 0
        assert await client.query(rt.sudo.storage.key()) == rt.types.AccountId32(ALICE.public_key)
        missing = await client.query(rt.system.storage.block_hash(10_000))
        assert missing is not None  # BlockHash has a default (zero hash)
        assert missing.value == bytes(32)
        # An Optional item with no value is None (typed `ModelInfo | None`).
        assert (
            await client.query(rt.model_registry.storage.models(rt.types.H256(bytes(32)))) is None
        )


async def test_keys_and_entries_iterate_a_map_in_pages(rt: Any, devnode_url: str) -> None:
    from dataclasses import replace

    from devnode import DEV_ACCOUNTS

    async with ChainClient(rt.BINDINGS, ClientConfig(devnode_url)) as client:
        whole_map = replace(rt.system.storage.account(rt.types.AccountId32(bytes(32))), keys=())
        keys = [key async for key in client.keys(whole_map, page_size=4)]
        assert len(keys) == len(DEV_ACCOUNTS) and keys == sorted(keys)
        expected = {Keypair.create_from_uri(f"//{name}").public_key for name in DEV_ACCOUNTS}
        assert {key[-32:] for key in keys} == expected  # Blake2_128Concat keeps the account id
        entries = [pair async for pair in client.entries(whole_map, page_size=4)]
        assert [key for key, _ in entries] == keys
        for key, info in entries:
            assert isinstance(info, rt.types.AccountInfo)
            single = await client.query(rt.system.storage.account(rt.types.AccountId32(key[-32:])))
            assert single == info


async def test_sudo_nested_calls_sign_and_dispatch(rt: Any, devnode_url: str) -> None:
    """Calls that hold a call (Sudo.sudo, Sudo.sudo_as) sign without re-decoding the call."""
    t = rt.types
    async with ChainClient(rt.BINDINGS, ClientConfig(devnode_url)) as client:
        registered = await client.submit(
            rt.model_registry.calls.register_model(
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
        model_id = next(
            e.event.model_id
            for e in registered.events
            if isinstance(e.event, rt.model_registry.events.ModelRegistered)
        )
        stake = await client.submit(
            rt.providers.calls.register_provider(
                100 * UNIT, b"http://bob.invalid", [model_id], 1, None
            ),
            BOB,
        )
        assert stake.success, stake.error
        inner = rt.providers.calls.set_reputation(dest(rt, BOB), 77)
        receipt = await client.submit(rt.sudo.calls.sudo(t.RuntimeCallProviders(inner.args)), ALICE)
        assert receipt.success, receipt.error
        sudid = [e.event for e in receipt.events if isinstance(e.event, rt.sudo.events.Sudid)]
        assert len(sudid) == 1 and isinstance(sudid[0].sudo_result, t.ResultOk)
        info = await client.query(rt.providers.storage.providers(t.AccountId32(BOB.public_key)))
        assert info is not None and info.reputation == 77
        # Sudo.sudo_as: a signed call dispatched as Bob (a transfer from Bob to Alice)
        transfer = rt.balances.calls.transfer_keep_alive(dest(rt, ALICE), UNIT)
        as_bob = await client.submit(
            rt.sudo.calls.sudo_as(dest(rt, BOB), t.RuntimeCallBalances(transfer.args)), ALICE
        )
        assert as_bob.success, as_bob.error
        done = [e.event for e in as_bob.events if isinstance(e.event, rt.sudo.events.SudoAsDone)]
        assert len(done) == 1 and isinstance(done[0].sudo_result, t.ResultOk)
        moved = [e.event for e in as_bob.events if isinstance(e.event, rt.balances.events.Transfer)]
        assert moved == [
            rt.balances.events.Transfer(
                t.AccountId32(BOB.public_key), t.AccountId32(ALICE.public_key), UNIT
            )
        ]
