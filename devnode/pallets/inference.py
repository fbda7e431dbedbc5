"""Inference: escrowed requests, weighted executor assignment, hash-only results, sampled
validation, payouts, deadlines and weight-proportional bandwidth limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

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
    enum_type,
    record_type,
)
from .._primitives import ACCOUNT_ID, BALANCE
from .._types import (
    BOOL,
    H256,
    U32,
    U64,
    VEC_U8,
    Composite,
    Field,
    OptionType,
    SequenceType,
    Variant,
    VariantCase,
    bytes_array,
)
from ._cid import is_valid_cid
from .model_registry import (
    MAX_CID_LENGTH,
    MODEL_ID,
    PERMILL,
    ModelActive,
    ModelInfo,
    ModelRegistry,
)
from .providers import MAX_PROVIDERS_PER_MODEL, Providers
from .tokens import CURRENCY_ID, CurrencyId, Tokens

if TYPE_CHECKING:
    from .._runtime import CallContext

__all__ = [
    "BLOCK_BANDWIDTH_BYTES",
    "INPUT_BYTES_PER_TOKEN",
    "OUTPUT_BYTES_PER_TOKEN",
    "Candidate",
    "Inference",
    "bandwidth_estimate",
    "escrow_for",
    "randomness",
    "select_executor",
    "validation_probability_ppm",
]

MAX_INLINE_INPUT = 1024
MAX_SEALED_INLINE = MAX_INLINE_INPUT + 128  # salt, nonce, tag and header (docs/privacy.md)
MAX_KEY_WRAP_LENGTH = 128
MAX_OUTPUT_BYTES = 65_536
MAX_TOKENS_PER_REQUEST = 100_000
MIN_DEADLINE = 2
MAX_DEADLINE = 600
VALIDATION_PERIOD = 20
OUTPUT_PROVIDE_PERIOD = 10
MAX_TIMEOUTS_PER_BLOCK = 256
BLOCK_BANDWIDTH_BYTES = 21_500 * 1024
INPUT_BYTES_PER_TOKEN = 3
OUTPUT_BYTES_PER_TOKEN = 640
REPUTATION_GAIN = 5
REPUTATION_LOSS = 10
SLASH_FRACTION = 100_000  # Permill: 10 %
PPM = 1_000_000

REQUEST_ID = U64
KEY_WRAP = Composite(
    ["pallet_inference", "KeyWrap"],
    [
        Field("provider", ACCOUNT_ID, "T::AccountId"),
        Field("wrapped", VEC_U8, "BoundedVec<u8, T::MaxKeyWrapLength>"),
    ],
)
SEALED_INPUT = Composite(
    ["pallet_inference", "SealedInput"],
    [
        Field("commitment", H256, "H256"),
        Field("output_key", bytes_array(32), "[u8; 32]"),
        Field(
            "wraps",
            SequenceType(KEY_WRAP),
            "BoundedVec<KeyWrap<T::AccountId>, T::MaxProvidersPerModel>",
        ),
        Field("payload", VEC_U8, "BoundedVec<u8, T::MaxSealedInline>"),
    ],
)
INFERENCE_INPUT = Variant(
    ["pallet_inference", "InferenceInput"],
    [
        VariantCase("Inline", 0, [Field(None, VEC_U8, "BoundedVec<u8, T::MaxInlineInput>")]),
        VariantCase("Cid", 1, [Field(None, VEC_U8, "BoundedVec<u8, T::MaxCidLength>")]),
        VariantCase("SealedInline", 2, [Field(None, SEALED_INPUT, "SealedInput<T::AccountId>")]),
        VariantCase("SealedCid", 3, [Field(None, SEALED_INPUT, "SealedInput<T::AccountId>")]),
    ],
)
AccountId = Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
BlockNumber = Annotated[int, Scale(U32, "BlockNumberFor<T>")]
Balance = Annotated[int, Scale(BALANCE, "BalanceOf<T>")]
U32Field = Annotated[int, Scale(U32, "u32")]
CidField = Annotated[
    bytes | None, Scale(OptionType(VEC_U8), "Option<BoundedVec<u8, T::MaxCidLength>>")
]


# A request's state: one record per variant of `RequestState`, in index order.


@dataclass(frozen=True)
class Assigned:
    """Waiting for the executor's result."""


@dataclass(frozen=True)
class AwaitingValidation:
    """The result is in; the drawn validator checks it (`output_deadline`: output requested)."""

    validator: AccountId
    validation_deadline: BlockNumber
    output_deadline: Annotated[int | None, Scale(OptionType(U32), "Option<BlockNumberFor<T>>")]


@dataclass(frozen=True)
class Completed:
    """Settled: `cost` paid out, the rest refunded."""

    cost: Balance


@dataclass(frozen=True)
class Expired:
    """No result before the deadline: refunded."""


@dataclass(frozen=True)
class Rejected:
    """Failed validation, or a requested output never came: executor slashed, refunded."""


@dataclass(frozen=True)
class Declined:
    """The executor could not serve the input: refunded."""


RequestState = Assigned | AwaitingValidation | Completed | Expired | Rejected | Declined
REQUEST_STATE = enum_type(
    ["pallet_inference", "RequestState"],
    [Assigned, AwaitingValidation, Completed, Expired, Rejected, Declined],
)
TERMINAL: tuple[type[RequestState], ...] = (Completed, Expired, Rejected, Declined)


@dataclass(frozen=True)
class InferenceRequest:
    """A request as `Requests` holds it: hash-only, its input and output off-chain."""

    requester: AccountId
    model_id: Annotated[bytes, Scale(MODEL_ID, "ModelId")]
    model_version: U32Field
    executor: AccountId
    author: AccountId
    input_hash: Annotated[bytes, Scale(H256, "H256")]
    input_cid: CidField
    prompt_tokens: U32Field
    max_tokens: U32Field
    price_per_1k_tokens: Balance
    currency_id: Annotated[int, Scale(CURRENCY_ID, "CurrencyIdOf<T>")]
    author_share: Annotated[int, Scale(PERMILL, "Permill")]
    escrow: Balance
    bandwidth_bytes: Annotated[int, Scale(U64, "u64")]
    deadline: BlockNumber
    created_at: BlockNumber
    output_hash: Annotated[bytes | None, Scale(OptionType(H256), "Option<H256>")]
    output_cid: CidField
    used_tokens: U32Field
    state: Annotated[
        RequestState,
        Scale(REQUEST_STATE, "RequestState<T::AccountId, BlockNumberFor<T>, BalanceOf<T>>"),
    ]
    sealed: Annotated[bool, Scale(BOOL, "bool")]
    output_key: Annotated[bytes | None, Scale(OptionType(bytes_array(32)), "Option<[u8; 32]>")]


INFERENCE_REQUEST = record_type(InferenceRequest, ["pallet_inference", "InferenceRequest"])

_ID = Field("request_id", REQUEST_ID, "RequestId")


def escrow_for(tokens: int, price_per_1k: int) -> int:
    """`ceil(tokens * price / 1000)`: what `tokens` cost at `price_per_1k`."""
    return -(-tokens * price_per_1k // 1000)


def bandwidth_estimate(prompt_tokens: int, max_tokens: int) -> int:
    """Off-chain inference bytes a request may move (the seed's Option 1 estimate)."""
    return prompt_tokens * INPUT_BYTES_PER_TOKEN + max_tokens * OUTPUT_BYTES_PER_TOKEN


def validation_probability_ppm(reputation: int) -> int:
    """1 at reputation 0 falling linearly to 0.01 at reputation 100, in parts per million."""
    return PPM - 9_900 * reputation


def randomness(tag: bytes, parent_hash: bytes, request_id: int) -> int:
    """Devnode's on-chain randomness: blake2_256(tag ++ parent_hash ++ id), first 16 bytes LE."""
    digest = blake2_256(tag + parent_hash + request_id.to_bytes(8, "little"))
    return int.from_bytes(digest[:16], "little")


def pick_weighted(candidates: list[tuple[bytes, int]], draw: int) -> bytes:
    total = sum(weight for _, weight in candidates)
    point = draw % total
    for who, weight in candidates:
        if point < weight:
            return who
        point -= weight
    raise AssertionError("unreachable: point below total weight")


def split_payout(cost: int, author_share: int) -> tuple[int, int]:
    """`cost` split into the author's `author_share` (Permill, rounded down) and the executor's rest."""
    author_amount = cost * author_share // PPM
    return author_amount, cost - author_amount


def fraud_slash(stake: int) -> int:
    """What a proven fraud costs an executor staking `stake`: `SlashFraction` of it."""
    return stake * SLASH_FRACTION // PPM


# The settlement rules below are shared by escrowed requests (Inference) and direct results
# (Channels): one protocol rule, one place.


def pay_out(
    ctx: CallContext, tokens: Tokens, currency: CurrencyId, payer: bytes, author: bytes,
    executor: bytes, author_share: int, cost: int,
) -> tuple[int, int]:  # fmt: skip
    """Pay `cost` out of `payer`'s reserve to the model's author and the executor."""
    author_amount, executor_amount = split_payout(cost, author_share)
    tokens.repatriate_reserved(ctx, currency, payer, author, author_amount)
    tokens.repatriate_reserved(ctx, currency, payer, executor, executor_amount)
    return author_amount, executor_amount


def reward_executor(ctx: CallContext, providers: Providers, executor: bytes) -> None:
    """A passed check: the executor gains `ReputationGain`."""
    info = providers.info(ctx, executor)
    if info is not None:
        providers.set_reputation_of(ctx, executor, info.reputation + REPUTATION_GAIN)


def punish_executor(ctx: CallContext, providers: Providers, executor: bytes) -> int:
    """A failed check: slash the executor's stake and reset its reputation; what was slashed."""
    info = providers.info(ctx, executor)
    if info is None:
        return 0
    slashed = providers.slash(ctx, executor, fraud_slash(info.stake))
    providers.set_reputation_of(ctx, executor, 0)
    return slashed


def draw_validator(
    ctx: CallContext, providers: Providers, tag: bytes, item_id: int, model_id: bytes,
    executor: bytes, requester: bytes, reputation: int, *, sealed: bool = False,
) -> bytes | None:  # fmt: skip
    """Draw whether to validate `item_id` (by the executor's reputation) and whom (by weight,
    among the model's other active providers); None when not sampled or nobody can validate.
    `tag` keeps the draws of different item kinds apart (`tag/validate`, `tag/validator`)."""
    draw = randomness(tag + b"/validate", ctx.parent_hash, item_id) % PPM
    if draw >= validation_probability_ppm(reputation):
        return None
    candidates = []
    for who in ctx.get(providers.ModelProviders, model_id):
        if who in (executor, requester):
            continue
        info = providers.info(ctx, who)
        if info is None or not providers.is_active(info) or info.weight <= 0:
            continue
        if sealed and info.encryption_key is None:
            continue  # the executor re-seals the prompt and output to the validator's key
        candidates.append((who, info.weight))
    if not candidates:
        return None
    return pick_weighted(candidates, randomness(tag + b"/validator", ctx.parent_hash, item_id))


def _input_bytes(input: Any) -> int:
    kind, data = input
    if kind in ("Inline", "Cid"):
        return len(data)
    return len(data["payload"]) + sum(32 + len(w["wrapped"]) for w in data["wraps"]) + 64


def _request_weight(_: Pallet, args: dict[str, Any]) -> Weight:
    size = _input_bytes(args["input"])
    return Weight(150_000_000 + 2_000 * size + 5_000_000 * MAX_PROVIDERS_PER_MODEL, 5_000)


class InferenceEvent(PalletEvents):
    """The events of Inference."""

    @dataclass(frozen=True)
    class InferenceRequested(PalletEvent, index=0):
        """A request was placed, escrowed and assigned."""

        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")]
        requester: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        model_id: Annotated[bytes, Scale(MODEL_ID, "ModelId")]
        executor: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        escrow: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]
        deadline: Annotated[int, Scale(U32, "BlockNumberFor<T>")]

    @dataclass(frozen=True)
    class ResultSubmitted(PalletEvent, index=1):
        """The executor reported the output's hash and token counts."""

        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")]
        output_hash: Annotated[bytes, Scale(H256, "H256")]
        prompt_tokens: Annotated[int, Scale(U32, "u32")]
        completion_tokens: Annotated[int, Scale(U32, "u32")]

    @dataclass(frozen=True)
    class ValidationRequested(PalletEvent, index=2):
        """The result was sampled for validation."""

        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")]
        validator: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        deadline: Annotated[int, Scale(U32, "BlockNumberFor<T>")]

    @dataclass(frozen=True)
    class InferencePaid(PalletEvent, index=3):
        """The request was settled: author and executor paid, the rest refunded."""

        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")]
        cost: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]
        author: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        author_amount: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]
        executor: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        executor_amount: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]
        refund: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]

    @dataclass(frozen=True)
    class ValidationPassed(PalletEvent, index=4):
        """A validator confirmed the result."""

        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")]
        validator: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]

    @dataclass(frozen=True)
    class ValidationFailed(PalletEvent, index=5):
        """A validator rejected the result: executor slashed, requester refunded."""

        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")]
        validator: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        slashed: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]

    @dataclass(frozen=True)
    class OutputRequested(PalletEvent, index=6):
        """The validator asked the executor to put the output on-chain."""

        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")]
        deadline: Annotated[int, Scale(U32, "BlockNumberFor<T>")]

    @dataclass(frozen=True)
    class OutputProvided(PalletEvent, index=7):
        """The executor provided the output on-chain."""

        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")]

    @dataclass(frozen=True)
    class RequestExpired(PalletEvent, index=8):
        """No result before the deadline: requester refunded."""

        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")]
        refund: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]

    @dataclass(frozen=True)
    class OutputTimedOut(PalletEvent, index=9):
        """The executor did not provide a requested output: slashed, requester refunded."""

        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")]
        slashed: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]

    @dataclass(frozen=True)
    class RequestDeclined(PalletEvent, index=10):
        """The executor could not serve the input (a sealed input that does not open): refunded."""

        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")]
        refund: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]


class InferenceError(PalletError):
    """The errors of Inference."""

    UnknownModel = 0, "No model with this id."
    ModelDeprecated = 1, "The model is deprecated."
    PriceAboveMaximum = 2, "The model's price is above the requester's maximum."
    InputTooLarge = 3, "Inline input is longer than `MaxInlineInput`."
    EmptyInput = 4, "The input is empty."
    InvalidCid = 5, "A CID is not a valid CIDv0 or base32 CIDv1."
    InvalidTokenCount = 6, "Token counts out of range."
    InvalidDeadline = 7, "Deadline outside `MinDeadline..=MaxDeadline`."
    NoProviderAvailable = 8, "No active provider of the model has free capacity."
    BandwidthExceeded = 9, "No provider has bandwidth left for this request."
    TooManyTimeouts = 10, "Too many deadlines fall in that block."
    UnknownRequest = 11, "No request with this id."
    NotExecutor = 12, "Only the assigned executor may do this."
    NotValidator = 13, "Only the drawn validator may do this."
    InvalidState = 14, "The request is not in a state that allows this."
    DeadlinePassed = 15, "The request's deadline has passed."
    OutputAlreadyRequested = 16, "The output was already requested."
    OutputTooLarge = 17, "The output is longer than `MaxOutputBytes`."
    OutputHashMismatch = 18, "The output does not hash to the submitted output hash."
    NotExpired = 19, "Nothing about this request is due yet."
    NoRecipients = 20, "A sealed input wraps its key to nobody."
    TooManyRecipients = 21, "More key wraps than `MaxProvidersPerModel`."
    DuplicateRecipient = 22, "A provider has two key wraps."
    KeyWrapTooLong = 23, "A key wrap is longer than `MaxKeyWrapLength`."
    InputReplayed = 24, "This sealed input's commitment was already used."


@dataclass(frozen=True)
class Candidate:
    """A registered provider of the requested model, as executor selection sees it."""

    who: bytes
    active: bool
    weight: int
    in_flight: int
    capacity: int
    has_encryption_key: bool
    #: Estimated bytes already reserved on it by its assigned requests
    bandwidth_in_use: int


def select_executor(
    candidates: Sequence[Candidate],
    *,
    requester: bytes,
    recipients: frozenset[bytes] | None,
    bandwidth: int,
    total_weight: int,
    draw: int,
) -> bytes | InferenceError:
    """Choose a request's executor, by weight, among the model's providers that may serve it.

    A provider qualifies when it is active, not the requester, has free capacity and weight,
    and (for a sealed input, `recipients` not None) holds a key wrap and an encryption key;
    then it must have bandwidth left under its weight-proportional share of
    `BLOCK_BANDWIDTH_BYTES`. `draw` is the on-chain randomness. Returns the chosen account, or
    the error: `NoProviderAvailable` when nobody qualifies, `BandwidthExceeded` when nobody
    qualifying has the bandwidth.
    """
    with_capacity = [
        c
        for c in candidates
        if c.who != requester
        and (recipients is None or (c.who in recipients and c.has_encryption_key))
        and c.active
        and c.in_flight < c.capacity
        and c.weight > 0
    ]
    if not with_capacity:
        return InferenceError.NoProviderAvailable
    weighted = [
        (c.who, c.weight)
        for c in with_capacity
        if c.bandwidth_in_use + bandwidth <= BLOCK_BANDWIDTH_BYTES * c.weight // total_weight
    ]
    if not weighted:
        return InferenceError.BandwidthExceeded
    return pick_weighted(weighted, draw)


@dataclass(frozen=True)
class _ValidRequest:
    """A request that passed validation, with what it costs; not yet booked."""

    model_id: bytes
    model: ModelInfo
    input_hash: bytes
    input_cid: bytes | None
    sealed: dict[str, Any] | None
    recipients: frozenset[bytes] | None
    prompt_tokens: int
    max_tokens: int
    deadline_blocks: int
    escrow: int
    bandwidth: int


class Inference(Pallet):
    name = "Inference"
    index = 13
    #: FRAME writes it at genesis (`#[pallet::storage_version]` unset: 0), as the runtime does.
    storage_version = 0

    NextRequestId = StorageItem(U64, default=0, docs=["The id the next request gets."])
    Requests = StorageItem(
        INFERENCE_REQUEST,
        keys=[(StorageHasher.TWOX_64_CONCAT, REQUEST_ID)],
        docs=["Every request, hash-only; terminal ones keep their final state."],
    )
    Timeouts = StorageItem(
        SequenceType(REQUEST_ID),
        keys=[(StorageHasher.TWOX_64_CONCAT, U32)],
        default=[],
        docs=["Requests with a deadline falling due at the start of this block."],
    )
    BandwidthInUse = StorageItem(
        U64,
        keys=[(StorageHasher.BLAKE2_128_CONCAT, ACCOUNT_ID)],
        default=0,
        docs=["Estimated inference bytes reserved on each provider by its assigned requests."],
    )
    SealedCommitments = StorageItem(
        REQUEST_ID,
        keys=[(StorageHasher.BLAKE2_128_CONCAT, H256)],
        docs=["The request of every sealed input's commitment: a sealed input is accepted once."],
    )

    events = InferenceEvent
    errors = InferenceError

    #: Each call's weight, in one place: fixed, or a function of (pallet, call args).
    weights: ClassVar[dict[str, WeightRule]] = {
        "request": _request_weight,
        "submit_result": Weight(150_000_000, 5_000),
        "submit_validation": Weight(120_000_000, 5_000),
        "request_output": Weight(40_000_000, 5_000),
        "provide_output": lambda _, a: Weight(60_000_000 + 2_000 * len(a["output"]), 5_000),
        "expire": Weight(80_000_000, 5_000),
        "decline": Weight(60_000_000, 5_000),
    }

    constants: ClassVar = {
        "MaxInlineInput": Constant(U32, MAX_INLINE_INPUT, ("Largest inline input, bytes.",)),
        "MaxSealedInline": Constant(U32, MAX_SEALED_INLINE, ("Largest sealed inline input.",)),
        "MaxKeyWrapLength": Constant(U32, MAX_KEY_WRAP_LENGTH, ("Largest key wrap, bytes.",)),
        "MaxOutputBytes": Constant(U32, MAX_OUTPUT_BYTES, ("Largest provided output, bytes.",)),
        "MaxTokensPerRequest": Constant(U32, MAX_TOKENS_PER_REQUEST, ("Prompt + max tokens.",)),
        "MinDeadline": Constant(U32, MIN_DEADLINE, ("Shortest deadline, blocks.",)),
        "MaxDeadline": Constant(U32, MAX_DEADLINE, ("Longest deadline, blocks.",)),
        "ValidationPeriod": Constant(U32, VALIDATION_PERIOD, ("Blocks a validator has.",)),
        "OutputProvidePeriod": Constant(
            U32, OUTPUT_PROVIDE_PERIOD, ("Blocks an executor has to provide an output.",)
        ),
        "MaxTimeoutsPerBlock": Constant(U32, MAX_TIMEOUTS_PER_BLOCK, ("Deadlines per block.",)),
        "BlockBandwidthBytes": Constant(
            U64, BLOCK_BANDWIDTH_BYTES, ("Inference bytes shared among providers by weight.",)
        ),
        "InputBytesPerToken": Constant(U32, INPUT_BYTES_PER_TOKEN, ("Estimate per prompt token.",)),
        "OutputBytesPerToken": Constant(
            U32, OUTPUT_BYTES_PER_TOKEN, ("Estimate per completion token.",)
        ),
        "ReputationGain": Constant(U32, REPUTATION_GAIN, ("Reputation added per passed check.",)),
        "ReputationLoss": Constant(U32, REPUTATION_LOSS, ("Reputation lost per expiry.",)),
        "SlashFraction": Constant(PERMILL, SLASH_FRACTION, ("Share of stake slashed on fraud.",)),
    }

    # -- helpers ---------------------------------------------------------------------------

    def __init__(
        self, *, model_registry: ModelRegistry, providers: Providers, tokens: Tokens
    ) -> None:
        self.model_registry = model_registry
        self.providers = providers
        self.tokens = tokens

    def request_of(self, ctx: CallContext, request_id: int) -> InferenceRequest:
        req: InferenceRequest | None = ctx.get(self.Requests, request_id)
        if req is None:
            self.fail(InferenceError.UnknownRequest)
        return req

    def _schedule(self, ctx: CallContext, at: int, request_id: int) -> None:
        due: list[int] = ctx.get(self.Timeouts, at)
        if len(due) >= MAX_TIMEOUTS_PER_BLOCK:
            self.fail(InferenceError.TooManyTimeouts)
        due.append(request_id)
        ctx.put(self.Timeouts, due, at)

    def _check_cid(self, cid: bytes) -> bytes:
        if len(cid) > MAX_CID_LENGTH or not is_valid_cid(cid):
            self.fail(InferenceError.InvalidCid)
        return bytes(cid)

    def _check_wraps(self, ctx: CallContext, sealed: dict[str, Any]) -> set[bytes]:
        wraps = sealed["wraps"]
        if not wraps:
            self.fail(InferenceError.NoRecipients)
        if len(wraps) > MAX_PROVIDERS_PER_MODEL:
            self.fail(InferenceError.TooManyRecipients)
        recipients = {bytes(w["provider"]) for w in wraps}
        if len(recipients) != len(wraps):
            self.fail(InferenceError.DuplicateRecipient)
        if any(len(w["wrapped"]) > MAX_KEY_WRAP_LENGTH for w in wraps):
            self.fail(InferenceError.KeyWrapTooLong)
        if ctx.exists(self.SealedCommitments, bytes(sealed["commitment"])):
            self.fail(InferenceError.InputReplayed)
        return recipients

    def _bandwidth(self, ctx: CallContext, who: bytes, delta: int) -> None:
        used = max(0, int(ctx.get(self.BandwidthInUse, who)) + delta)
        if used:
            ctx.put(self.BandwidthInUse, used, who)
        else:
            ctx.remove(self.BandwidthInUse, who)

    def _release_executor(self, ctx: CallContext, req: InferenceRequest) -> None:
        providers = self.providers
        info = providers.info(ctx, req.executor)
        if info is not None and info.in_flight > 0:
            providers.store(ctx, req.executor, replace(info, in_flight=info.in_flight - 1))

    def _finish(
        self, ctx: CallContext, request_id: int, req: InferenceRequest, state: RequestState
    ) -> None:
        req = replace(req, state=state)
        ctx.put(self.Requests, req, request_id)
        self._release_executor(ctx, req)

    def _settle(self, ctx: CallContext, request_id: int, req: InferenceRequest) -> None:
        tokens = self.tokens
        currency = CurrencyId(req.currency_id)
        cost = min(req.escrow, escrow_for(req.used_tokens, req.price_per_1k_tokens))
        refund = req.escrow - cost
        requester = req.requester
        author_amount, executor_amount = pay_out(
            ctx,
            self.tokens,
            currency,
            requester,
            req.author,
            req.executor,
            req.author_share,
            cost,
        )
        tokens.unreserve(ctx, currency, requester, refund)
        self._finish(ctx, request_id, req, Completed(cost))
        self.emit(
            ctx,
            InferenceEvent.InferencePaid(
                request_id=request_id,
                cost=cost,
                author=req.author,
                author_amount=author_amount,
                executor=req.executor,
                executor_amount=executor_amount,
                refund=refund,
            ),
        )

    def _reject(self, ctx: CallContext, request_id: int, req: InferenceRequest) -> int:
        """Fraud or a withheld output: slash the executor, refund the requester in full."""
        slashed = punish_executor(ctx, self.providers, req.executor)
        self.tokens.unreserve(ctx, CurrencyId(req.currency_id), req.requester, req.escrow)
        self._finish(ctx, request_id, req, Rejected())
        return slashed

    def _expire(self, ctx: CallContext, request_id: int, req: InferenceRequest) -> None:
        providers = self.providers
        refund = self.tokens.unreserve(ctx, CurrencyId(req.currency_id), req.requester, req.escrow)
        self._bandwidth(ctx, req.executor, -req.bandwidth_bytes)
        info = providers.info(ctx, req.executor)
        if info is not None:
            providers.set_reputation_of(ctx, req.executor, info.reputation - REPUTATION_LOSS)
        self._finish(ctx, request_id, req, Expired())
        self.emit(ctx, InferenceEvent.RequestExpired(request_id=request_id, refund=refund))

    def _process_due(self, ctx: CallContext, request_id: int) -> bool:
        """Apply whatever deadline of `request_id` has passed; False when nothing is due."""
        req: InferenceRequest | None = ctx.get(self.Requests, request_id)
        if req is None:
            return False
        now = ctx.block_number
        state = req.state
        if isinstance(state, Assigned) and now > req.deadline:
            self._expire(ctx, request_id, req)
            return True
        if isinstance(state, AwaitingValidation):
            output_deadline = state.output_deadline
            if output_deadline is not None and now > output_deadline:
                slashed = self._reject(ctx, request_id, req)
                self.emit(
                    ctx, InferenceEvent.OutputTimedOut(request_id=request_id, slashed=slashed)
                )
                return True
            if output_deadline is None and now > state.validation_deadline:
                self._settle(ctx, request_id, req)
                return True
        return False

    def _validator_for(
        self, ctx: CallContext, request_id: int, req: InferenceRequest
    ) -> bytes | None:
        """Draw whether to validate and whom; None when not sampled or nobody can validate."""
        executor = self.providers.info(ctx, req.executor)
        reputation = executor.reputation if executor is not None else 0
        return draw_validator(
            ctx, self.providers, b"infer", request_id, req.model_id, req.executor, req.requester,
            reputation, sealed=req.sealed,
        )  # fmt: skip

    # -- calls -----------------------------------------------------------------------------

    @dispatchable(0)
    def request(
        self,
        ctx: CallContext,
        origin: Origin,
        model_id: Annotated[bytes, Scale(MODEL_ID, "ModelId")],
        input: Annotated[Any, Scale(INFERENCE_INPUT, "InferenceInput")],
        prompt_tokens: Annotated[int, Scale(U32, "u32")],
        max_tokens: Annotated[int, Scale(U32, "u32")],
        max_price_per_1k_tokens: Annotated[int, Scale(BALANCE, "BalanceOf<T>")],
        deadline_blocks: Annotated[int, Scale(U32, "BlockNumberFor<T>")],
    ) -> None:
        """Request an inference: escrow `(prompt + max_tokens) x price`, assign an executor."""
        who = ctx.ensure_signed(origin)
        valid = self._validate_request(
            ctx, model_id, input, prompt_tokens, max_tokens, max_price_per_1k_tokens,
            deadline_blocks,
        )  # fmt: skip
        request_id: int = ctx.get(self.NextRequestId)
        executor = select_executor(
            self._candidates(ctx, valid.model_id),
            requester=who,
            recipients=valid.recipients,
            bandwidth=valid.bandwidth,
            total_weight=self.providers.total_weight(ctx),
            draw=randomness(b"infer/assign", ctx.parent_hash, request_id),
        )
        if isinstance(executor, InferenceError):
            self.fail(executor)
        self._place(ctx, request_id, who, executor, valid)

    def _validate_request(
        self, ctx: CallContext, model_id: bytes, input: Any, prompt_tokens: int, max_tokens: int,
        max_price_per_1k_tokens: int, deadline_blocks: int,
    ) -> _ValidRequest:  # fmt: skip
        """Check a request's model, price, input, token counts and deadline; what it will cost."""
        model: ModelInfo | None = ctx.get(self.model_registry.Models, model_id)
        if model is None:
            self.fail(InferenceError.UnknownModel)
        if not isinstance(model.status, ModelActive):
            self.fail(InferenceError.ModelDeprecated)
        price = model.price_per_1k_tokens
        if price > max_price_per_1k_tokens:
            self.fail(InferenceError.PriceAboveMaximum)
        kind, data = input
        sealed: dict[str, Any] | None = None
        recipients: frozenset[bytes] | None = None
        if kind in ("SealedInline", "SealedCid"):
            sealed = data
            data = bytes(data["payload"])
            recipients = frozenset(self._check_wraps(ctx, sealed))
        data = bytes(data)
        if not data:
            self.fail(InferenceError.EmptyInput)
        input_cid = None
        if kind == "Inline":
            if len(data) > MAX_INLINE_INPUT:
                self.fail(InferenceError.InputTooLarge)
        elif kind == "SealedInline":
            if len(data) > MAX_SEALED_INLINE:
                self.fail(InferenceError.InputTooLarge)
        else:
            input_cid = self._check_cid(data)
        if max_tokens < 1 or prompt_tokens + max_tokens > MAX_TOKENS_PER_REQUEST:
            self.fail(InferenceError.InvalidTokenCount)
        if not MIN_DEADLINE <= deadline_blocks <= MAX_DEADLINE:
            self.fail(InferenceError.InvalidDeadline)
        return _ValidRequest(
            model_id=bytes(model_id),
            model=model,
            input_hash=blake2_256(data) if sealed is None else bytes(sealed["commitment"]),
            input_cid=input_cid,
            sealed=sealed,
            recipients=recipients,
            prompt_tokens=prompt_tokens,
            max_tokens=max_tokens,
            deadline_blocks=deadline_blocks,
            escrow=escrow_for(prompt_tokens + max_tokens, price),
            bandwidth=bandwidth_estimate(prompt_tokens, max_tokens),
        )

    def _candidates(self, ctx: CallContext, model_id: bytes) -> list[Candidate]:
        """The registered providers of `model_id`, as executor selection sees them."""
        candidates = []
        for provider in ctx.get(self.providers.ModelProviders, model_id):
            info = self.providers.info(ctx, provider)
            if info is None:
                continue
            candidates.append(
                Candidate(
                    who=provider,
                    active=self.providers.is_active(info),
                    weight=info.weight,
                    in_flight=info.in_flight,
                    capacity=info.capacity,
                    has_encryption_key=info.encryption_key is not None,
                    bandwidth_in_use=int(ctx.get(self.BandwidthInUse, provider)),
                )
            )
        return candidates

    def _place(
        self, ctx: CallContext, request_id: int, who: bytes, executor: bytes, valid: _ValidRequest
    ) -> None:
        """Book a checked request on `executor`: escrow, capacity, bandwidth, deadline, record."""
        model = valid.model
        ctx.put(self.NextRequestId, request_id + 1)
        currency = CurrencyId(model.currency_id)
        self.tokens.reserve(ctx, currency, who, valid.escrow)
        info = self.providers.info(ctx, executor)
        assert info is not None
        self.providers.store(ctx, executor, replace(info, in_flight=info.in_flight + 1))
        self._bandwidth(ctx, executor, valid.bandwidth)
        deadline = ctx.block_number + valid.deadline_blocks
        self._schedule(ctx, deadline + 1, request_id)
        sealed = valid.sealed
        req = InferenceRequest(
            requester=who,
            model_id=valid.model_id,
            model_version=model.version,
            executor=executor,
            author=model.owner,
            input_hash=valid.input_hash,
            input_cid=valid.input_cid,
            prompt_tokens=valid.prompt_tokens,
            max_tokens=valid.max_tokens,
            price_per_1k_tokens=model.price_per_1k_tokens,
            currency_id=currency,
            author_share=model.author_share,
            escrow=valid.escrow,
            bandwidth_bytes=valid.bandwidth,
            deadline=deadline,
            created_at=ctx.block_number,
            output_hash=None,
            output_cid=None,
            used_tokens=0,
            state=Assigned(),
            sealed=sealed is not None,
            output_key=None if sealed is None else bytes(sealed["output_key"]),
        )
        ctx.put(self.Requests, req, request_id)
        if sealed is not None:
            ctx.put(self.SealedCommitments, request_id, bytes(sealed["commitment"]))
        self.emit(
            ctx,
            InferenceEvent.InferenceRequested(
                request_id=request_id,
                requester=who,
                model_id=valid.model_id,
                executor=executor,
                escrow=valid.escrow,
                deadline=deadline,
            ),
        )

    @dispatchable(1)
    def submit_result(
        self,
        ctx: CallContext,
        origin: Origin,
        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")],
        output_hash: Annotated[bytes, Scale(H256, "H256")],
        output_cid: Annotated[bytes | None, Scale(OptionType(VEC_U8), "Option<Vec<u8>>")],
        prompt_tokens: Annotated[int, Scale(U32, "u32")],
        completion_tokens: Annotated[int, Scale(U32, "u32")],
    ) -> None:
        """The executor reports the output's hash (and optionally CID) and token counts."""
        who, req = self._assigned(ctx, origin, request_id)
        if ctx.block_number > req.deadline:
            self.fail(InferenceError.DeadlinePassed)
        if completion_tokens > req.max_tokens:
            self.fail(InferenceError.InvalidTokenCount)
        req = replace(
            req,
            output_cid=None if output_cid is None else self._check_cid(output_cid),
            output_hash=bytes(output_hash),
            used_tokens=min(prompt_tokens + completion_tokens, 2**32 - 1),
        )
        self._bandwidth(ctx, who, -req.bandwidth_bytes)
        self.emit(
            ctx,
            InferenceEvent.ResultSubmitted(
                request_id=request_id,
                output_hash=bytes(output_hash),
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            ),
        )
        validator = self._validator_for(ctx, request_id, req)
        if validator is None:
            self._settle(ctx, request_id, req)
            return
        deadline = ctx.block_number + VALIDATION_PERIOD
        req = replace(req, state=AwaitingValidation(validator, deadline, None))
        ctx.put(self.Requests, req, request_id)
        self._schedule(ctx, deadline + 1, request_id)
        self.emit(
            ctx,
            InferenceEvent.ValidationRequested(
                request_id=request_id, validator=validator, deadline=deadline
            ),
        )

    def _assigned(
        self, ctx: CallContext, origin: Origin, request_id: int
    ) -> tuple[bytes, InferenceRequest]:
        """The signer and its request, still `Assigned` to it."""
        who = ctx.ensure_signed(origin)
        req = self.request_of(ctx, request_id)
        if req.executor != who:
            self.fail(InferenceError.NotExecutor)
        if not isinstance(req.state, Assigned):
            self.fail(InferenceError.InvalidState)
        return who, req

    def _awaiting(
        self, ctx: CallContext, origin: Origin, request_id: int
    ) -> tuple[InferenceRequest, AwaitingValidation]:
        """The request and its state, awaiting the signer's validation."""
        who = ctx.ensure_signed(origin)
        req = self.request_of(ctx, request_id)
        state = req.state
        if not isinstance(state, AwaitingValidation):
            self.fail(InferenceError.InvalidState)
        if state.validator != who:
            self.fail(InferenceError.NotValidator)
        return req, state

    @dispatchable(2)
    def submit_validation(
        self,
        ctx: CallContext,
        origin: Origin,
        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")],
        valid: Annotated[bool, Scale(BOOL, "bool")],
    ) -> None:
        """The drawn validator's verdict: pass pays out, fail slashes and refunds."""
        req, state = self._awaiting(ctx, origin, request_id)
        validator = state.validator
        if valid:
            self._settle(ctx, request_id, req)
            reward_executor(ctx, self.providers, req.executor)
            self.emit(
                ctx, InferenceEvent.ValidationPassed(request_id=request_id, validator=validator)
            )
            return
        slashed = self._reject(ctx, request_id, req)
        self.emit(
            ctx,
            InferenceEvent.ValidationFailed(
                request_id=request_id, validator=validator, slashed=slashed
            ),
        )

    @dispatchable(3)
    def request_output(
        self,
        ctx: CallContext,
        origin: Origin,
        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")],
    ) -> None:
        """The validator could not get the output off-chain: the executor must put it on-chain."""
        req, state = self._awaiting(ctx, origin, request_id)
        if state.output_deadline is not None:
            self.fail(InferenceError.OutputAlreadyRequested)
        deadline = ctx.block_number + OUTPUT_PROVIDE_PERIOD
        req = replace(req, state=replace(state, output_deadline=deadline))
        ctx.put(self.Requests, req, request_id)
        self._schedule(ctx, deadline + 1, request_id)
        self.emit(ctx, InferenceEvent.OutputRequested(request_id=request_id, deadline=deadline))

    @dispatchable(4)
    def provide_output(
        self,
        ctx: CallContext,
        origin: Origin,
        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")],
        output: Annotated[bytes, Scale(VEC_U8, "Vec<u8>")],
    ) -> None:
        """The executor answers `request_output`; the output is checked against its hash, not stored."""
        who = ctx.ensure_signed(origin)
        req = self.request_of(ctx, request_id)
        if req.executor != who:
            self.fail(InferenceError.NotExecutor)
        state = req.state
        if not isinstance(state, AwaitingValidation) or state.output_deadline is None:
            self.fail(InferenceError.InvalidState)
        if len(output) > MAX_OUTPUT_BYTES:
            self.fail(InferenceError.OutputTooLarge)
        # A sealed request's output is sealed to the validator, who checks the commitments.
        if not req.sealed and blake2_256(bytes(output)) != req.output_hash:
            self.fail(InferenceError.OutputHashMismatch)
        state = replace(state, output_deadline=None)
        extended = ctx.block_number + VALIDATION_PERIOD
        if state.validation_deadline < extended:
            state = replace(state, validation_deadline=extended)
            self._schedule(ctx, extended + 1, request_id)
        ctx.put(self.Requests, replace(req, state=state), request_id)
        self.emit(ctx, InferenceEvent.OutputProvided(request_id=request_id))

    @dispatchable(5)
    def expire(
        self,
        ctx: CallContext,
        origin: Origin,
        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")],
    ) -> None:
        """Anyone may apply a passed deadline (block initialisation does it too)."""
        ctx.ensure_signed(origin)
        self.request_of(ctx, request_id)
        if not self._process_due(ctx, request_id):
            self.fail(InferenceError.NotExpired)

    @dispatchable(6)
    def decline(
        self,
        ctx: CallContext,
        origin: Origin,
        request_id: Annotated[int, Scale(REQUEST_ID, "RequestId")],
    ) -> None:
        """The executor cannot serve the input (a sealed input that does not open): refund."""
        who, req = self._assigned(ctx, origin, request_id)
        refund = self.tokens.unreserve(ctx, CurrencyId(req.currency_id), req.requester, req.escrow)
        self._bandwidth(ctx, who, -req.bandwidth_bytes)
        self._finish(ctx, request_id, req, Declined())
        self.emit(ctx, InferenceEvent.RequestDeclined(request_id=request_id, refund=refund))

    # -- hooks -----------------------------------------------------------------------------

    def on_initialize(self, ctx: CallContext) -> None:
        due: list[int] = ctx.get(self.Timeouts, ctx.block_number)
        if not due:
            return
        ctx.remove(self.Timeouts, ctx.block_number)
        for request_id in due:
            try:
                with ctx.transactional():
                    self._process_due(ctx, request_id)
            except DispatchFailure:
                continue
