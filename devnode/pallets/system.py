"""frame_system: accounts, nonces, block bookkeeping and per-extrinsic outcome events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from .._hashing import StorageHasher, blake2_256
from .._pallet import (
    Constant,
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
from .._primitives import (
    ACCOUNT_ID,
    ACCOUNT_INFO,
    DIGEST,
    DISPATCH_ERROR,
    DISPATCH_INFO,
    EMPTY_ACCOUNT,
    EVENT_RECORD,
    AccountInfo,
)
from .._types import H256, U16, U32, VEC_U8, SequenceType, TupleType

if TYPE_CHECKING:
    from .._runtime import CallContext

__all__ = ["System"]

KEY_VALUE = TupleType(VEC_U8, VEC_U8)


class SystemEvent(PalletEvents):
    """The events of System."""

    @dataclass(frozen=True)
    class ExtrinsicSuccess(PalletEvent, index=0):
        """An extrinsic completed successfully."""

        dispatch_info: Annotated[Any, Scale(DISPATCH_INFO, "DispatchInfo")]

    @dataclass(frozen=True)
    class ExtrinsicFailed(PalletEvent, index=1):
        """An extrinsic failed."""

        dispatch_error: Annotated[Any, Scale(DISPATCH_ERROR, "DispatchError")]
        dispatch_info: Annotated[Any, Scale(DISPATCH_INFO, "DispatchInfo")]

    @dataclass(frozen=True)
    class CodeUpdated(PalletEvent, index=2):
        """`:code` was updated."""

    @dataclass(frozen=True)
    class NewAccount(PalletEvent, index=3):
        """A new account was created."""

        account: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]

    @dataclass(frozen=True)
    class KilledAccount(PalletEvent, index=4):
        """An account was reaped."""

        account: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]

    @dataclass(frozen=True)
    class Remarked(PalletEvent, index=5):
        """On on-chain remark happened."""

        sender: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        hash: Annotated[bytes, Scale(H256, "T::Hash")]


class SystemError(PalletError):
    """The errors of System."""

    InvalidSpecName = (
        0,
        "The name of specification does not match between the current runtime and the new runtime.",
    )
    SpecVersionNeedsToIncrease = 1, "The specification version is not allowed to decrease."
    FailedToExtractRuntimeVersion = 2, "Failed to extract the runtime version from the new runtime."
    NonDefaultComposite = 3, "Suicide called when the account has non-default composite data."
    NonZeroRefCount = (
        4,
        "There is a non-zero reference count preventing the account from being purged.",
    )
    CallFiltered = 5, "The origin filter prevent the call to be dispatched."


class System(Pallet):
    name = "System"
    index = 0
    crate = "frame_system"

    Account = StorageItem(
        ACCOUNT_INFO,
        keys=[(StorageHasher.BLAKE2_128_CONCAT, ACCOUNT_ID)],
        default=EMPTY_ACCOUNT,
        docs=["The full account information for a particular account ID."],
    )
    BlockHash = StorageItem(
        H256,
        keys=[(StorageHasher.TWOX_64_CONCAT, U32)],
        default=bytes(32),
        docs=["Map of block numbers to block hashes."],
    )
    Number = StorageItem(U32, default=0, docs=["The current block number being processed."])
    ParentHash = StorageItem(H256, default=bytes(32), docs=["Hash of the previous block."])
    Digest = StorageItem(DIGEST, default={"logs": []}, docs=["Digest of the current block."])
    EventCount = StorageItem(U32, default=0, docs=["The number of events in `Events`."])
    ExtrinsicCount = StorageItem(U32, docs=["Total extrinsics count for the current block."])
    Events = StorageItem(
        SequenceType(EVENT_RECORD),
        default=[],
        docs=["Events deposited for the current block."],
    )

    events = SystemEvent
    errors = SystemError

    #: Each call's weight, in one place: fixed, or a function of (pallet, call args).
    weights: ClassVar[dict[str, WeightRule]] = {
        "remark": lambda _, a: Weight(1_000_000 + len(a["remark"]) * 100),
        "set_storage": lambda _, a: Weight(5_000_000 * max(1, len(a["items"]))),
        "remark_with_event": lambda _, a: Weight(2_000_000 + len(a["remark"]) * 100),
    }

    constants: ClassVar = {
        "BlockHashCount": Constant(
            U32, 4096, ("Maximum number of block number to block hash mappings to keep.",)
        ),
        "SS58Prefix": Constant(U16, 42, ("The designated SS58 prefix of this chain.",)),
    }

    @dispatchable(0)
    def remark(
        self, ctx: CallContext, origin: Origin, remark: Annotated[bytes, Scale(VEC_U8, "Vec<u8>")]
    ) -> None:
        """Make some on-chain remark."""
        ctx.ensure_signed(origin)

    @dispatchable(4)
    def set_storage(
        self,
        ctx: CallContext,
        origin: Origin,
        items: Annotated[
            list[tuple[bytes, bytes]], Scale(SequenceType(KEY_VALUE), "Vec<KeyValue>")
        ],
    ) -> None:
        """Set some items of storage (root only)."""
        ctx.ensure_root(origin)
        for key, value in items:
            ctx.overlay.set(key, value)

    @dispatchable(7)
    def remark_with_event(
        self, ctx: CallContext, origin: Origin, remark: Annotated[bytes, Scale(VEC_U8, "Vec<u8>")]
    ) -> None:
        """Make some on-chain remark and emit an event."""
        who = ctx.ensure_signed(origin)
        self.emit(ctx, SystemEvent.Remarked(sender=who, hash=blake2_256(remark)))

    # -- account helpers used by other pallets ------------------------------------------------

    def account(self, ctx: CallContext, who: bytes) -> AccountInfo:
        value: AccountInfo = ctx.get(self.Account, who)
        return value

    def account_from(self, read: Callable[[bytes], bytes | None], who: bytes) -> AccountInfo:
        """The account as stored under a raw read function (for the pool, outside a block)."""
        raw = read(self.Account.key(who))
        if raw is None:
            return EMPTY_ACCOUNT
        value: AccountInfo = self.Account.value.decode_all(raw)
        return value

    def account_exists(self, ctx: CallContext, who: bytes) -> bool:
        return ctx.exists(self.Account, who)

    def put_account(self, ctx: CallContext, who: bytes, info: AccountInfo) -> None:
        ctx.put(self.Account, info, who)

    def kill_account(self, ctx: CallContext, who: bytes) -> None:
        ctx.remove(self.Account, who)
        self.emit(ctx, SystemEvent.KilledAccount(account=who))

    def inc_nonce(self, ctx: CallContext, who: bytes) -> None:
        info = self.account(ctx, who)
        self.put_account(ctx, who, info.with_nonce(info.nonce + 1))

    def on_initialize(self, ctx: CallContext) -> None:
        ctx.put(self.Number, ctx.block_number)
        ctx.put(self.ParentHash, ctx.parent_hash)
        ctx.put(self.BlockHash, ctx.parent_hash, max(ctx.block_number - 1, 0))
        ctx.put(self.Digest, {"logs": ctx.digest_logs})
        # Old entries past BlockHashCount are pruned, as frame_system does.
        horizon = ctx.block_number - 1 - self.constants["BlockHashCount"].value
        if horizon > 0:
            ctx.remove(self.BlockHash, horizon)
