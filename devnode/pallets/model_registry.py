"""ModelRegistry: AI models registered by their IPFS CID, versioned, priced per 1,000 tokens."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from .._errors import ScaleDecodeError
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
    ViewFunction,
    Weight,
    WeightRule,
    dispatchable,
    enum_type,
    record_type,
)
from .._primitives import ACCOUNT_ID, BALANCE, MULTI_ADDRESS
from .._scale import Reader
from .._types import (
    H256,
    U32,
    U64,
    VEC_U8,
    Composite,
    Field,
    OptionType,
    Variant,
    VariantCase,
)
from ._cid import Cid, ModelId, is_valid_cid
from .tokens import CURRENCY_ID, CurrencyId, Tokens

if TYPE_CHECKING:
    from .._runtime import CallContext

__all__ = [
    "MAX_CID_LENGTH",
    "MAX_NAME_LENGTH",
    "MODEL_ID",
    "PERMILL",
    "ModelActive",
    "ModelDeprecated",
    "ModelInfo",
    "ModelRegistry",
    "ModelVersion",
    "model_id_of",
]

MAX_CID_LENGTH = 128
MAX_NAME_LENGTH = 64
PERMILL_ONE = 1_000_000

MODEL_ID = H256


class _Permill(Composite):
    """`Permill`: a u32 of parts per million. As sp_arithmetic's, its SCALE decoding rejects a
    value above 1_000_000, so a call carrying one does not decode (an invalid transaction)."""

    def decode(self, reader: Reader) -> Any:
        value = super().decode(reader)
        if value > PERMILL_ONE:
            raise ScaleDecodeError(f"Permill {value} is above {PERMILL_ONE} (100 %)")
        return value


PERMILL = _Permill(["sp_arithmetic", "per_things", "Permill"], [Field(None, U32, "u32")])
MODEL_TASK = Variant(
    ["pallet_model_registry", "ModelTask"],
    [
        VariantCase("TextGeneration", 0),
        VariantCase("Embedding", 1),
        VariantCase("ImageGeneration", 2),
        VariantCase("SpeechToText", 3),
        VariantCase("Other", 4),
    ],
)
WEIGHT_FORMAT = Variant(
    ["pallet_model_registry", "WeightFormat"],
    [VariantCase("Safetensors", 0), VariantCase("Gguf", 1), VariantCase("Onnx", 2)],
)


@dataclass(frozen=True)
class ModelActive:
    """Open for new requests."""


@dataclass(frozen=True)
class ModelDeprecated:
    """Closed to new requests."""


ModelStatus = ModelActive | ModelDeprecated
MODEL_STATUS = enum_type(
    ["pallet_model_registry", "ModelStatus"],
    [("Active", ModelActive), ("Deprecated", ModelDeprecated)],
)
_Cid = Annotated[bytes, Scale(VEC_U8, "BoundedVec<u8, T::MaxCidLength>")]
_Block = Annotated[int, Scale(U32, "BlockNumberFor<T>")]
_Size = Annotated[int, Scale(U64, "u64")]


@dataclass(frozen=True)
class ModelInfo:
    """A model as `Models` holds it: its current version, price and status."""

    owner: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
    cid: _Cid
    name: Annotated[bytes, Scale(VEC_U8, "BoundedVec<u8, T::MaxNameLength>")]
    #: `(variant, None)` of `ModelTask`, as the call gives it
    task: Annotated[Any, Scale(MODEL_TASK, "ModelTask")]
    #: `(variant, None)` of `WeightFormat`, as the call gives it
    format: Annotated[Any, Scale(WEIGHT_FORMAT, "WeightFormat")]
    size_bytes: _Size
    price_per_1k_tokens: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]
    currency_id: Annotated[int, Scale(CURRENCY_ID, "CurrencyIdOf<T>")]
    author_share: Annotated[int, Scale(PERMILL, "Permill")]
    version: Annotated[int, Scale(U32, "u32")]
    status: Annotated[ModelStatus, Scale(MODEL_STATUS, "ModelStatus")]
    registered_at: _Block


MODEL_INFO = record_type(ModelInfo, ["pallet_model_registry", "ModelInfo"])


@dataclass(frozen=True)
class ModelVersion:
    """One published version of a model (`ModelVersions`)."""

    cid: _Cid
    size_bytes: _Size
    registered_at: _Block


MODEL_VERSION = record_type(ModelVersion, ["pallet_model_registry", "ModelVersion"])

_MODEL_ID = Field("model_id", MODEL_ID, "ModelId")


def model_id_of(cid: Cid) -> ModelId:
    """A model's id: blake2_256 of its first CID's bytes (the seed's `hash(ipfs_hash)`)."""
    return ModelId(blake2_256(cid))


class ModelRegistryEvent(PalletEvents):
    """The events of ModelRegistry."""

    @dataclass(frozen=True)
    class ModelRegistered(PalletEvent, index=0):
        """A model was registered."""

        model_id: Annotated[bytes, Scale(MODEL_ID, "ModelId")]
        owner: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]
        cid: Annotated[bytes, Scale(VEC_U8, "Vec<u8>")]

    @dataclass(frozen=True)
    class ModelUpdated(PalletEvent, index=1):
        """A new version of a model was registered."""

        model_id: Annotated[bytes, Scale(MODEL_ID, "ModelId")]
        version: Annotated[int, Scale(U32, "u32")]
        cid: Annotated[bytes, Scale(VEC_U8, "Vec<u8>")]

    @dataclass(frozen=True)
    class PriceSet(PalletEvent, index=2):
        """A model's price changed."""

        model_id: Annotated[bytes, Scale(MODEL_ID, "ModelId")]
        price_per_1k_tokens: Annotated[int, Scale(BALANCE, "BalanceOf<T>")]
        currency_id: Annotated[int, Scale(CURRENCY_ID, "CurrencyIdOf<T>")]

    @dataclass(frozen=True)
    class ModelDeprecated(PalletEvent, index=3):
        """A model was deprecated."""

        model_id: Annotated[bytes, Scale(MODEL_ID, "ModelId")]

    @dataclass(frozen=True)
    class OwnershipTransferred(PalletEvent, index=4):
        """A model changed owner."""

        model_id: Annotated[bytes, Scale(MODEL_ID, "ModelId")]
        from_: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId", name="from")]
        to: Annotated[bytes, Scale(ACCOUNT_ID, "T::AccountId")]


class ModelRegistryError(PalletError):
    """The errors of ModelRegistry."""

    InvalidCid = 0, "Not a valid CIDv0 or base32 CIDv1."
    CidTooLong = 1, "The CID is longer than `MaxCidLength`."
    DuplicateCid = 2, "This CID is already registered."
    UnknownModel = 3, "No model with this id."
    NotOwner = 4, "Only the model's owner may do this."
    ModelDeprecated = 5, "The model is deprecated."
    EmptyName = 6, "The name is empty."
    NameTooLong = 7, "The name is longer than `MaxNameLength`."
    InvalidAuthorShare = 8, "The author share is above 100%."
    ZeroSize = 9, "The model's size must be positive."
    UnknownCurrency = 10, "The currency has no issuance."


class ModelRegistry(Pallet):
    name = "ModelRegistry"
    index = 11
    #: FRAME writes it at genesis (`#[pallet::storage_version]` unset: 0), as the runtime does.
    storage_version = 0

    Models = StorageItem(
        MODEL_INFO,
        keys=[(StorageHasher.BLAKE2_128_CONCAT, MODEL_ID)],
        docs=["Registered models by id."],
    )
    ModelVersions = StorageItem(
        MODEL_VERSION,
        keys=[(StorageHasher.BLAKE2_128_CONCAT, MODEL_ID), (StorageHasher.TWOX_64_CONCAT, U32)],
        docs=["Every version of every model, 1-based; never removed."],
    )
    CidToModel = StorageItem(
        MODEL_ID,
        keys=[(StorageHasher.BLAKE2_128_CONCAT, VEC_U8)],
        docs=["Every CID ever registered, to the model it belongs to."],
    )
    ModelCount = StorageItem(U32, default=0, docs=["Number of models registered."])

    events = ModelRegistryEvent
    errors = ModelRegistryError

    #: Each call's weight, in one place: fixed, or a function of (pallet, call args).
    weights: ClassVar[dict[str, WeightRule]] = {
        "register_model": Weight(80_000_000, 3_000),
        "update_model": Weight(60_000_000, 3_000),
        "set_price": Weight(30_000_000, 3_000),
        "deprecate_model": Weight(30_000_000, 3_000),
        "transfer_ownership": Weight(30_000_000, 3_000),
    }

    constants: ClassVar = {
        "MaxCidLength": Constant(U32, MAX_CID_LENGTH, ("Longest accepted CID, in bytes.",)),
        "MaxNameLength": Constant(U32, MAX_NAME_LENGTH, ("Longest accepted name, in bytes.",)),
    }
    view_functions: ClassVar = (
        ViewFunction(
            "model_of_cid",
            (Field("cid", VEC_U8, "Vec<u8>"),),
            OptionType(MODEL_ID),
            lambda ctx, cid: ctx.get(ModelRegistry.CidToModel, bytes(cid)),
            "model_of_cid(Vec<u8>) -> Option<ModelId>",
            ("The model a CID was registered for, if any.",),
        ),
        ViewFunction(
            "model_count",
            (),
            U32,
            lambda ctx: ctx.get(ModelRegistry.ModelCount),
            "model_count() -> u32",
            ("Number of models registered.",),
        ),
    )

    # -- validation helpers ----------------------------------------------------------------

    def __init__(self, *, tokens: Tokens) -> None:
        self.tokens = tokens

    def check_cid(self, cid: bytes) -> Cid:
        if len(cid) > MAX_CID_LENGTH:
            self.fail(ModelRegistryError.CidTooLong)
        if not is_valid_cid(cid):
            self.fail(ModelRegistryError.InvalidCid)
        return Cid(bytes(cid))

    def _check_new_cid(self, ctx: CallContext, cid: bytes) -> Cid:
        checked = self.check_cid(cid)
        if ctx.exists(self.CidToModel, checked):
            self.fail(ModelRegistryError.DuplicateCid)
        return checked

    def _check_currency(self, ctx: CallContext, currency_id: int) -> None:
        if self.tokens.total_issuance(ctx, CurrencyId(currency_id)) == 0:
            self.fail(ModelRegistryError.UnknownCurrency)

    def model(self, ctx: CallContext, model_id: bytes) -> ModelInfo:
        info: ModelInfo | None = ctx.get(self.Models, model_id)
        if info is None:
            self.fail(ModelRegistryError.UnknownModel)
        return info

    def _owned(self, ctx: CallContext, origin: Origin, model_id: bytes) -> ModelInfo:
        who = ctx.ensure_signed(origin)
        info = self.model(ctx, model_id)
        if info.owner != who:
            self.fail(ModelRegistryError.NotOwner)
        return info

    def _active_owned(self, ctx: CallContext, origin: Origin, model_id: bytes) -> ModelInfo:
        info = self._owned(ctx, origin, model_id)
        if not isinstance(info.status, ModelActive):
            self.fail(ModelRegistryError.ModelDeprecated)
        return info

    # -- calls -----------------------------------------------------------------------------

    @dispatchable(0)
    def register_model(
        self,
        ctx: CallContext,
        origin: Origin,
        cid: Annotated[bytes, Scale(VEC_U8, "Vec<u8>")],
        name: Annotated[bytes, Scale(VEC_U8, "Vec<u8>")],
        task: Annotated[Any, Scale(MODEL_TASK, "ModelTask")],
        format: Annotated[Any, Scale(WEIGHT_FORMAT, "WeightFormat")],
        size_bytes: Annotated[int, Scale(U64, "u64")],
        price_per_1k_tokens: Annotated[int, Scale(BALANCE, "BalanceOf<T>")],
        currency_id: Annotated[int, Scale(CURRENCY_ID, "CurrencyIdOf<T>")],
        author_share: Annotated[int, Scale(PERMILL, "Permill")],
    ) -> None:
        """Register a model stored on IPFS; its id is blake2_256 of the CID."""
        who = ctx.ensure_signed(origin)
        checked = self._check_new_cid(ctx, cid)
        if not name:
            self.fail(ModelRegistryError.EmptyName)
        if len(name) > MAX_NAME_LENGTH:
            self.fail(ModelRegistryError.NameTooLong)
        if author_share > PERMILL_ONE:  # unreachable: a Permill above 100 % does not decode
            self.fail(ModelRegistryError.InvalidAuthorShare)
        if size_bytes == 0:
            self.fail(ModelRegistryError.ZeroSize)
        self._check_currency(ctx, currency_id)
        model_id = model_id_of(checked)
        info = ModelInfo(
            owner=who,
            cid=checked,
            name=bytes(name),
            task=task,
            format=format,
            size_bytes=size_bytes,
            price_per_1k_tokens=price_per_1k_tokens,
            currency_id=currency_id,
            author_share=author_share,
            version=1,
            status=ModelActive(),
            registered_at=ctx.block_number,
        )
        ctx.put(self.Models, info, model_id)
        version = ModelVersion(checked, size_bytes, ctx.block_number)
        ctx.put(self.ModelVersions, version, model_id, 1)
        ctx.put(self.CidToModel, model_id, checked)
        ctx.put(self.ModelCount, ctx.get(self.ModelCount) + 1)
        self.emit(
            ctx, ModelRegistryEvent.ModelRegistered(model_id=model_id, owner=who, cid=checked)
        )

    @dispatchable(1)
    def update_model(
        self,
        ctx: CallContext,
        origin: Origin,
        model_id: Annotated[bytes, Scale(MODEL_ID, "ModelId")],
        new_cid: Annotated[bytes, Scale(VEC_U8, "Vec<u8>")],
        size_bytes: Annotated[int, Scale(U64, "u64")],
    ) -> None:
        """Publish a new version (new CID); earlier versions stay readable."""
        info = self._active_owned(ctx, origin, model_id)
        checked = self._check_new_cid(ctx, new_cid)
        if size_bytes == 0:
            self.fail(ModelRegistryError.ZeroSize)
        info = replace(info, version=info.version + 1, cid=checked, size_bytes=size_bytes)
        ctx.put(self.Models, info, model_id)
        version = ModelVersion(checked, size_bytes, ctx.block_number)
        ctx.put(self.ModelVersions, version, model_id, info.version)
        ctx.put(self.CidToModel, model_id, checked)
        self.emit(
            ctx,
            ModelRegistryEvent.ModelUpdated(model_id=model_id, version=info.version, cid=checked),
        )

    @dispatchable(2)
    def set_price(
        self,
        ctx: CallContext,
        origin: Origin,
        model_id: Annotated[bytes, Scale(MODEL_ID, "ModelId")],
        price_per_1k_tokens: Annotated[int, Scale(BALANCE, "BalanceOf<T>")],
        currency_id: Annotated[int, Scale(CURRENCY_ID, "CurrencyIdOf<T>")],
    ) -> None:
        """Change the price per 1,000 tokens; requests already placed keep their price."""
        info = self._active_owned(ctx, origin, model_id)
        self._check_currency(ctx, currency_id)
        info = replace(info, price_per_1k_tokens=price_per_1k_tokens, currency_id=currency_id)
        ctx.put(self.Models, info, model_id)
        self.emit(
            ctx,
            ModelRegistryEvent.PriceSet(
                model_id=model_id, price_per_1k_tokens=price_per_1k_tokens, currency_id=currency_id
            ),
        )

    @dispatchable(3)
    def deprecate_model(
        self,
        ctx: CallContext,
        origin: Origin,
        model_id: Annotated[bytes, Scale(MODEL_ID, "ModelId")],
    ) -> None:
        """Stop new requests for this model."""
        info = self._active_owned(ctx, origin, model_id)
        ctx.put(self.Models, replace(info, status=ModelDeprecated()), model_id)
        self.emit(ctx, ModelRegistryEvent.ModelDeprecated(model_id=model_id))

    @dispatchable(4)
    def transfer_ownership(
        self,
        ctx: CallContext,
        origin: Origin,
        model_id: Annotated[bytes, Scale(MODEL_ID, "ModelId")],
        new_owner: Annotated[Any, Scale(MULTI_ADDRESS, "AccountIdLookupOf<T>")],
    ) -> None:
        """Hand the model (and its author share of future payments) to another account."""
        info = self._owned(ctx, origin, model_id)
        old = info.owner
        info = replace(info, owner=ctx.lookup(new_owner))
        ctx.put(self.Models, info, model_id)
        self.emit(
            ctx,
            ModelRegistryEvent.OwnershipTransferred(model_id=model_id, from_=old, to=info.owner),
        )
