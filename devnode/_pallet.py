"""How a pallet is declared: storage items, dispatchable calls, events, errors and constants.

A pallet is a subclass of `Pallet` whose class attributes declare everything the metadata says
about it. The runtime builds the metadata and the call/event enums from these declarations, so
adding a call or an event here changes what clients see.
"""

from __future__ import annotations

import dataclasses
import dis
import functools
import inspect
import itertools
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from types import CodeType
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from ._errors import DispatchFailure
from ._hashing import StorageHasher, hash_key, storage_prefix, twox_128
from ._types import Composite, Field, ScaleType, TupleType, Variant, VariantCase

if TYPE_CHECKING:
    from ._runtime import CallContext

__all__ = [
    "Constant",
    "DispatchClass",
    "Origin",
    "Pallet",
    "PalletError",
    "PalletEvent",
    "PalletEvents",
    "Scale",
    "StorageItem",
    "ViewFunction",
    "Weight",
    "WeightRule",
    "dispatchable",
    "enum_type",
    "record_type",
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
        # A frozen record (or a number) is returned as it is; a list or dict is copied per read.
        params = getattr(type(default), "__dataclass_params__", None)
        self.default_is_immutable = isinstance(default, int | bytes | str | None) or bool(
            params is not None and params.frozen
        )

    def with_value(self, value: ScaleType) -> StorageItem:
        """This item with another value type (a runtime's own outer enums substituted)."""
        item = StorageItem(value, self.keys, self.default, self.docs)
        item.name, item.prefix = self.name, self.prefix
        return item

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
class Scale:
    """How a call argument or an event field is encoded, written in its annotation:
    `model_id: Annotated[bytes, Scale(H256, "ModelId")]`. That annotation is the one declaration:
    the metadata, the encoding and the Python type all come from it.
    """

    type: ScaleType
    type_name: str | None = None
    #: The name in metadata where it is not a Python identifier (an event's `from`: `from_`)
    name: str | None = None


#: A call's weight: fixed, or a function of the pallet and the call's arguments.
WeightRule = Weight | Callable[[Any, dict[str, Any]], Weight]


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


@dataclass(frozen=True)
class _CallDecl:
    """A call as its pallet class declares it, before a runtime binds it."""

    name: str
    index: int
    args: tuple[Field, ...]
    dispatch_class: str
    pays_fee: bool
    docs: tuple[str, ...]


def dispatchable(
    index: int,
    dispatch_class: str = DispatchClass.NORMAL,
    pays_fee: bool = True,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a pallet method `(self, ctx, origin, **args)` as call `index`.

    Its arguments come from the annotations of the parameters after `origin` (each an
    `Annotated[..., Scale(...)]`), its weight from the pallet's `weights` and its metadata docs
    from its docstring.
    """

    def mark(func: Callable[..., None]) -> Callable[..., None]:
        func.__dict__["_call_spec"] = (index, dispatch_class, pays_fee)
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


def _scale_of(annotation: Any, namespace: dict[str, Any], where: str) -> Scale:
    """The `Scale` of an `Annotated[..., Scale(...)]` annotation (a string under PEP 563)."""
    if isinstance(annotation, str):
        annotation = eval(annotation, namespace)
    for extra in getattr(annotation, "__metadata__", ()):
        if isinstance(extra, Scale):
            return extra
    raise TypeError(f"{where} must be annotated Annotated[<python type>, Scale(<scale type>, ...)]")


def _record_fields(cls: type) -> list[Field]:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"record {cls.__qualname__} must be a @dataclass(frozen=True)")
    namespace = vars(sys.modules[cls.__module__])
    fields = []
    for f in dataclasses.fields(cls):
        scale = _scale_of(f.type, namespace, f"field {cls.__qualname__}.{f.name}")
        fields.append(Field(scale.name or f.name, scale.type, scale.type_name))
    return fields


def record_type(
    cls: type,
    path: Sequence[str],
    params: Sequence[tuple[str, ScaleType | None]] = (),
) -> Composite:
    """The SCALE composite of a record, a frozen dataclass whose fields are annotated
    `Annotated[..., Scale(...)]`: storage holds instances of `cls`, the metadata its fields."""
    return Composite(path, _record_fields(cls), params, record=cls)


def enum_type(
    path: Sequence[str],
    cases: Sequence[type | tuple[str, type]],
    params: Sequence[tuple[str, ScaleType | None]] = (),
) -> Variant:
    """The SCALE enum whose variants are `cases` (frozen dataclasses, indexed in order, named as
    the class or as given in a `(name, class)` pair): a value is an instance of one of them,
    e.g. a request's state `AwaitingValidation(...)`."""
    named = [case if isinstance(case, tuple) else (case.__name__, case) for case in cases]
    return Variant(
        path,
        [
            VariantCase(name, index, _record_fields(case), record=case)
            for index, (name, case) in enumerate(named)
        ],
        params,
    )


class PalletError(Enum):
    """A pallet's errors, one member each: `UnknownModel = 0, "No model with this id."`
    (index in the pallet's `Error` enum, then its docs). `Pallet.fail(member)` raises one.
    """

    def __init__(self, index: int, doc: str = "") -> None:
        self.index = index
        self.doc = doc


class PalletEvent:
    """One event: a frozen dataclass whose fields are annotated `Annotated[..., Scale(...)]`,
    nested in its pallet's `PalletEvents`; `class Paid(PalletEvent, index=3)`. Its docstring is
    the event's metadata docs.
    """

    index: ClassVar[int]
    event_docs: ClassVar[tuple[str, ...]]
    fields: ClassVar[tuple[Field, ...]] = ()
    _names: ClassVar[tuple[tuple[str, str], ...]] = ()  # (metadata name, attribute)
    _renamed: ClassVar[bool] = False

    def __init_subclass__(cls, *, index: int, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.index = index
        # Read before @dataclass runs: it fills a missing docstring with the signature.
        cls.event_docs = _docs(cls.__dict__.get("__doc__"))

    @classmethod
    def _resolve(cls, namespace: dict[str, Any]) -> None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"event {cls.__qualname__} must be a @dataclass(frozen=True)")
        scales = [
            (f.name, _scale_of(f.type, namespace, f"event field {cls.__qualname__}.{f.name}"))
            for f in dataclasses.fields(cls)
        ]
        cls.fields = tuple(
            Field(scale.name or attr, scale.type, scale.type_name) for attr, scale in scales
        )
        cls._names = tuple((scale.name or attr, attr) for attr, scale in scales)
        cls._renamed = any(scale.name for _, scale in scales)

    def payload(self) -> Any:
        """The event's value as the SCALE layer encodes it (named fields -> dict, none -> None)."""
        if not self._names:
            return None
        if not self._renamed:  # a dataclass's __dict__ holds its fields, in order
            return dict(self.__dict__)
        return {name: getattr(self, attr) for name, attr in self._names}


class PalletEvents:
    """A pallet's events: subclass it and nest one `PalletEvent` dataclass per event, in order."""

    declared: ClassVar[tuple[type[PalletEvent], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        namespace = vars(sys.modules[cls.__module__])
        declared = tuple(
            value
            for value in vars(cls).values()
            if isinstance(value, type) and issubclass(value, PalletEvent)
        )
        for event in declared:
            event._resolve(namespace)
        cls.declared = declared


def _code_objects(obj: Any) -> Iterator[tuple[CodeType, dict[str, Any]]]:
    if isinstance(obj, staticmethod | classmethod):
        obj = obj.__func__
    if isinstance(obj, property):
        for accessor in (obj.fget, obj.fset, obj.fdel):
            if accessor is not None:
                yield from _code_objects(accessor)
        return
    if inspect.isfunction(obj):
        stack = [obj.__code__]
        while stack:
            code = stack.pop()
            yield code, obj.__globals__
            stack.extend(c for c in code.co_consts if isinstance(c, CodeType))


def _check_declared_names(cls: type) -> None:
    """Every `SomeError.X` / `SomeEvents.X` a pallet's code names must be declared: a misspelt
    error or event fails here, when the pallet class is created (its module imported)."""
    for attr, obj in vars(cls).items():
        for code, namespace in _code_objects(obj):
            instructions = list(dis.get_instructions(code))
            for load, access in itertools.pairwise(instructions):
                if load.opname != "LOAD_GLOBAL" or access.opname not in (
                    "LOAD_ATTR",
                    "LOAD_METHOD",
                ):
                    continue
                target = namespace.get(load.argval)
                if (
                    isinstance(target, type)
                    and issubclass(target, PalletError | PalletEvents)
                    and not hasattr(target, access.argval)
                ):
                    kind = "error" if issubclass(target, PalletError) else "event"
                    raise TypeError(
                        f"{cls.__qualname__}.{attr} uses {load.argval}.{access.argval}, "
                        f"which is not a declared {kind} of {target.__qualname__}"
                    )


class Pallet:
    """Base class of every pallet. Subclasses set the class attributes below.

    Everything is declared once: errors as a `PalletError` enum (`errors`), events as
    `PalletEvent` dataclasses nested in a `PalletEvents` namespace (`events`), call arguments in
    the call's annotations, weights in `weights` (one entry per call). A pallet that needs
    another takes it as a keyword argument of `__init__`, named as the runtime names pallets
    (`model_registry`, `providers`, ...); the runtime passes it at construction.
    """

    name: ClassVar[str]
    index: ClassVar[int]
    crate: ClassVar[str] = ""
    #: The on-chain storage version FRAME writes at genesis under
    #: `twox128(name) ++ twox128(":__STORAGE_VERSION__:")` (u16); None: not written.
    storage_version: ClassVar[int | None] = None
    events: ClassVar[type[PalletEvents] | None] = None
    errors: ClassVar[type[PalletError] | None] = None
    #: call name -> weight (fixed, or `(pallet, args) -> Weight`), one entry per call
    weights: ClassVar[Mapping[str, WeightRule]] = {}
    constants: ClassVar[dict[str, Constant]] = {}
    view_functions: ClassVar[Sequence[ViewFunction]] = ()
    _call_decls: ClassVar[tuple[_CallDecl, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        decls = []
        for attr, func in vars(cls).items():
            marked = getattr(func, "_call_spec", None)
            if marked is None:
                continue
            index, dispatch_class, pays_fee = marked
            params = list(inspect.signature(func).parameters)[3:]  # self, ctx, origin
            args = tuple(
                Field(p, scale.type, scale.type_name)
                for p in params
                for scale in [
                    _scale_of(
                        func.__annotations__.get(p),
                        func.__globals__,
                        f"argument {p} of {cls.__qualname__}.{attr}",
                    )
                ]
            )
            decls.append(
                _CallDecl(attr, index, args, dispatch_class, pays_fee, _docs(func.__doc__))
            )
        cls._call_decls = tuple(sorted(decls, key=lambda d: d.index))
        names = {d.name for d in decls}
        if set(cls.weights) != names:
            missing, extra = names - set(cls.weights), set(cls.weights) - names
            raise TypeError(
                f"{cls.__qualname__}.weights must name every call once: "
                f"missing {sorted(missing)}, not calls {sorted(extra)}"
            )
        _check_declared_names(cls)

    def declare(self, resolve: Callable[[ScaleType], ScaleType] = lambda t: t) -> None:
        """Build this pallet's storage, call, event and error declarations for one runtime;
        `resolve` replaces the outer-enum placeholders (`RuntimeCall`, `RuntimeEvent`)."""
        crate = self.crate or f"pallet_{_snake(self.name)}"
        self.storage: dict[str, StorageItem] = {}
        for attr in dir(type(self)):
            item = getattr(type(self), attr)
            if isinstance(item, StorageItem):
                item.bind(self.name, attr)
                value = resolve(item.value)
                if value is not item.value:
                    item = item.with_value(value)
                    setattr(self, attr, item)
                self.storage[attr] = item
        self.calls: dict[str, CallSpec] = {}
        self.call_type: Variant | None = None
        if self._call_decls:
            self.call_type = Variant(
                [crate, "pallet", "Call"],
                docs=["Contains a variant per dispatchable extrinsic that this pallet has."],
            )
            for decl in self._call_decls:
                args = tuple(Field(f.name, resolve(f.type), f.type_name, f.docs) for f in decl.args)
                rule = self.weights[decl.name]
                weight = rule if isinstance(rule, Weight) else functools.partial(rule, self)
                self.calls[decl.name] = CallSpec(
                    decl.name,
                    decl.index,
                    args,
                    weight,
                    decl.dispatch_class,
                    decl.pays_fee,
                    decl.docs,
                    getattr(self, decl.name),
                )
                self.call_type.add(VariantCase(decl.name, decl.index, list(args), decl.docs))
        self.event_type: Variant | None = None
        if self.events is not None and self.events.declared:
            self.event_type = Variant(
                [crate, "pallet", "Event"], docs=["The `Event` enum of this pallet"]
            )
            for event in self.events.declared:
                self.event_type.add(
                    VariantCase(event.__name__, event.index, list(event.fields), event.event_docs)
                )
        self.error_type: Variant | None = None
        if self.errors is not None:
            self.error_type = Variant(
                [crate, "pallet", "Error"], docs=["The `Error` enum of this pallet."]
            )
            for error in self.errors:
                self.error_type.add(VariantCase(error.name, error.index, [], _docs(error.doc)))

    # -- helpers for call handlers ------------------------------------------------------------

    def fail(self, error: PalletError) -> NoReturn:
        """Abort the current call with `error`, one of this pallet's `errors`."""
        if type(error) is not self.errors:
            raise TypeError(f"{self.name} cannot fail with {error!r}: not one of its errors")
        raise DispatchFailure(
            ("Module", {"index": self.index, "error": bytes([error.index, 0, 0, 0])}),
            f"{self.name}.{error.name}",
        )

    def emit(self, ctx: CallContext, event: PalletEvent) -> None:
        """Deposit `event`, one of this pallet's `events`."""
        ctx.deposit_event(self.name, type(event).__name__, event.payload())

    def storage_items(self) -> Iterator[StorageItem]:
        return iter(self.storage.values())

    # -- hooks ------------------------------------------------------------------------------

    def genesis(self, ctx: CallContext) -> None:
        """Write this pallet's genesis state."""

    def on_initialize(self, ctx: CallContext) -> None:
        """Called before the block's extrinsics run."""

    def on_finalize(self, ctx: CallContext) -> None:
        """Called after the block's extrinsics ran."""
