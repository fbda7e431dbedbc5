"""orml_tokens: multi-currency balances (free, reserved, frozen) for non-native currencies."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, NewType

from .._errors import DispatchFailure
from .._hashing import StorageHasher, storage_prefix
from .._pallet import (
    Constant,
    DispatchClass,
    Origin,
    Pallet,
    PalletError,
    PalletEvent,
    PalletEvents,
    Scale,
    StorageItem,
    Weight,
    WeightRule,
    dispatchable,
    record_type,
)
from .._primitives import ACCOUNT_ID, BALANCE, MULTI_ADDRESS
from .._types import BOOL, U32, Compact, Field, Variant, VariantCase

if TYPE_CHECKING:
    from .._runtime import CallContext

__all__ = [
    "CURRENCY_ID",
    "EXISTENTIAL_DEPOSIT",
    "GENESIS_CURRENCIES",
    "GENESIS_ENDOWMENT",
    "CurrencyId",
    "TokenAccount",
    "Tokens",
]

CurrencyId = NewType("CurrencyId", int)

CURRENCY_ID = U32
EXISTENTIAL_DEPOSIT = 1_000_000
GENESIS_ENDOWMENT = 10**18
#: INFER (staking) and USDD (a stable unit of account).
GENESIS_CURRENCIES: tuple[CurrencyId, ...] = (CurrencyId(1), CurrencyId(2))

_Balance = Annotated[int, Scale(BALANCE, "Balance")]
MAX_BALANCE = 2**128 - 1


def arithmetic_overflow() -> DispatchFailure:
    """`DispatchError::Arithmetic(Overflow)`, as orml's checked additions return it."""
    return DispatchFailure(("Arithmetic", ("Overflow", None)), "Arithmetic.Overflow")


@dataclass(frozen=True)
class TokenAccount:
    """One account's balance of one currency (`orml_tokens::AccountData`)."""

    free: _Balance
    reserved: _Balance
    frozen: _Balance

    @property
    def total(self) -> int:
        return self.free + self.reserved


TOKENS_ACCOUNT_DATA = record_type(TokenAccount, ["orml_tokens", "AccountData"])
BALANCE_STATUS = Variant(
    ["frame_support", "traits", "tokens", "misc", "BalanceStatus"],
    [VariantCase("Free", 0), VariantCase("Reserved", 1)],
)
TRANSFER_WEIGHT = Weight(60_000_000, 3_593)

_CUR = Field("currency_id", CURRENCY_ID, "T::CurrencyId")
_WHO = Field("who", ACCOUNT_ID, "T::AccountId")
_AMOUNT = Field("amount", BALANCE, "T::Balance")


class TokensEvent(PalletEvents):
    """The events of Tokens."""

    @dataclass(frozen=True)
    class Endowed(PalletEvent, index=0):
        """An account was created with some free balance."""

        currency_id: Annotated[int, Scale(CURRENCY_ID, "T::CurrencyId")]
        who: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        amount: Annotated[int, Scale(BALANCE, "T::Balance")]

    @dataclass(frozen=True)
    class DustLost(PalletEvent, index=1):
        """An account was removed whose balance was below ED."""

        currency_id: Annotated[int, Scale(CURRENCY_ID, "T::CurrencyId")]
        who: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        amount: Annotated[int, Scale(BALANCE, "T::Balance")]

    @dataclass(frozen=True)
    class Transfer(PalletEvent, index=2):
        """Transfer succeeded."""

        currency_id: Annotated[int, Scale(CURRENCY_ID, "T::CurrencyId")]
        from_: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId", name="from")]
        to: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        amount: Annotated[int, Scale(BALANCE, "T::Balance")]

    @dataclass(frozen=True)
    class Reserved(PalletEvent, index=3):
        """Some balance was reserved (free -> reserved)."""

        currency_id: Annotated[int, Scale(CURRENCY_ID, "T::CurrencyId")]
        who: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        amount: Annotated[int, Scale(BALANCE, "T::Balance")]

    @dataclass(frozen=True)
    class Unreserved(PalletEvent, index=4):
        """Some balance was unreserved (reserved -> free)."""

        currency_id: Annotated[int, Scale(CURRENCY_ID, "T::CurrencyId")]
        who: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        amount: Annotated[int, Scale(BALANCE, "T::Balance")]

    @dataclass(frozen=True)
    class ReserveRepatriated(PalletEvent, index=5):
        """Some reserved balance was repatriated (moved from reserved to another account)."""

        currency_id: Annotated[int, Scale(CURRENCY_ID, "T::CurrencyId")]
        from_: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId", name="from")]
        to: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        amount: Annotated[int, Scale(BALANCE, "T::Balance")]
        status: Annotated[Any, Scale(BALANCE_STATUS, "BalanceStatus")]

    @dataclass(frozen=True)
    class BalanceSet(PalletEvent, index=6):
        """A balance was set by root."""

        currency_id: Annotated[int, Scale(CURRENCY_ID, "T::CurrencyId")]
        who: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        free: Annotated[int, Scale(BALANCE, "T::Balance")]
        reserved: Annotated[int, Scale(BALANCE, "T::Balance")]

    @dataclass(frozen=True)
    class Slashed(PalletEvent, index=9):
        """Some balances were slashed (e.g. due to mis-behavior)."""

        currency_id: Annotated[int, Scale(CURRENCY_ID, "T::CurrencyId")]
        who: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        free_amount: Annotated[int, Scale(BALANCE, "T::Balance")]
        reserved_amount: Annotated[int, Scale(BALANCE, "T::Balance")]


class TokensError(PalletError):
    """The errors of Tokens."""

    BalanceTooLow = 0, "The balance is too low."
    AmountIntoBalanceFailed = 1, "Cannot convert Amount into Balance type."
    LiquidityRestrictions = 2, "Failed because liquidity restrictions due to locking."
    MaxLocksExceeded = 3, "Failed because the maximum locks was exceeded."
    KeepAlive = 4, "Transfer/payment would kill account."
    ExistentialDeposit = 5, "Value too low to create account due to existential deposit."
    DeadAccount = 6, "Beneficiary account must pre-exist."
    TooManyReserves = 7, "Number of named reserves exceed `MaxReserves`."


class Tokens(Pallet):
    name = "Tokens"
    index = 10
    #: FRAME writes it at genesis (`#[pallet::storage_version]` unset: 0), as the runtime does.
    storage_version = 0
    crate = "orml_tokens"

    TotalIssuance = StorageItem(
        BALANCE,
        keys=[(StorageHasher.TWOX_64_CONCAT, CURRENCY_ID)],
        default=0,
        docs=["The total issuance of a token type."],
    )
    Accounts = StorageItem(
        TOKENS_ACCOUNT_DATA,
        keys=[
            (StorageHasher.BLAKE2_128_CONCAT, ACCOUNT_ID),
            (StorageHasher.TWOX_64_CONCAT, CURRENCY_ID),
        ],
        default=TokenAccount(0, 0, 0),
        docs=["The balance of a token type under an account."],
    )

    events = TokensEvent
    errors = TokensError

    #: Each call's weight, in one place: fixed, or a function of (pallet, call args).
    weights: ClassVar[dict[str, WeightRule]] = {
        "transfer": TRANSFER_WEIGHT,
        "transfer_all": TRANSFER_WEIGHT,
        "transfer_keep_alive": TRANSFER_WEIGHT,
        "force_transfer": TRANSFER_WEIGHT,
        "set_balance": Weight(40_000_000, 3_593),
    }

    constants: ClassVar = {
        "ExistentialDeposit": Constant(
            BALANCE, EXISTENTIAL_DEPOSIT, ("The minimum balance an account may hold.",)
        ),
        "GenesisEndowment": Constant(
            BALANCE, GENESIS_ENDOWMENT, ("What each genesis account holds of each currency.",)
        ),
    }

    # -- calls -----------------------------------------------------------------------------
    #
    # Each call and helper follows orml_tokens 1.5.0 as the runtime composes it
    # (`CurrencyHooks = ()`, no dust whitelist), check for check and event for event: the Rust
    # runtime runs the real crate, and the conformance vectors compare the two byte for byte.

    @dispatchable(0)
    def transfer(
        self,
        ctx: CallContext,
        origin: Origin,
        dest: Annotated[Any, Scale(MULTI_ADDRESS, "<T::Lookup as StaticLookup>::Source")],
        currency_id: Annotated[int, Scale(CURRENCY_ID, "T::CurrencyId")],
        amount: Annotated[int, Scale(Compact(BALANCE), "T::Balance")],
    ) -> None:
        """Transfer some liquid free balance to another account."""
        who = ctx.ensure_signed(origin)
        self.do_transfer(ctx, CurrencyId(currency_id), who, ctx.lookup(dest), amount, False)

    @dispatchable(1)
    def transfer_all(
        self,
        ctx: CallContext,
        origin: Origin,
        dest: Annotated[Any, Scale(MULTI_ADDRESS, "<T::Lookup as StaticLookup>::Source")],
        currency_id: Annotated[int, Scale(CURRENCY_ID, "T::CurrencyId")],
        keep_alive: Annotated[bool, Scale(BOOL, "bool")],
    ) -> None:
        """Transfer all remaining transferable balance to `dest`."""
        who = ctx.ensure_signed(origin)
        to = ctx.lookup(dest)
        cur = CurrencyId(currency_id)
        data = self.account(ctx, who, cur)
        # fungibles::Inspect::reducible_balance: with keep_alive, what keeps the total at ED
        # (counting the reserve) stays behind.
        amount = max(0, data.free - data.frozen)
        if keep_alive:
            amount = max(0, amount - max(0, EXISTENTIAL_DEPOSIT - (data.total - amount)))
        self.do_transfer(ctx, cur, who, to, amount, keep_alive)

    @dispatchable(2)
    def transfer_keep_alive(
        self,
        ctx: CallContext,
        origin: Origin,
        dest: Annotated[Any, Scale(MULTI_ADDRESS, "<T::Lookup as StaticLookup>::Source")],
        currency_id: Annotated[int, Scale(CURRENCY_ID, "T::CurrencyId")],
        amount: Annotated[int, Scale(Compact(BALANCE), "T::Balance")],
    ) -> None:
        """Same as `transfer`, but refuses to take the sender below the existential deposit."""
        who = ctx.ensure_signed(origin)
        self.do_transfer(ctx, CurrencyId(currency_id), who, ctx.lookup(dest), amount, True)

    @dispatchable(3)
    def force_transfer(
        self,
        ctx: CallContext,
        origin: Origin,
        source: Annotated[Any, Scale(MULTI_ADDRESS, "<T::Lookup as StaticLookup>::Source")],
        dest: Annotated[Any, Scale(MULTI_ADDRESS, "<T::Lookup as StaticLookup>::Source")],
        currency_id: Annotated[int, Scale(CURRENCY_ID, "T::CurrencyId")],
        amount: Annotated[int, Scale(Compact(BALANCE), "T::Balance")],
    ) -> None:
        """Exactly as `transfer`, except the origin must be root and the source may be any account."""
        ctx.ensure_root(origin)
        src = ctx.lookup(source)
        self.do_transfer(ctx, CurrencyId(currency_id), src, ctx.lookup(dest), amount, False)

    @dispatchable(4, DispatchClass.OPERATIONAL)
    def set_balance(
        self,
        ctx: CallContext,
        origin: Origin,
        who: Annotated[Any, Scale(MULTI_ADDRESS, "<T::Lookup as StaticLookup>::Source")],
        currency_id: Annotated[int, Scale(CURRENCY_ID, "T::CurrencyId")],
        new_free: Annotated[int, Scale(Compact(BALANCE), "T::Balance")],
        new_reserved: Annotated[int, Scale(Compact(BALANCE), "T::Balance")],
    ) -> None:
        """Set the balances of a given account (root only); total issuance follows. A total
        below the existential deposit sets both to zero (the account is reaped)."""
        ctx.ensure_root(origin)
        account = ctx.lookup(who)
        cur = CurrencyId(currency_id)
        data, existed = self._read(ctx, account, cur)
        new_total = new_free + new_reserved
        if new_total > MAX_BALANCE:
            raise arithmetic_overflow()
        if new_total < EXISTENTIAL_DEPOSIT:
            new_total, new_free, new_reserved = 0, 0, 0
        issuance = self.total_issuance(ctx, cur)
        if new_total > data.total:
            if issuance + new_total - data.total > MAX_BALANCE:
                raise arithmetic_overflow()
            ctx.put(self.TotalIssuance, issuance + new_total - data.total, cur)
        elif new_total < data.total:
            ctx.put(self.TotalIssuance, issuance - (data.total - new_total), cur)
        self.emit(
            ctx,
            TokensEvent.BalanceSet(
                currency_id=cur, who=account, free=new_free, reserved=new_reserved
            ),
        )
        self._commit(
            ctx, account, cur, replace(data, free=new_free, reserved=new_reserved), existed
        )

    # -- state helpers ---------------------------------------------------------------------

    def account(self, ctx: CallContext, who: bytes, currency: CurrencyId) -> TokenAccount:
        data: TokenAccount = ctx.get(self.Accounts, who, currency)
        return data

    def free_balance(self, ctx: CallContext, who: bytes, currency: CurrencyId) -> int:
        return self.account(ctx, who, currency).free

    def reserved_balance(self, ctx: CallContext, who: bytes, currency: CurrencyId) -> int:
        return self.account(ctx, who, currency).reserved

    def total_issuance(self, ctx: CallContext, currency: CurrencyId) -> int:
        total: int = ctx.get(self.TotalIssuance, currency)
        return total

    def _read(
        self, ctx: CallContext, who: bytes, currency: CurrencyId
    ) -> tuple[TokenAccount, bool]:
        return self.account(ctx, who, currency), ctx.exists(self.Accounts, who, currency)

    def _commit(
        self, ctx: CallContext, who: bytes, currency: CurrencyId, data: TokenAccount, existed: bool
    ) -> None:
        """The end of orml's `try_mutate_account`: an empty entry is removed, one below the
        existential deposit is kept and reported as dust (`DustLost`: the runtime composes no
        `OnDust` hook, so nothing is burned), and an entry that did not exist before reports
        `Endowed` with its free balance, even when it stays empty."""
        total = data.total
        if total == 0:
            if existed:
                ctx.remove(self.Accounts, who, currency)
        else:
            ctx.put(self.Accounts, data, who, currency)
        if not existed:
            self.emit(ctx, TokensEvent.Endowed(currency_id=currency, who=who, amount=data.free))
        if 0 < total < EXISTENTIAL_DEPOSIT:
            self.emit(ctx, TokensEvent.DustLost(currency_id=currency, who=who, amount=total))

    def do_transfer(
        self,
        ctx: CallContext,
        currency: CurrencyId,
        source: bytes,
        dest: bytes,
        amount: int,
        keep_alive: bool,
    ) -> None:
        """orml's `do_transfer`: a zero amount or `source == dest` does nothing (no event)."""
        if amount == 0 or source == dest:
            return
        dst, dst_existed = self._read(ctx, dest, currency)
        src, src_existed = self._read(ctx, source, currency)
        if src.free < amount:
            self.fail(TokensError.BalanceTooLow)
        if dst.free + amount > MAX_BALANCE:
            raise arithmetic_overflow()
        src = replace(src, free=src.free - amount)
        dst = replace(dst, free=dst.free + amount)
        if dst.total < EXISTENTIAL_DEPOSIT:
            self.fail(TokensError.ExistentialDeposit)
        if src.free < src.frozen:
            self.fail(TokensError.LiquidityRestrictions)
        if keep_alive and src.total < EXISTENTIAL_DEPOSIT:
            self.fail(TokensError.KeepAlive)
        self._commit(ctx, source, currency, src, src_existed)
        self._commit(ctx, dest, currency, dst, dst_existed)
        self.emit(
            ctx, TokensEvent.Transfer(currency_id=currency, from_=source, to=dest, amount=amount)
        )

    def reserve(self, ctx: CallContext, currency: CurrencyId, who: bytes, amount: int) -> None:
        """Move `amount` from free to reserved; `BalanceTooLow` if not enough is free."""
        if amount == 0:
            return
        data, existed = self._read(ctx, who, currency)
        if data.free < amount:
            self.fail(TokensError.BalanceTooLow)
        if data.free - amount < data.frozen:
            self.fail(TokensError.LiquidityRestrictions)
        data = replace(data, free=data.free - amount, reserved=data.reserved + amount)
        self.emit(ctx, TokensEvent.Reserved(currency_id=currency, who=who, amount=amount))
        self._commit(ctx, who, currency, data, existed)

    def unreserve(self, ctx: CallContext, currency: CurrencyId, who: bytes, amount: int) -> int:
        """Move up to `amount` back to free; returns what was moved."""
        if amount == 0:
            return 0
        data, existed = self._read(ctx, who, currency)
        moved = min(amount, data.reserved)
        data = replace(data, reserved=data.reserved - moved, free=data.free + moved)
        self.emit(ctx, TokensEvent.Unreserved(currency_id=currency, who=who, amount=moved))
        self._commit(ctx, who, currency, data, existed)
        return moved

    def repatriate_reserved(
        self, ctx: CallContext, currency: CurrencyId, source: bytes, dest: bytes, amount: int
    ) -> int:
        """Move up to `amount` of `source`'s reserve into `dest`'s free balance (orml: `dest`'s
        and then `source`'s balance are each set, `BalanceSet`, then `ReserveRepatriated`)."""
        if amount == 0:
            return 0
        if source == dest:
            return self.unreserve(ctx, currency, source, amount)
        src = self.account(ctx, source, currency)
        dst, dst_existed = self._read(ctx, dest, currency)
        moved = min(amount, src.reserved)
        dst = replace(dst, free=dst.free + moved)
        self.emit(
            ctx,
            TokensEvent.BalanceSet(
                currency_id=currency, who=dest, free=dst.free, reserved=dst.reserved
            ),
        )
        self._commit(ctx, dest, currency, dst, dst_existed)
        src, src_existed = self._read(ctx, source, currency)
        src = replace(src, reserved=src.reserved - moved)
        self.emit(
            ctx,
            TokensEvent.BalanceSet(
                currency_id=currency, who=source, free=src.free, reserved=src.reserved
            ),
        )
        self._commit(ctx, source, currency, src, src_existed)
        self.emit(
            ctx,
            TokensEvent.ReserveRepatriated(
                currency_id=currency, from_=source, to=dest, amount=moved, status="Free"
            ),
        )
        return moved

    def slash_reserved(
        self, ctx: CallContext, currency: CurrencyId, who: bytes, amount: int
    ) -> int:
        """Burn up to `amount` of `who`'s reserve; returns what was slashed."""
        if amount == 0:
            return 0
        data, existed = self._read(ctx, who, currency)
        slashed = min(amount, data.reserved)
        self._commit(ctx, who, currency, replace(data, reserved=data.reserved - slashed), existed)
        ctx.put(self.TotalIssuance, max(0, self.total_issuance(ctx, currency) - slashed), currency)
        self.emit(
            ctx,
            TokensEvent.Slashed(
                currency_id=currency, who=who, free_amount=0, reserved_amount=slashed
            ),
        )
        return slashed

    # -- genesis ----------------------------------------------------------------------------

    def genesis(self, ctx: CallContext) -> None:
        """Endow every account the native token was endowed with, in each genesis currency."""
        prefix = storage_prefix("System", "Account")
        accounts = sorted(
            key[len(prefix) + 16 :]
            for key, value in ctx.overlay.changes.items()
            if key.startswith(prefix) and value is not None
        )
        for who in accounts:
            for currency in GENESIS_CURRENCIES:
                data = self.account(ctx, who, currency)
                data = replace(data, free=data.free + GENESIS_ENDOWMENT)
                ctx.put(self.Accounts, data, who, currency)
                issuance = self.total_issuance(ctx, currency)
                ctx.put(self.TotalIssuance, issuance + GENESIS_ENDOWMENT, currency)
