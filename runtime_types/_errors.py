"""The package's exceptions: one root, typed subclasses.

    RuntimeTypesError
    ├── MetadataDecodeError          the runtime metadata could not be decoded
    ├── CodecError                   a value could not be SCALE-encoded or decoded
    │   └── ExtrinsicDecodeError     bytes that are not an extrinsic of the bindings' runtime
    └── ChainClientError             the chain client's errors
        ├── ConnectionLost           the node could not be reached (after the retries)
        │   └── ChainClientClosed    a client used after close() (also ResourceClosedError)
        ├── IncompatibleMetadata     the node's metadata differs from the bindings
        ├── ExtrinsicRejected        the node refused the extrinsic (nonce, signature, fees...)
        │   └── TransactionRefused   ... for the reason its `refusal` (a `Refusal`) names
        └── DispatchError            included, but its dispatch failed
            └── ModuleError          a pallet's error (generated bindings subclass it per variant)

`KeyLoadError` and `OutputAuthError`, re-exported by `runtime_types`, are `protocol`'s (under
`protocol.ProtocolError`), not part of this tree. The websocket library's and scalecodec's
errors are translated in `_connection.py` and `_client.py` / `_bindings.py`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from lifecycle import ResourceClosedError

from ._refusal import Refusal

__all__ = [
    "ChainClientClosed",
    "ChainClientError",
    "CodecError",
    "ConnectionLost",
    "DispatchError",
    "ExtrinsicDecodeError",
    "ExtrinsicRejected",
    "IncompatibleMetadata",
    "MetadataDecodeError",
    "ModuleError",
    "RuntimeTypesError",
    "TransactionRefused",
    "node_unreachable_message",
    "unreachable_reason",
]


class RuntimeTypesError(Exception):
    """Root of every error raised by runtime_types."""


class MetadataDecodeError(RuntimeTypesError):
    """The runtime metadata could not be decoded."""


class CodecError(RuntimeTypesError):
    """A value could not be SCALE-encoded or decoded against its type."""


class ExtrinsicDecodeError(CodecError):
    """Bytes that are not an extrinsic of the bindings' runtime (`Bindings.decode_extrinsic`)."""


class ChainClientError(RuntimeTypesError):
    """Root of the chain client's errors."""


class ConnectionLost(ChainClientError):
    """The node could not be reached (after the configured retries)."""


class ChainClientClosed(ConnectionLost, ResourceClosedError):
    """A `ChainClient` used or opened after `close()` (also a `lifecycle.ResourceClosedError`)."""


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


class TransactionRefused(ExtrinsicRejected):
    """The node refused the extrinsic for the reason `refusal` names (a `Refusal`: `PAYMENT`,
    `BAD_PROOF`, ... from the node's structured answer)."""

    def __init__(
        self, message: str, refusal: Refusal, code: int | None = None, data: Any = None
    ) -> None:
        super().__init__(message, code, data)
        self.refusal = refusal


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


def unreachable_reason(exc: BaseException) -> str:
    """Why a node could not be reached, for a person: "connection refused", "it accepted the
    connection but did not answer in time", the OS's reason, found along the chain of causes."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, TimeoutError) or type(seen).__name__ == "WebSocketTimeoutException":
            return "it accepted the connection but did not answer in time"
        if isinstance(seen, OSError) and seen.strerror:
            return str(seen.strerror).lower()
        seen = seen.__cause__ or seen.__context__
    return str(exc)


def node_unreachable_message(url: str, reason: str, *, url_env: str, config_env: str) -> str:
    """The message of a package's NodeUnreachable: what failed, which setting holds the URL
    (`--url`, `url_env`, chain_url in the file named by `--config`/`config_env`), and how to
    start a local chain."""
    return (
        f"cannot reach the node at {url} ({reason}).\n"
        f"  The URL is the chain_url setting: --url, ${url_env}, or chain_url in the\n"
        f"  config file (--config / ${config_env}).\n"
        "  For a local development chain run `devnode --dev` (ws://127.0.0.1:9944)."
    )
