"""pallet_transaction_payment: fees by length and weight, paid before dispatch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar

from .._pallet import Constant, Pallet, PalletEvent, PalletEvents, Scale, StorageItem, Weight
from .._primitives import ACCOUNT_ID, BALANCE
from .._types import U8, U128, Composite, Field

if TYPE_CHECKING:
    from .._runtime import CallContext

__all__ = ["TransactionPayment", "compute_fee"]

#: Per byte of the encoded extrinsic.
LENGTH_FEE = 1_000_000
#: Fee per unit of ref_time weight is 1/WEIGHT_FEE_DIVISOR.
WEIGHT_FEE_DIVISOR = 1_000
#: Weight every extrinsic costs on top of its call's.
EXTRINSIC_BASE_WEIGHT = Weight(100_000_000, 0)

FIXED_U128 = Composite(["sp_arithmetic", "fixed_point", "FixedU128"], [Field(None, U128, "u128")])


def compute_fee(length: int, weight: Weight, tip: int = 0) -> int:
    """The fee of an extrinsic of `length` bytes whose call weighs `weight` (the multiplier is 1)."""
    total_weight = weight + EXTRINSIC_BASE_WEIGHT
    return length * LENGTH_FEE + total_weight.ref_time // WEIGHT_FEE_DIVISOR + tip


class TransactionPaymentEvent(PalletEvents):
    """The events of TransactionPayment."""

    @dataclass(frozen=True)
    class TransactionFeePaid(PalletEvent, index=0):
        """A transaction fee `actual_fee`, of which `tip` was added to the minimum inclusion fee, has been paid by `who`."""

        who: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        actual_fee: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]
        tip: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]


class TransactionPayment(Pallet):
    name = "TransactionPayment"
    index = 6

    NextFeeMultiplier = StorageItem(FIXED_U128, default=10**18)

    events = TransactionPaymentEvent
    constants: ClassVar = {
        "OperationalFeeMultiplier": Constant(
            U8, 5, ("A fee multiplier for `Operational` extrinsics.",)
        ),
    }

    def fee_paid(self, ctx: CallContext, who: bytes, fee: int, tip: int) -> None:
        self.emit(ctx, TransactionPaymentEvent.TransactionFeePaid(who=who, actual_fee=fee, tip=tip))
