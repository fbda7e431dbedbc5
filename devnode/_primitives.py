"""Types shared by the runtime and its pallets, declared with Substrate's type paths."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from ._errors import ScaleDecodeError
from ._pallet import Scale, record_type
from ._scale import Reader
from ._types import (
    H256,
    U8,
    U32,
    U64,
    U128,
    VEC_U8,
    Array,
    Compact,
    Composite,
    Field,
    SequenceType,
    TupleType,
    Variant,
    VariantCase,
    bytes_array,
    record_maker,
)

__all__ = [
    "ACCOUNT_DATA",
    "ACCOUNT_ID",
    "ACCOUNT_INFO",
    "BALANCE",
    "DIGEST",
    "DIGEST_ITEM",
    "DISPATCH_CLASS",
    "DISPATCH_ERROR",
    "DISPATCH_INFO",
    "EMPTY_ACCOUNT",
    "ERA",
    "EVENT_RECORD",
    "MULTI_ADDRESS",
    "MULTI_SIGNATURE",
    "PAYS",
    "PHASE",
    "RUNTIME_CALL",
    "RUNTIME_EVENT",
    "UNIT",
    "WEIGHT",
    "AccountData",
    "AccountInfo",
    "EraType",
    "dispatch_result",
]

UNIT = TupleType()
BALANCE = U128

ACCOUNT_ID = Composite(
    ["sp_core", "crypto", "AccountId32"], [Field(None, bytes_array(32), "[u8; 32]")]
)

MULTI_ADDRESS = Variant(
    ["sp_runtime", "multiaddress", "MultiAddress"],
    [
        VariantCase("Id", 0, [Field(None, ACCOUNT_ID, "AccountId")]),
        VariantCase("Index", 1, [Field(None, Compact(UNIT), "AccountIndex")]),
        VariantCase("Raw", 2, [Field(None, VEC_U8, "Vec<u8>")]),
        VariantCase("Address32", 3, [Field(None, bytes_array(32), "[u8; 32]")]),
        VariantCase("Address20", 4, [Field(None, bytes_array(20), "[u8; 20]")]),
    ],
    params=[("AccountId", ACCOUNT_ID), ("AccountIndex", UNIT)],
)


def _signature(module: str, length: int) -> Composite:
    return Composite(
        ["sp_core", module, "Signature"], [Field(None, bytes_array(length), f"[u8; {length}]")]
    )


MULTI_SIGNATURE = Variant(
    ["sp_runtime", "MultiSignature"],
    [
        VariantCase("Ed25519", 0, [Field(None, _signature("ed25519", 64), "ed25519::Signature")]),
        VariantCase("Sr25519", 1, [Field(None, _signature("sr25519", 64), "sr25519::Signature")]),
        VariantCase("Ecdsa", 2, [Field(None, _signature("ecdsa", 65), "ecdsa::Signature")]),
    ],
)


class EraType(Variant):
    """`sp_runtime::generic::era::Era`: value "Immortal" or ("Mortal", (period, phase))."""

    def __init__(self) -> None:
        cases = [VariantCase("Immortal", 0)]
        cases += [VariantCase(f"Mortal{i}", i, [Field(None, U8)]) for i in range(1, 256)]
        super().__init__(["sp_runtime", "generic", "era", "Era"], cases)

    def encode(self, value: Any) -> bytes:
        if value == "Immortal" or value is None:
            return b"\x00"
        _, (period, phase) = value
        return encode_mortal_era(period, phase)

    def decode(self, reader: Reader) -> Any:
        first = reader.u8()
        if first == 0:
            return "Immortal"
        encoded = first | (reader.u8() << 8)
        period = 2 << (encoded % (1 << 4))
        quantize_factor = max(period >> 12, 1)
        phase = (encoded >> 4) * quantize_factor
        if period < 4 or phase >= period:
            raise ScaleDecodeError(f"invalid mortal era (period {period}, phase {phase})")
        return ("Mortal", (period, phase))


def encode_mortal_era(period: int, phase: int) -> bytes:
    quantize_factor = max(period >> 12, 1)
    trailing = (period & -period).bit_length() - 1
    encoded = min(15, max(1, trailing - 1)) | ((phase // quantize_factor) << 4)
    return encoded.to_bytes(2, "little")


def era_birth(period: int, phase: int, current: int) -> int:
    return (max(current, phase) - phase) // period * period + phase


ERA = EraType()

WEIGHT = Composite(
    ["sp_weights", "weight_v2", "Weight"],
    [Field("ref_time", Compact(U64), "u64"), Field("proof_size", Compact(U64), "u64")],
)

DISPATCH_CLASS = Variant(
    ["frame_support", "dispatch", "DispatchClass"],
    [VariantCase("Normal", 0), VariantCase("Operational", 1), VariantCase("Mandatory", 2)],
)
PAYS = Variant(["frame_support", "dispatch", "Pays"], [VariantCase("Yes", 0), VariantCase("No", 1)])
DISPATCH_INFO = Composite(
    ["frame_support", "dispatch", "DispatchInfo"],
    [
        Field("weight", WEIGHT, "Weight"),
        Field("class", DISPATCH_CLASS, "DispatchClass"),
        Field("pays_fee", PAYS, "Pays"),
    ],
)

MODULE_ERROR = Composite(
    ["sp_runtime", "ModuleError"],
    [
        Field("index", U8, "u8"),
        Field("error", bytes_array(4), "[u8; MAX_MODULE_ERROR_ENCODED_SIZE]"),
    ],
)
TOKEN_ERROR = Variant(
    ["sp_runtime", "TokenError"],
    [
        VariantCase(name, i)
        for i, name in enumerate(
            [
                "FundsUnavailable",
                "OnlyProvider",
                "BelowMinimum",
                "CannotCreate",
                "UnknownAsset",
                "Frozen",
                "Unsupported",
                "CannotCreateHold",
                "NotExpendable",
                "Blocked",
            ]
        )
    ],
)
ARITHMETIC_ERROR = Variant(
    ["sp_arithmetic", "ArithmeticError"],
    [VariantCase("Underflow", 0), VariantCase("Overflow", 1), VariantCase("DivisionByZero", 2)],
)
TRANSACTIONAL_ERROR = Variant(
    ["sp_runtime", "TransactionalError"],
    [VariantCase("LimitReached", 0), VariantCase("NoLayer", 1)],
)
DISPATCH_ERROR = Variant(
    ["sp_runtime", "DispatchError"],
    [
        VariantCase("Other", 0),
        VariantCase("CannotLookup", 1),
        VariantCase("BadOrigin", 2),
        VariantCase("Module", 3, [Field(None, MODULE_ERROR, "ModuleError")]),
        VariantCase("ConsumerRemaining", 4),
        VariantCase("NoProviders", 5),
        VariantCase("TooManyConsumers", 6),
        VariantCase("Token", 7, [Field(None, TOKEN_ERROR, "TokenError")]),
        VariantCase("Arithmetic", 8, [Field(None, ARITHMETIC_ERROR, "ArithmeticError")]),
        VariantCase("Transactional", 9, [Field(None, TRANSACTIONAL_ERROR, "TransactionalError")]),
        VariantCase("Exhausted", 10),
        VariantCase("Corruption", 11),
        VariantCase("Unavailable", 12),
        VariantCase("RootNotAllowed", 13),
    ],
)


def dispatch_result() -> Variant:
    return Variant(
        ["Result"],
        [
            VariantCase("Ok", 0, [Field(None, UNIT)]),
            VariantCase("Err", 1, [Field(None, DISPATCH_ERROR)]),
        ],
        params=[("T", UNIT), ("E", DISPATCH_ERROR)],
    )


PHASE = Variant(
    ["frame_system", "Phase"],
    [
        VariantCase("ApplyExtrinsic", 0, [Field(None, U32, "u32")]),
        VariantCase("Finalization", 1),
        VariantCase("Initialization", 2),
    ],
)

ENGINE_ID = bytes_array(4)
DIGEST_ITEM = Variant(
    ["sp_runtime", "generic", "digest", "DigestItem"],
    [
        VariantCase(
            "PreRuntime",
            6,
            [Field(None, ENGINE_ID, "ConsensusEngineId"), Field(None, VEC_U8, "Vec<u8>")],
        ),
        VariantCase(
            "Consensus",
            4,
            [Field(None, ENGINE_ID, "ConsensusEngineId"), Field(None, VEC_U8, "Vec<u8>")],
        ),
        VariantCase(
            "Seal", 5, [Field(None, ENGINE_ID, "ConsensusEngineId"), Field(None, VEC_U8, "Vec<u8>")]
        ),
        VariantCase("Other", 0, [Field(None, VEC_U8, "Vec<u8>")]),
        VariantCase("RuntimeEnvironmentUpdated", 8),
    ],
)
DIGEST = Composite(
    ["sp_runtime", "generic", "digest", "Digest"],
    [Field("logs", SequenceType(DIGEST_ITEM), "Vec<DigestItem>")],
)

EXTRA_FLAGS = Composite(["pallet_balances", "types", "ExtraFlags"], [Field(None, U128, "u128")])
#: `ExtraFlags` with the new-logic bit set, as every account has
NEW_LOGIC_FLAGS = 1 << 127


@dataclass(frozen=True)
class AccountData:
    """An account's native balance (`pallet_balances::AccountData`)."""

    free: Annotated[int, Scale(BALANCE, "Balance")]
    reserved: Annotated[int, Scale(BALANCE, "Balance")]
    frozen: Annotated[int, Scale(BALANCE, "Balance")]
    flags: Annotated[int, Scale(EXTRA_FLAGS, "ExtraFlags")] = NEW_LOGIC_FLAGS


ACCOUNT_DATA = record_type(
    AccountData, ["pallet_balances", "types", "AccountData"], params=[("Balance", BALANCE)]
)


@dataclass(frozen=True)
class AccountInfo:
    """An account as `System::Account` holds it: nonce, reference counts, balance."""

    nonce: Annotated[int, Scale(U32, "Nonce")]
    consumers: Annotated[int, Scale(U32, "RefCount")]
    providers: Annotated[int, Scale(U32, "RefCount")]
    sufficients: Annotated[int, Scale(U32, "RefCount")]
    data: Annotated[AccountData, Scale(ACCOUNT_DATA, "AccountData")]

    # Built by `_fast`, not by dataclasses.replace: these run several times per extrinsic.
    def with_balance(self, free: int, reserved: int | None = None) -> AccountInfo:
        """This account with its free (and reserved) balance changed."""
        data = self.data
        balance = _fast_data(
            free, data.reserved if reserved is None else reserved, data.frozen, data.flags
        )
        info: AccountInfo = _fast_info(
            self.nonce, self.consumers, self.providers, self.sufficients, balance
        )
        return info

    def with_nonce(self, nonce: int) -> AccountInfo:
        info: AccountInfo = _fast_info(
            nonce, self.consumers, self.providers, self.sufficients, self.data
        )
        return info


_fast_data = record_maker(AccountData)
_fast_info = record_maker(AccountInfo)
ACCOUNT_INFO = record_type(
    AccountInfo,
    ["frame_system", "AccountInfo"],
    params=[("Nonce", U32), ("AccountData", ACCOUNT_DATA)],
)
EMPTY_ACCOUNT = AccountInfo(0, 0, 0, 0, AccountData(0, 0, 0))

BLOCK_HASH = H256
ECDSA_PUBLIC = Array(33, U8)

# Placeholders for a runtime's outer enums, which pallets refer to (Sudo dispatches a boxed
# `RuntimeCall`, System stores `EventRecord`s). They stay empty: each `Runtime` builds its own
# `RuntimeCall` and `RuntimeEvent` and substitutes them for these in its pallets' declarations.
RUNTIME_CALL = Variant(["devnode_runtime", "RuntimeCall"])
RUNTIME_EVENT = Variant(["devnode_runtime", "RuntimeEvent"])
EVENT_RECORD = Composite(
    ["frame_system", "EventRecord"],
    [
        Field("phase", PHASE, "Phase"),
        Field("event", RUNTIME_EVENT, "E"),
        Field("topics", SequenceType(H256), "Vec<T>"),
    ],
    params=[("E", RUNTIME_EVENT), ("T", H256)],
)
