"""pallet_sudo: one key that may dispatch calls as root."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from .._errors import DispatchFailure
from .._pallet import (
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
from .._primitives import ACCOUNT_ID, MULTI_ADDRESS, RUNTIME_CALL, WEIGHT, dispatch_result
from .._types import OptionType

if TYPE_CHECKING:
    from .._runtime import CallContext, Runtime

__all__ = ["Sudo"]

SUDO_WEIGHT = Weight(10_000_000, 1_500)
DISPATCH_RESULT = dispatch_result()


def _with_inner(sudo: Sudo, args: dict[str, Any]) -> Weight:
    """Sudo's own weight and the weight of the call it dispatches."""
    return SUDO_WEIGHT + sudo.runtime.call_weight(args["call"])


class SudoEvent(PalletEvents):
    """The events of Sudo."""

    @dataclass(frozen=True)
    class Sudid(PalletEvent, index=0):
        """A sudo call just took place."""

        sudo_result: Annotated[Any, Scale(DISPATCH_RESULT, "DispatchResult")]

    @dataclass(frozen=True)
    class KeyChanged(PalletEvent, index=1):
        """The sudo key has been updated."""

        old: Annotated[bytes | None, Scale(OptionType(ACCOUNT_ID), "Option<T::AccountId>")]
        new: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]

    @dataclass(frozen=True)
    class KeyRemoved(PalletEvent, index=2):
        """The key was permanently removed."""

    @dataclass(frozen=True)
    class SudoAsDone(PalletEvent, index=3):
        """A sudo call just took place."""

        sudo_result: Annotated[Any, Scale(DISPATCH_RESULT, "DispatchResult")]


class SudoError(PalletError):
    """The errors of Sudo."""

    RequireSudo = 0, "Sender must be the Sudo account."


class Sudo(Pallet):
    name = "Sudo"
    index = 7

    Key = StorageItem(ACCOUNT_ID, docs=["The `AccountId` of the sudo key."])

    def __init__(self, *, runtime: Runtime) -> None:
        self.runtime = runtime  # the calls it dispatches, and their weights

    events = SudoEvent
    errors = SudoError

    #: Each call's weight, in one place: fixed, or a function of (pallet, call args).
    weights: ClassVar[dict[str, WeightRule]] = {
        "sudo": _with_inner,
        "sudo_unchecked_weight": lambda _, a: (
            SUDO_WEIGHT + Weight(a["weight"]["ref_time"], a["weight"]["proof_size"])
        ),
        "set_key": SUDO_WEIGHT,
        "sudo_as": _with_inner,
        "remove_key": SUDO_WEIGHT,
    }

    def _ensure_key(self, ctx: CallContext, origin: Origin) -> bytes:
        who = ctx.ensure_signed(origin)
        if ctx.get(self.Key) != who:
            self.fail(SudoError.RequireSudo)
        return who

    def _run(self, ctx: CallContext, call: Any, origin: Origin) -> tuple[str, Any]:
        try:
            with ctx.transactional():
                ctx.dispatch(call, origin)
        except DispatchFailure as failure:
            return ("Err", failure.error)
        return ("Ok", ())

    @dispatchable(0)
    def sudo(
        self,
        ctx: CallContext,
        origin: Origin,
        call: Annotated[Any, Scale(RUNTIME_CALL, "Box<<T as Config>::RuntimeCall>")],
    ) -> None:
        """Authenticates the sudo key and dispatches a function call with `Root` origin."""
        self._ensure_key(ctx, origin)
        self.emit(ctx, SudoEvent.Sudid(sudo_result=self._run(ctx, call, Origin.root())))

    @dispatchable(1)
    def sudo_unchecked_weight(
        self,
        ctx: CallContext,
        origin: Origin,
        call: Annotated[Any, Scale(RUNTIME_CALL, "Box<<T as Config>::RuntimeCall>")],
        weight: Annotated[Any, Scale(WEIGHT, "Weight")],
    ) -> None:
        """As `sudo`, with the weight given by the caller."""
        self._ensure_key(ctx, origin)
        self.emit(ctx, SudoEvent.Sudid(sudo_result=self._run(ctx, call, Origin.root())))

    @dispatchable(2)
    def set_key(
        self,
        ctx: CallContext,
        origin: Origin,
        new: Annotated[Any, Scale(MULTI_ADDRESS, "AccountIdLookupOf<T>")],
    ) -> None:
        """Authenticates the current sudo key and sets the given account as the new sudo key."""
        old = self._ensure_key(ctx, origin)
        account = ctx.lookup(new)
        ctx.put(self.Key, account)
        self.emit(ctx, SudoEvent.KeyChanged(old=old, new=account))

    @dispatchable(3)
    def sudo_as(
        self,
        ctx: CallContext,
        origin: Origin,
        who: Annotated[Any, Scale(MULTI_ADDRESS, "AccountIdLookupOf<T>")],
        call: Annotated[Any, Scale(RUNTIME_CALL, "Box<<T as Config>::RuntimeCall>")],
    ) -> None:
        """Dispatches a call with a `Signed` origin of the given account."""
        self._ensure_key(ctx, origin)
        result = self._run(ctx, call, Origin.signed(ctx.lookup(who)))
        self.emit(ctx, SudoEvent.SudoAsDone(sudo_result=result))

    @dispatchable(4)
    def remove_key(self, ctx: CallContext, origin: Origin) -> None:
        """Permanently removes the sudo key."""
        self._ensure_key(ctx, origin)
        ctx.remove(self.Key)
        self.emit(ctx, SudoEvent.KeyRemoved())
