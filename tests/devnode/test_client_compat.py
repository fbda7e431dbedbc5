"""devnode driven by unmodified substrate-interface over a real WebSocket: what only devnode
does (finality that lags, a transaction held until its nonce comes, a restart from
`--base-path`). What holds on the Rust runtime too is in tests/chain/test_chain_compat.py."""

from __future__ import annotations

from hashlib import blake2b

from substrateinterface import Keypair, SubstrateInterface

from devnode import DevNodeConfig

from .conftest import NodeThread, start_node

UNIT = 10**12
ENDOWMENT = DevNodeConfig().endowment


def free_balance(substrate: SubstrateInterface, who: Keypair, block_hash: str | None = None) -> int:
    return int(
        substrate.query("System", "Account", [who.ss58_address], block_hash=block_hash).value[
            "data"
        ]["free"]
    )


def transfer(
    substrate: SubstrateInterface, sender: Keypair, dest: Keypair, value: int, **kwargs: object
):
    call = substrate.compose_call(
        "Balances", "transfer_keep_alive", {"dest": dest.ss58_address, "value": value}
    )
    return substrate.create_signed_extrinsic(call, sender, **kwargs)


def test_transfer_waits_for_lagging_finality(alice: Keypair, bob: Keypair) -> None:
    running = start_node(block_time=0.2, finality_lag=2)
    try:
        substrate = SubstrateInterface(url=running.url)
        receipt = substrate.submit_extrinsic(
            transfer(substrate, alice, bob, UNIT), wait_for_finalization=True
        )
        assert receipt.finalized
        assert receipt.is_success
        included = substrate.get_block_number(receipt.block_hash)
        finalized = substrate.get_block_number(substrate.get_chain_finalised_head())
        best = substrate.get_block_number(substrate.get_chain_head())
        assert finalized >= included
        assert best - finalized == 2
        substrate.close()
    finally:
        running.stop()


def test_subscribe_block_headers_new_and_finalized() -> None:
    running = start_node(block_time=0.1, finality_lag=1)
    try:
        substrate = SubstrateInterface(url=running.url)
        numbers: list[int] = []

        def handler(header: dict, update_nr: int, subscription_id: str) -> int | None:
            numbers.append(header["header"]["number"])
            return header["header"]["number"] if len(numbers) == 4 else None

        substrate.subscribe_block_headers(handler)
        assert numbers == list(range(numbers[0], numbers[0] + 4))

        finalized: list[int] = []

        def on_finalized(header: dict, update_nr: int, subscription_id: str) -> int | None:
            finalized.append(header["header"]["number"])
            return 1 if len(finalized) == 2 else None

        substrate.subscribe_block_headers(on_finalized, finalized_only=True)
        best = substrate.get_block_number(substrate.get_chain_head())
        assert finalized[1] == finalized[0] + 1
        assert finalized[-1] < best
        substrate.close()
    finally:
        running.stop()


def test_future_nonce_waits_for_its_turn(
    node: NodeThread, substrate: SubstrateInterface, alice: Keypair, bob: Keypair
) -> None:
    later = transfer(substrate, alice, bob, UNIT, nonce=1)
    first = transfer(substrate, alice, bob, UNIT, nonce=0)
    later_hash = substrate.submit_extrinsic(later).extrinsic_hash
    # Held, not rejected and not included: the pool waits for nonce 0.
    assert substrate.rpc_request("system_accountNextIndex", [alice.ss58_address])["result"] == 0
    assert len(substrate.rpc_request("author_pendingExtrinsics", [])["result"]) == 1
    receipt = substrate.submit_extrinsic(first, wait_for_inclusion=True)
    assert receipt.is_success
    assert substrate.get_account_nonce(alice.ss58_address) == 2
    assert substrate.rpc_request("author_pendingExtrinsics", [])["result"] == []
    # Both are in the chain, the held one right after (or with) its predecessor.
    included = [
        "0x" + blake2b(bytes.fromhex(x[2:]), digest_size=32).hexdigest()
        for number in range(1, substrate.get_block_number(substrate.get_chain_head()) + 1)
        for x in substrate.rpc_request("chain_getBlock", [substrate.get_block_hash(number)])[
            "result"
        ]["block"]["extrinsics"]
    ]
    assert later_hash in included
    assert receipt.extrinsic_hash in included
    assert included.index(receipt.extrinsic_hash) < included.index(later_hash)


def test_restart_with_base_path_keeps_state(base_path, alice: Keypair, bob: Keypair) -> None:
    first = start_node(base_path=base_path)
    try:
        substrate = SubstrateInterface(url=first.url)
        for _ in range(2):
            assert substrate.submit_extrinsic(
                transfer(substrate, alice, bob, UNIT), wait_for_inclusion=True
            ).is_success
        head = substrate.get_chain_head()
        number = substrate.get_block_number(head)
        bob_balance = free_balance(substrate, bob)
        genesis = substrate.get_block_hash(0)
        substrate.close()
    finally:
        first.stop()

    second = start_node(base_path=base_path)
    try:
        substrate = SubstrateInterface(url=second.url)
        assert substrate.get_chain_head() == head
        assert substrate.get_block_number(head) == number
        assert substrate.get_block_hash(0) == genesis
        assert free_balance(substrate, bob) == bob_balance
        assert substrate.get_account_nonce(alice.ss58_address) == 2
        receipt = substrate.submit_extrinsic(
            transfer(substrate, alice, bob, UNIT), wait_for_inclusion=True
        )
        assert receipt.is_success
        assert substrate.get_block_number(receipt.block_hash) == number + 1
        substrate.close()
    finally:
        second.stop()
