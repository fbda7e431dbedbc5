"""The output records an executor publishes; `encode_record` gives their canonical bytes."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ._ids import RecordId

__all__ = [
    "MAX_TOP_LOGPROBS",
    "EmbeddingOutput",
    "FinishReason",
    "GenerationOutput",
    "OutputRecord",
    "TokenLogprobs",
]

#: The most alternatives recorded per generated token.
MAX_TOP_LOGPROBS = 5


class FinishReason(enum.IntEnum):
    """Why generation stopped; the value is its byte in the canonical encoding."""

    LENGTH = 0
    EOS = 1
    STOP = 2


@dataclass(frozen=True, slots=True)
class TokenLogprobs:
    """One generated token: its id, its log-probability under the model, and the top-k ids.

    Log-probabilities are of the model's raw distribution (log-softmax of the logits, before
    temperature, top-k or top-p) and are quantised to multiples of 1/1024 (see
    docs/output-format.md), so a record survives encode/decode unchanged.
    """

    token: int
    logprob: float
    top: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True, slots=True)
class GenerationOutput:
    """What an executor produces for a request; `encode_output` gives its canonical bytes."""

    request_id: RecordId
    prompt_token_count: int
    tokens: tuple[int, ...]
    text: str
    logprobs: tuple[TokenLogprobs, ...]
    finish_reason: FinishReason
    top_logprobs: int = MAX_TOP_LOGPROBS

    @property
    def completion_token_count(self) -> int:
        """Tokens generated: what the executor reports on-chain as completion tokens."""
        return len(self.tokens)


@dataclass(frozen=True, slots=True)
class EmbeddingOutput:
    """An embedding: the pooled (and, if the model says so, L2-normalised) vector.

    `vector` holds float32 values (the canonical encoding stores float32, so a record survives
    encode/decode unchanged); `truncated` says the input was cut to the model's maximum length.
    """

    request_id: RecordId
    prompt_token_count: int
    vector: tuple[float, ...]
    truncated: bool = False

    @property
    def completion_token_count(self) -> int:
        """Always 0: an embedding generates no tokens (only prompt tokens are charged)."""
        return 0


#: Any record an executor publishes (its canonical bytes are hashed on-chain).
OutputRecord = GenerationOutput | EmbeddingOutput
