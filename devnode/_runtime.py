"""The runtime: pallets composed into one state machine, its metadata, and extrinsic handling.

Everything here is a plain function of storage: a block is executed against a read function and
yields the storage changes, so it can be tested without a server or a clock.
"""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ._crypto import verify_signature
from ._errors import DispatchFailure, ScaleDecodeError, TransactionRejected
from ._hashing import blake2_256, twox_128
from ._metadata import (
    METADATA_VERSIONS,
    RUNTIME_VERSION,
    TRANSACTION_VALIDITY,
    VIEW_FUNCTION_RESULT,
    build_metadata,
)
from ._pallet import CallSpec, Constant, Origin, Pallet, StorageItem, Weight, _snake
from ._primitives import (
    DISPATCH_CLASS,
    ERA,
    MULTI_ADDRESS,
    MULTI_SIGNATURE,
    RUNTIME_CALL,
    RUNTIME_EVENT,
    UNIT,
    WEIGHT,
    era_birth,
)
from ._scale import Reader, encode_compact, encode_str
from ._types import (
    H256,
    U32,
    U128,
    VEC_U8,
    Compact,
    Composite,
    Field,
    OptionType,
    ScaleType,
    SequenceType,
    Variant,
    VariantCase,
    bytes_array,
)
from .pallets import RUNTIME_PALLETS
from .pallets.balances import Balances
from .pallets.system import System, SystemEvent
from .pallets.transaction_payment import EXTRINSIC_BASE_WEIGHT, TransactionPayment, compute_fee

__all__ = [
    "RUNTIME",
    "BlockResult",
    "CallContext",
    "Extrinsic",
    "Overlay",
    "Runtime",
    "RuntimeVersion",
    "ValidTransaction",
]

ReadFn = Callable[[bytes], bytes | None]

SIGNED_V4 = 0x84
UNSIGNED_V4 = 0x04
log = logging.getLogger("devnode.runtime")

MAX_EXTRINSIC_BYTES = 4 * 1024 * 1024
#: UnknownTransaction::CannotLookup's text (sp_runtime), a 1011 answer's `data`
CANNOT_LOOKUP = "Could not lookup information required to validate the transaction"
METADATA_MAGIC = b"meta"
CODE_KEY = b":code"


def _blake2_64(name: str) -> bytes:
    import hashlib

    return hashlib.blake2b(name.encode(), digest_size=8).digest()


@dataclass(frozen=True)
class RuntimeVersion:
    spec_name: str = "devnode"
    impl_name: str = "devnode"
    authoring_version: int = 1
    spec_version: int = 100
    impl_version: int = 1
    transaction_version: int = 1
    state_version: int = 1
    apis: tuple[tuple[str, int], ...] = (
        ("Core", 4),
        ("Metadata", 2),
        ("BlockBuilder", 6),
        ("TaggedTransactionQueue", 3),
        ("AccountNonceApi", 1),
        ("TransactionPaymentApi", 4),
        ("RuntimeViewFunction", 1),
    )

    def to_json(self) -> dict[str, Any]:
        return {
            "specName": self.spec_name,
            "implName": self.impl_name,
            "authoringVersion": self.authoring_version,
            "specVersion": self.spec_version,
            "implVersion": self.impl_version,
            "apis": [["0x" + _blake2_64(name).hex(), version] for name, version in self.apis],
            "transactionVersion": self.transaction_version,
            "stateVersion": self.state_version,
        }

    def to_value(self) -> dict[str, Any]:
        """The value of the `sp_version::RuntimeVersion` type (`System::Version`, `Core_version`)."""
        return {
            "spec_name": self.spec_name,
            "impl_name": self.impl_name,
            "authoring_version": self.authoring_version,
            "spec_version": self.spec_version,
            "impl_version": self.impl_version,
            "apis": [(_blake2_64(name), version) for name, version in self.apis],
            "transaction_version": self.transaction_version,
            "system_version": self.state_version,
        }

    def encode(self) -> bytes:
        out = bytearray(encode_str(self.spec_name) + encode_str(self.impl_name))
        for number in (self.authoring_version, self.spec_version, self.impl_version):
            out += number.to_bytes(4, "little")
        out += encode_compact(len(self.apis))
        for name, version in self.apis:
            out += _blake2_64(name) + version.to_bytes(4, "little")
        out += self.transaction_version.to_bytes(4, "little") + bytes([self.state_version])
        return bytes(out)


@dataclass(frozen=True)
class Extrinsic:
    """A decoded v4 extrinsic. `signer` is None for unsigned ones (inherents)."""

    raw: bytes
    call_bytes: bytes
    call: Any
    signer: bytes | None = None
    scheme: str = ""
    signature: bytes = b""
    era: Any = "Immortal"
    era_bytes: bytes = b"\x00"
    nonce: int = 0
    tip: int = 0
    metadata_hash_mode: int = 0

    @property
    def hash(self) -> bytes:
        return blake2_256(self.raw)

    def extra_bytes(self) -> bytes:
        return (
            self.era_bytes
            + encode_compact(self.nonce)
            + encode_compact(self.tip)
            + bytes([self.metadata_hash_mode])
        )


@dataclass(frozen=True)
class ValidTransaction:
    """The pool's view of a checked transaction (Substrate's `ValidTransaction`)."""

    sender: bytes
    nonce: int
    fee: int
    weight: Weight
    longevity: int
    #: False when the nonce is in the future: the transaction waits for its predecessors.
    ready: bool
    #: The first block number a mortal transaction can no longer be included in (None: immortal)
    valid_till: int | None = None


@dataclass
class BlockResult:
    included: list[bytes]
    changes: dict[bytes, bytes | None]
    events: list[dict[str, Any]]
    dropped: list[tuple[bytes, TransactionRejected]]


class Overlay:
    """Copy-on-write storage changes over a read function, nestable for transactional calls."""

    __slots__ = ("changes", "parent", "read")

    def __init__(self, read: ReadFn, parent: Overlay | None = None) -> None:
        self.read = read
        self.parent = parent
        self.changes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        layer: Overlay | None = self
        while layer is not None:
            if key in layer.changes:
                return layer.changes[key]
            layer = layer.parent
        return self.read(key)

    def set(self, key: bytes, value: bytes) -> None:
        self.changes[key] = value

    def delete(self, key: bytes) -> None:
        self.changes[key] = None

    def child(self) -> Overlay:
        return Overlay(self.read, self)

    def merge_into_parent(self) -> None:
        assert self.parent is not None
        self.parent.changes.update(self.changes)


class CallContext:
    """What a dispatching call sees: storage, the block being built, and event deposit."""

    def __init__(
        self,
        runtime: Runtime,
        overlay: Overlay,
        block_number: int,
        parent_hash: bytes,
        digest_logs: list[Any] | None = None,
    ) -> None:
        self.runtime = runtime
        self.overlay = overlay
        self.block_number = block_number
        self.parent_hash = parent_hash
        self.digest_logs = digest_logs or []
        self.events: list[dict[str, Any]] = []
        self.phase: Any = ("Initialization", None)
        self.system: System = runtime.system

    # -- storage -----------------------------------------------------------------------------

    def get(self, item: StorageItem, *keys: Any) -> Any:
        raw = self.overlay.get(item.key(*keys))
        if raw is None:
            if item.optional:
                return None
            if item.default_is_immutable:
                return item.default
            return copy.deepcopy(item.default)
        return item.value.decode_all(raw)

    def exists(self, item: StorageItem, *keys: Any) -> bool:
        return self.overlay.get(item.key(*keys)) is not None

    def put(self, item: StorageItem, value: Any, *keys: Any) -> None:
        self.overlay.set(item.key(*keys), item.value.encode(value))

    def remove(self, item: StorageItem, *keys: Any) -> None:
        self.overlay.delete(item.key(*keys))

    # -- events and dispatch -----------------------------------------------------------------

    def deposit_event(self, pallet: str, event: str, payload: Any = None) -> None:
        self.events.append({"phase": self.phase, "event": (pallet, (event, payload)), "topics": []})

    @contextmanager
    def transactional(self) -> Iterator[None]:
        """Run a block of changes that is rolled back, events included, if it raises."""
        outer = self.overlay
        inner = outer.child()
        events_before = len(self.events)
        self.overlay = inner
        try:
            yield
        except BaseException:
            del self.events[events_before:]
            raise
        else:
            inner.merge_into_parent()
        finally:
            self.overlay = outer

    def dispatch(self, call: Any, origin: Origin) -> None:
        self.runtime.dispatch(self, call, origin)

    # -- origins and lookups -----------------------------------------------------------------

    @staticmethod
    def bad_origin(reason: str = "") -> DispatchFailure:
        return DispatchFailure(("BadOrigin", None), reason or "BadOrigin")

    def ensure_signed(self, origin: Origin) -> bytes:
        if origin.kind != "Signed" or origin.who is None:
            raise self.bad_origin("a signed origin is required")
        return origin.who

    def ensure_root(self, origin: Origin) -> None:
        if origin.kind != "Root":
            raise self.bad_origin("the root origin is required")

    def ensure_none(self, origin: Origin) -> None:
        if origin.kind != "None":
            raise self.bad_origin("only an inherent may make this call")

    @staticmethod
    def lookup(address: Any) -> bytes:
        kind, value = address
        # The runtime's `AccountIdLookup`: only `MultiAddress::Id` names an account.
        if kind == "Id":
            return bytes(value)
        raise DispatchFailure(("CannotLookup", None), f"cannot look up a {kind} address")


def outer_resolver(outer: dict[ScaleType, ScaleType]) -> Callable[[ScaleType], ScaleType]:
    """A function that replaces the outer-enum placeholders in a declared type with a runtime's
    own enums (through composites and sequences, as `EventRecord` holds a `RuntimeEvent`); types
    without placeholders come back as they are, so shared types keep their identity."""
    placeholders = {id(k): v for k, v in outer.items()}
    memo: dict[int, ScaleType] = {}

    def resolve(scale_type: ScaleType) -> ScaleType:
        key = id(scale_type)
        if key in placeholders:
            return placeholders[key]
        if key in memo:
            return memo[key]
        out = scale_type
        if isinstance(scale_type, Composite):
            fields = [
                Field(f.name, resolve(f.type), f.type_name, f.docs) for f in scale_type.fields
            ]
            params = [(n, None if p is None else resolve(p)) for n, p in scale_type.params]
            changed = any(
                a.type is not b.type for a, b in zip(fields, scale_type.fields, strict=True)
            )
            if changed or any(
                a[1] is not b[1] for a, b in zip(params, scale_type.params, strict=True)
            ):
                out = Composite(scale_type.path, fields, params, scale_type.docs)
        elif isinstance(scale_type, SequenceType):
            inner = resolve(scale_type.inner)
            if inner is not scale_type.inner:
                out = SequenceType(inner)
        memo[key] = out
        return out

    return resolve


def _signed_extension(name: str, crate_path: list[str], fields: list[Field]) -> Composite:
    return Composite([*crate_path, name], fields)


class Runtime:
    """The composed runtime. One per process: pallets hold declarations, storage holds state."""

    def __init__(self, pallet_types: tuple[type[Pallet], ...]) -> None:
        self.version = RuntimeVersion()
        # This runtime's own outer enums, filled from its own pallets.
        self.call_enum = Variant(["devnode_runtime", "RuntimeCall"])
        self.event_enum = Variant(["devnode_runtime", "RuntimeEvent"])
        resolve = outer_resolver({RUNTIME_CALL: self.call_enum, RUNTIME_EVENT: self.event_enum})
        self.pallets: list[Pallet] = []
        self.by_name: dict[str, Pallet] = {}
        for cls in pallet_types:
            pallet = cls(**self._dependencies_of(cls))
            pallet.declare(resolve)
            self.pallets.append(pallet)
            self.by_name[pallet.name] = pallet
        indices = [p.index for p in self.pallets]
        if len(set(indices)) != len(indices):
            raise ValueError(f"pallet indices collide: {indices}")
        system = self.by_name["System"]
        balances = self.by_name["Balances"]
        payment = self.by_name["TransactionPayment"]
        assert isinstance(system, System)
        assert isinstance(balances, Balances)
        assert isinstance(payment, TransactionPayment)
        self.system = system
        self.balances = balances
        self.payment = payment
        for pallet in self.pallets:
            if pallet.call_type is not None:
                self.call_enum.add(
                    VariantCase(
                        pallet.name,
                        pallet.index,
                        [
                            Field(
                                None,
                                pallet.call_type,
                                f"self::sp_api_hidden_includes_construct_runtime::hidden_include::dispatch::CallableCallFor<{pallet.name}, Runtime>",
                            )
                        ],
                    )
                )
            if pallet.event_type is not None:
                self.event_enum.add(
                    VariantCase(
                        pallet.name,
                        pallet.index,
                        [
                            Field(
                                None,
                                pallet.event_type,
                                f"{pallet.crate or 'pallet'}::Event<Runtime>",
                            )
                        ],
                    )
                )
        self.signed_extensions = self._signed_extensions()
        self.extrinsic_type = Composite(
            ["sp_runtime", "generic", "unchecked_extrinsic", "UncheckedExtrinsic"],
            [Field(None, VEC_U8)],
            params=[
                ("Address", MULTI_ADDRESS),
                ("Call", self.call_enum),
                ("Signature", MULTI_SIGNATURE),
                ("Extra", self._extra_type),
            ],
        )
        self.runtime_type = Composite(["devnode_runtime", "Runtime"], [])
        errors = Variant(["devnode_runtime", "RuntimeError"])
        for pallet in self.pallets:
            if pallet.error_type is not None:
                errors.add(
                    VariantCase(
                        pallet.name,
                        pallet.index,
                        [
                            Field(
                                None,
                                pallet.error_type,
                                f"{pallet.crate or 'pallet'}::Error<Runtime>",
                            )
                        ],
                    )
                )
        self.runtime_error_type = errors
        self._add_version_constant()
        self._metadata: dict[int, bytes] = {}

    def _dependencies_of(self, cls: type[Pallet]) -> dict[str, Any]:
        """The keyword arguments `cls.__init__` asks for: pallets composed before it, by their
        snake-case name (`model_registry=`), or `runtime=` for this runtime itself."""
        by_snake = {_snake(p.name): p for p in self.pallets}
        wanted = [
            p
            for p in inspect.signature(cls.__init__).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]
        arguments: dict[str, Any] = {}
        for param in wanted:
            if param.name == "runtime":
                arguments["runtime"] = self
            elif param.name in by_snake:
                arguments[param.name] = by_snake[param.name]
            else:
                raise ValueError(
                    f"{cls.__name__} needs the pallet {param.name!r}, which is not composed "
                    f"before it in this runtime"
                )
        return arguments

    # -- metadata ----------------------------------------------------------------------------

    def _add_version_constant(self) -> None:
        """`System::Version`, where FRAME has it (before `SS58Prefix`); clients read it to sign."""
        constants = {}
        for name, constant in self.system.constants.items():
            if name == "SS58Prefix":
                constants["Version"] = Constant(
                    RUNTIME_VERSION, self.version.to_value(), ("Get the chain's in-code version.",)
                )
            constants[name] = constant
        # This runtime's System, not the class: another runtime may have another version.
        self.system.constants = constants  # type: ignore[misc]

    def _signed_extensions(self) -> list[tuple[str, ScaleType, ScaleType]]:
        checks = ["frame_system", "extensions"]
        mode = Variant(
            ["frame_metadata_hash_extension", "Mode"],
            [VariantCase("Disabled", 0), VariantCase("Enabled", 1)],
        )
        extensions: list[tuple[str, ScaleType, ScaleType]] = [
            (
                "CheckNonZeroSender",
                _signed_extension("CheckNonZeroSender", [*checks, "check_non_zero_sender"], []),
                UNIT,
            ),
            (
                "CheckSpecVersion",
                _signed_extension("CheckSpecVersion", [*checks, "check_spec_version"], []),
                U32,
            ),
            (
                "CheckTxVersion",
                _signed_extension("CheckTxVersion", [*checks, "check_tx_version"], []),
                U32,
            ),
            (
                "CheckGenesis",
                _signed_extension("CheckGenesis", [*checks, "check_genesis"], []),
                H256,
            ),
            (
                "CheckMortality",
                _signed_extension(
                    "CheckMortality", [*checks, "check_mortality"], [Field(None, ERA, "Era")]
                ),
                H256,
            ),
            (
                "CheckNonce",
                _signed_extension(
                    "CheckNonce", [*checks, "check_nonce"], [Field(None, Compact(U32), "T::Nonce")]
                ),
                UNIT,
            ),
            ("CheckWeight", _signed_extension("CheckWeight", [*checks, "check_weight"], []), UNIT),
            (
                "ChargeTransactionPayment",
                _signed_extension(
                    "ChargeTransactionPayment",
                    ["pallet_transaction_payment"],
                    [Field(None, Compact(U128), "BalanceOf<T>")],
                ),
                UNIT,
            ),
            (
                "CheckMetadataHash",
                _signed_extension(
                    "CheckMetadataHash",
                    ["frame_metadata_hash_extension"],
                    [Field("mode", mode, "Mode")],
                ),
                OptionType(bytes_array(32)),
            ),
        ]
        from ._types import TupleType

        self._extra_type = TupleType(*(ty for _, ty, _ in extensions))
        return extensions

    def metadata(self, version: int = 14) -> bytes:
        """`RuntimeMetadataPrefixed` (V14 by default; 15 and 16 too), built from the declarations."""
        cached = self._metadata.get(version)
        if cached is None:
            cached = self._metadata[version] = build_metadata(self, version)
        return cached

    @property
    def extra_type(self) -> ScaleType:
        """The tuple of the signed extensions' extra data, in order."""
        return self._extra_type

    # -- calls -------------------------------------------------------------------------------

    def call_spec(self, call: Any) -> CallSpec:
        pallet_name, (call_name, _) = call
        return self.by_name[pallet_name].calls[call_name]

    def call_weight(self, call: Any) -> Weight:
        _, (_, args) = call
        return self.call_spec(call).weight_of(args or {})

    def dispatch(self, ctx: CallContext, call: Any, origin: Origin) -> None:
        _, (_, args) = call
        spec = self.call_spec(call)
        spec.handler(ctx, origin, **(args or {}))

    def encode_call(self, pallet: str, call: str, args: dict[str, Any] | None = None) -> bytes:
        return bytes(self.call_enum.encode((pallet, (call, args))))

    # -- extrinsics --------------------------------------------------------------------------

    def decode_extrinsic(self, raw: bytes) -> Extrinsic:
        """Decode an encoded extrinsic (with its length prefix); `TransactionRejected` (1001) if malformed."""
        if len(raw) > MAX_EXTRINSIC_BYTES:
            raise TransactionRejected.bad_format(
                f"extrinsic of {len(raw)} bytes exceeds {MAX_EXTRINSIC_BYTES}"
            )
        try:
            reader = Reader(raw)
            length = reader.compact()
            if length != reader.remaining():
                raise ScaleDecodeError(
                    f"length prefix says {length} bytes, {reader.remaining()} follow"
                )
            version = reader.u8()
            if version == UNSIGNED_V4:
                call_bytes = raw[reader.pos :]
                return Extrinsic(raw, call_bytes, self.call_enum.decode_all(call_bytes))
            if version != SIGNED_V4:
                raise ScaleDecodeError(f"unsupported extrinsic version byte 0x{version:02x}")
            address = MULTI_ADDRESS.decode(reader)
            if address[0] != "Id":
                # The runtime's AccountIdLookup resolves only `Id`: any other signer address
                # fails the lookup, an UnknownTransaction::CannotLookup.
                raise TransactionRejected.unknown(CANNOT_LOOKUP)
            scheme, signature = MULTI_SIGNATURE.decode(reader)
            era_start = reader.pos
            era = ERA.decode(reader)
            era_bytes = raw[era_start : reader.pos]
            nonce = reader.compact()
            tip = reader.compact()
            mode = reader.u8()
            if mode > 1:
                raise ScaleDecodeError(f"invalid CheckMetadataHash mode {mode}")
            call_bytes = raw[reader.pos :]
            call = self.call_enum.decode_all(call_bytes)
        except ScaleDecodeError as exc:
            raise TransactionRejected.bad_format(str(exc)) from exc
        return Extrinsic(
            raw,
            call_bytes,
            call,
            signer=bytes(address[1]),
            scheme=scheme,
            signature=bytes(signature),
            era=era,
            era_bytes=era_bytes,
            nonce=nonce,
            tip=tip,
            metadata_hash_mode=mode,
        )

    def signing_payload(self, ext: Extrinsic, genesis_hash: bytes, birth_hash: bytes) -> bytes:
        payload = (
            ext.call_bytes
            + ext.extra_bytes()
            + self.version.spec_version.to_bytes(4, "little")
            + self.version.transaction_version.to_bytes(4, "little")
            + genesis_hash
            + birth_hash
            + b"\x00"  # CheckMetadataHash: no hash (mode Disabled)
        )
        return blake2_256(payload) if len(payload) > 256 else payload

    def fee_of(self, ext: Extrinsic) -> tuple[Weight, int]:
        weight = self.call_weight(ext.call)
        return weight, compute_fee(len(ext.raw), weight, ext.tip)

    def validate(
        self,
        ext: Extrinsic,
        read: ReadFn,
        best_number: int,
        block_hash_at: Callable[[int], bytes | None],
        check_signature: bool = True,
    ) -> ValidTransaction:
        """Check a transaction against the state after block `best_number`, as the pool does."""
        if ext.signer is None:
            raise TransactionRejected.invalid("Transaction call is not expected")
        if ext.metadata_hash_mode != 0:
            raise TransactionRejected.invalid(
                "Transaction has a bad signature (CheckMetadataHash mode Enabled is not supported by devnode)"
            )
        if ext.signer == bytes(32):
            raise TransactionRejected.invalid("Invalid signing address")
        current = best_number + 1
        genesis = block_hash_at(0)
        assert genesis is not None
        if ext.era == "Immortal":
            birth_hash: bytes | None = genesis
            longevity = 2**64 - 1
        else:
            _, (period, phase) = ext.era
            birth = era_birth(period, phase, current)
            birth_hash = self._birth_hash(read, birth, best_number, block_hash_at)
            longevity = birth + period - current
        if birth_hash is None:
            raise TransactionRejected.invalid("Transaction has an ancient birth block")
        if check_signature:
            payload = self.signing_payload(ext, genesis, birth_hash)
            if not verify_signature(ext.scheme, ext.signature, payload, ext.signer):
                raise TransactionRejected.invalid(
                    self._explain_bad_proof(ext, genesis, current, block_hash_at)
                )
        account = self.system.account_from(read, ext.signer)
        if ext.nonce < account.nonce:
            raise TransactionRejected.invalid("Transaction is outdated")
        weight, fee = self.fee_of(ext)
        if account.data.free - account.data.frozen < fee:
            raise TransactionRejected.invalid(
                "Inability to pay some fees (e.g. account balance too low)"
            )
        return ValidTransaction(
            sender=ext.signer,
            nonce=ext.nonce,
            fee=fee,
            weight=weight,
            longevity=longevity,
            valid_till=None if ext.era == "Immortal" else current + longevity,
            ready=ext.nonce == account.nonce,
        )

    def _birth_hash(
        self,
        read: ReadFn,
        birth: int,
        best_number: int,
        block_hash_at: Callable[[int], bytes | None],
    ) -> bytes | None:
        """CheckMortality's implicit: `System.BlockHash(birth)` as FRAME reads it while
        validating on top of block `best_number` (whose own hash `initialize` has just added),
        None where the map has no entry: a birth after the best block, or one pruned past
        `BlockHashCount` (the runtime then says AncientBirthBlock)."""
        if birth > best_number:
            return None
        if birth == best_number:
            return block_hash_at(birth)
        stored = read(self.system.BlockHash.key(birth))
        return None if stored is None else bytes(stored)

    def _explain_bad_proof(
        self,
        ext: Extrinsic,
        genesis: bytes,
        current: int,
        block_hash_at: Callable[[int], bytes | None],
    ) -> str:
        """Substrate's BadProof text; where devnode can tell that a mortal era has ended (the
        signature verifies against an earlier birth block), it logs so, as the runtime gives
        BadProof then too (the birth it computes names another block)."""
        if ext.scheme == "Ecdsa":
            return "Transaction has a bad signature (ecdsa signatures are not supported by devnode)"
        if ext.era != "Immortal":
            _, (period, phase) = ext.era
            birth = era_birth(period, phase, current) - period
            while birth >= 0:
                earlier = block_hash_at(birth)
                if earlier is not None and verify_signature(
                    ext.scheme,
                    ext.signature,
                    self.signing_payload(ext, genesis, earlier),
                    ext.signer or b"",
                ):
                    log.info(
                        "refused a transaction as BadProof: its mortal era ended at block %d",
                        birth + period,
                    )
                    break
                birth -= period
                if birth < current - 4 * period:
                    break
        return "Transaction has a bad signature"

    # -- blocks ------------------------------------------------------------------------------

    def timestamp_inherent(self, now_ms: int) -> bytes:
        body = bytes([UNSIGNED_V4]) + self.encode_call("Timestamp", "set", {"now": now_ms})
        return encode_compact(len(body)) + body

    def execute_block(
        self,
        read: ReadFn,
        number: int,
        parent_hash: bytes,
        timestamp_ms: int,
        extrinsics: list[Extrinsic],
        block_hash_at: Callable[[int], bytes | None],
        digest_logs: list[Any] | None = None,
        max_weight: int = 2_000_000_000_000,
    ) -> BlockResult:
        """Build block `number` on top of the state `read` sees: inherents, then `extrinsics`."""
        ctx = CallContext(self, Overlay(read), number, parent_hash, digest_logs)
        ctx.remove(self.system.Events)
        ctx.remove(self.system.EventCount)
        for pallet in self.pallets:
            pallet.on_initialize(ctx)
        inherent = self.decode_extrinsic(self.timestamp_inherent(timestamp_ms))
        included = [inherent.raw]
        self._apply_inherent(ctx, inherent, 0)
        dropped: list[tuple[bytes, TransactionRejected]] = []
        used_weight = 0
        for ext in extrinsics:
            index = len(included)
            weight, _ = self.fee_of(ext)
            if used_weight + weight.ref_time > max_weight and len(included) > 1:
                break
            try:
                self._apply_signed(ctx, ext, index, block_hash_at)
            except TransactionRejected as rejected:
                dropped.append((ext.raw, rejected))
                continue
            used_weight += weight.ref_time
            included.append(ext.raw)
        ctx.phase = ("Finalization", None)
        for pallet in self.pallets:
            pallet.on_finalize(ctx)
        ctx.put(self.system.ExtrinsicCount, len(included))
        ctx.put(self.system.Events, ctx.events)
        ctx.put(self.system.EventCount, len(ctx.events))
        return BlockResult(included, ctx.overlay.changes, ctx.events, dropped)

    def _dispatch_info(self, spec: CallSpec, weight: Weight) -> dict[str, Any]:
        # frame_system's note_applied_extrinsic adds the class's base extrinsic weight to the
        # recorded dispatch info (query_info's weight, the call's alone, leaves it out).
        return {
            "weight": (weight + EXTRINSIC_BASE_WEIGHT).to_value(),
            "class": (spec.dispatch_class, None),
            "pays_fee": ("Yes" if spec.pays_fee else "No", None),
        }

    def _apply_inherent(self, ctx: CallContext, ext: Extrinsic, index: int) -> None:
        ctx.phase = ("ApplyExtrinsic", index)
        spec = self.call_spec(ext.call)
        info = self._dispatch_info(spec, self.call_weight(ext.call))
        try:
            with ctx.transactional():
                self.dispatch(ctx, ext.call, Origin.none())
        except DispatchFailure as failure:
            self.system.emit(
                ctx, SystemEvent.ExtrinsicFailed(dispatch_error=failure.error, dispatch_info=info)
            )
        else:
            self.system.emit(ctx, SystemEvent.ExtrinsicSuccess(dispatch_info=info))

    def _apply_signed(
        self,
        ctx: CallContext,
        ext: Extrinsic,
        index: int,
        block_hash_at: Callable[[int], bytes | None],
    ) -> None:
        assert ext.signer is not None
        # Re-validate against the block's own state (nonce and fee may have changed since the
        # pool admitted it); the signature was checked at admission.
        valid = self.validate(
            ext, ctx.overlay.get, ctx.block_number - 1, block_hash_at, check_signature=False
        )
        if not valid.ready:
            raise TransactionRejected.invalid("Transaction will be valid in the future")
        ctx.phase = ("ApplyExtrinsic", index)
        spec = self.call_spec(ext.call)
        weight, fee = valid.weight, valid.fee
        try:
            # The nonce and the fee go together: a transaction that cannot pay is left out of
            # the block with no trace, its nonce unused.
            with ctx.transactional():
                self.system.inc_nonce(ctx, ext.signer)
                self.balances.withdraw(ctx, ext.signer, fee, keep_alive=False)
        except DispatchFailure as failure:
            raise TransactionRejected.invalid(
                "Inability to pay some fees (e.g. account balance too low)"
            ) from failure
        info = self._dispatch_info(spec, weight)
        try:
            with ctx.transactional():
                self.dispatch(ctx, ext.call, Origin.signed(ext.signer))
        except DispatchFailure as failure:
            self.payment.fee_paid(ctx, ext.signer, fee, ext.tip)
            self.system.emit(
                ctx, SystemEvent.ExtrinsicFailed(dispatch_error=failure.error, dispatch_info=info)
            )
        else:
            self.payment.fee_paid(ctx, ext.signer, fee, ext.tip)
            self.system.emit(ctx, SystemEvent.ExtrinsicSuccess(dispatch_info=info))

    # -- genesis -----------------------------------------------------------------------------

    def genesis_changes(
        self, endowed: list[tuple[bytes, int]], sudo_key: bytes | None
    ) -> dict[bytes, bytes | None]:
        ctx = CallContext(self, Overlay(lambda _key: None), 0, bytes(32))
        for who, amount in endowed:
            self.balances.endow(ctx, who, amount)
        if sudo_key is not None:
            sudo = self.by_name["Sudo"]
            ctx.put(sudo.storage["Key"], sudo_key)
        for pallet in self.pallets:
            pallet.genesis(ctx)
            if pallet.storage_version is not None:
                key = twox_128(pallet.name.encode()) + twox_128(b":__STORAGE_VERSION__:")
                ctx.overlay.set(key, pallet.storage_version.to_bytes(2, "little"))
        ctx.put(self.system.Number, 0)
        # Where a real chain keeps its Wasm runtime; clients such as polkadot-api read its hash
        # to tell runtimes apart, so devnode keeps a blob that names this runtime there.
        ctx.overlay.set(CODE_KEY, self.code())
        return ctx.overlay.changes

    def code(self) -> bytes:
        """The `:code` value: not Wasm, but it changes whenever the runtime's interface does."""
        return b"devnode-runtime\x00" + self.version.encode() + blake2_256(self.metadata())

    # -- runtime API (state_call) ------------------------------------------------------------

    def runtime_api(
        self,
        method: str,
        data: bytes,
        read: ReadFn,
        block_number: int = 0,
        block_hash_at: Callable[[int], bytes | None] | None = None,
    ) -> bytes:
        """Answer a runtime call at a block (`state_call`, `chainHead_v1_call`).

        `read` is the block's state, `block_number` its number and `block_hash_at` the chain's
        hashes (for transaction validation); raises `KeyError` for an unknown method and
        `ScaleDecodeError` for bad input.
        """
        reader = Reader(data)
        if method == "AccountNonceApi_account_nonce":
            who = reader.read(32)
            reader.finish()
            nonce = self.system.account_from(read, who).nonce
            return nonce.to_bytes(4, "little")
        if method in (
            "TransactionPaymentApi_query_info",
            "TransactionPaymentApi_query_fee_details",
        ):
            length_prefixed = bytes(reader.data[reader.pos : len(reader.data) - 4])
            length = int.from_bytes(data[-4:], "little") if len(data) >= 4 else 0
            try:
                ext = self.decode_extrinsic(length_prefixed)
            except TransactionRejected as exc:
                raise ScaleDecodeError(exc.reason) from exc
            weight = self.call_weight(ext.call)
            spec = self.call_spec(ext.call)
            fee = compute_fee(length or len(ext.raw), weight, 0)
            if method.endswith("query_info"):
                return (
                    WEIGHT.encode(weight.to_value())
                    + DISPATCH_CLASS.encode((spec.dispatch_class, None))
                    + U128.encode(fee)
                )
            base = compute_fee(0, Weight(0), 0)
            length_fee = (length or len(ext.raw)) * (compute_fee(1, Weight(0)) - base)
            inclusion = (
                U128.encode(base) + U128.encode(length_fee) + U128.encode(fee - base - length_fee)
            )
            return b"\x01" + inclusion + U128.encode(0)
        if method == "Metadata_metadata":
            return VEC_U8.encode(self.metadata())
        if method == "Metadata_metadata_versions":
            return encode_compact(len(METADATA_VERSIONS)) + b"".join(
                v.to_bytes(4, "little") for v in METADATA_VERSIONS
            )
        if method == "Metadata_metadata_at_version":
            version = U32.decode(reader)
            reader.finish()
            if version not in METADATA_VERSIONS:
                return b"\x00"
            return b"\x01" + VEC_U8.encode(self.metadata(version))
        if method == "Core_version":
            return self.version.encode()
        if method == "TaggedTransactionQueue_validate_transaction":
            return self._validate_transaction_api(reader, read, block_number, block_hash_at)
        if method == "RuntimeViewFunction_execute_view_function":
            return self._execute_view_function(reader, read, block_number)
        raise KeyError(method)

    def _validate_transaction_api(
        self,
        reader: Reader,
        read: ReadFn,
        block_number: int,
        block_hash_at: Callable[[int], bytes | None] | None,
    ) -> bytes:
        """`TaggedTransactionQueue_validate_transaction(source, tx, block_hash)`, as the pool checks."""
        reader.u8()  # TransactionSource: every source is checked alike
        start = reader.pos
        length = reader.compact()
        reader.read(length)
        raw = bytes(reader.data[start : reader.pos])
        reader.read(32)
        reader.finish()
        if block_hash_at is None:
            raise ScaleDecodeError("transaction validation needs the chain's block hashes")
        try:
            ext = self.decode_extrinsic(raw)
            valid = self.validate(ext, read, block_number, block_hash_at)
        except TransactionRejected as rejected:
            if rejected.code == 1001:
                raise ScaleDecodeError(rejected.reason) from rejected
            return bytes(TRANSACTION_VALIDITY.encode(("Err", _validity_error(rejected.reason))))
        tag = valid.sender + valid.nonce.to_bytes(4, "little")
        requires = [] if valid.ready else [valid.sender + (valid.nonce - 1).to_bytes(4, "little")]
        return bytes(
            TRANSACTION_VALIDITY.encode(
                (
                    "Ok",
                    {
                        "priority": ext.tip,
                        "requires": requires,
                        "provides": [tag],
                        "longevity": min(valid.longevity, 2**64 - 1),
                        "propagate": True,
                    },
                )
            )
        )

    def view_function(self, function_id: bytes) -> tuple[Pallet, Any] | None:
        for pallet in self.pallets:
            for view in pallet.view_functions:
                if view.id(pallet.name) == function_id:
                    return pallet, view
        return None

    def _execute_view_function(self, reader: Reader, read: ReadFn, block_number: int) -> bytes:
        """`RuntimeViewFunction_execute_view_function(id, input)`: a read-only pallet query."""
        function_id = reader.read(32)
        arguments = reader.bytes_vec()
        reader.finish()
        found = self.view_function(function_id)
        if found is None:
            error = ("NotFound", {"prefix": function_id[:16], "suffix": function_id[16:]})
            return bytes(VIEW_FUNCTION_RESULT.encode(("Err", error)))
        _, view = found
        try:
            args_reader = Reader(arguments)
            args = {field.name: field.type.decode(args_reader) for field in view.inputs}
            args_reader.finish()
        except ScaleDecodeError:
            return bytes(VIEW_FUNCTION_RESULT.encode(("Err", ("Codec", None))))
        ctx = CallContext(self, Overlay(read), block_number, bytes(32))
        output = view.output.encode(view.handler(ctx, **args))
        return bytes(VIEW_FUNCTION_RESULT.encode(("Ok", output)))


def _validity_error(reason: str) -> Any:
    """The `TransactionValidityError` a Substrate runtime gives for one of devnode's refusals."""
    if reason == CANNOT_LOOKUP:
        return ("Unknown", ("CannotLookup", None))
    text = reason.lower()
    if "not expected" in text:
        kind = "Call"
    elif "signing address" in text:
        kind = "BadSigner"
    elif "ancient birth block" in text:
        kind = "AncientBirthBlock"
    elif "pay some fees" in text:
        kind = "Payment"
    elif "outdated" in text:
        kind = "Stale"
    else:
        kind = "BadProof"  # bad signatures, expired eras (Substrate cannot tell them apart)
    return ("Invalid", (kind, None))


RUNTIME = Runtime(RUNTIME_PALLETS)
