"""Typed identifiers and the frozen records of the public API."""

from __future__ import annotations

from dataclasses import dataclass, field

import protocol
from protocol import ModelId, RequestId
from sealing import EncryptionKey

from ._errors import ConfigError

__all__ = [
    "InferenceResult",
    "ModelId",
    "RequestId",
    "Settlement",
    "SubmittedRequest",
    "parse_model_id",
]


def parse_model_id(value: str) -> ModelId:
    """Check and normalise a model id (`0x` + 64 hex digits, any case); `ConfigError` if not."""
    try:
        return protocol.parse_model_id(value)
    except protocol.InvalidIdError as exc:
        raise ConfigError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class SubmittedRequest:
    """A request placed on-chain: escrowed and assigned to an executor."""

    request_id: RequestId
    model_id: ModelId
    #: The assigned executor (SS58)
    executor: str
    escrow: int
    currency_id: int
    #: Last block at which the executor may submit its result
    deadline: int
    #: The block that included the request
    block_number: int
    #: The prompt's IPFS CID when it was too large to send inline
    input_cid: str | None
    #: A sealed request's ephemeral X25519 key its output is sealed to (None: plaintext)
    output_key: EncryptionKey | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Settlement:
    """The `InferencePaid` event of a request."""

    request_id: RequestId
    cost: int
    refund: int
    author_amount: int
    executor_amount: int
    block_number: int


@dataclass(frozen=True, slots=True)
class InferenceResult:
    """A completed inference: the verified output and what it cost."""

    request_id: RequestId
    model_id: ModelId
    text: str
    tokens: tuple[int, ...]
    prompt_tokens: int
    completion_tokens: int
    #: Paid from the escrow, in the model's currency
    cost: int
    #: Returned to the requester from the escrow
    refund: int
    currency_id: int
    #: The executor that produced the output (SS58)
    executor: str
    #: blake2-256 of the canonical output encoding, as on-chain (0x hex)
    output_hash: str
    #: "length", "eos" or "stop"; "embedding" for an embedding model's vector
    finish_reason: str
    #: Where the output bytes came from: "executor" or "ipfs"
    source: str
    #: An embedding model's vector (its text and tokens are empty); () for text models
    embedding: tuple[float, ...] = ()
