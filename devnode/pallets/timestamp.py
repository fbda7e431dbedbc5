"""pallet_timestamp: the block's wall-clock time, set by an inherent."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar

from .._pallet import (
    Constant,
    DispatchClass,
    Origin,
    Pallet,
    Scale,
    StorageItem,
    Weight,
    WeightRule,
    dispatchable,
)
from .._types import BOOL, U64, Compact

if TYPE_CHECKING:
    from .._runtime import CallContext

__all__ = ["Timestamp"]


class Timestamp(Pallet):
    name = "Timestamp"
    index = 2

    Now = StorageItem(U64, default=0, docs=["The current time for the current block."])
    DidUpdate = StorageItem(
        BOOL, default=False, docs=["Whether the timestamp has been updated in this block."]
    )

    constants: ClassVar = {
        "MinimumPeriod": Constant(U64, 1, ("The minimum period between blocks, in milliseconds.",)),
    }

    weights: ClassVar[dict[str, WeightRule]] = {
        "set": Weight(10_000_000, 1_493),
    }

    @dispatchable(0, DispatchClass.MANDATORY, pays_fee=False)
    def set(
        self,
        ctx: CallContext,
        origin: Origin,
        now: Annotated[int, Scale(Compact(U64), "T::Moment")],
    ) -> None:
        """Set the current time (an inherent: unsigned, once per block)."""
        ctx.ensure_none(origin)
        if ctx.get(self.DidUpdate):
            raise ctx.bad_origin("Timestamp must be updated only once in the block")
        previous = ctx.get(self.Now)
        if previous and now < previous + self.constants["MinimumPeriod"].value:
            raise ctx.bad_origin("Timestamp must increment by at least MinimumPeriod")
        ctx.put(self.Now, now)
        ctx.put(self.DidUpdate, True)

    def on_finalize(self, ctx: CallContext) -> None:
        ctx.remove(self.DidUpdate)
