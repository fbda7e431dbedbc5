"""Unmodified substrate-interface on both chains: devnode and the Rust runtime on chopsticks.

One chain per module and kind (tests/chain/conftest.py), so every test here reads the state it
starts from instead of assuming a fresh genesis. Where the two answer differently and both are
what the client accepts, the expectation is per kind (`EXPECTED`); the differences are listed
in docs/runtime.md. devnode-only behaviour (lagging finality, a restart from `--base-path`, a
transaction held for its nonce) stays in tests/devnode/test_client_compat.py.
"""

from __future__ import annotations

import threading
import time
from typing import Any
from unittest import mock

from substrateinterface import Keypair, SubstrateInterface
from substrateinterface.exceptions import SubstrateRequestException

from devnode import DEV_ACCOUNTS
from devnode._hashing import storage_prefix
from tests.chains import ChainUnderTest

UNIT = 10**12
#: Any dispatch info (its weight differs between the chains)
ANY_INFO = mock.ANY
ENDOWMENT = 1 << 60
CID = "QmbyV4BASLJCFiCfKz37eNwFX8y6hefQ7LGpzvEwJQzNft"

#: What each chain says where they differ (docs/runtime.md, "devnode and the runtime")
EXPECTED: dict[str, dict[str, Any]] = {
    "devnode": {
        "chain": "Development",
        "spec_name": "devnode",
        # a 1010 (1011) answer: devnode puts Substrate's text in `data`
        "bad_proof": ("data", "bad signature"),
        "stale": ("data", "Transaction is outdated"),
        "cannot_lookup": ("data", "Could not lookup information"),
        "ancient": ("data", "Transaction has an ancient birth block"),
    },
    "runtime": {
        # chopsticks answers system_chain with the spec's id, not its name
        "chain": "genai_dev",
        "spec_name": "genai-substrate",
        # chopsticks puts the runtime's TransactionValidityError, as JSON, in `message`
        "bad_proof": ("message", '"badProof"'),
        "stale": ("message", '"stale"'),
        "cannot_lookup": ("message", '"cannotLookup"'),
        "ancient": ("message", '"ancientBirthBlock"'),
    },
}


def free_balance(substrate: SubstrateInterface, who: Keypair, block_hash: str | None = None) -> int:
    account = substrate.query("System", "Account", [who.ss58_address], block_hash=block_hash)
    return int(account.value["data"]["free"])


def transfer(
    substrate: SubstrateInterface, sender: Keypair, dest: Keypair, value: int, **kwargs: Any
) -> Any:
    call = substrate.compose_call(
        "Balances", "transfer_keep_alive", {"dest": dest.ss58_address, "value": value}
    )
    return substrate.create_signed_extrinsic(call, sender, **kwargs)


def refused(caught: SubstrateRequestException, kind: str, what: str, code: int = 1010) -> bool:
    error = caught.args[0]
    where, text = EXPECTED[kind][what]
    return bool(error["code"] == code and text in str(error.get(where)))


def dispatch_error(receipt: Any) -> Any:
    failed = next(e for e in receipt.triggered_events if e.value["event_id"] == "ExtrinsicFailed")
    return failed.value["attributes"]["dispatch_error"]


def balance_events(receipt: Any) -> list[tuple[str, dict[str, Any]]]:
    """The receipt's events but the fee's, with their attributes."""
    return [
        (e.value["event_id"], e.value["attributes"])
        for e in receipt.triggered_events
        if e.value["event_id"] not in ("Withdraw", "TransactionFeePaid")
    ]


def test_connects_and_reads_chain_identity(
    chain_node: ChainUnderTest, substrate: SubstrateInterface
) -> None:
    expected = EXPECTED[chain_node.kind]
    assert substrate.chain == expected["chain"]
    assert substrate.properties == {"ss58Format": 42, "tokenDecimals": 12, "tokenSymbol": "UNIT"}
    assert substrate.ss58_format == 42
    version = substrate.get_block_runtime_version(substrate.get_chain_head())
    assert version["specName"] == expected["spec_name"]
    modules = {m["name"] for m in substrate.get_metadata_modules()}
    assert {"System", "Timestamp", "Balances", "TransactionPayment", "Sudo"} <= modules
    assert {"Tokens", "ModelRegistry"} <= modules
    assert substrate.get_constant("Balances", "ExistentialDeposit").value == 10**9


def test_query_map_pages_and_issuance(substrate: SubstrateInterface, alice: Keypair) -> None:
    accounts = {
        account.value: data.value["data"]
        for account, data in substrate.query_map("System", "Account")
    }
    dev = {Keypair.create_from_uri(f"//{name}").ss58_address for name in DEV_ACCOUNTS}
    assert dev <= set(accounts)
    issuance = substrate.query("Balances", "TotalIssuance").value
    assert issuance == sum(d["free"] + d["reserved"] for d in accounts.values())
    assert issuance <= ENDOWMENT * len(DEV_ACCOUNTS)  # fees are burned, nothing is minted
    assert substrate.query("Sudo", "Key").value == alice.ss58_address
    # Paging: pages of at most `count` keys, each after the start key, together the whole map.
    prefix = "0x" + storage_prefix("System", "Account").hex()
    first = substrate.rpc_request("state_getKeysPaged", [prefix, 4])["result"]
    rest = substrate.rpc_request("state_getKeysPaged", [prefix, 100, first[-1]])["result"]
    assert len(first) == 4 and len(first) + len(rest) == len(accounts)
    assert first == sorted(first) and rest == sorted(rest) and first[-1] < rest[0]
    assert substrate.rpc_request("state_getKeysPaged", [prefix, 4, rest[-1]])["result"] == []
    paged = [account.value for account, _ in substrate.query_map("System", "Account", page_size=4)]
    assert sorted(paged) == sorted(accounts)


def test_transfer_included_with_receipt_events_and_fee(
    substrate: SubstrateInterface, alice: Keypair, bob: Keypair
) -> None:
    before_alice, before_bob = free_balance(substrate, alice), free_balance(substrate, bob)
    nonce = substrate.get_account_nonce(alice.ss58_address)
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
    assert events == [
        ("Balances", "Withdraw"),
        ("Balances", "Transfer"),
        ("TransactionPayment", "TransactionFeePaid"),
        ("System", "ExtrinsicSuccess"),
    ]
    transfer_event = next(e for e in receipt.triggered_events if e.value["event_id"] == "Transfer")
    assert transfer_event.value["attributes"] == {
        "from": alice.ss58_address,
        "to": bob.ss58_address,
        "amount": 3 * UNIT,
    }
    # The estimate is the fee charged; FRAME's query_info leaves out the base extrinsic weight
    # (10^8) that frame_system adds to the included extrinsic's dispatch info.
    assert receipt.total_fee_amount == estimate["partialFee"]
    assert receipt.weight["ref_time"] == estimate["weight"]["ref_time"] + 10**8
    assert free_balance(substrate, bob) == before_bob + 3 * UNIT
    assert free_balance(substrate, alice) == before_alice - 3 * UNIT - receipt.total_fee_amount
    assert substrate.get_account_nonce(alice.ss58_address) == nonce + 1
    # The old state is still readable at the parent block.
    parent = substrate.get_block_header(receipt.block_hash)["header"]["parentHash"]
    assert free_balance(substrate, bob, block_hash=parent) == before_bob


def test_failed_calls_are_charged_and_report_their_error(
    substrate: SubstrateInterface, alice: Keypair, bob: Keypair
) -> None:
    before = free_balance(substrate, bob)
    nonce = substrate.get_account_nonce(bob.ss58_address)
    receipt = substrate.submit_extrinsic(
        transfer(substrate, bob, alice, 2 * ENDOWMENT), wait_for_inclusion=True
    )
    assert not receipt.is_success
    assert receipt.total_fee_amount > 0
    assert free_balance(substrate, bob) == before - receipt.total_fee_amount
    assert substrate.get_account_nonce(bob.ss58_address) == nonce + 1
    # pallet_balances' fungible transfer: a token error, not a module error
    assert dispatch_error(receipt) == {"Token": "FundsUnavailable"}
    # A protocol pallet's module error, decoded by name from the node's metadata on both.
    call = substrate.compose_call(
        "ModelRegistry",
        "register_model",
        {
            "cid": "not-a-cid",
            "name": "tiny",
            "task": "TextGeneration",
            "format": "Safetensors",
            "size_bytes": 100,
            "price_per_1k_tokens": 10,
            "currency_id": 1,
            "author_share": 50_000,
        },
    )
    receipt = substrate.submit_extrinsic(
        substrate.create_signed_extrinsic(call, bob), wait_for_inclusion=True
    )
    assert not receipt.is_success
    assert receipt.error_message["name"] == "InvalidCid"


def test_balance_transfers_as_pallet_balances_fungible_path(
    substrate: SubstrateInterface, alice: Keypair
) -> None:
    """pallet-balances 42 on both: token errors in the order `can_withdraw` and `can_deposit`
    check; a transfer to oneself or of nothing moves nothing; a sender reaped by its transfer
    is killed (its dust lost) before the `Transfer`."""
    ed = substrate.get_constant("Balances", "ExistentialDeposit").value
    sender, emptied = (Keypair.create_from_uri(f"//Compat{n}") for n in ("Sender", "Emptied"))
    fresh = Keypair.create_from_uri("//CompatNeverFunded")
    for funded in (sender, emptied):
        funding = transfer(substrate, alice, funded, 10 * UNIT)
        assert substrate.submit_extrinsic(funding, wait_for_inclusion=True).is_success

    def send(who: Keypair, name: str, **args: Any) -> Any:
        call = substrate.compose_call("Balances", name, args)
        extrinsic = substrate.create_signed_extrinsic(call, who)
        return substrate.submit_extrinsic(extrinsic, wait_for_inclusion=True)

    def leaving(who: Keypair, name: str, rest: int) -> int:
        """The value that leaves `who` with `rest` once the fee of this very call is paid."""
        probe = substrate.compose_call(
            "Balances", name, {"dest": alice.ss58_address, "value": 9 * UNIT}
        )
        fee = substrate.get_payment_info(probe, who)["partialFee"]
        return free_balance(substrate, who) - int(fee) - rest

    receipt = send(
        sender,
        "transfer_keep_alive",
        dest=alice.ss58_address,
        value=leaving(sender, "transfer_keep_alive", ed // 2),
    )
    assert dispatch_error(receipt) == {"Token": "NotExpendable"}
    receipt = send(alice, "transfer_allow_death", dest=fresh.ss58_address, value=ed - 1)
    assert dispatch_error(receipt) == {"Token": "BelowMinimum"}
    receipt = send(alice, "transfer_keep_alive", dest=alice.ss58_address, value=UNIT)
    assert receipt.is_success and balance_events(receipt) == [("ExtrinsicSuccess", ANY_INFO)]
    receipt = send(alice, "transfer_allow_death", dest=fresh.ss58_address, value=0)
    assert receipt.is_success
    assert [name for name, _ in balance_events(receipt)] == ["Transfer", "ExtrinsicSuccess"]
    assert substrate.query("System", "Account", [fresh.ss58_address]).value["providers"] == 0

    value = leaving(sender, "transfer_allow_death", ed // 2)
    issuance = substrate.query("Balances", "TotalIssuance").value
    receipt = send(sender, "transfer_allow_death", dest=alice.ss58_address, value=value)
    assert receipt.is_success, receipt.error_message
    assert balance_events(receipt)[:3] == [
        ("KilledAccount", {"account": sender.ss58_address}),
        ("DustLost", {"account": sender.ss58_address, "amount": ed // 2}),
        ("Transfer", {"from": sender.ss58_address, "to": alice.ss58_address, "amount": value}),
    ]
    assert free_balance(substrate, sender) == 0
    issued = substrate.query("Balances", "TotalIssuance").value
    assert issued == issuance - receipt.total_fee_amount - ed // 2

    receipt = send(emptied, "transfer_all", dest=alice.ss58_address, keep_alive=False)
    assert receipt.is_success, receipt.error_message
    names = [name for name, _ in balance_events(receipt)]
    assert names == ["KilledAccount", "Transfer", "ExtrinsicSuccess"]


def test_register_model_then_the_same_cid_again(
    substrate: SubstrateInterface, alice: Keypair
) -> None:
    count = substrate.query("ModelRegistry", "ModelCount").value
    register = substrate.compose_call(
        "ModelRegistry",
        "register_model",
        {
            "cid": CID,
            "name": "tiny",
            "task": "TextGeneration",
            "format": "Safetensors",
            "size_bytes": 100,
            "price_per_1k_tokens": 10,
            "currency_id": 1,
            "author_share": 50_000,
        },
    )
    receipt = substrate.submit_extrinsic(
        substrate.create_signed_extrinsic(register, alice), wait_for_inclusion=True
    )
    assert receipt.is_success, receipt.error_message
    registered = next(
        e for e in receipt.triggered_events if e.value["event_id"] == "ModelRegistered"
    )
    assert registered.value["module_id"] == "ModelRegistry"
    assert registered.value["attributes"]["owner"] == alice.ss58_address
    assert registered.value["attributes"]["cid"] == CID
    assert substrate.query("ModelRegistry", "ModelCount").value == count + 1
    model_id = registered.value["attributes"]["model_id"]
    info = substrate.query("ModelRegistry", "Models", [model_id]).value
    assert (info["cid"], info["owner"], info["version"]) == (CID, alice.ss58_address, 1)
    again = substrate.submit_extrinsic(
        substrate.create_signed_extrinsic(register, alice), wait_for_inclusion=True
    )
    assert not again.is_success
    assert again.error_message["name"] == "DuplicateCid"


def test_rejects_bad_signature(
    chain_node: ChainUnderTest, substrate: SubstrateInterface, alice: Keypair, bob: Keypair
) -> None:
    extrinsic = transfer(substrate, alice, bob, UNIT)
    data = bytearray(extrinsic.data.data)
    # Flip a byte of the signature (after the length prefix, version byte and 33-byte address).
    data[2 + 1 + 33 + 1 + 10] ^= 0xFF
    try:
        substrate.rpc_request("author_submitExtrinsic", ["0x" + bytes(data).hex()])
    except SubstrateRequestException as caught:
        assert refused(caught, chain_node.kind, "bad_proof"), caught.args
    else:
        raise AssertionError("a transaction with a bad signature was accepted")


def test_rejects_a_signer_address_the_lookup_cannot_resolve(
    chain_node: ChainUnderTest, substrate: SubstrateInterface, alice: Keypair, bob: Keypair
) -> None:
    data = bytearray(transfer(substrate, bob, alice, UNIT).data.data)
    # The signer's MultiAddress variant (after the 2-byte length prefix and the version byte):
    # Id (0) becomes Address32 (3), which the runtime's AccountIdLookup does not resolve.
    assert data[3] == 0
    data[3] = 3
    try:
        substrate.rpc_request("author_submitExtrinsic", ["0x" + bytes(data).hex()])
    except SubstrateRequestException as caught:
        assert refused(caught, chain_node.kind, "cannot_lookup", code=1011), caught.args
    else:
        raise AssertionError("a transaction signed by an Address32 was accepted")


def test_rejects_replayed_nonce(
    chain_node: ChainUnderTest, substrate: SubstrateInterface, alice: Keypair, bob: Keypair
) -> None:
    extrinsic = transfer(substrate, alice, bob, UNIT)
    assert substrate.submit_extrinsic(extrinsic, wait_for_inclusion=True).is_success
    try:
        substrate.submit_extrinsic(extrinsic, wait_for_inclusion=True)
    except SubstrateRequestException as caught:
        assert refused(caught, chain_node.kind, "stale"), caught.args
    else:
        raise AssertionError("a replayed transaction was accepted")


def test_rejects_wrong_genesis(
    chain_node: ChainUnderTest, substrate: SubstrateInterface, alice: Keypair, bob: Keypair
) -> None:
    real_get_block_hash = substrate.get_block_hash

    def lying_get_block_hash(block_id: int | None = None) -> str:
        return "0x" + "ab" * 32 if block_id == 0 else real_get_block_hash(block_id)

    substrate.get_block_hash = lying_get_block_hash  # type: ignore[method-assign]
    extrinsic = transfer(substrate, alice, bob, UNIT)
    substrate.get_block_hash = real_get_block_hash  # type: ignore[method-assign]
    try:
        substrate.submit_extrinsic(extrinsic)
    except SubstrateRequestException as caught:
        assert refused(caught, chain_node.kind, "bad_proof"), caught.args
    else:
        raise AssertionError("a transaction signed for another genesis was accepted")


def test_mortal_era_accepted_then_expired(
    chain_node: ChainUnderTest, substrate: SubstrateInterface, alice: Keypair, bob: Keypair
) -> None:
    chain_node.new_blocks(3)
    mortal = transfer(substrate, alice, bob, UNIT, era={"period": 4})
    assert substrate.submit_extrinsic(mortal, wait_for_inclusion=True).is_success

    expiring = transfer(substrate, alice, bob, UNIT, era={"period": 4})
    chain_node.new_blocks(6)
    try:
        substrate.submit_extrinsic(expiring)
    except SubstrateRequestException as caught:
        # FRAME's CheckMortality signs the birth block's hash: past its era the birth computed
        # from the current block names another block, so the signature no longer verifies
        assert refused(caught, chain_node.kind, "bad_proof"), caught.args
    else:
        raise AssertionError("a transaction past its era was accepted")


def test_rejects_a_birth_block_ahead_of_the_chain(
    chain_node: ChainUnderTest, substrate: SubstrateInterface, alice: Keypair, bob: Keypair
) -> None:
    """CheckMortality looks the birth up in System.BlockHash: a phase ahead of the chain names
    a block it does not have (AncientBirthBlock), whatever hash the signer used."""
    best = substrate.get_block_number(substrate.get_chain_head())
    real_get_block_hash = substrate.get_block_hash

    def future_get_block_hash(block_id: int | None = None) -> str:
        return "0x" + "cd" * 32 if block_id == best + 40 else real_get_block_hash(block_id)

    substrate.get_block_hash = future_get_block_hash  # type: ignore[method-assign]
    # A period of 4096 is not quantized: the phase is best + 40, the birth block too.
    extrinsic = transfer(substrate, alice, bob, UNIT, era={"period": 4096, "current": best + 40})
    substrate.get_block_hash = real_get_block_hash  # type: ignore[method-assign]
    try:
        substrate.rpc_request("author_submitExtrinsic", [str(extrinsic.data)])
    except SubstrateRequestException as caught:
        assert refused(caught, chain_node.kind, "ancient"), caught.args
    else:
        raise AssertionError("a transaction born after the best block was accepted")


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


def test_subscriptions_follow_new_and_finalized_heads(
    chain_node: ChainUnderTest, substrate: SubstrateInterface
) -> None:
    """Every new head is final on both here (devnode's finality_lag 0; chopsticks always)."""
    stop = threading.Event()

    def produce() -> None:  # blocks while subscribed: neither chain makes them unasked here
        while not stop.wait(0.3):
            chain_node.new_blocks(1)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        for finalized_only in (False, True):
            numbers: list[int] = []

            # A head may be announced twice (chopsticks does when a block lands while it sends
            # the current head on subscribing; runtime_types' streams allow it): count distinct.
            def handler(header: dict[str, Any], update_nr: int, subscription_id: str) -> Any:
                numbers.append(header["header"]["number"])  # noqa: B023 (called right here)
                return numbers[-1] if len(set(numbers)) == 4 else None  # noqa: B023

            substrate.subscribe_block_headers(handler, finalized_only=finalized_only)
            assert numbers == sorted(numbers), numbers  # never back
            assert sorted(set(numbers)) == list(range(numbers[0], numbers[0] + 4)), numbers
            assert len(numbers) <= 8, numbers  # a repeat now and then, not a stuck head
    finally:
        stop.set()
        producer.join(timeout=30)
    # With no block in the making, the finalized head is the best head.
    head = substrate.get_block_number(substrate.get_chain_head())
    deadline = time.monotonic() + 10
    while substrate.get_block_number(substrate.get_chain_finalised_head()) != head:
        assert time.monotonic() < deadline, "the best head was not finalized"
        time.sleep(0.05)
