"""Why a node refused a transaction, as a typed value rather than a matched substring.

A Substrate node answers `author_submitExtrinsic` with a JSON-RPC error whose code names the
pool error (1010 invalid, 1013 already imported, 1014 priority too low...) and, for an invalid
transaction, whose `data` is the fixed text of the runtime's `InvalidTransaction` variant
("Transaction is outdated" is `Stale`). Where a node words its reason otherwise, the runtime
itself is asked (`TaggedTransactionQueue_validate_transaction`) and its `TransactionValidity`
decoded with the bindings.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

__all__ = ["Refusal", "refusal_from_rpc", "refusal_from_validity"]


class Refusal(enum.Enum):
    """A refused transaction's reason: an `InvalidTransaction` variant or a pool error."""

    # sp_runtime::transaction_validity::InvalidTransaction (JSON-RPC code 1010)
    CALL = "Call"
    PAYMENT = "Payment"
    FUTURE = "Future"
    STALE = "Stale"
    BAD_PROOF = "BadProof"
    ANCIENT_BIRTH_BLOCK = "AncientBirthBlock"
    EXHAUSTS_RESOURCES = "ExhaustsResources"
    CUSTOM = "Custom"
    BAD_MANDATORY = "BadMandatory"
    MANDATORY_VALIDATION = "MandatoryValidation"
    BAD_SIGNER = "BadSigner"
    INDETERMINATE_IMPLICIT = "IndeterminateImplicit"
    UNKNOWN_ORIGIN = "UnknownOrigin"
    # the transaction pool's own errors
    BAD_FORMAT = "BadFormat"
    UNKNOWN_VALIDITY = "UnknownValidity"
    TEMPORARILY_BANNED = "TemporarilyBanned"
    ALREADY_IMPORTED = "AlreadyImported"
    PRIORITY_TOO_LOW = "PriorityTooLow"
    CYCLE_DETECTED = "CycleDetected"
    IMMEDIATELY_DROPPED = "ImmediatelyDropped"
    #: Anything else (another code, or a reason neither the text nor the runtime names)
    OTHER = "Other"

    @property
    def wrong_nonce(self) -> bool:
        """The nonce is used (`Stale`), ahead of the chain (`Future`), or taken in the pool by
        a transaction with the same nonce (`PriorityTooLow`): resync and sign again."""
        return self in (Refusal.STALE, Refusal.FUTURE, Refusal.PRIORITY_TOO_LOW)


#: Substrate's author RPC error codes (sc_rpc_api::author::error)
_POOL_CODES = {
    1001: Refusal.BAD_FORMAT,
    1011: Refusal.UNKNOWN_VALIDITY,
    1012: Refusal.TEMPORARILY_BANNED,
    1013: Refusal.ALREADY_IMPORTED,
    1014: Refusal.PRIORITY_TOO_LOW,
    1015: Refusal.CYCLE_DETECTED,
    1016: Refusal.IMMEDIATELY_DROPPED,
}
_INVALID_TRANSACTION = 1010
#: `InvalidTransaction` as `&'static str` (sp_runtime), the `data` of a 1010 answer
_INVALID_TEXTS = {
    "Transaction call is not expected": Refusal.CALL,
    "Inability to pay some fees (e.g. account balance too low)": Refusal.PAYMENT,
    "Transaction will be valid in the future": Refusal.FUTURE,
    "Transaction is outdated": Refusal.STALE,
    "Transaction has a bad signature": Refusal.BAD_PROOF,
    "Transaction has an ancient birth block": Refusal.ANCIENT_BIRTH_BLOCK,
    "Transaction would exhaust the block limits": Refusal.EXHAUSTS_RESOURCES,
    "InvalidTransaction custom error": Refusal.CUSTOM,
    "A call was labelled as mandatory, but resulted in an Error.": Refusal.BAD_MANDATORY,
    "Transaction dispatch is mandatory; transactions must not be validated.": (
        Refusal.MANDATORY_VALIDATION
    ),
    "Invalid signing address": Refusal.BAD_SIGNER,
    "The implicit data was unable to be calculated": Refusal.INDETERMINATE_IMPLICIT,
    "The transaction extension did not authorize any origin": Refusal.UNKNOWN_ORIGIN,
}


def refusal_from_rpc(code: int | None, data: Any) -> Refusal | None:
    """The refusal a JSON-RPC error names; None for an invalid transaction (1010) whose reason
    is not Substrate's own text, which only the runtime can then tell."""
    if code == _INVALID_TRANSACTION:
        if isinstance(data, str):
            if data.startswith("Custom error: "):
                return Refusal.CUSTOM
            return _INVALID_TEXTS.get(data)
        return None
    if code is None:
        return Refusal.OTHER
    return _POOL_CODES.get(code, Refusal.OTHER)


def refusal_from_validity(validity: Any) -> Refusal:
    """The refusal inside a decoded `TransactionValidity` (`Result<ValidTransaction,
    TransactionValidityError>`); `OTHER` when the transaction is valid after all."""
    if _variant(validity) != "Err":
        return Refusal.OTHER
    error = _payload(validity)
    if _variant(error) == "Unknown":
        return Refusal.UNKNOWN_VALIDITY
    if _variant(error) != "Invalid":
        return Refusal.OTHER
    name = _variant(_payload(error))
    try:
        return Refusal(name)
    except ValueError:
        return Refusal.OTHER


def _variant(value: Any) -> str | None:
    name = getattr(type(value), "__variant_name__", None)
    if name is None and isinstance(value, tuple) and value and isinstance(value[0], str):
        name = value[0]  # an enum the bindings have no class for: (name, payload)
    return name if isinstance(name, str) else None


def _payload(value: Any) -> Any:
    if isinstance(value, tuple):
        return value[1] if len(value) > 1 else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return getattr(value, fields[0].name) if fields else None
    return None
