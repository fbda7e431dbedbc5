"""pallet_balances: the native token, stored in `System.Account`'s `data`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from .._errors import DispatchFailure
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
)
from .._primitives import ACCOUNT_ID, BALANCE, MULTI_ADDRESS, AccountInfo
from .._types import BOOL, Compact
from .system import SystemEvent

if TYPE_CHECKING:
    from .._runtime import CallContext

__all__ = ["EXISTENTIAL_DEPOSIT", "Balances"]

EXISTENTIAL_DEPOSIT = 1_000_000_000  # 0.001 of a 12-decimal unit
TRANSFER_WEIGHT = Weight(50_000_000, 3_593)


class BalancesEvent(PalletEvents):
    """The events of Balances."""

    @dataclass(frozen=True)
    class Endowed(PalletEvent, index=0):
        """An account was created with some free balance."""

        account: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        free_balance: Annotated[int, Scale(BALANCE, "T::Balance")]

    @dataclass(frozen=True)
    class DustLost(PalletEvent, index=1):
        """An account was removed whose balance was non-zero but below ExistentialDeposit."""

        account: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        amount: Annotated[int, Scale(BALANCE, "T::Balance")]

    @dataclass(frozen=True)
    class Transfer(PalletEvent, index=2):
        """Transfer succeeded."""

        from_: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId", name="from")]
        to: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        amount: Annotated[int, Scale(BALANCE, "T::Balance")]

    @dataclass(frozen=True)
    class BalanceSet(PalletEvent, index=3):
        """A balance was set by root."""

        who: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        free: Annotated[int, Scale(BALANCE, "T::Balance")]

    @dataclass(frozen=True)
    class Reserved(PalletEvent, index=4):
        """Some balance was reserved (moved from free to reserved)."""

        who: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        amount: Annotated[int, Scale(BALANCE, "T::Balance")]

    @dataclass(frozen=True)
    class Unreserved(PalletEvent, index=5):
        """Some balance was unreserved (moved from reserved to free)."""

        who: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        amount: Annotated[int, Scale(BALANCE, "T::Balance")]

    @dataclass(frozen=True)
    class Deposit(PalletEvent, index=7):
        """Some amount was deposited (e.g. for transaction fees)."""

        who: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        amount: Annotated[int, Scale(BALANCE, "T::Balance")]

    @dataclass(frozen=True)
    class Withdraw(PalletEvent, index=8):
        """Some amount was withdrawn from the account (e.g. for transaction fees)."""

        who: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        amount: Annotated[int, Scale(BALANCE, "T::Balance")]

    @dataclass(frozen=True)
    class Slashed(PalletEvent, index=9):
        """Some amount was removed from the account (e.g. for misbehavior)."""

        who: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        amount: Annotated[int, Scale(BALANCE, "T::Balance")]


U128_MAX = 2**128 - 1


def _token(error: str) -> DispatchFailure:
    """A `DispatchError::Token`: pallet-balances' fungible path fails with these, not with
    its module errors."""
    return DispatchFailure(("Token", (error, None)), f"Token.{error}")


def _arithmetic(error: str) -> DispatchFailure:
    return DispatchFailure(("Arithmetic", (error, None)), f"Arithmetic.{error}")


def _can_dec_provider(info: AccountInfo) -> bool:
    """frame_system's `can_dec_provider`: the account survives losing a provider reference."""
    return info.providers > 1 or info.consumers == 0 or info.providers == 0


class BalancesError(PalletError):
    """The errors of Balances."""

    VestingBalance = 0, "Vesting balance too high to send value."
    LiquidityRestrictions = 1, "Account liquidity restrictions prevent withdrawal."
    InsufficientBalance = 2, "Balance too low to send value."
    ExistentialDeposit = 3, "Value too low to create account due to existential deposit."
    Expendability = 4, "Transfer/payment would kill account."
    ExistingVestingSchedule = 5, "A vesting schedule already exists for this account."
    DeadAccount = 6, "Beneficiary account must pre-exist."
    TooManyReserves = 7, "Number of named reserves exceed `MaxReserves`."
    TooManyHolds = 8, "Number of holds exceed `VariantCountOf<T::RuntimeHoldReason>`."
    TooManyFreezes = 9, "Number of freezes exceed `MaxFreezes`."
    IssuanceDeactivated = 10, "The issuance cannot be modified since it is already deactivated."
    DeltaZero = 11, "The delta cannot be zero."


class Balances(Pallet):
    name = "Balances"
    index = 5

    TotalIssuance = StorageItem(BALANCE, default=0, docs=["The total units issued in the system."])
    InactiveIssuance = StorageItem(
        BALANCE,
        default=0,
        docs=["The total units of outstanding deactivated balance in the system."],
    )

    events = BalancesEvent
    errors = BalancesError

    #: Each call's weight, in one place: fixed, or a function of (pallet, call args).
    weights: ClassVar[dict[str, WeightRule]] = {
        "transfer_allow_death": TRANSFER_WEIGHT,
        "force_transfer": TRANSFER_WEIGHT,
        "transfer_keep_alive": TRANSFER_WEIGHT,
        "transfer_all": TRANSFER_WEIGHT,
        "force_set_balance": Weight(30_000_000, 3_593),
    }

    constants: ClassVar = {
        "ExistentialDeposit": Constant(
            BALANCE,
            EXISTENTIAL_DEPOSIT,
            ("The minimum amount required to keep an account open.",),
        ),
    }

    # -- calls -----------------------------------------------------------------------------

    @dispatchable(0)
    def transfer_allow_death(
        self,
        ctx: CallContext,
        origin: Origin,
        dest: Annotated[Any, Scale(MULTI_ADDRESS, "AccountIdLookupOf<T>")],
        value: Annotated[int, Scale(Compact(BALANCE), "T::Balance")],
    ) -> None:
        """Transfer some liquid free balance to another account; the sender may be reaped."""
        who = ctx.ensure_signed(origin)
        self.transfer(ctx, who, ctx.lookup(dest), value, keep_alive=False)

    @dispatchable(2)
    def force_transfer(
        self,
        ctx: CallContext,
        origin: Origin,
        source: Annotated[Any, Scale(MULTI_ADDRESS, "AccountIdLookupOf<T>")],
        dest: Annotated[Any, Scale(MULTI_ADDRESS, "AccountIdLookupOf<T>")],
        value: Annotated[int, Scale(Compact(BALANCE), "T::Balance")],
    ) -> None:
        """Exactly as `transfer_allow_death`, except the origin must be root and the source account may be specified."""
        ctx.ensure_root(origin)
        self.transfer(ctx, ctx.lookup(source), ctx.lookup(dest), value, keep_alive=False)

    @dispatchable(3)
    def transfer_keep_alive(
        self,
        ctx: CallContext,
        origin: Origin,
        dest: Annotated[Any, Scale(MULTI_ADDRESS, "AccountIdLookupOf<T>")],
        value: Annotated[int, Scale(Compact(BALANCE), "T::Balance")],
    ) -> None:
        """Same as `transfer_allow_death`, but refuses to kill the sender's account."""
        who = ctx.ensure_signed(origin)
        self.transfer(ctx, who, ctx.lookup(dest), value, keep_alive=True)

    @dispatchable(4)
    def transfer_all(
        self,
        ctx: CallContext,
        origin: Origin,
        dest: Annotated[Any, Scale(MULTI_ADDRESS, "AccountIdLookupOf<T>")],
        keep_alive: Annotated[bool, Scale(BOOL, "bool")],
    ) -> None:
        """Transfer the entire transferable balance from the caller account."""
        who = ctx.ensure_signed(origin)
        amount = self.reducible_balance(ctx.system.account(ctx, who), keep_alive)
        self.transfer(ctx, who, ctx.lookup(dest), amount, keep_alive=keep_alive)

    @dispatchable(8, DispatchClass.OPERATIONAL)
    def force_set_balance(
        self,
        ctx: CallContext,
        origin: Origin,
        who: Annotated[Any, Scale(MULTI_ADDRESS, "AccountIdLookupOf<T>")],
        new_free: Annotated[int, Scale(Compact(BALANCE), "T::Balance")],
    ) -> None:
        """Set the regular balance of a given account (root only)."""
        ctx.ensure_root(origin)
        account = ctx.lookup(who)
        system = ctx.system
        info = system.account(ctx, account)
        existed = system.account_exists(ctx, account)
        old = info.data.free
        if new_free < EXISTENTIAL_DEPOSIT:
            new_free = 0
        info = info.with_balance(new_free)
        ctx.put(self.TotalIssuance, ctx.get(self.TotalIssuance) - old + new_free)
        self._store(ctx, account, info, existed)
        self.emit(ctx, BalancesEvent.BalanceSet(who=account, free=new_free))

    # -- currency operations used by other pallets -------------------------------------------

    def free_balance(self, ctx: CallContext, who: bytes) -> int:
        return ctx.system.account(ctx, who).data.free

    def _store(self, ctx: CallContext, who: bytes, info: AccountInfo, existed: bool) -> None:
        data = info.data
        if data.free + data.reserved < EXISTENTIAL_DEPOSIT and info.consumers == 0:
            dust = data.free + data.reserved
            if existed:
                ctx.system.kill_account(ctx, who)
            if dust:
                ctx.put(self.TotalIssuance, ctx.get(self.TotalIssuance) - dust)
                self.emit(ctx, BalancesEvent.DustLost(account=who, amount=dust))
            return
        if not existed:
            info = replace(info, providers=max(info.providers, 1))
            ctx.system.emit(ctx, SystemEvent.NewAccount(account=who))
            self.emit(ctx, BalancesEvent.Endowed(account=who, free_balance=data.free))
        ctx.system.put_account(ctx, who, info)

    def reducible_balance(self, info: AccountInfo, keep_alive: bool) -> int:
        """`fungible::Inspect::reducible_balance` (Polite), as pallet-balances 42 has it: the
        free balance less frozen funds that reserves do not cover, and less the existential
        deposit where the account must stay (`keep_alive`) or cannot lose its provider."""
        data = info.data
        untouchable = max(data.frozen - data.reserved, 0)
        if keep_alive or (data.free and not _can_dec_provider(info)):
            untouchable = max(untouchable, EXISTENTIAL_DEPOSIT)
        return max(data.free - untouchable, 0)

    def _check_withdraw(
        self, ctx: CallContext, info: AccountInfo, amount: int, keep_nonzero: bool
    ) -> None:
        """`can_withdraw(..).into_result(keep_nonzero)`: the token error, in its order."""
        if amount == 0:
            return
        if ctx.get(self.TotalIssuance) < amount:
            raise _arithmetic("Underflow")
        data = info.data
        new_free = data.free - amount
        if new_free < 0:
            raise _token("FundsUnavailable")
        if amount > self.reducible_balance(info, keep_alive=False):
            raise _token("Frozen")
        if new_free < EXISTENTIAL_DEPOSIT and not _can_dec_provider(info):
            raise _token("OnlyProvider")
        if new_free + data.reserved < data.frozen:
            raise _token("Frozen")
        if new_free < EXISTENTIAL_DEPOSIT and keep_nonzero:
            raise _token("NotExpendable")

    @staticmethod
    def _check_deposit(info: AccountInfo, amount: int) -> None:
        """`can_deposit(.., Extant).into_result()`."""
        if amount == 0:
            return
        new_free = info.data.free + amount
        if new_free > U128_MAX:
            raise _arithmetic("Overflow")
        if new_free < EXISTENTIAL_DEPOSIT:
            raise _token("BelowMinimum")
        if new_free + info.data.reserved > U128_MAX:
            raise _arithmetic("Overflow")

    def transfer(
        self, ctx: CallContext, source: bytes, dest: bytes, value: int, keep_alive: bool
    ) -> None:
        """`fungible::Mutate::transfer` (pallet-balances 42): the withdrawal and the deposit
        are checked first (token errors); a transfer to oneself then does nothing; the sender
        is debited (and possibly reaped) before the receiver is credited, then `Transfer`."""
        system = ctx.system
        src = system.account(ctx, source)
        self._check_withdraw(ctx, src, value, keep_nonzero=keep_alive)
        dst_exists = system.account_exists(ctx, dest)
        dst = system.account(ctx, dest)
        self._check_deposit(dst, value)
        if source == dest:
            return
        if value:
            self._store(ctx, source, src.with_balance(src.data.free - value), True)
            self._store(ctx, dest, dst.with_balance(dst.data.free + value), dst_exists)
        self.emit(ctx, BalancesEvent.Transfer(from_=source, to=dest, amount=value))

    def withdraw(self, ctx: CallContext, who: bytes, amount: int, keep_alive: bool) -> None:
        """Take `amount` out of circulation from `who`'s free balance (fees, burns)."""
        info = ctx.system.account(ctx, who)
        free = info.data.free
        if free - info.data.frozen < amount:
            self.fail(BalancesError.InsufficientBalance)
        if keep_alive and free - amount + info.data.reserved < EXISTENTIAL_DEPOSIT:
            self.fail(BalancesError.Expendability)
        info = info.with_balance(free - amount)
        ctx.put(self.TotalIssuance, ctx.get(self.TotalIssuance) - amount)
        self.emit(ctx, BalancesEvent.Withdraw(who=who, amount=amount))
        self._store(ctx, who, info, True)

    def deposit(self, ctx: CallContext, who: bytes, amount: int) -> None:
        """Mint `amount` into `who`'s free balance."""
        existed = ctx.system.account_exists(ctx, who)
        info = ctx.system.account(ctx, who)
        info = info.with_balance(info.data.free + amount)
        ctx.put(self.TotalIssuance, ctx.get(self.TotalIssuance) + amount)
        self.emit(ctx, BalancesEvent.Deposit(who=who, amount=amount))
        self._store(ctx, who, info, existed)

    def reserve(self, ctx: CallContext, who: bytes, amount: int) -> None:
        info = ctx.system.account(ctx, who)
        data = info.data
        if data.free - data.frozen < amount:
            self.fail(BalancesError.InsufficientBalance)
        info = info.with_balance(data.free - amount, data.reserved + amount)
        ctx.system.put_account(ctx, who, info)
        self.emit(ctx, BalancesEvent.Reserved(who=who, amount=amount))

    def unreserve(self, ctx: CallContext, who: bytes, amount: int) -> int:
        """Move up to `amount` back to free; returns what was actually moved."""
        info = ctx.system.account(ctx, who)
        data = info.data
        moved = min(amount, data.reserved)
        ctx.system.put_account(
            ctx, who, info.with_balance(data.free + moved, data.reserved - moved)
        )
        self.emit(ctx, BalancesEvent.Unreserved(who=who, amount=moved))
        return moved

    def endow(self, ctx: CallContext, who: bytes, amount: int) -> None:
        """Genesis endowment: no events, just balances and issuance."""
        info = ctx.system.account(ctx, who)
        info = replace(
            info,
            data=replace(info.data, free=info.data.free + amount),
            providers=max(info.providers, 1),
        )
        ctx.system.put_account(ctx, who, info)
        ctx.put(self.TotalIssuance, ctx.get(self.TotalIssuance) + amount)
