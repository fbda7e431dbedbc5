"""Typed identifiers and the frozen records that cross the public API."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NewType

from ._errors import InvalidRequestError

__all__ = [
    "MAX_TOP_LOGPROBS",
    "FinishReason",
    "GenerationOutput",
    "GenerationRequest",
    "ModelId",
    "RequestId",
    "SamplingParams",
    "TokenId",
    "TokenLogprobs",
    "ValidationReport",
]

RequestId = NewType("RequestId", str)
ModelId = NewType("ModelId", str)
TokenId = NewType("TokenId", int)

#: The most alternatives recorded per generated token.
MAX_TOP_LOGPROBS = 5


class FinishReason(enum.IntEnum):
    """Why generation stopped; the value is its byte in the canonical encoding."""

    LENGTH = 0
    EOS = 1
    STOP = 2


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """How to pick tokens. `temperature == 0` means greedy (argmax)."""

    max_tokens: int = 16
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    top_logprobs: int = MAX_TOP_LOGPROBS
    ignore_eos: bool = False

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise InvalidRequestError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if not (self.temperature >= 0.0) or self.temperature != self.temperature:
            raise InvalidRequestError(f"temperature must be >= 0, got {self.temperature}")
        if not (0.0 < self.top_p <= 1.0):
            raise InvalidRequestError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise InvalidRequestError(f"top_k must be >= 0 (0 = off), got {self.top_k}")
        if not (0 <= self.top_logprobs <= MAX_TOP_LOGPROBS):
            raise InvalidRequestError(
                f"top_logprobs must be in [0, {MAX_TOP_LOGPROBS}], got {self.top_logprobs}"
            )
        if any(not s for s in self.stop):
            raise InvalidRequestError("stop sequences must be non-empty strings")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """One request: its id (which also seeds sampling), a prompt as text or token ids, params."""

    request_id: RequestId
    prompt: str | tuple[int, ...]
    params: SamplingParams = field(default_factory=SamplingParams)

    def __post_init__(self) -> None:
        if not self.request_id:
            raise InvalidRequestError("request_id must be non-empty")
        if isinstance(self.prompt, tuple):
            if not self.prompt:
                raise InvalidRequestError("prompt token ids must be non-empty")
            if any(not isinstance(t, int) or t < 0 for t in self.prompt):
                raise InvalidRequestError("prompt token ids must be non-negative ints")
        elif not isinstance(self.prompt, str) or not self.prompt:
            raise InvalidRequestError("prompt must be a non-empty str or a tuple of token ids")


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

    request_id: RequestId
    prompt_token_count: int
    tokens: tuple[int, ...]
    text: str
    logprobs: tuple[TokenLogprobs, ...]
    finish_reason: FinishReason
    top_logprobs: int = MAX_TOP_LOGPROBS


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The verdict of a teacher-forced re-run.

    `distance` is the mean absolute difference between claimed and recomputed log-probabilities
    (chosen tokens and their top-k alternatives); `max_distance` the largest single one.
    """

    passed: bool
    distance: float
    max_distance: float
    compared: int
    tolerance: float
    reason: str = ""
    first_bad_position: int | None = None
