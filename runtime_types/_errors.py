"""The package's exceptions: one root, typed subclasses."""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "ChainClientError",
    "CodecError",
    "ConnectionLost",
    "DispatchError",
    "ExtrinsicRejected",
    "IncompatibleMetadata",
    "MetadataDecodeError",
    "ModuleError",
    "RuntimeTypesError",
]


class RuntimeTypesError(Exception):
    """Root of every error raised by runtime_types."""


class MetadataDecodeError(RuntimeTypesError):
    """The runtime metadata could not be decoded."""


class CodecError(RuntimeTypesError):
    """A value could not be SCALE-encoded or decoded against its type."""


class ChainClientError(RuntimeTypesError):
    """Root of the chain client's errors."""


class ConnectionLost(ChainClientError):
    """The node could not be reached (after the configured retries)."""


class IncompatibleMetadata(ChainClientError):
    """The node's metadata differs from the bindings for the pallets in use."""

    def __init__(self, message: str, pallets: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.pallets = pallets


class ExtrinsicRejected(ChainClientError):
    """The node refused the extrinsic (bad nonce, signature, funds for fees...)."""

    def __init__(self, message: str, code: int | None = None, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class DispatchError(ChainClientError):
    """The extrinsic was included but its dispatch failed (not a pallet error)."""

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.detail = detail


class ModuleError(DispatchError):
    """A pallet's error; generated bindings subclass it once per error variant."""

    pallet: ClassVar[str] = ""
    pallet_index: ClassVar[int] = -1
    error: ClassVar[str] = ""
    error_index: ClassVar[int] = -1

    def __init__(self, message: str = "", detail: Any = None) -> None:
        super().__init__(message or f"{self.pallet}.{self.error}", detail)
