"""The devnode exception family.

DevnodeError
├── ConfigError           a bad setting (TOML, `DEVNODE_*`, flag; also settings.SettingsError)
├── ScaleDecodeError      bytes that are not the expected SCALE encoding (ValueError)
├── TransactionRejected   refused by the pool, with Substrate's author RPC code and reason
├── DispatchFailure       a call failed during dispatch (`error`: the on-chain DispatchError)
└── RpcError              a JSON-RPC error answer (code, message, data)
"""

from __future__ import annotations

from typing import Any

from settings import SettingsError

__all__ = [
    "ConfigError",
    "DevnodeError",
    "DispatchFailure",
    "RpcError",
    "ScaleDecodeError",
    "TransactionRejected",
]


class DevnodeError(Exception):
    """Root of every error devnode raises."""


class ConfigError(DevnodeError, SettingsError):
    """A setting (TOML, `DEVNODE_*` environment or flag) is unknown or malformed."""


class ScaleDecodeError(DevnodeError, ValueError):
    """Bytes that are not a valid SCALE encoding of the expected type."""


class TransactionRejected(DevnodeError):
    """A transaction refused by the pool, with Substrate's author RPC error code and reason.

    Codes follow Substrate: 1001 bad format, 1010 invalid transaction, 1011 unknown validity,
    1012 temporarily banned, 1013 already imported, 1014 priority too low.
    """

    def __init__(self, code: int, message: str, reason: str) -> None:
        super().__init__(f"{message}: {reason}")
        self.code = code
        self.message = message
        self.reason = reason

    @classmethod
    def bad_format(cls, reason: str) -> TransactionRejected:
        return cls(1001, "Extrinsic has invalid format", reason)

    @classmethod
    def invalid(cls, reason: str) -> TransactionRejected:
        return cls(1010, "Invalid Transaction", reason)

    @classmethod
    def unknown(cls, reason: str) -> TransactionRejected:
        return cls(1011, "Unknown Transaction Validity", reason)

    @classmethod
    def already_imported(cls) -> TransactionRejected:
        return cls(1013, "Transaction Already Imported", "Transaction Already Imported")


class DispatchFailure(DevnodeError):
    """A call failed during dispatch; `error` is the `DispatchError` value it records on-chain."""

    def __init__(self, error: tuple[str, Any], description: str = "") -> None:
        super().__init__(description or repr(error))
        self.error = error


class RpcError(DevnodeError):
    """A JSON-RPC error answer: Substrate's code, message and optional data."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            body["data"] = self.data
        return body
