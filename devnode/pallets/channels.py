"""Channels: the direct path's payment channels (docs/pallets.md, "Channels").

A requester prepays into a channel per executor and signs hash-chained tickets; the executor
streams at once and settles many tickets in one `settle`; settled results are sampled for
validation with the `Inference` rule and paid with the same split.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from .._crypto import verify_signature
from .._errors import DispatchFailure
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
    record_type,
)
from .._primitives import ACCOUNT_ID, BALANCE
from .._types import (
    BOOL,
    H256,
    U32,
    U64,
    Compact,
    Composite,
    Field,
    OptionType,
    SequenceType,
    TupleType,
    bytes_array,
)
from .inference import (
    VALIDATION_PERIOD,
    draw_validator,
    escrow_for,
    pay_out,
    punish_executor,
    reward_executor,
)
from .model_registry import MODEL_ID, PERMILL, ModelRegistry
from .providers import Providers
from .tokens import CURRENCY_ID, CurrencyId, Tokens

if TYPE_CHECKING:
    from .._runtime import CallContext

__all__ = [
    "CLOSE_DELAY",
    "MAX_TICKET_LIFE",
    "MIN_TICKET_MARGIN",
    "Channel",
    "Channels",
    "DirectCheck",
    "channel_genesis",
    "ticket_hash",
    "ticket_message",
]

MAX_TICKET_LIFE = 100
MIN_TICKET_MARGIN = 5
CLOSE_DELAY = 150
MAX_RESULTS_PER_SETTLE = 1024
MAX_MODELS_PER_SETTLEMENT = 16
MAX_TIMEOUTS_PER_BLOCK = 256

TICKET_DOMAIN = b"genai-ticket"
SIGNATURE_DOMAIN = b"genai-ticket:"

_AccountId = Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
_Balance = Annotated[int, Scale(BALANCE, "BalanceOf<T>")]
_CurrencyId = Annotated[int, Scale(CURRENCY_ID, "CurrencyIdOf<T>")]
_H256 = Annotated[bytes, Scale(H256, "H256")]
_U32 = Annotated[int, Scale(U32, "u32")]
_U64 = Annotated[int, Scale(U64, "u64")]


@dataclass(frozen=True)
class Channel:
    """A requester's channel to one executor (`Channels`): its deposit and ticket chain."""

    id: Annotated[int, Scale(U64, "ChannelId")]
    currency_id: _CurrencyId
    deposit: _Balance
    #: What sampled results awaiting validation hold of the deposit
    held: _Balance
    nonce: _U64
    head: _H256
    settled_cumulative: _Balance
    closing_at: Annotated[int | None, Scale(OptionType(U32), "Option<BlockNumberFor<T>>")]


CHANNEL = record_type(Channel, ["pallet_channels", "Channel"])


@dataclass(frozen=True)
class DirectCheck:
    """A settled direct result sampled for validation (`DirectChecks`), its cost held."""

    requester: _AccountId
    executor: _AccountId
    validator: _AccountId
    model_id: Annotated[bytes, Scale(MODEL_ID, "ModelId")]
    model_version: _U32
    author: _AccountId
    author_share: Annotated[int, Scale(PERMILL, "Permill")]
    currency_id: _CurrencyId
    nonce: _U64
    ticket_hash: _H256
    prompt_hash: _H256
    output_hash: _H256
    max_tokens: _U32
    prompt_tokens: _U32
    completion_tokens: _U32
    cost: _Balance
    deadline: Annotated[int, Scale(U32, "BlockNumberFor<T>")]


DIRECT_CHECK = record_type(DirectCheck, ["pallet_channels", "DirectCheck"])
DIRECT_RESULT = Composite(
    ["pallet_channels", "DirectResult"],
    [
        Field("model_index", Compact(U32), "u32"),
        Field("prompt_hash", H256, "H256"),
        Field("max_tokens", Compact(U32), "u32"),
        Field("max_price_per_1k_tokens", Compact(BALANCE), "BalanceOf<T>"),
        Field("max_amount", Compact(BALANCE), "BalanceOf<T>"),
        Field("expiry", U32, "BlockNumberFor<T>"),
        Field("output_hash", H256, "H256"),
        Field("prompt_tokens", Compact(U32), "u32"),
        Field("completion_tokens", Compact(U32), "u32"),
    ],
)
CHANNEL_SETTLEMENT = Composite(
    ["pallet_channels", "ChannelSettlement"],
    [
        Field("requester", ACCOUNT_ID, "T::AccountId"),
        Field("first_nonce", Compact(U64), "u64"),
        Field("models", SequenceType(MODEL_ID), "BoundedVec<ModelId, T::MaxModelsPerSettlement>"),
        Field("results", SequenceType(DIRECT_RESULT), "Vec<DirectResult<BalanceOf<T>>>"),
        Field("signature", bytes_array(64), "[u8; 64]"),
    ],
)
VERDICT = TupleType(Compact(U64), BOOL)
_REQUESTER = Field("requester", ACCOUNT_ID, "T::AccountId")
_EXECUTOR = Field("executor", ACCOUNT_ID, "T::AccountId")
_DIRECT_ID = Field("direct_id", U64, "u64")


def channel_genesis(channel_id: int) -> bytes:
    """The `head` of a fresh channel: what ticket 1 chains on."""
    return blake2_256(b"genai-channel" + channel_id.to_bytes(8, "little"))


def ticket_hash(
    prev: bytes,
    channel_id: int,
    executor: bytes,
    model_id: bytes,
    prompt_hash: bytes,
    max_tokens: int,
    max_price: int,
    max_amount: int,
    cumulative: int,
    nonce: int,
    expiry: int,
) -> bytes:
    return blake2_256(
        TICKET_DOMAIN
        + bytes(prev)
        + channel_id.to_bytes(8, "little")
        + bytes(executor)
        + bytes(model_id)
        + bytes(prompt_hash)
        + max_tokens.to_bytes(4, "little")
        + max_price.to_bytes(16, "little")
        + max_amount.to_bytes(16, "little")
        + cumulative.to_bytes(16, "little")
        + nonce.to_bytes(8, "little")
        + expiry.to_bytes(4, "little")
    )


def ticket_message(digest: bytes) -> bytes:
    """What the requester signs for a ticket."""
    return SIGNATURE_DOMAIN + bytes(digest)


def _settle_weight(_: Pallet, args: dict[str, Any]) -> Weight:
    settlements = args["settlements"]
    results = sum(len(s["results"]) for s in settlements)
    return Weight(50_000_000 + 40_000_000 * len(settlements) + 30_000_000 * results, 6_000)


class ChannelsEvent(PalletEvents):
    """The events of Channels."""

    @dataclass(frozen=True)
    class ChannelFunded(PalletEvent, index=0):
        """A channel was opened or topped up."""

        requester: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        executor: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        channel_id: Annotated[int, Scale(U64, "ChannelId")]
        amount: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]
        deposit: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]

    @dataclass(frozen=True)
    class ChannelClosing(PalletEvent, index=1):
        """The requester asked to close; the deposit can be withdrawn from `closes_at`."""

        requester: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        executor: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        closes_at: Annotated[int, Scale(U32, "BlockNumberFor<T>")]

    @dataclass(frozen=True)
    class ChannelWithdrawn(PalletEvent, index=2):
        """The channel was closed and what was left returned to the requester."""

        requester: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        executor: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        amount: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]

    @dataclass(frozen=True)
    class DirectSettled(PalletEvent, index=3):
        """A direct result was settled against its ticket."""

        direct_id: Annotated[int, Scale(U64, "u64")]
        requester: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        executor: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        nonce: Annotated[int, Scale(U64, "u64")]
        model_id: Annotated[bytes, Scale(MODEL_ID, "ModelId")]
        output_hash: Annotated[bytes, Scale(H256, "H256")]
        prompt_tokens: Annotated[int, Scale(U32, "u32")]
        completion_tokens: Annotated[int, Scale(U32, "u32")]
        cost: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]

    @dataclass(frozen=True)
    class DirectPaid(PalletEvent, index=4):
        """A direct result was paid: author and executor shares."""

        direct_id: Annotated[int, Scale(U64, "u64")]
        author: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        author_amount: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]
        executor_amount: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]

    @dataclass(frozen=True)
    class DirectValidationRequested(PalletEvent, index=5):
        """A settled direct result was sampled for validation."""

        direct_id: Annotated[int, Scale(U64, "u64")]
        validator: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        deadline: Annotated[int, Scale(U32, "BlockNumberFor<T>")]

    @dataclass(frozen=True)
    class DirectValidationPassed(PalletEvent, index=6):
        """The validator confirmed a direct result."""

        direct_id: Annotated[int, Scale(U64, "u64")]
        validator: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]

    @dataclass(frozen=True)
    class DirectValidationFailed(PalletEvent, index=7):
        """The validator rejected a direct result: executor slashed, nothing paid."""

        direct_id: Annotated[int, Scale(U64, "u64")]
        validator: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        slashed: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]

    @dataclass(frozen=True)
    class TicketExpired(PalletEvent, index=8):
        """A ticket was settled after its expiry: not paid."""

        requester: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        executor: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        nonce: Annotated[int, Scale(U64, "u64")]


class ChannelsError(PalletError):
    """The errors of Channels."""

    ZeroAmount = 0, "The amount is zero."
    NotProvider = 1, "The executor is not an active provider."
    SelfChannel = 2, "A channel to oneself."
    CurrencyMismatch = 3, "The currency is not the channel's."
    ChannelClosing = 4, "The channel is closing."
    NoChannel = 5, "No such channel."
    AlreadyClosing = 6, "The channel is already closing."
    NotClosing = 7, "The channel is not closing."
    StillClosing = 8, "The close delay has not passed."
    ChecksPending = 9, "Settled results of this channel still await validation."
    EmptySettlement = 10, "Nothing to settle."
    TooManyResults = 11, "More results than `MaxResultsPerSettle`."
    TicketReplayed = 12, "The ticket was already settled."
    TicketGap = 13, "Tickets before this one were not settled yet."
    TooManyModels = 14, "More models than `MaxModelsPerSettlement`."
    BadModelIndex = 15, "A result names a model the settlement does not list."
    UnknownModel = 16, "No model with this id."
    TicketExpired = 17, "The signed ticket has expired."
    BadTicketSignature = 18, "The requester did not sign this ticket chain."
    ExpiryTooFar = 19, "A ticket expires further ahead than a gateway may sign."
    PriceAboveMaximum = 20, "The model's price is above the ticket's maximum."
    InvalidTokenCount = 21, "More completion tokens than the ticket's max_tokens."
    InsufficientDeposit = 22, "The channel does not cover the cost."
    UnknownCheck = 23, "No direct result awaits validation under this id."
    NotValidator = 24, "Only the drawn validator may do this."
    TooManyTimeouts = 25, "Too many validation deadlines fall in that block."


class Channels(Pallet):
    name = "Channels"
    index = 14
    #: FRAME writes it at genesis (`#[pallet::storage_version]` unset: 0), as the runtime does.
    storage_version = 0

    NextChannelId = StorageItem(U64, default=0, docs=["The id the next channel gets."])
    Channels = StorageItem(
        CHANNEL,
        keys=[
            (StorageHasher.BLAKE2_128_CONCAT, ACCOUNT_ID),
            (StorageHasher.BLAKE2_128_CONCAT, ACCOUNT_ID),
        ],
        docs=["(requester, executor) -> the requester's prepaid channel to that executor."],
    )
    NextDirectId = StorageItem(U64, default=0, docs=["The id the next settled result gets."])
    DirectChecks = StorageItem(
        DIRECT_CHECK,
        keys=[(StorageHasher.TWOX_64_CONCAT, U64)],
        docs=["Settled direct results sampled for validation, awaiting the verdict."],
    )
    CheckTimeouts = StorageItem(
        SequenceType(U64),
        keys=[(StorageHasher.TWOX_64_CONCAT, U32)],
        default=[],
        docs=["Checks whose validation period ends at the start of this block."],
    )

    events = ChannelsEvent
    errors = ChannelsError

    #: Each call's weight, in one place: fixed, or a function of (pallet, call args).
    weights: ClassVar[dict[str, WeightRule]] = {
        "open_channel": Weight(60_000_000, 6_000),
        "close_channel": Weight(30_000_000, 6_000),
        "withdraw": Weight(40_000_000, 6_000),
        "settle": _settle_weight,
        "submit_direct_validations": lambda _, a: Weight(
            30_000_000 + 60_000_000 * len(a["verdicts"]), 6_000
        ),
    }

    constants: ClassVar = {
        "MaxTicketLife": Constant(U32, MAX_TICKET_LIFE, ("Longest a ticket may live, blocks.",)),
        "MinTicketMargin": Constant(
            U32, MIN_TICKET_MARGIN, ("Blocks an executor keeps to settle a ticket.",)
        ),
        "CloseDelay": Constant(U32, CLOSE_DELAY, ("Blocks from close to withdrawal.",)),
        "MaxResultsPerSettle": Constant(U32, MAX_RESULTS_PER_SETTLE, ("Results per settle.",)),
        "MaxModelsPerSettlement": Constant(
            U32, MAX_MODELS_PER_SETTLEMENT, ("Models per channel settlement.",)
        ),
    }

    # -- helpers ---------------------------------------------------------------------------

    def __init__(
        self, *, model_registry: ModelRegistry, providers: Providers, tokens: Tokens
    ) -> None:
        self.model_registry = model_registry
        self.providers = providers
        self.tokens = tokens

    def channel(self, ctx: CallContext, requester: bytes, executor: bytes) -> Channel:
        found: Channel | None = ctx.get(self.Channels, requester, executor)
        if found is None:
            self.fail(ChannelsError.NoChannel)
        return found

    def _pay(
        self, ctx: CallContext, direct_id: int, currency: CurrencyId, requester: bytes,
        author: bytes, executor: bytes, share: int, cost: int,
    ) -> None:  # fmt: skip
        author_amount, executor_amount = pay_out(
            ctx, self.tokens, currency, requester, author, executor, share, cost
        )
        self.emit(
            ctx,
            ChannelsEvent.DirectPaid(
                direct_id=direct_id,
                author=author,
                author_amount=author_amount,
                executor_amount=executor_amount,
            ),
        )

    def _schedule(self, ctx: CallContext, at: int, direct_id: int) -> None:
        due: list[int] = ctx.get(self.CheckTimeouts, at)
        if len(due) >= MAX_TIMEOUTS_PER_BLOCK:
            self.fail(ChannelsError.TooManyTimeouts)
        due.append(direct_id)
        ctx.put(self.CheckTimeouts, due, at)

    def _release(self, ctx: CallContext, check: DirectCheck, paid: bool) -> None:
        """A check ends: `held` falls by its cost; `deposit` too when the cost was paid."""
        found: Channel | None = ctx.get(self.Channels, check.requester, check.executor)
        if found is None:  # cannot happen: withdraw waits for held == 0
            return
        found = replace(
            found,
            held=found.held - check.cost,
            deposit=found.deposit - check.cost if paid else found.deposit,
        )
        ctx.put(self.Channels, found, check.requester, check.executor)

    def _pay_check(self, ctx: CallContext, direct_id: int, check: DirectCheck) -> None:
        self._pay(
            ctx, direct_id, CurrencyId(check.currency_id), check.requester,
            check.author, check.executor, check.author_share, check.cost,
        )  # fmt: skip
        self._release(ctx, check, paid=True)
        ctx.remove(self.DirectChecks, direct_id)

    # -- calls -----------------------------------------------------------------------------

    @dispatchable(0)
    def open_channel(
        self,
        ctx: CallContext,
        origin: Origin,
        executor: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")],
        currency_id: Annotated[int, Scale(CURRENCY_ID, "CurrencyIdOf<T>")],
        amount: Annotated[int, Scale(Compact(BALANCE), "BalanceOf<T>")],
    ) -> None:
        """Open a channel to `executor` with `amount` reserved, or top it up."""
        who = ctx.ensure_signed(origin)
        executor = bytes(executor)
        if amount == 0:
            self.fail(ChannelsError.ZeroAmount)
        if executor == who:
            self.fail(ChannelsError.SelfChannel)
        providers = self.providers
        info = providers.info(ctx, executor)
        if info is None or not providers.is_active(info):
            self.fail(ChannelsError.NotProvider)
        found: Channel | None = ctx.get(self.Channels, who, executor)
        if found is None:
            channel_id: int = ctx.get(self.NextChannelId)
            ctx.put(self.NextChannelId, channel_id + 1)
            found = Channel(
                id=channel_id,
                currency_id=currency_id,
                deposit=0,
                held=0,
                nonce=0,
                head=channel_genesis(channel_id),
                settled_cumulative=0,
                closing_at=None,
            )
        elif found.currency_id != currency_id:
            self.fail(ChannelsError.CurrencyMismatch)
        elif found.closing_at is not None:
            self.fail(ChannelsError.ChannelClosing)
        self.tokens.reserve(ctx, CurrencyId(currency_id), who, amount)
        found = replace(found, deposit=found.deposit + amount)
        ctx.put(self.Channels, found, who, executor)
        self.emit(
            ctx,
            ChannelsEvent.ChannelFunded(
                requester=who,
                executor=executor,
                channel_id=found.id,
                amount=amount,
                deposit=found.deposit,
            ),
        )

    @dispatchable(1)
    def close_channel(
        self,
        ctx: CallContext,
        origin: Origin,
        executor: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")],
    ) -> None:
        """Start closing: the deposit can be withdrawn `CloseDelay` blocks from now."""
        who = ctx.ensure_signed(origin)
        found = self.channel(ctx, who, bytes(executor))
        if found.closing_at is not None:
            self.fail(ChannelsError.AlreadyClosing)
        closes_at = ctx.block_number + CLOSE_DELAY
        ctx.put(self.Channels, replace(found, closing_at=closes_at), who, bytes(executor))
        self.emit(
            ctx,
            ChannelsEvent.ChannelClosing(
                requester=who, executor=bytes(executor), closes_at=closes_at
            ),
        )

    @dispatchable(2)
    def withdraw(
        self,
        ctx: CallContext,
        origin: Origin,
        executor: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")],
    ) -> None:
        """After the close delay: return what is left and remove the channel."""
        who = ctx.ensure_signed(origin)
        found = self.channel(ctx, who, bytes(executor))
        if found.closing_at is None:
            self.fail(ChannelsError.NotClosing)
        if ctx.block_number < found.closing_at:
            self.fail(ChannelsError.StillClosing)
        if found.held > 0:
            self.fail(ChannelsError.ChecksPending)
        moved = self.tokens.unreserve(ctx, CurrencyId(found.currency_id), who, found.deposit)
        ctx.remove(self.Channels, who, bytes(executor))
        self.emit(
            ctx,
            ChannelsEvent.ChannelWithdrawn(requester=who, executor=bytes(executor), amount=moved),
        )

    @dispatchable(3)
    def settle(
        self,
        ctx: CallContext,
        origin: Origin,
        settlements: Annotated[
            list[dict[str, Any]], Scale(SequenceType(CHANNEL_SETTLEMENT), "Vec<ChannelSettlement>")
        ],
    ) -> None:
        """The executor settles runs of tickets, one signature per channel run."""
        executor = ctx.ensure_signed(origin)
        if not settlements or not any(s["results"] for s in settlements):
            self.fail(ChannelsError.EmptySettlement)
        if sum(len(s["results"]) for s in settlements) > MAX_RESULTS_PER_SETTLE:
            self.fail(ChannelsError.TooManyResults)
        providers = self.providers
        info = providers.info(ctx, executor)
        if info is None:
            self.fail(ChannelsError.NotProvider)
        reputation = info.reputation
        for settlement in settlements:
            self._settle_run(ctx, executor, reputation, settlement)

    def _settle_run(
        self, ctx: CallContext, executor: bytes, reputation: int, settlement: dict[str, Any]
    ) -> None:
        requester = bytes(settlement["requester"])
        results = settlement["results"]
        if not results:
            return
        found = self.channel(ctx, requester, executor)
        first = settlement["first_nonce"]
        if first <= found.nonce:
            self.fail(ChannelsError.TicketReplayed)
        if first > found.nonce + 1:
            self.fail(ChannelsError.TicketGap)
        models = [bytes(m) for m in settlement["models"]]
        if len(models) > MAX_MODELS_PER_SETTLEMENT:
            self.fail(ChannelsError.TooManyModels)
        registry = self.model_registry
        infos = []
        for model_id in models:
            model = ctx.get(registry.Models, model_id)
            if model is None:
                self.fail(ChannelsError.UnknownModel)
            infos.append(model)
        if any(r["model_index"] >= len(models) for r in results):
            self.fail(ChannelsError.BadModelIndex)
        now = ctx.block_number
        if results[-1]["expiry"] < now:
            self.fail(ChannelsError.TicketExpired)
        # Recompute the chain; the signature on the last ticket authorises the run.
        head = bytes(found.head)
        cumulative = found.settled_cumulative
        hashes = []
        for offset, result in enumerate(results):
            cumulative += result["max_amount"]
            head = ticket_hash(
                head, found.id, executor, models[result["model_index"]],
                bytes(result["prompt_hash"]), result["max_tokens"],
                result["max_price_per_1k_tokens"], result["max_amount"], cumulative,
                first + offset, result["expiry"],
            )  # fmt: skip
            hashes.append(head)
        if not verify_signature(
            "Sr25519", bytes(settlement["signature"]), ticket_message(head), requester
        ):
            self.fail(ChannelsError.BadTicketSignature)
        currency = CurrencyId(found.currency_id)
        deposit, held = found.deposit, found.held
        for offset, result in enumerate(results):
            nonce = first + offset
            if result["expiry"] > now + MAX_TICKET_LIFE + CLOSE_DELAY:
                self.fail(ChannelsError.ExpiryTooFar)
            if result["expiry"] < now:
                self.emit(
                    ctx,
                    ChannelsEvent.TicketExpired(
                        requester=requester, executor=executor, nonce=nonce
                    ),
                )
                continue
            model_id = models[result["model_index"]]
            model = infos[result["model_index"]]
            price = model.price_per_1k_tokens
            if price > result["max_price_per_1k_tokens"]:
                self.fail(ChannelsError.PriceAboveMaximum)
            if result["completion_tokens"] > result["max_tokens"]:
                self.fail(ChannelsError.InvalidTokenCount)
            if CurrencyId(model.currency_id) != currency:
                self.fail(ChannelsError.CurrencyMismatch)
            used = result["prompt_tokens"] + result["completion_tokens"]
            if used == 0:
                continue  # a ticket the executor never served: nothing to pay or check
            cost = min(result["max_amount"], escrow_for(used, price))
            if cost > deposit - held:
                self.fail(ChannelsError.InsufficientDeposit)
            direct_id: int = ctx.get(self.NextDirectId)
            ctx.put(self.NextDirectId, direct_id + 1)
            self.emit(
                ctx,
                ChannelsEvent.DirectSettled(
                    direct_id=direct_id,
                    requester=requester,
                    executor=executor,
                    nonce=nonce,
                    model_id=model_id,
                    output_hash=bytes(result["output_hash"]),
                    prompt_tokens=result["prompt_tokens"],
                    completion_tokens=result["completion_tokens"],
                    cost=cost,
                ),
            )
            validator = draw_validator(
                ctx, self.providers, b"direct", direct_id, model_id, executor, requester, reputation
            )
            if validator is None:
                self._pay(
                    ctx, direct_id, currency, requester, model.owner, executor,
                    model.author_share, cost,
                )  # fmt: skip
                deposit -= cost
                continue
            deadline = now + VALIDATION_PERIOD
            held += cost
            check = DirectCheck(
                requester=requester,
                executor=executor,
                validator=validator,
                model_id=model_id,
                model_version=model.version,
                author=model.owner,
                author_share=model.author_share,
                currency_id=currency,
                nonce=nonce,
                ticket_hash=hashes[offset],
                prompt_hash=bytes(result["prompt_hash"]),
                output_hash=bytes(result["output_hash"]),
                max_tokens=result["max_tokens"],
                prompt_tokens=result["prompt_tokens"],
                completion_tokens=result["completion_tokens"],
                cost=cost,
                deadline=deadline,
            )
            ctx.put(self.DirectChecks, check, direct_id)
            self._schedule(ctx, deadline + 1, direct_id)
            self.emit(
                ctx,
                ChannelsEvent.DirectValidationRequested(
                    direct_id=direct_id, validator=validator, deadline=deadline
                ),
            )
        found = replace(
            found,
            deposit=deposit,
            held=held,
            nonce=first + len(results) - 1,
            head=head,
            settled_cumulative=cumulative,
        )
        ctx.put(self.Channels, found, requester, executor)

    @dispatchable(4)
    def submit_direct_validations(
        self,
        ctx: CallContext,
        origin: Origin,
        verdicts: Annotated[
            list[tuple[int, bool]], Scale(SequenceType(VERDICT), "Vec<(u64, bool)>")
        ],
    ) -> None:
        """The drawn validator's verdicts on sampled direct results, many at once."""
        who = ctx.ensure_signed(origin)
        for direct_id, valid in verdicts:
            check: DirectCheck | None = ctx.get(self.DirectChecks, direct_id)
            if check is None:
                self.fail(ChannelsError.UnknownCheck)
            if bytes(check.validator) != who:
                self.fail(ChannelsError.NotValidator)
            executor = bytes(check.executor)
            if valid:
                self._pay_check(ctx, direct_id, check)
                reward_executor(ctx, self.providers, executor)
                self.emit(
                    ctx, ChannelsEvent.DirectValidationPassed(direct_id=direct_id, validator=who)
                )
                continue
            slashed = punish_executor(ctx, self.providers, executor)
            self._release(ctx, check, paid=False)
            ctx.remove(self.DirectChecks, direct_id)
            self.emit(
                ctx,
                ChannelsEvent.DirectValidationFailed(
                    direct_id=direct_id, validator=who, slashed=slashed
                ),
            )

    # -- hooks -----------------------------------------------------------------------------

    def on_initialize(self, ctx: CallContext) -> None:
        due: list[int] = ctx.get(self.CheckTimeouts, ctx.block_number)
        if not due:
            return
        ctx.remove(self.CheckTimeouts, ctx.block_number)
        for direct_id in due:
            check = ctx.get(self.DirectChecks, direct_id)
            if check is None:
                continue
            try:
                with ctx.transactional():
                    self._pay_check(ctx, direct_id, check)
            except DispatchFailure:
                continue
