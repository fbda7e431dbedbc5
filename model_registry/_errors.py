"""The package's exceptions: one root, typed subclasses (each CLI exit code is one class)."""

from __future__ import annotations

__all__ = [
    "BadModelDir",
    "ChainFailure",
    "HostileModel",
    "IpfsUnavailable",
    "RegistryConfigError",
    "RegistryError",
]


class RegistryError(Exception):
    """Root of every error raised by model_registry."""

    exit_code = 1


class RegistryConfigError(RegistryError, ValueError):
    """A setting, argument or key is missing or invalid."""

    exit_code = 2


class BadModelDir(RegistryError):
    """The directory is missing or is not a loadable model (no config, no safetensors...)."""

    exit_code = 2


class HostileModel(BadModelDir):
    """inference_engine refused the directory on safety grounds; `reason` says why
    ("pickle weights refused", "remote code refused", "unknown architecture refused")."""

    exit_code = 3

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class IpfsUnavailable(RegistryError):
    """Kubo could not be reached, or refused the upload."""

    exit_code = 4


class ChainFailure(RegistryError):
    """The node was unreachable, refused the extrinsic, or the call failed; `error` is the
    pallet error's name (`DuplicateCid`, `NotOwner`, ...) when there is one."""

    exit_code = 5

    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error
