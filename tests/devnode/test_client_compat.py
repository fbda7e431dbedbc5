"""devnode driven by unmodified substrate-interface over a real WebSocket."""

from __future__ import annotations

from hashlib import blake2b

import pytest
from substrateinterface import Keypair, SubstrateInterface
from substrateinterface.exceptions import SubstrateRequestException

from devnode import DEV_ACCOUNTS, DevNodeConfig
from devnode._hashing import storage_prefix

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


def test_connects_and_reads_chain_identity(substrate: SubstrateInterface) -> None:
    assert substrate.chain == "Development"
    assert substrate.properties == {"ss58Format": 42, "tokenDecimals": 12, "tokenSymbol": "UNIT"}
    assert substrate.ss58_format == 42
    version = substrate.get_block_runtime_version(substrate.get_chain_head())
    assert version["specName"] == "devnode"
    modules = {m["name"] for m in substrate.get_metadata_modules()}
    assert {"System", "Timestamp", "Balances", "TransactionPayment", "Sudo"} <= modules
    assert substrate.get_constant("Balances", "ExistentialDeposit").value == 10**9


def test_query_and_query_map(substrate: SubstrateInterface, alice: Keypair) -> None:
    info = substrate.query("System", "Account", [alice.ss58_address]).value
    assert info["nonce"] == 0
    assert info["data"]["free"] == ENDOWMENT
    accounts = {
        account.value: data.value["data"]["free"]
        for account, data in substrate.query_map("System", "Account")
    }
    expected = {Keypair.create_from_uri(f"//{name}").ss58_address for name in DEV_ACCOUNTS}
    assert set(accounts) == expected
    assert all(free == ENDOWMENT for free in accounts.values())
    assert substrate.query("Balances", "TotalIssuance").value == ENDOWMENT * len(DEV_ACCOUNTS)
    assert substrate.query("Sudo", "Key").value == alice.ss58_address
    # Paging: the node's pages hold at most `count` keys, each starts strictly after the start
    # key, and together they are the whole map, in order, once each.
    prefix = "0x" + storage_prefix("System", "Account").hex()
    first = substrate.rpc_request("state_getKeysPaged", [prefix, 4])["result"]
    second = substrate.rpc_request("state_getKeysPaged", [prefix, 4, first[-1]])["result"]
    assert [len(first), len(second)] == [4, len(DEV_ACCOUNTS) - 4]
    assert first == sorted(first) and second == sorted(second) and first[-1] < second[0]
    assert substrate.rpc_request("state_getKeysPaged", [prefix, 4, second[-1]])["result"] == []
    # substrate-interface walks the same pages and decodes every entry once.
    paged = [account.value for account, _ in substrate.query_map("System", "Account", page_size=4)]
    assert sorted(paged) == sorted(accounts)


def test_transfer_included_with_receipt_events_and_fee(
    substrate: SubstrateInterface, alice: Keypair, bob: Keypair
) -> None:
    before_alice, before_bob = free_balance(substrate, alice), free_balance(substrate, bob)
    call = substrate.compose_call(
        "Balances", "transfer_keep_alive", {"dest": bob.ss58_address, "value": 3 * UNIT}
    )
    estimate = substrate.get_payment_info(call, alice)
    assert estimate["partialFee"] > 0
    receipt = substrate.submit_extrinsic(
        substrate.create_signed_extrinsic(call, alice), wait_for_inclusion=True
    )
    assert receipt.is_success
    assert receipt.error_message is None
    events = [(e.value["module_id"], e.value["event_id"]) for e in receipt.triggered_events]
    assert ("Balances", "Transfer") in events
    assert events[-1] == ("System", "ExtrinsicSuccess")
    transfer_event = next(e for e in receipt.triggered_events if e.value["event_id"] == "Transfer")
    assert transfer_event.value["attributes"] == {
        "from": alice.ss58_address,
        "to": bob.ss58_address,
        "amount": 3 * UNIT,
    }
    assert receipt.total_fee_amount == estimate["partialFee"]
    assert receipt.weight["ref_time"] == estimate["weight"]["ref_time"]
    assert free_balance(substrate, bob) == before_bob + 3 * UNIT
    assert free_balance(substrate, alice) == before_alice - 3 * UNIT - receipt.total_fee_amount
    assert substrate.get_account_nonce(alice.ss58_address) == 1
    # The old state is still readable at the parent block.
    parent = substrate.get_block_header(receipt.block_hash)["header"]["parentHash"]
    assert free_balance(substrate, bob, block_hash=parent) == before_bob


def test_failed_call_is_charged_and_reports_module_error(
    substrate: SubstrateInterface, alice: Keypair, bob: Keypair
) -> None:
    receipt = substrate.submit_extrinsic(
        transfer(substrate, bob, alice, 2 * ENDOWMENT), wait_for_inclusion=True
    )
    assert not receipt.is_success
    assert receipt.error_message["name"] == "InsufficientBalance"
    assert receipt.total_fee_amount > 0
    assert free_balance(substrate, bob) == ENDOWMENT - receipt.total_fee_amount
    assert substrate.get_account_nonce(bob.ss58_address) == 1


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


def test_rejects_bad_signature(substrate: SubstrateInterface, alice: Keypair, bob: Keypair) -> None:
    extrinsic = transfer(substrate, alice, bob, UNIT)
    data = bytearray(extrinsic.data.data)
    # Flip a byte of the signature (after the length prefix, version byte and 33-byte address).
    data[2 + 1 + 33 + 1 + 10] ^= 0xFF
    with pytest.raises(SubstrateRequestException) as caught:
        substrate.rpc_request("author_submitExtrinsic", ["0x" + bytes(data).hex()])
    error = caught.value.args[0]
    assert error["code"] == 1010
    assert "bad signature" in error["data"]


def test_rejects_replayed_nonce(
    substrate: SubstrateInterface, alice: Keypair, bob: Keypair
) -> None:
    extrinsic = transfer(substrate, alice, bob, UNIT)
    assert substrate.submit_extrinsic(extrinsic, wait_for_inclusion=True).is_success
    with pytest.raises(SubstrateRequestException) as caught:
        substrate.submit_extrinsic(extrinsic, wait_for_inclusion=True)
    assert caught.value.args[0]["code"] == 1010
    assert caught.value.args[0]["data"] == "Transaction is outdated"


def test_rejects_wrong_genesis(substrate: SubstrateInterface, alice: Keypair, bob: Keypair) -> None:
    real_get_block_hash = substrate.get_block_hash

    def lying_get_block_hash(block_id: int | None = None) -> str:
        return "0x" + "ab" * 32 if block_id == 0 else real_get_block_hash(block_id)

    substrate.get_block_hash = lying_get_block_hash  # type: ignore[method-assign]
    extrinsic = transfer(substrate, alice, bob, UNIT)
    substrate.get_block_hash = real_get_block_hash  # type: ignore[method-assign]
    with pytest.raises(SubstrateRequestException) as caught:
        substrate.submit_extrinsic(extrinsic)
    assert caught.value.args[0]["code"] == 1010
    assert "bad signature" in caught.value.args[0]["data"]


def test_mortal_era_accepted_then_expired(
    node: NodeThread, substrate: SubstrateInterface, alice: Keypair, bob: Keypair
) -> None:
    for _ in range(3):
        node.run(node.node.produce_block())  # type: ignore[union-attr]
    mortal = transfer(substrate, alice, bob, UNIT, era={"period": 4})
    assert substrate.submit_extrinsic(mortal, wait_for_inclusion=True).is_success

    expiring = transfer(substrate, alice, bob, UNIT, era={"period": 4})
    for _ in range(6):
        node.run(node.node.produce_block())  # type: ignore[union-attr]
    with pytest.raises(SubstrateRequestException) as caught:
        substrate.submit_extrinsic(expiring)
    assert caught.value.args[0]["code"] == 1010
    assert "outdated" in caught.value.args[0]["data"]


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


def test_sudo_dispatches_as_root_only_for_the_key(
    substrate: SubstrateInterface, alice: Keypair, bob: Keypair
) -> None:
    charlie = Keypair.create_from_uri("//Charlie")
    inner = substrate.compose_call(
        "Balances", "force_set_balance", {"who": charlie.ss58_address, "new_free": 7 * UNIT}
    )
    sudo = substrate.compose_call("Sudo", "sudo", {"call": inner})
    receipt = substrate.submit_extrinsic(
        substrate.create_signed_extrinsic(sudo, alice), wait_for_inclusion=True
    )
    assert receipt.is_success
    sudid = next(e for e in receipt.triggered_events if e.value["event_id"] == "Sudid")
    assert "Ok" in sudid.value["attributes"]["sudo_result"]
    assert free_balance(substrate, charlie) == 7 * UNIT

    denied = substrate.submit_extrinsic(
        substrate.create_signed_extrinsic(sudo, bob), wait_for_inclusion=True
    )
    assert not denied.is_success
    assert denied.error_message["name"] == "RequireSudo"


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
