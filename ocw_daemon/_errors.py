"""One exception root for the daemon; foreign errors are translated with `raise ... from`.

DaemonError
├── ConfigError      a bad setting in the TOML or `OCW_*` (also settings.SettingsError)
├── KeystoreError    the account or encryption key could not be loaded (never echoes it)
├── StoreError       the local job database failed
├── ChainError       the chain could not be read, or an extrinsic not submitted
├── AuthError        an output request's signature is missing, stale, forged or not entitled
└── JobFailed        a job cannot be completed (`retryable`)
"""

from __future__ import annotations

from settings import SettingsError

__all__ = [
    "AuthError",
    "ChainError",
    "ConfigError",
    "DaemonError",
    "JobFailed",
    "KeystoreError",
    "StoreError",
]


class DaemonError(Exception):
    """Root of every error the daemon raises."""


class ConfigError(DaemonError, SettingsError):
    """The configuration file or environment is invalid."""


class KeystoreError(DaemonError):
    """The account key could not be loaded (missing, unreadable, too open, malformed)."""


class StoreError(DaemonError):
    """The local job database failed."""


class ChainError(DaemonError):
    """The chain could not be read or an extrinsic could not be submitted."""


class AuthError(DaemonError):
    """An output request's signature headers are missing, stale, forged or not entitled."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class JobFailed(DaemonError):
    """A job cannot be completed; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
