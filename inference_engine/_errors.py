"""The exception hierarchy: one root, typed subclasses, each naming its reason.

    InferenceError
    ├── ModelLoadError                       a model directory could not be loaded
    │   ├── UnsafeModelError                 refused on safety grounds (`reason`)
    │   │   ├── PickleWeightsRefusedError    a pickle-based weight file
    │   │   ├── RemoteCodeRefusedError       a config asking for remote code
    │   │   ├── UnknownArchitectureRefusedError  an architecture not on the allow-list
    │   │   └── ChatTemplateRefusedError     a chat template the sandbox forbids
    │   └── InsufficientMemoryError          no device has room for the model
    ├── NoTokenizerError                     text for a model without a tokenizer
    ├── InvalidRequestError                  parameters out of range or not for this model
    │   ├── ChatTemplateError                a chat prompt could not be rendered
    │   └── WrongTaskError                   a text request for an embedding model, or back
    ├── OutputDecodeError                    bytes that are not a canonical output record
    ├── EngineClosedError                    the engine is closed and accepts no work
    ├── EngineOverloadedError                the bounded request queue is full
    ├── GenerationTimeoutError               stopped at a token boundary: past its timeout
    └── GenerationCancelledError             stopped at a token boundary: cancelled

(cache's loader failure is `cache.CacheLoadError`, which chains this package's
`ModelLoadError`.) transformers', safetensors' and tokenizers' errors are translated in
`_loader.py` and `_tokenizer.py`; protocol's record errors in `_encoding.py`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ChatTemplateError",
    "ChatTemplateRefusedError",
    "EngineClosedError",
    "EngineOverloadedError",
    "GenerationCancelledError",
    "GenerationTimeoutError",
    "InferenceError",
    "InsufficientMemoryError",
    "InvalidRequestError",
    "ModelLoadError",
    "NoTokenizerError",
    "OutputDecodeError",
    "PickleWeightsRefusedError",
    "RemoteCodeRefusedError",
    "UnknownArchitectureRefusedError",
    "UnsafeModelError",
    "WrongTaskError",
]


class InferenceError(Exception):
    """Root of every error raised by `inference_engine`."""


class ModelLoadError(InferenceError):
    """A model directory could not be loaded (missing or malformed files, foreign library error)."""


class UnsafeModelError(ModelLoadError):
    """A model directory was refused on safety grounds; `reason` names why."""

    reason: str = "unsafe"

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(f"{self.reason}: {message}")
        self.path = path


class PickleWeightsRefusedError(UnsafeModelError):
    """The directory holds a pickle-based file (.bin, .pt, .pth, .pkl, ...); it was not opened."""

    reason = "pickle weights refused"


class RemoteCodeRefusedError(UnsafeModelError):
    """A config asks for remote code (`auto_map`, `trust_remote_code`)."""

    reason = "remote code refused"


class UnknownArchitectureRefusedError(UnsafeModelError):
    """The config names an architecture this engine does not allow."""

    reason = "unknown architecture refused"


class ChatTemplateRefusedError(UnsafeModelError):
    """The model's chat template tried something transformers' sandbox forbids (or ran away)."""

    reason = "chat template refused"


class InsufficientMemoryError(ModelLoadError):
    """No device has room for the model's estimated memory."""


class NoTokenizerError(InferenceError):
    """Text was given to (or asked of) a model that has no tokenizer; give token ids instead."""


class InvalidRequestError(InferenceError):
    """A request or its parameters are out of range or inconsistent with the model."""


class ChatTemplateError(InvalidRequestError):
    """A chat prompt could not be rendered: the model has no template, or the template failed
    on these messages (its own `raise_exception`, a syntax error)."""


class WrongTaskError(InvalidRequestError):
    """A text request for an embedding model, or an embedding request for a text model."""


class OutputDecodeError(InferenceError):
    """Bytes are not a canonical encoding of an output record (see docs/output-format.md)."""


class EngineClosedError(InferenceError):
    """The engine is closed (or closing) and accepts no more work."""


class EngineOverloadedError(InferenceError):
    """The engine's bounded request queue is full."""


class GenerationTimeoutError(InferenceError):
    """A request ran past its timeout; it was stopped at a token boundary."""


class GenerationCancelledError(InferenceError):
    """A request was cancelled; it was stopped at a token boundary."""
