"""Typed identifiers and the frozen records that cross the public API.

The output records (`GenerationOutput`, `EmbeddingOutput`, `TokenLogprobs`, `FinishReason`)
are `protocol`'s, the torch-free layer the client and the daemon share: re-exported here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NewType

from protocol import (
    MAX_TOP_LOGPROBS,
    EmbeddingOutput,
    FinishReason,
    GenerationOutput,
    OutputRecord,
    RecordId,
    TokenLogprobs,
)

from ._errors import InvalidRequestError

__all__ = [
    "MAX_TOP_LOGPROBS",
    "ChatMessage",
    "ChatPrompt",
    "EmbeddingOutput",
    "EmbeddingRequest",
    "FinishReason",
    "GenerationOutput",
    "GenerationRequest",
    "ModelId",
    "ModelTask",
    "OutputRecord",
    "RequestId",
    "SamplingParams",
    "TokenId",
    "TokenLogprobs",
    "ValidationReport",
]

#: The request id a record is bound to (the output records are `protocol`'s)
RequestId = RecordId
ModelId = NewType("ModelId", str)
TokenId = NewType("TokenId", int)


class ModelTask(enum.StrEnum):
    """What a model does; the value is model_registry's spelling of the on-chain `ModelTask`."""

    TEXT_GENERATION = "text-generation"
    EMBEDDING = "embedding"


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn of a conversation: a role ("system", "user", "assistant", ...) and its text."""

    role: str
    content: str

    def __post_init__(self) -> None:
        if not isinstance(self.role, str) or not self.role:
            raise InvalidRequestError("a chat message needs a non-empty role")
        if not isinstance(self.content, str):
            raise InvalidRequestError("a chat message's content must be a str")


@dataclass(frozen=True, slots=True)
class ChatPrompt:
    """A conversation, rendered with the model's chat template (with the generation prompt)."""

    messages: tuple[ChatMessage, ...]

    def __post_init__(self) -> None:
        if not self.messages or any(not isinstance(m, ChatMessage) for m in self.messages):
            raise InvalidRequestError("a chat prompt needs at least one ChatMessage")

    @classmethod
    def of(cls, *turns: tuple[str, str]) -> ChatPrompt:
        """`ChatPrompt.of(("user", "Hi"))`."""
        return cls(tuple(ChatMessage(role, content) for role, content in turns))


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
    """One request: its id (which also seeds sampling), a prompt, params.

    The prompt is text (tokenised with the model's special tokens, as transformers does), a
    `ChatPrompt` (rendered with the model's chat template) or token ids (used as given).
    """

    request_id: RequestId
    prompt: str | tuple[int, ...] | ChatPrompt
    params: SamplingParams = field(default_factory=SamplingParams)

    def __post_init__(self) -> None:
        if not self.request_id:
            raise InvalidRequestError("request_id must be non-empty")
        if isinstance(self.prompt, tuple):
            if not self.prompt:
                raise InvalidRequestError("prompt token ids must be non-empty")
            if any(not isinstance(t, int) or t < 0 for t in self.prompt):
                raise InvalidRequestError("prompt token ids must be non-negative ints")
        elif isinstance(self.prompt, ChatPrompt):
            pass
        elif not isinstance(self.prompt, str) or not self.prompt:
            raise InvalidRequestError(
                "prompt must be a non-empty str, a ChatPrompt or a tuple of token ids"
            )


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    """Embed one input: text (tokenised with the model's special tokens and truncated to its
    `max_seq_length`, as sentence-transformers does) or token ids (used as given)."""

    request_id: RequestId
    input: str | tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.request_id:
            raise InvalidRequestError("request_id must be non-empty")
        if isinstance(self.input, tuple):
            if not self.input or any(not isinstance(t, int) or t < 0 for t in self.input):
                raise InvalidRequestError("input token ids must be non-empty non-negative ints")
        elif not isinstance(self.input, str) or not self.input:
            raise InvalidRequestError("input must be a non-empty str or a tuple of token ids")


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """The verdict of a re-run.

    Text: `distance` is the mean absolute difference between claimed and recomputed
    log-probabilities (chosen tokens and their top-k alternatives); `max_distance` the largest
    single one. Embeddings: `distance` is 1 - cosine similarity of the claimed and recomputed
    vectors, `max_distance` the relative difference of their norms, `compared` the dimension.
    """

    passed: bool
    distance: float
    max_distance: float
    compared: int
    tolerance: float
    reason: str = ""
    first_bad_position: int | None = None

    @classmethod
    def rejected(
        cls, reason: str, tolerance: float, first_bad_position: int | None = None
    ) -> ValidationReport:
        """A failed check that compared nothing further: infinite distances and the reason."""
        return cls(
            passed=False,
            distance=float("inf"),
            max_distance=float("inf"),
            compared=0,
            tolerance=tolerance,
            reason=reason,
            first_bad_position=first_bad_position,
        )
