"""Runtime metadata V14, V15 and V16, built from the runtime's declarations.

All three versions describe the same pallets with the same declared types; V15 adds the runtime
APIs, the outer enums and pallet docs, V16 adds view functions, associated types, deprecation
info, extrinsic versions and transaction extensions by version (frame-metadata's v14.rs, v15.rs,
v16.rs give the layouts). Runtime APIs are declared here only for the functions devnode answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._primitives import DISPATCH_CLASS, WEIGHT
from ._scale import encode_compact, encode_str
from ._types import (
    BOOL,
    H256,
    STR,
    U8,
    U32,
    U64,
    U128,
    VEC_U8,
    Composite,
    Field,
    OptionType,
    ScaleType,
    SequenceType,
    TupleType,
    TypeRegistry,
    Variant,
    VariantCase,
    bytes_array,
)

if TYPE_CHECKING:
    from ._runtime import Runtime

__all__ = [
    "METADATA_VERSIONS",
    "OPAQUE_METADATA",
    "RUNTIME_VERSION",
    "TRANSACTION_VALIDITY",
    "VIEW_FUNCTION_RESULT",
    "build_metadata",
    "result_type",
]

METADATA_MAGIC = b"meta"
#: What `Metadata_metadata_versions` lists; `Metadata_metadata` itself answers V14, as FRAME does.
METADATA_VERSIONS = (14, 15, 16)

RUNTIME_VERSION = Composite(
    ["sp_version", "RuntimeVersion"],
    [
        Field("spec_name", STR, "Cow<'static, str>"),
        Field("impl_name", STR, "Cow<'static, str>"),
        Field("authoring_version", U32, "u32"),
        Field("spec_version", U32, "u32"),
        Field("impl_version", U32, "u32"),
        Field("apis", SequenceType(TupleType(bytes_array(8), U32)), "ApisVec"),
        Field("transaction_version", U32, "u32"),
        Field("system_version", U8, "u8"),
    ],
)
OPAQUE_METADATA = Composite(["sp_core", "OpaqueMetadata"], [Field(None, VEC_U8, "Vec<u8>")])


def result_type(ok: ScaleType, err: ScaleType) -> Variant:
    return Variant(
        ["Result"],
        [VariantCase("Ok", 0, [Field(None, ok)]), VariantCase("Err", 1, [Field(None, err)])],
        params=[("T", ok), ("E", err)],
    )


_VALIDITY = ["sp_runtime", "transaction_validity"]
TRANSACTION_SOURCE = Variant(
    [*_VALIDITY, "TransactionSource"],
    [VariantCase("InBlock", 0), VariantCase("Local", 1), VariantCase("External", 2)],
)
INVALID_TRANSACTION = Variant(
    [*_VALIDITY, "InvalidTransaction"],
    [
        VariantCase(name, index, [Field(None, U8, "u8")] if name == "Custom" else [])
        for index, name in enumerate(
            (
                "Call",
                "Payment",
                "Future",
                "Stale",
                "BadProof",
                "AncientBirthBlock",
                "ExhaustsResources",
                "Custom",
                "BadMandatory",
                "MandatoryValidation",
                "BadSigner",
                "IndeterminateImplicit",
                "UnknownOrigin",
            )
        )
    ],
)
UNKNOWN_TRANSACTION = Variant(
    [*_VALIDITY, "UnknownTransaction"],
    [
        VariantCase("CannotLookup", 0),
        VariantCase("NoUnsignedValidator", 1),
        VariantCase("Custom", 2, [Field(None, U8, "u8")]),
    ],
)
TRANSACTION_VALIDITY_ERROR = Variant(
    [*_VALIDITY, "TransactionValidityError"],
    [
        VariantCase("Invalid", 0, [Field(None, INVALID_TRANSACTION, "InvalidTransaction")]),
        VariantCase("Unknown", 1, [Field(None, UNKNOWN_TRANSACTION, "UnknownTransaction")]),
    ],
)
VALID_TRANSACTION = Composite(
    [*_VALIDITY, "ValidTransaction"],
    [
        Field("priority", U64, "TransactionPriority"),
        Field("requires", SequenceType(VEC_U8), "Vec<TransactionTag>"),
        Field("provides", SequenceType(VEC_U8), "Vec<TransactionTag>"),
        Field("longevity", U64, "TransactionLongevity"),
        Field("propagate", BOOL, "bool"),
    ],
)
TRANSACTION_VALIDITY = result_type(VALID_TRANSACTION, TRANSACTION_VALIDITY_ERROR)
RUNTIME_DISPATCH_INFO = Composite(
    ["pallet_transaction_payment", "types", "RuntimeDispatchInfo"],
    [
        Field("weight", WEIGHT, "Weight"),
        Field("class", DISPATCH_CLASS, "DispatchClass"),
        Field("partial_fee", U128, "Balance"),
    ],
    params=[("Balance", U128), ("Weight", WEIGHT)],
)
INCLUSION_FEE = Composite(
    ["pallet_transaction_payment", "types", "InclusionFee"],
    [
        Field("base_fee", U128, "Balance"),
        Field("len_fee", U128, "Balance"),
        Field("adjusted_weight_fee", U128, "Balance"),
    ],
    params=[("Balance", U128)],
)
FEE_DETAILS = Composite(
    ["pallet_transaction_payment", "types", "FeeDetails"],
    [
        Field("inclusion_fee", OptionType(INCLUSION_FEE), "Option<InclusionFee<Balance>>"),
        Field("tip", U128, "Balance"),
    ],
    params=[("Balance", U128)],
)
VIEW_FUNCTION_ID = Composite(
    ["frame_support", "view_functions", "ViewFunctionId"],
    [Field("prefix", bytes_array(16), "[u8; 16]"), Field("suffix", bytes_array(16), "[u8; 16]")],
)
VIEW_FUNCTION_DISPATCH_ERROR = Variant(
    ["frame_support", "view_functions", "ViewFunctionDispatchError"],
    [
        VariantCase("NotImplemented", 0),
        VariantCase("NotFound", 1, [Field(None, VIEW_FUNCTION_ID, "ViewFunctionId")]),
        VariantCase("Codec", 2),
    ],
)
VIEW_FUNCTION_RESULT = result_type(VEC_U8, VIEW_FUNCTION_DISPATCH_ERROR)


@dataclass(frozen=True)
class ApiMethod:
    name: str
    inputs: tuple[tuple[str, ScaleType], ...]
    output: ScaleType
    docs: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuntimeApi:
    name: str
    version: int
    methods: tuple[ApiMethod, ...]
    docs: tuple[str, ...] = ()
    #: Only in metadata of at least this version (view functions arrived with V16)
    since: int = 15


def runtime_apis(runtime: Runtime) -> tuple[RuntimeApi, ...]:
    from ._primitives import ACCOUNT_ID

    extrinsic = runtime.extrinsic_type
    return (
        RuntimeApi(
            "Core",
            4,
            (ApiMethod("version", (), RUNTIME_VERSION, ("Returns the version of the runtime.",)),),
            ("The `Core` runtime api that every Substrate runtime needs to implement.",),
        ),
        RuntimeApi(
            "Metadata",
            2,
            (
                ApiMethod("metadata", (), OPAQUE_METADATA, ("Returns the metadata of a runtime.",)),
                ApiMethod(
                    "metadata_at_version",
                    (("version", U32),),
                    OptionType(OPAQUE_METADATA),
                    ("Returns the metadata at a given version.",),
                ),
                ApiMethod(
                    "metadata_versions",
                    (),
                    SequenceType(U32),
                    ("Returns the supported metadata versions.",),
                ),
            ),
            ("The `Metadata` api trait that returns metadata for the runtime.",),
        ),
        RuntimeApi(
            "TaggedTransactionQueue",
            3,
            (
                ApiMethod(
                    "validate_transaction",
                    (("source", TRANSACTION_SOURCE), ("tx", extrinsic), ("block_hash", H256)),
                    TRANSACTION_VALIDITY,
                    ("Validate the transaction.",),
                ),
            ),
            ("The `TaggedTransactionQueue` api trait for interfering with the transaction queue.",),
        ),
        RuntimeApi(
            "AccountNonceApi",
            1,
            (
                ApiMethod(
                    "account_nonce",
                    (("account", ACCOUNT_ID),),
                    U32,
                    ("Get current account nonce of given `AccountId`.",),
                ),
            ),
            ("The API to query account nonce.",),
        ),
        RuntimeApi(
            "TransactionPaymentApi",
            4,
            (
                ApiMethod("query_info", (("uxt", extrinsic), ("len", U32)), RUNTIME_DISPATCH_INFO),
                ApiMethod("query_fee_details", (("uxt", extrinsic), ("len", U32)), FEE_DETAILS),
            ),
        ),
        RuntimeApi(
            "RuntimeViewFunction",
            1,
            (
                ApiMethod(
                    "execute_view_function",
                    (("query_id", VIEW_FUNCTION_ID), ("input", VEC_U8)),
                    VIEW_FUNCTION_RESULT,
                    ("Execute a view function query.",),
                ),
            ),
            ("Runtime API for executing view functions",),
            since=16,
        ),
    )


def _strings(items: Sequence[str]) -> bytes:
    return encode_compact(len(items)) + b"".join(encode_str(s) for s in items)


NOT_DEPRECATED = b"\x00"  # ItemDeprecationInfo::NotDeprecated
NO_DEPRECATED_VARIANTS = b"\x00"  # EnumDeprecationInfo: an empty map


def build_metadata(runtime: Runtime, version: int) -> bytes:
    """`RuntimeMetadataPrefixed` of the given version (14, 15 or 16)."""
    if version not in METADATA_VERSIONS:
        raise ValueError(f"devnode builds metadata V14, V15 and V16, not V{version}")
    registry = TypeRegistry()

    def ty(scale_type: ScaleType) -> bytes:
        return encode_compact(registry.id_of(scale_type))

    v16 = version >= 16
    pallets = bytearray(encode_compact(len(runtime.pallets)))
    for pallet in runtime.pallets:
        pallets += encode_str(pallet.name)
        items = list(pallet.storage_items())
        if items:
            pallets += b"\x01" + encode_str(pallet.name) + encode_compact(len(items))
            for item in items:
                pallets += encode_str(item.name)
                pallets += b"\x00" if item.optional else b"\x01"
                if not item.keys:
                    pallets += b"\x00" + ty(item.value)
                else:
                    pallets += b"\x01" + encode_compact(len(item.keys))
                    pallets += bytes(h for h, _ in item.keys)
                    pallets += ty(item.key_type()) + ty(item.value)
                pallets += VEC_U8.encode(item.default_bytes)
                pallets += _strings(item.docs)
                if v16:
                    pallets += NOT_DEPRECATED
        else:
            pallets += b"\x00"
        for enum_type in (pallet.call_type, pallet.event_type):
            if enum_type is None:
                pallets += b"\x00"
            else:
                pallets += b"\x01" + ty(enum_type) + (NO_DEPRECATED_VARIANTS if v16 else b"")
        pallets += encode_compact(len(pallet.constants))
        for name, constant in pallet.constants.items():
            pallets += encode_str(name) + ty(constant.type)
            pallets += VEC_U8.encode(constant.type.encode(constant.value))
            pallets += _strings(constant.docs)
            if v16:
                pallets += NOT_DEPRECATED
        if pallet.error_type is None:
            pallets += b"\x00"
        else:
            pallets += b"\x01" + ty(pallet.error_type) + (NO_DEPRECATED_VARIANTS if v16 else b"")
        if v16:
            pallets += encode_compact(0)  # associated types: none declared
            pallets += encode_compact(len(pallet.view_functions))
            for view in pallet.view_functions:
                pallets += view.id(pallet.name) + encode_str(view.name)
                pallets += encode_compact(len(view.inputs))
                for field in view.inputs:
                    pallets += encode_str(field.name or "") + ty(field.type)
                pallets += ty(view.output) + _strings(view.docs) + NOT_DEPRECATED
        pallets += bytes([pallet.index])
        if version >= 15:
            pallets += _strings(getattr(pallet, "docs", ()))
        if v16:
            pallets += NOT_DEPRECATED

    from ._primitives import MULTI_ADDRESS, MULTI_SIGNATURE

    extensions = runtime.signed_extensions
    if version == 14:
        extrinsic = bytearray(ty(runtime.extrinsic_type) + bytes([4]))
        extrinsic += encode_compact(len(extensions))
        for identifier, extra, additional in extensions:
            extrinsic += encode_str(identifier) + ty(extra) + ty(additional)
        runtime_ty = ty(runtime.runtime_type)
        return (
            METADATA_MAGIC
            + bytes([14])
            + registry.encode()
            + bytes(pallets)
            + bytes(extrinsic)
            + runtime_ty
        )

    if version == 15:
        extrinsic = bytearray(bytes([4]))
        extrinsic += ty(MULTI_ADDRESS) + ty(runtime.call_enum) + ty(MULTI_SIGNATURE)
        extrinsic += ty(runtime.extra_type)
    else:
        # Extrinsic v4 only; its signed transactions use transaction extension version 0.
        extrinsic = bytearray(encode_compact(1) + bytes([4]))
        extrinsic += ty(MULTI_ADDRESS) + ty(runtime.call_enum) + ty(MULTI_SIGNATURE)
        extrinsic += encode_compact(1) + b"\x00" + encode_compact(len(extensions))
        extrinsic += b"".join(encode_compact(i) for i in range(len(extensions)))
    extrinsic += encode_compact(len(extensions))
    for identifier, extra, additional in extensions:
        extrinsic += encode_str(identifier) + ty(extra) + ty(additional)

    after = bytearray()
    if version == 15:
        after += ty(runtime.runtime_type)
    apis = [api for api in runtime_apis(runtime) if api.since <= version]
    after += encode_compact(len(apis))
    for api in apis:
        after += encode_str(api.name) + encode_compact(len(api.methods))
        for method in api.methods:
            after += encode_str(method.name) + encode_compact(len(method.inputs))
            for name, input_type in method.inputs:
                after += encode_str(name) + ty(input_type)
            after += ty(method.output) + _strings(method.docs)
            if v16:
                after += NOT_DEPRECATED
        after += _strings(api.docs)
        if v16:
            after += encode_compact(api.version) + NOT_DEPRECATED
    after += ty(runtime.call_enum) + ty(runtime.event_enum) + ty(runtime.runtime_error_type)
    after += encode_compact(0)  # custom values: none
    types = registry.encode()
    return (
        METADATA_MAGIC + bytes([version]) + types + bytes(pallets) + bytes(extrinsic) + bytes(after)
    )
