"""Engine configuration: a typed frozen dataclass with defaults."""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import InvalidRequestError

__all__ = ["EngineConfig"]

_DEVICES_HELP = "'auto', 'cpu', 'cuda' or 'cuda:N'"
_DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Settings for loading a model and serving it.

    device: "auto" picks CUDA when present (the GPU with the most free memory that fits the
        model), otherwise the CPU; "cuda" is the same restricted to GPUs; "cuda:N" a chosen GPU.
    dtype: None is the policy (bf16 on GPUs that support it, else fp16; fp32 on the CPU).
    max_batch_size / max_wait_s: dynamic batching; a batch starts when it is full or when the
        first request in it has waited max_wait_s.
    max_queue: bound on requests waiting for the worker; beyond it `EngineOverloadedError`.
    request_timeout_s: default per-request timeout (generation stops at a token boundary).
    validation_tolerance: the largest mean absolute logprob distance that still validates.
    token_tolerance: slack for the per-token checks (greedy argmax margin in nats, and the
        sampling CDF interval), absorbing numeric noise between machines.
    memory_headroom: fraction of a device's free memory the model may use.
    embedding_tolerance: the largest 1 - cosine similarity between a claimed and a recomputed
        embedding that still validates.
    embedding_norm_tolerance: the largest relative difference of their norms that validates.
    """

    device: str = "auto"
    dtype: str | None = None
    max_batch_size: int = 16
    max_wait_s: float = 0.005
    max_queue: int = 256
    request_timeout_s: float = 120.0
    validation_tolerance: float = 0.05
    token_tolerance: float = 0.05
    memory_headroom: float = 0.9
    embedding_tolerance: float = 1e-3
    embedding_norm_tolerance: float = 0.01

    def __post_init__(self) -> None:
        dev = self.device
        if not (
            dev in ("auto", "cpu", "cuda")
            or (dev.startswith("cuda:") and dev.removeprefix("cuda:").isdigit())
        ):
            raise InvalidRequestError(f"device must be {_DEVICES_HELP}, got {dev!r}")
        if self.dtype is not None and self.dtype not in _DTYPES:
            raise InvalidRequestError(f"dtype must be one of {_DTYPES} or None, got {self.dtype!r}")
        if self.max_batch_size < 1:
            raise InvalidRequestError("max_batch_size must be >= 1")
        if self.max_wait_s < 0:
            raise InvalidRequestError("max_wait_s must be >= 0")
        if self.max_queue < 1:
            raise InvalidRequestError("max_queue must be >= 1")
        if self.request_timeout_s <= 0:
            raise InvalidRequestError("request_timeout_s must be > 0")
        if (
            min(
                self.validation_tolerance,
                self.token_tolerance,
                self.embedding_tolerance,
                self.embedding_norm_tolerance,
            )
            < 0
        ):
            raise InvalidRequestError("tolerances must be >= 0")
        if not (0 < self.memory_headroom <= 1):
            raise InvalidRequestError("memory_headroom must be in (0, 1]")
