"""Typed identifiers and the frozen records of the daemon."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NewType

__all__ = ["AccountId", "ChainRequestId", "ExecJob", "JobState", "ValidationJob", "ValidationState"]

#: The chain's request id (`Inference.Requests` key, u64)
ChainRequestId = NewType("ChainRequestId", int)
#: A 32-byte account id
AccountId = NewType("AccountId", bytes)


class JobState(enum.StrEnum):
    """An executor job. `queued` -> `submitting` -> `submitted` -> a chain outcome."""

    QUEUED = "queued"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    FAILED = "failed"  # locally given up: the request expires on-chain with a refund
    COMPLETED = "completed"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def terminal(self) -> bool:
        return self in (JobState.COMPLETED, JobState.EXPIRED, JobState.REJECTED)


class ValidationState(enum.StrEnum):
    """A validation assigned to this daemon."""

    PENDING = "pending"
    OUTPUT_REQUESTED = "output_requested"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    FAILED = "failed"
    DONE = "done"

    @property
    def terminal(self) -> bool:
        return self in (ValidationState.SUBMITTED, ValidationState.FAILED, ValidationState.DONE)


@dataclass(frozen=True, slots=True)
class ExecJob:
    """An `InferenceRequested` assigned to this daemon, as recorded locally."""

    request_id: ChainRequestId
    state: JobState
    block: int
    extrinsic_index: int | None
    deadline: int
    requester: AccountId
    price: int
    model_cid: str
    max_tokens: int
    input_inline: bytes | None
    input_cid: str | None
    output: bytes | None = None
    output_hash: bytes | None = None
    output_cid: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ValidationJob:
    request_id: ChainRequestId
    state: ValidationState
    deadline: int
    verdict: bool | None = None
    error: str | None = None
