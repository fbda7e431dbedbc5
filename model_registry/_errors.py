"""The package's exceptions: one root, typed subclasses (each CLI exit code is one class).

    RegistryError               exit 1
    ├── RegistryConfigError     exit 2: a bad setting, argument or key (also settings.SettingsError)
    ├── RegistryClientClosed    exit 1: used after close() (also lifecycle.ResourceClosedError)
    ├── BadModelDir             exit 2: not a loadable model directory
    │   └── HostileModel        exit 3: refused on safety grounds (`reason`)
    ├── IpfsUnavailable         exit 4: Kubo unreachable, or it refused the upload
    └── ChainError              exit 5: node unreachable, extrinsic refused, dispatch failed
        └── NodeUnreachable     nothing answers at the node's URL; names the setting

`ChainFailure` is the old name of `ChainError`. Foreign errors are translated in
`_registry.py` (the chain client's and ipfs_store's, with `raise ... from`) and `_check.py`
(inference_engine's refusals).
"""

from __future__ import annotations

from lifecycle import ResourceClosedError
from runtime_types import node_unreachable_message
from settings import SettingsError

__all__ = [
    "BadModelDir",
    "ChainError",
    "ChainFailure",
    "HostileModel",
    "IpfsUnavailable",
    "NodeUnreachable",
    "RegistryClientClosed",
    "RegistryConfigError",
    "RegistryError",
]


class RegistryError(Exception):
    """Root of every error raised by model_registry."""

    exit_code = 1


class RegistryConfigError(RegistryError, SettingsError):
    """A setting, argument or key is missing or invalid."""

    exit_code = 2


class RegistryClientClosed(RegistryError, ResourceClosedError):
    """The client was used (or connected) after ``close()``."""


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


class ChainError(RegistryError):
    """The node was unreachable, refused the extrinsic, or the call failed; `error` is the
    pallet error's name (`DuplicateCid`, `NotOwner`, ...) when there is one."""

    exit_code = 5

    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


class NodeUnreachable(ChainError):
    """Nothing usable answers at the node's URL (refused, or no answer in time); the message
    names the setting that holds the URL and how to start a local chain."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(
            node_unreachable_message(
                url,
                reason,
                url_env="MODEL_REGISTRY_CHAIN_URL",
                config_env="MODEL_REGISTRY_CONFIG",
            )
        )
        self.url = url
        self.reason = reason


#: The old name of ChainError (inference_client and ocw_daemon call it ChainError too); kept
#: for callers outside this tree
ChainFailure = ChainError


def kubo_hint(url: str) -> str:
    return (
        f"\n  The Kubo URL is the ipfs_api_url setting ({url}): --ipfs-api,\n"
        "  $MODEL_REGISTRY_IPFS_API_URL, or ipfs_api_url in the config file.\n"
        "  Start a local Kubo with `ipfs daemon` (API on http://127.0.0.1:5001)."
    )
