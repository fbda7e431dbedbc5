"""Tokens (orml_tokens shape) through the runtime's state transition functions, no server."""

from __future__ import annotations

import pytest

from devnode import DispatchFailure
from devnode._pallet import Origin
from devnode.pallets._harness import StateMachine
from devnode.pallets.tokens import EXISTENTIAL_DEPOSIT, GENESIS_ENDOWMENT, TokenAccount

A, B, C = (bytes([i]) * 32 for i in (1, 2, 3))
NEW = bytes([9]) * 32


def addr(who: bytes) -> tuple[str, bytes]:
    return ("Id", who)


@pytest.fixture
def sm() -> StateMachine:
    machine = StateMachine([A, B, C])
    machine.next_block()
    return machine


def free(sm: StateMachine, who: bytes, cur: int = 1) -> int:
    return int(sm.get("Tokens", "Accounts", who, cur).free)


def test_genesis_endows_every_account_in_two_currencies(sm: StateMachine) -> None:
    for cur in (1, 2):
        assert sm.get("Tokens", "TotalIssuance", cur) == 3 * GENESIS_ENDOWMENT
        for who in (A, B, C):
            assert sm.get("Tokens", "Accounts", who, cur) == TokenAccount(
                free=GENESIS_ENDOWMENT, reserved=0, frozen=0
            )
    assert sm.get("Tokens", "TotalIssuance", 3) == 0
    assert free(sm, NEW) == 0


def test_transfer_moves_free_balance_and_emits_orml_event(sm: StateMachine) -> None:
    events = sm.signed(A, "Tokens", "transfer", dest=addr(NEW), currency_id=2, amount=5 * 10**12)
    assert sm.event_names(events) == [("Tokens", "Endowed"), ("Tokens", "Transfer")]
    assert sm.find(events, "Tokens", "Transfer") == {
        "currency_id": 2,
        "from": A,
        "to": NEW,
        "amount": 5 * 10**12,
    }
    assert free(sm, A, 2) == GENESIS_ENDOWMENT - 5 * 10**12
    assert free(sm, NEW, 2) == 5 * 10**12
    assert free(sm, A, 1) == GENESIS_ENDOWMENT
    assert sm.get("Tokens", "TotalIssuance", 2) == 3 * GENESIS_ENDOWMENT


def test_transfer_errors(sm: StateMachine) -> None:
    with pytest.raises(DispatchFailure, match=r"^Tokens\.BalanceTooLow$"):
        sm.signed(
            A, "Tokens", "transfer", dest=addr(B), currency_id=1, amount=GENESIS_ENDOWMENT + 1
        )
    with pytest.raises(DispatchFailure, match=r"^Tokens\.BalanceTooLow$"):
        sm.signed(A, "Tokens", "transfer", dest=addr(B), currency_id=7, amount=1)
    with pytest.raises(DispatchFailure, match=r"^Tokens\.ExistentialDeposit$"):
        sm.signed(
            A, "Tokens", "transfer", dest=addr(NEW), currency_id=1, amount=EXISTENTIAL_DEPOSIT - 1
        )
    with pytest.raises(DispatchFailure, match=r"^Tokens\.KeepAlive$"):
        sm.signed(
            A,
            "Tokens",
            "transfer_keep_alive",
            dest=addr(B),
            currency_id=1,
            amount=GENESIS_ENDOWMENT,
        )
    assert free(sm, A) == GENESIS_ENDOWMENT


def test_transfer_leaving_dust_keeps_it_and_reports_it(sm: StateMachine) -> None:
    # orml_tokens with no OnDust hook (the runtime's `CurrencyHooks = ()`): the account keeps
    # its sub-ED balance and DustLost reports it; nothing is burned.
    amount = GENESIS_ENDOWMENT - EXISTENTIAL_DEPOSIT + 1
    events = sm.signed(A, "Tokens", "transfer", dest=addr(B), currency_id=1, amount=amount)
    assert sm.event_names(events) == [("Tokens", "DustLost"), ("Tokens", "Transfer")]
    assert sm.find(events, "Tokens", "DustLost") == {
        "currency_id": 1,
        "who": A,
        "amount": EXISTENTIAL_DEPOSIT - 1,
    }
    assert free(sm, A) == EXISTENTIAL_DEPOSIT - 1
    assert sm.get("Tokens", "TotalIssuance", 1) == 3 * GENESIS_ENDOWMENT
    # Spending the rest removes the entry.
    sm.signed(A, "Tokens", "transfer", dest=addr(B), currency_id=1, amount=EXISTENTIAL_DEPOSIT - 1)
    assert sm.runtime.by_name["Tokens"].storage["Accounts"].key(A, 1) not in sm.state


def test_zero_and_self_transfers_do_nothing(sm: StateMachine) -> None:
    assert sm.signed(A, "Tokens", "transfer", dest=addr(NEW), currency_id=1, amount=0) == []
    assert sm.signed(A, "Tokens", "transfer", dest=addr(A), currency_id=1, amount=5) == []
    assert free(sm, A) == GENESIS_ENDOWMENT


def test_existential_deposit_is_checked_before_keep_alive(sm: StateMachine) -> None:
    # orml checks the receiver's total against ED before the sender's keep-alive.
    with pytest.raises(DispatchFailure, match=r"^Tokens\.ExistentialDeposit$"):
        sm.signed(
            A,
            "Tokens",
            "transfer_keep_alive",
            dest=addr(NEW),
            currency_id=1,
            amount=EXISTENTIAL_DEPOSIT - 1,
        )


def test_only_an_id_address_is_looked_up(sm: StateMachine) -> None:
    # The runtime's AccountIdLookup accepts `MultiAddress::Id` only.
    with pytest.raises(DispatchFailure, match="Address32"):
        sm.signed(A, "Tokens", "transfer", dest=("Address32", B), currency_id=1, amount=10**9)


def test_transfer_all_keep_alive_leaves_the_existential_deposit(sm: StateMachine) -> None:
    sm.signed(A, "Tokens", "transfer_all", dest=addr(B), currency_id=2, keep_alive=True)
    assert free(sm, A, 2) == EXISTENTIAL_DEPOSIT
    sm.signed(A, "Tokens", "transfer_all", dest=addr(B), currency_id=2, keep_alive=False)
    assert free(sm, A, 2) == 0
    assert free(sm, B, 2) == 2 * GENESIS_ENDOWMENT
    assert sm.get("Tokens", "TotalIssuance", 2) == 3 * GENESIS_ENDOWMENT


def test_root_only_set_balance_and_force_transfer(sm: StateMachine) -> None:
    with pytest.raises(DispatchFailure, match="root origin"):
        sm.signed(
            A, "Tokens", "set_balance", who=addr(B), currency_id=1, new_free=1, new_reserved=0
        )
    with pytest.raises(DispatchFailure, match="root origin"):
        sm.signed(
            A, "Tokens", "force_transfer", source=addr(B), dest=addr(A), currency_id=1, amount=1
        )
    ed = EXISTENTIAL_DEPOSIT
    events = sm.call(
        Origin.root(),
        "Tokens",
        "set_balance",
        who=addr(NEW),
        currency_id=3,
        new_free=70 * ed,
        new_reserved=30 * ed,
    )
    assert sm.event_names(events) == [("Tokens", "BalanceSet"), ("Tokens", "Endowed")]
    assert sm.find(events, "Tokens", "BalanceSet") == {
        "currency_id": 3,
        "who": NEW,
        "free": 70 * ed,
        "reserved": 30 * ed,
    }
    assert sm.get("Tokens", "TotalIssuance", 3) == 100 * ed
    # A total below ED sets both to zero: the account is reaped, issuance follows.
    events = sm.call(
        Origin.root(),
        "Tokens",
        "set_balance",
        who=addr(NEW),
        currency_id=3,
        new_free=70,
        new_reserved=30,
    )
    assert sm.find(events, "Tokens", "BalanceSet")["free"] == 0
    assert sm.get("Tokens", "TotalIssuance", 3) == 0
    assert sm.runtime.by_name["Tokens"].storage["Accounts"].key(NEW, 3) not in sm.state
    sm.call(
        Origin.root(),
        "Tokens",
        "force_transfer",
        source=addr(B),
        dest=addr(C),
        currency_id=1,
        amount=10,
    )
    assert free(sm, B) == GENESIS_ENDOWMENT - 10
    assert free(sm, C) == GENESIS_ENDOWMENT + 10


def test_reserve_repatriate_slash_helpers_keep_issuance_accounted(sm: StateMachine) -> None:
    from devnode.pallets.tokens import CurrencyId, Tokens

    tokens = sm.runtime.by_name["Tokens"]
    assert isinstance(tokens, Tokens)
    ctx = sm._ctx()
    cur = CurrencyId(1)
    tokens.reserve(ctx, cur, A, 1_000)
    with pytest.raises(DispatchFailure, match=r"^Tokens\.BalanceTooLow$"):
        tokens.reserve(ctx, cur, A, GENESIS_ENDOWMENT)
    assert tokens.repatriate_reserved(ctx, cur, A, NEW, 400) == 400
    assert tokens.slash_reserved(ctx, cur, A, 1_000) == 600
    assert tokens.unreserve(ctx, cur, A, 10) == 0
    assert tokens.account(ctx, A, cur) == TokenAccount(
        free=GENESIS_ENDOWMENT - 1_000, reserved=0, frozen=0
    )
    assert tokens.free_balance(ctx, NEW, cur) == 400
    assert tokens.total_issuance(ctx, cur) == 3 * GENESIS_ENDOWMENT - 600
