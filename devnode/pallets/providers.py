"""Providers: staked compute providers, the models they serve, their reputation and weight."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from .._hashing import StorageHasher
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
from .._primitives import ACCOUNT_ID, BALANCE, MULTI_ADDRESS
from .._types import (
    U8,
    U32,
    U128,
    VEC_U8,
    Compact,
    Field,
    OptionType,
    SequenceType,
    bytes_array,
)
from .model_registry import MODEL_ID, ModelRegistry
from .tokens import CURRENCY_ID, CurrencyId, Tokens

if TYPE_CHECKING:
    from .._runtime import CallContext

__all__ = [
    "MAX_PROVIDERS_PER_MODEL",
    "MIN_STAKE",
    "STAKE_CURRENCY",
    "UNBONDING_PERIOD",
    "ProviderActive",
    "ProviderInfo",
    "ProviderUnbonding",
    "Providers",
    "provider_weight",
]

STAKE_CURRENCY = CurrencyId(1)
MIN_STAKE = 100 * 10**12
WEIGHT_STAKE_UNIT = 10**12
UNBONDING_PERIOD = 10
MAX_ENDPOINT_LENGTH = 256
MAX_MODELS_PER_PROVIDER = 16
MAX_PROVIDERS_PER_MODEL = 64
MAX_CAPACITY = 1024
INITIAL_REPUTATION = 0
MAX_REPUTATION = 100


@dataclass(frozen=True)
class ProviderActive:
    """Taking work."""


@dataclass(frozen=True)
class ProviderUnbonding:
    """Unregistered; the stake can be withdrawn from `unlock_at`."""

    unlock_at: Annotated[int, Scale(U32, "BlockNumberFor<T>")]


ProviderStatus = ProviderActive | ProviderUnbonding
PROVIDER_STATUS = enum_type(
    ["pallet_providers", "ProviderStatus"],
    [("Active", ProviderActive), ("Unbonding", ProviderUnbonding)],
)


@dataclass(frozen=True)
class ProviderInfo:
    """A provider as `Providers` holds it."""

    stake: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]
    endpoint: Annotated[bytes, Scale(VEC_U8, "BoundedVec<u8, T::MaxEndpointLength>")]
    models: Annotated[
        list[bytes],
        Scale(SequenceType(MODEL_ID), "BoundedVec<ModelId, T::MaxModelsPerProvider>"),
    ]
    capacity: Annotated[int, Scale(U32, "u32")]
    in_flight: Annotated[int, Scale(U32, "u32")]
    reputation: Annotated[int, Scale(U8, "u8")]
    weight: Annotated[int, Scale(U128, "u128")]
    status: Annotated[ProviderStatus, Scale(PROVIDER_STATUS, "ProviderStatus<BlockNumberFor<T>>")]
    registered_at: Annotated[int, Scale(U32, "BlockNumberFor<T>")]
    encryption_key: Annotated[bytes | None, Scale(OptionType(bytes_array(32)), "Option<[u8; 32]>")]


PROVIDER_INFO = record_type(ProviderInfo, ["pallet_providers", "ProviderInfo"])
# The provider's X25519 public key: what sealed inputs and validator payloads are sealed to.
_ENCRYPTION_KEY = Field("encryption_key", OptionType(bytes_array(32)), "Option<[u8; 32]>")
_PROVIDER = Field("provider", ACCOUNT_ID, "T::AccountId")


def provider_weight(stake: int, reputation: int) -> int:
    """Weight from stake and reputation; reputation 0 keeps 1/11 of the full weight."""
    return (stake // WEIGHT_STAKE_UNIT) * (10 + reputation)


def _per_model(base: int) -> WeightRule:
    return lambda _, args: Weight(base + 10_000_000 * len(args["models"]), 4_000)


class ProvidersEvent(PalletEvents):
    """The events of Providers."""

    @dataclass(frozen=True)
    class ProviderRegistered(PalletEvent, index=0):
        """A provider registered and reserved its stake."""

        provider: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        stake: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]
        capacity: Annotated[int, Scale(U32, "u32")]

    @dataclass(frozen=True)
    class ProviderUpdated(PalletEvent, index=1):
        """A provider changed endpoint, models or capacity."""

        provider: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]

    @dataclass(frozen=True)
    class ProviderUnbonding(PalletEvent, index=2):
        """A provider stopped taking work; its stake unlocks at `unlock_at`."""

        provider: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        unlock_at: Annotated[int, Scale(U32, "BlockNumberFor<T>")]

    @dataclass(frozen=True)
    class ProviderUnregistered(PalletEvent, index=3):
        """A provider left and its stake was unreserved."""

        provider: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        stake: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]

    @dataclass(frozen=True)
    class ReputationChanged(PalletEvent, index=4):
        """A provider's reputation changed."""

        provider: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        old: Annotated[int, Scale(U8, "u8")]
        new: Annotated[int, Scale(U8, "u8")]

    @dataclass(frozen=True)
    class StakeSlashed(PalletEvent, index=5):
        """Part of a provider's stake was slashed."""

        provider: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        amount: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]


class ProvidersError(PalletError):
    """The errors of Providers."""

    AlreadyRegistered = 0, "The account is already a provider."
    NotRegistered = 1, "The account is not a provider."
    InsufficientStake = 2, "The stake is below `MinStake`."
    EmptyEndpoint = 3, "The endpoint is empty."
    EndpointTooLong = 4, "The endpoint is longer than `MaxEndpointLength`."
    NoModels = 5, "A provider must serve at least one model."
    TooManyModels = 6, "More than `MaxModelsPerProvider` models."
    DuplicateModel = 7, "A model is listed twice."
    UnknownModel = 8, "A listed model is not registered."
    ModelFull = 9, "A model already has `MaxProvidersPerModel` providers."
    InvalidCapacity = 10, "Capacity must be between 1 and `MaxCapacity`."
    NotActive = 11, "The provider is unbonding."
    NotUnbonding = 12, "The provider has not called `unregister`."
    StillUnbonding = 13, "The unbonding period has not ended."
    RequestsInFlight = 14, "The provider still has requests in flight."
    InvalidReputation = 15, "Reputation is at most 100."
    InvalidEncryptionKey = 16, "The all-zero X25519 key seals to nobody."


class Providers(Pallet):
    name = "Providers"
    index = 12
    #: FRAME writes it at genesis (`#[pallet::storage_version]` unset: 0), as the runtime does.
    storage_version = 0

    Providers = StorageItem(
        PROVIDER_INFO,
        keys=[(StorageHasher.BLAKE2_128_CONCAT, ACCOUNT_ID)],
        docs=["Registered compute providers."],
    )
    ModelProviders = StorageItem(
        SequenceType(ACCOUNT_ID),
        keys=[(StorageHasher.BLAKE2_128_CONCAT, MODEL_ID)],
        default=[],
        docs=["Active providers serving each model, in registration order."],
    )
    TotalWeight = StorageItem(U128, default=0, docs=["Sum of the weights of active providers."])

    events = ProvidersEvent
    errors = ProvidersError

    #: Each call's weight, in one place: fixed, or a function of (pallet, call args).
    weights: ClassVar[dict[str, WeightRule]] = {
        "register_provider": _per_model(100_000_000),
        "update_provider": _per_model(80_000_000),
        "unregister": Weight(60_000_000, 4_000),
        "withdraw_unbonded": Weight(50_000_000, 4_000),
        "set_reputation": Weight(20_000_000, 4_000),
    }

    constants: ClassVar = {
        "StakeCurrencyId": Constant(CURRENCY_ID, STAKE_CURRENCY, ("Currency of stakes.",)),
        "MinStake": Constant(BALANCE, MIN_STAKE, ("Smallest stake accepted.",)),
        "WeightStakeUnit": Constant(BALANCE, WEIGHT_STAKE_UNIT, ("Stake per weight unit.",)),
        "UnbondingPeriod": Constant(U32, UNBONDING_PERIOD, ("Blocks before stake unlocks.",)),
        "MaxEndpointLength": Constant(U32, MAX_ENDPOINT_LENGTH, ("Longest endpoint URL.",)),
        "MaxModelsPerProvider": Constant(U32, MAX_MODELS_PER_PROVIDER, ("Models per provider.",)),
        "MaxProvidersPerModel": Constant(U32, MAX_PROVIDERS_PER_MODEL, ("Providers per model.",)),
        "MaxCapacity": Constant(U32, MAX_CAPACITY, ("Largest capacity (requests in flight).",)),
        "InitialReputation": Constant(U8, INITIAL_REPUTATION, ("Reputation of a newcomer.",)),
    }

    # -- helpers ---------------------------------------------------------------------------

    def __init__(self, *, model_registry: ModelRegistry, tokens: Tokens) -> None:
        self.model_registry = model_registry
        self.tokens = tokens

    def info(self, ctx: CallContext, who: bytes) -> ProviderInfo | None:
        value: ProviderInfo | None = ctx.get(self.Providers, who)
        return value

    def _registered(self, ctx: CallContext, who: bytes) -> ProviderInfo:
        info = self.info(ctx, who)
        if info is None:
            self.fail(ProvidersError.NotRegistered)
        return info

    def _active(self, ctx: CallContext, who: bytes) -> ProviderInfo:
        info = self._registered(ctx, who)
        if not isinstance(info.status, ProviderActive):
            self.fail(ProvidersError.NotActive)
        return info

    @staticmethod
    def is_active(info: ProviderInfo) -> bool:
        return isinstance(info.status, ProviderActive)

    def _check_profile(
        self, ctx: CallContext, endpoint: bytes, models: list[bytes], capacity: int
    ) -> None:
        if not endpoint:
            self.fail(ProvidersError.EmptyEndpoint)
        if len(endpoint) > MAX_ENDPOINT_LENGTH:
            self.fail(ProvidersError.EndpointTooLong)
        if not models:
            self.fail(ProvidersError.NoModels)
        if len(models) > MAX_MODELS_PER_PROVIDER:
            self.fail(ProvidersError.TooManyModels)
        if len(set(models)) != len(models):
            self.fail(ProvidersError.DuplicateModel)
        registry = self.model_registry
        for model in models:
            if not ctx.exists(registry.Models, model):
                self.fail(ProvidersError.UnknownModel)
        if not 1 <= capacity <= MAX_CAPACITY:
            self.fail(ProvidersError.InvalidCapacity)

    def _check_key(self, key: bytes | None) -> bytes | None:
        if key is None:
            return None
        if not any(key):
            self.fail(ProvidersError.InvalidEncryptionKey)
        return bytes(key)

    def _index(self, ctx: CallContext, who: bytes, models: list[bytes]) -> None:
        for model in models:
            listed: list[bytes] = ctx.get(self.ModelProviders, model)
            if who in listed:
                continue
            if len(listed) >= MAX_PROVIDERS_PER_MODEL:
                self.fail(ProvidersError.ModelFull)
            listed.append(who)
            ctx.put(self.ModelProviders, listed, model)

    def _unindex(self, ctx: CallContext, who: bytes, models: list[bytes]) -> None:
        for model in models:
            listed: list[bytes] = ctx.get(self.ModelProviders, model)
            remaining = [p for p in listed if p != who]
            if remaining:
                ctx.put(self.ModelProviders, remaining, model)
            else:
                ctx.remove(self.ModelProviders, model)

    def total_weight(self, ctx: CallContext) -> int:
        total: int = ctx.get(self.TotalWeight)
        return total

    def store(self, ctx: CallContext, who: bytes, info: ProviderInfo) -> ProviderInfo:
        """Write `info` with its weight recomputed, keeping `TotalWeight` in step; what was
        written."""
        old = self.info(ctx, who)
        old_weight = old.weight if old is not None and self.is_active(old) else 0
        info = replace(info, weight=provider_weight(info.stake, info.reputation))
        new_weight = info.weight if self.is_active(info) else 0
        ctx.put(self.TotalWeight, self.total_weight(ctx) - old_weight + new_weight)
        ctx.put(self.Providers, info, who)
        return info

    def set_reputation_of(self, ctx: CallContext, who: bytes, reputation: int) -> None:
        info = self._registered(ctx, who)
        old = info.reputation
        new = max(0, min(MAX_REPUTATION, reputation))
        if new == old:
            return
        self.store(ctx, who, replace(info, reputation=new))
        self.emit(ctx, ProvidersEvent.ReputationChanged(provider=who, old=old, new=new))

    def slash(self, ctx: CallContext, who: bytes, amount: int) -> int:
        """Burn up to `amount` of `who`'s stake; returns what was slashed."""
        info = self._registered(ctx, who)
        slashed = self.tokens.slash_reserved(ctx, STAKE_CURRENCY, who, min(amount, info.stake))
        self.store(ctx, who, replace(info, stake=info.stake - slashed))
        self.emit(ctx, ProvidersEvent.StakeSlashed(provider=who, amount=slashed))
        return slashed

    # -- calls -----------------------------------------------------------------------------

    @dispatchable(0)
    def register_provider(
        self,
        ctx: CallContext,
        origin: Origin,
        stake: Annotated[int, Scale(Compact(BALANCE), "BalanceOf<T>")],
        endpoint: Annotated[bytes, Scale(VEC_U8, "Vec<u8>")],
        models: Annotated[list[bytes], Scale(SequenceType(MODEL_ID), "Vec<ModelId>")],
        capacity: Annotated[int, Scale(U32, "u32")],
        encryption_key: Annotated[
            bytes | None, Scale(OptionType(bytes_array(32)), "Option<[u8; 32]>")
        ] = None,
    ) -> None:
        """Become a compute provider: reserve `stake`, announce endpoint, models, capacity and
        the X25519 key sealed payloads are sealed to."""
        who = ctx.ensure_signed(origin)
        if ctx.exists(self.Providers, who):
            self.fail(ProvidersError.AlreadyRegistered)
        if stake < MIN_STAKE:
            self.fail(ProvidersError.InsufficientStake)
        models = [bytes(m) for m in models]
        self._check_profile(ctx, endpoint, models, capacity)
        self.tokens.reserve(ctx, STAKE_CURRENCY, who, stake)
        self._index(ctx, who, models)
        info = ProviderInfo(
            stake=stake,
            endpoint=bytes(endpoint),
            models=models,
            capacity=capacity,
            in_flight=0,
            reputation=INITIAL_REPUTATION,
            weight=0,
            status=ProviderActive(),
            registered_at=ctx.block_number,
            encryption_key=self._check_key(encryption_key),
        )
        self.store(ctx, who, info)
        self.emit(
            ctx, ProvidersEvent.ProviderRegistered(provider=who, stake=stake, capacity=capacity)
        )

    @dispatchable(1)
    def update_provider(
        self,
        ctx: CallContext,
        origin: Origin,
        endpoint: Annotated[bytes, Scale(VEC_U8, "Vec<u8>")],
        models: Annotated[list[bytes], Scale(SequenceType(MODEL_ID), "Vec<ModelId>")],
        capacity: Annotated[int, Scale(U32, "u32")],
        encryption_key: Annotated[
            bytes | None, Scale(OptionType(bytes_array(32)), "Option<[u8; 32]>")
        ] = None,
    ) -> None:
        """Replace endpoint, served models, capacity and encryption key (key rotation)."""
        who = ctx.ensure_signed(origin)
        info = self._active(ctx, who)
        models = [bytes(m) for m in models]
        self._check_profile(ctx, endpoint, models, capacity)
        key = self._check_key(encryption_key)
        self._unindex(ctx, who, [m for m in info.models if m not in models])
        self._index(ctx, who, models)
        info = replace(
            info, encryption_key=key, endpoint=bytes(endpoint), models=models, capacity=capacity
        )
        self.store(ctx, who, info)
        self.emit(ctx, ProvidersEvent.ProviderUpdated(provider=who))

    @dispatchable(2)
    def unregister(self, ctx: CallContext, origin: Origin) -> None:
        """Stop taking work; the stake can be withdrawn after `UnbondingPeriod` blocks."""
        who = ctx.ensure_signed(origin)
        info = self._active(ctx, who)
        self._unindex(ctx, who, info.models)
        unlock_at = ctx.block_number + UNBONDING_PERIOD
        self.store(ctx, who, replace(info, status=ProviderUnbonding(unlock_at)))
        self.emit(ctx, ProvidersEvent.ProviderUnbonding(provider=who, unlock_at=unlock_at))

    @dispatchable(3)
    def withdraw_unbonded(self, ctx: CallContext, origin: Origin) -> None:
        """After unbonding, unreserve the remaining stake and delete the provider."""
        who = ctx.ensure_signed(origin)
        info = self._registered(ctx, who)
        status = info.status
        if not isinstance(status, ProviderUnbonding):
            self.fail(ProvidersError.NotUnbonding)
        if ctx.block_number < status.unlock_at:
            self.fail(ProvidersError.StillUnbonding)
        if info.in_flight:
            self.fail(ProvidersError.RequestsInFlight)
        self.tokens.unreserve(ctx, STAKE_CURRENCY, who, info.stake)
        ctx.remove(self.Providers, who)
        self.emit(ctx, ProvidersEvent.ProviderUnregistered(provider=who, stake=info.stake))

    @dispatchable(4)
    def set_reputation(
        self,
        ctx: CallContext,
        origin: Origin,
        who: Annotated[Any, Scale(MULTI_ADDRESS, "AccountIdLookupOf<T>")],
        reputation: Annotated[int, Scale(U8, "u8")],
    ) -> None:
        """Set a provider's reputation (root only)."""
        ctx.ensure_root(origin)
        if reputation > MAX_REPUTATION:
            self.fail(ProvidersError.InvalidReputation)
        self.set_reputation_of(ctx, ctx.lookup(who), reputation)
