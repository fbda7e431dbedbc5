"""pallet_sudo: one key that may dispatch calls as root."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .._errors import DispatchFailure
from .._pallet import Origin, Pallet, StorageItem, Weight, dispatchable
from .._primitives import ACCOUNT_ID, MULTI_ADDRESS, RUNTIME_CALL, WEIGHT, dispatch_result
from .._types import Field, OptionType

if TYPE_CHECKING:
    from .._runtime import CallContext

__all__ = ["Sudo"]

SUDO_WEIGHT = Weight(10_000_000, 1_500)
DISPATCH_RESULT = dispatch_result()


def _with_inner(args: dict[str, Any]) -> Weight:
    from .._runtime import RUNTIME

    return SUDO_WEIGHT + RUNTIME.call_weight(args["call"])


class Sudo(Pallet):
    name = "Sudo"
    index = 7

    Key = StorageItem(ACCOUNT_ID, docs=["The `AccountId` of the sudo key."])

    event_decls: ClassVar = [
        (
            "Sudid",
            0,
            [Field("sudo_result", DISPATCH_RESULT, "DispatchResult")],
            "A sudo call just took place.",
        ),
        (
            "KeyChanged",
            1,
            [
                Field("old", OptionType(ACCOUNT_ID), "Option<T::AccountId>"),
                Field("new", ACCOUNT_ID, "T::AccountId"),
            ],
            "The sudo key has been updated.",
        ),
        ("KeyRemoved", 2, [], "The key was permanently removed."),
        (
            "SudoAsDone",
            3,
            [Field("sudo_result", DISPATCH_RESULT, "DispatchResult")],
            "A sudo call just took place.",
        ),
    ]
    error_decls: ClassVar = [("RequireSudo", 0, "Sender must be the Sudo account.")]

    def _ensure_key(self, ctx: CallContext, origin: Origin) -> bytes:
        who = ctx.ensure_signed(origin)
        if ctx.get(self.Key) != who:
            self.fail("RequireSudo")
        return who

    def _run(self, ctx: CallContext, call: Any, origin: Origin) -> tuple[str, Any]:
        try:
            with ctx.transactional():
                ctx.dispatch(call, origin)
        except DispatchFailure as failure:
            return ("Err", failure.error)
        return ("Ok", ())

    @dispatchable(0, [Field("call", RUNTIME_CALL, "Box<<T as Config>::RuntimeCall>")], _with_inner)
    def sudo(self, ctx: CallContext, origin: Origin, call: Any) -> None:
        """Authenticates the sudo key and dispatches a function call with `Root` origin."""
        self._ensure_key(ctx, origin)
        self.emit(ctx, "Sudid", {"sudo_result": self._run(ctx, call, Origin.root())})

    @dispatchable(
        1,
        [
            Field("call", RUNTIME_CALL, "Box<<T as Config>::RuntimeCall>"),
            Field("weight", WEIGHT, "Weight"),
        ],
        lambda a: SUDO_WEIGHT + Weight(a["weight"]["ref_time"], a["weight"]["proof_size"]),
    )
    def sudo_unchecked_weight(
        self, ctx: CallContext, origin: Origin, call: Any, weight: Any
    ) -> None:
        """As `sudo`, with the weight given by the caller."""
        self._ensure_key(ctx, origin)
        self.emit(ctx, "Sudid", {"sudo_result": self._run(ctx, call, Origin.root())})

    @dispatchable(2, [Field("new", MULTI_ADDRESS, "AccountIdLookupOf<T>")], SUDO_WEIGHT)
    def set_key(self, ctx: CallContext, origin: Origin, new: Any) -> None:
        """Authenticates the current sudo key and sets the given account as the new sudo key."""
        old = self._ensure_key(ctx, origin)
        account = ctx.lookup(new)
        ctx.put(self.Key, account)
        self.emit(ctx, "KeyChanged", {"old": old, "new": account})

    @dispatchable(
        3,
        [
            Field("who", MULTI_ADDRESS, "AccountIdLookupOf<T>"),
            Field("call", RUNTIME_CALL, "Box<<T as Config>::RuntimeCall>"),
        ],
        _with_inner,
    )
    def sudo_as(self, ctx: CallContext, origin: Origin, who: Any, call: Any) -> None:
        """Dispatches a call with a `Signed` origin of the given account."""
        self._ensure_key(ctx, origin)
        result = self._run(ctx, call, Origin.signed(ctx.lookup(who)))
        self.emit(ctx, "SudoAsDone", {"sudo_result": result})

    @dispatchable(4, [], SUDO_WEIGHT)
    def remove_key(self, ctx: CallContext, origin: Origin) -> None:
        """Permanently removes the sudo key."""
        self._ensure_key(ctx, origin)
        ctx.remove(self.Key)
        self.emit(ctx, "KeyRemoved")
