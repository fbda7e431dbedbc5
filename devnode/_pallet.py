"""How a pallet is declared: storage items, dispatchable calls, events, errors and constants.

A pallet is a subclass of `Pallet` whose class attributes declare everything the metadata says
about it. The runtime builds the metadata and the call/event enums from these declarations, so
adding a call or an event here changes what clients see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from ._errors import DispatchFailure
from ._hashing import StorageHasher, hash_key, storage_prefix, twox_128
from ._types import Field, ScaleType, TupleType, Variant, VariantCase

if TYPE_CHECKING:
    from ._runtime import CallContext

__all__ = [
    "Constant",
    "DispatchClass",
    "Origin",
    "Pallet",
    "StorageItem",
    "ViewFunction",
    "Weight",
    "dispatchable",
]

_NO_DEFAULT = object()


@dataclass(frozen=True)
class Weight:
    ref_time: int
    proof_size: int = 0

    def __add__(self, other: Weight) -> Weight:
        return Weight(self.ref_time + other.ref_time, self.proof_size + other.proof_size)

    def to_value(self) -> dict[str, int]:
        return {"ref_time": self.ref_time, "proof_size": self.proof_size}


class DispatchClass:
    NORMAL = "Normal"
    OPERATIONAL = "Operational"
    MANDATORY = "Mandatory"


@dataclass(frozen=True)
class Origin:
    """Who dispatches a call: a signed account, root, or nobody (inherents)."""

    kind: str  # "Signed" | "Root" | "None"
    who: bytes | None = None

    @classmethod
    def signed(cls, who: bytes) -> Origin:
        return cls("Signed", who)

    @classmethod
    def root(cls) -> Origin:
        return cls("Root")

    @classmethod
    def none(cls) -> Origin:
        return cls("None")


class StorageItem:
    """A storage value (no keys) or map (one or more hashed keys)."""

    def __init__(
        self,
        value: ScaleType,
        keys: Sequence[tuple[StorageHasher, ScaleType]] = (),
        default: Any = _NO_DEFAULT,
        docs: Sequence[str] = (),
    ) -> None:
        self.value = value
        self.keys = list(keys)
        self.default = default
        self.docs = tuple(docs)
        self.name = ""
        self.prefix = b""
        self._key_cache: dict[bytes, bytes] = {}
        self.default_bytes = b"" if default is _NO_DEFAULT else value.encode(default)

    @property
    def optional(self) -> bool:
        return self.default is _NO_DEFAULT

    def bind(self, pallet: str, name: str) -> None:
        self.name = name
        self.prefix = storage_prefix(pallet, name)

    def key(self, *keys: Any) -> bytes:
        if len(keys) != len(self.keys):
            raise ValueError(f"{self.name} takes {len(self.keys)} keys, got {len(keys)}")
        if len(keys) == 1 and isinstance(keys[0], bytes):
            # Account-keyed maps are hit several times per extrinsic: remember their hashed keys.
            cached = self._key_cache.get(keys[0])
            if cached is None:
                if len(self._key_cache) >= 65_536:
                    self._key_cache.clear()
                cached = self._hashed_key(keys)
                self._key_cache[keys[0]] = cached
            return cached
        return self._hashed_key(keys)

    def _hashed_key(self, keys: tuple[Any, ...]) -> bytes:
        out = self.prefix
        for (hasher, key_type), key in zip(self.keys, keys, strict=True):
            out += hash_key(hasher, key_type.encode(key))
        return out

    def key_type(self) -> ScaleType:
        if len(self.keys) == 1:
            return self.keys[0][1]
        return TupleType(*(t for _, t in self.keys))


@dataclass(frozen=True)
class ViewFunction:
    """A read-only query of a pallet (metadata V16 `view_functions`), served by the runtime API
    `RuntimeViewFunction_execute_view_function`. `handler(ctx, **inputs)` reads storage only.
    """

    name: str
    inputs: tuple[Field, ...]
    output: ScaleType
    handler: Callable[..., Any]
    #: The Rust signature FRAME hashes into the id, e.g. `model_of_cid(Vec<u8>) -> Option<H256>`
    signature: str
    docs: tuple[str, ...] = ()

    def id(self, pallet: str) -> bytes:
        """`ViewFunctionId`: twox128 of the pallet name, then twox128 of the signature."""
        return twox_128(pallet.encode()) + twox_128(self.signature.encode())


@dataclass(frozen=True)
class Constant:
    type: ScaleType
    value: Any
    docs: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallSpec:
    name: str
    index: int
    args: tuple[Field, ...]
    weight: Callable[[dict[str, Any]], Weight] | Weight
    dispatch_class: str
    pays_fee: bool
    docs: tuple[str, ...]
    handler: Callable[..., None]

    def weight_of(self, args: dict[str, Any]) -> Weight:
        return self.weight if isinstance(self.weight, Weight) else self.weight(args)


def dispatchable(
    index: int,
    args: Sequence[Field],
    weight: Callable[[dict[str, Any]], Weight] | Weight,
    dispatch_class: str = DispatchClass.NORMAL,
    pays_fee: bool = True,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a pallet method as call `index`; its docstring becomes the metadata docs."""

    def mark(func: Callable[..., None]) -> Callable[..., None]:
        func.__dict__["_call_spec"] = (index, tuple(args), weight, dispatch_class, pays_fee)
        return func

    return mark


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _docs(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(line.strip() for line in text.strip().splitlines())


class Pallet:
    """Base class of every pallet. Subclasses set the class attributes below."""

    name: ClassVar[str]
    index: ClassVar[int]
    crate: ClassVar[str] = ""
    #: (name, index, fields, docs)
    event_decls: ClassVar[Sequence[tuple[str, int, Sequence[Field], str]]] = ()
    #: (name, index, docs)
    error_decls: ClassVar[Sequence[tuple[str, int, str]]] = ()
    constants: ClassVar[dict[str, Constant]] = {}
    view_functions: ClassVar[Sequence[ViewFunction]] = ()

    def __init__(self) -> None:
        crate = self.crate or f"pallet_{_snake(self.name)}"
        self.storage: dict[str, StorageItem] = {}
        for attr in dir(type(self)):
            item = getattr(type(self), attr)
            if isinstance(item, StorageItem):
                item.bind(self.name, attr)
                self.storage[attr] = item
        self.calls: dict[str, CallSpec] = {}
        self.call_type: Variant | None = None
        specs = []
        for attr in dir(type(self)):
            func = getattr(type(self), attr)
            marked = getattr(func, "_call_spec", None)
            if marked is None:
                continue
            index, args, weight, dispatch_class, pays_fee = marked
            specs.append(
                CallSpec(
                    attr,
                    index,
                    args,
                    weight,
                    dispatch_class,
                    pays_fee,
                    _docs(func.__doc__),
                    getattr(self, attr),
                )
            )
        if specs:
            self.call_type = Variant(
                [crate, "pallet", "Call"],
                docs=["Contains a variant per dispatchable extrinsic that this pallet has."],
            )
            for spec in sorted(specs, key=lambda s: s.index):
                self.calls[spec.name] = spec
                self.call_type.add(VariantCase(spec.name, spec.index, list(spec.args), spec.docs))
        self.event_type: Variant | None = None
        if self.event_decls:
            self.event_type = Variant(
                [crate, "pallet", "Event"], docs=["The `Event` enum of this pallet"]
            )
            for name, index, fields, doc in self.event_decls:
                self.event_type.add(VariantCase(name, index, list(fields), _docs(doc)))
        self.error_type: Variant | None = None
        self._error_index: dict[str, int] = {}
        if self.error_decls:
            self.error_type = Variant(
                [crate, "pallet", "Error"], docs=["The `Error` enum of this pallet."]
            )
            for name, index, doc in self.error_decls:
                self.error_type.add(VariantCase(name, index, [], _docs(doc)))
                self._error_index[name] = index

    # -- helpers for call handlers ------------------------------------------------------------

    def fail(self, error: str) -> NoReturn:
        """Abort the current call with this pallet's error `error`."""
        index = self._error_index[error]
        raise DispatchFailure(
            ("Module", {"index": self.index, "error": bytes([index, 0, 0, 0])}),
            f"{self.name}.{error}",
        )

    def emit(self, ctx: CallContext, event: str, payload: Any = None) -> None:
        ctx.deposit_event(self.name, event, payload)

    def storage_items(self) -> Iterator[StorageItem]:
        return iter(self.storage.values())

    # -- hooks ------------------------------------------------------------------------------

    def genesis(self, ctx: CallContext) -> None:
        """Write this pallet's genesis state."""

    def on_initialize(self, ctx: CallContext) -> None:
        """Called before the block's extrinsics run."""

    def on_finalize(self, ctx: CallContext) -> None:
        """Called after the block's extrinsics ran."""
