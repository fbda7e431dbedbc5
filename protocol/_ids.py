"""Typed identifiers both sides of the wire agree on."""

from __future__ import annotations

import re
from typing import NewType

from ._errors import InvalidIdError

__all__ = ["AccountId", "ModelId", "OutputHash", "RecordId", "RequestId", "parse_model_id"]

#: A chain-assigned request id (`Inference.NextRequestId`), a u64
RequestId = NewType("RequestId", int)
#: A model id: `0x` + 64 lower-case hex digits (blake2-256 of the model's first CID)
ModelId = NewType("ModelId", str)
#: A 32-byte account id (an sr25519 public key)
AccountId = NewType("AccountId", bytes)
#: The 32-byte blake2-256 of an output's canonical encoding, as stored on-chain
OutputHash = NewType("OutputHash", bytes)
#: The request id an output record is bound to, as text (the chain's u64 in decimal for
#: on-chain requests)
RecordId = NewType("RecordId", str)

_MODEL_ID = re.compile(r"^0x[0-9a-f]{64}$")


def parse_model_id(value: str) -> ModelId:
    """Check and normalise a model id (`0x` + 64 hex digits, any case, `0x` optional)."""
    text = value.strip().lower()
    if not text.startswith("0x"):
        text = "0x" + text
    if not _MODEL_ID.match(text):
        raise InvalidIdError(f"not a model id (0x + 64 hex digits): {value!r}")
    return ModelId(text)
