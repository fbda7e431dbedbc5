"""Typed settings: defaults, then a TOML file, then `MODEL_REGISTRY_*` environment variables,
then flags (the one loader, `settings`: docs/settings.md)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import settings
from runtime_types import WaitFor

from ._errors import RegistryConfigError

__all__ = ["RegistryConfig"]

ENV_PREFIX = "MODEL_REGISTRY_"


@dataclass(frozen=True, slots=True)
class RegistryConfig(
    settings.Settings, env_prefix=ENV_PREFIX, table="model_registry", error=RegistryConfigError
):
    """`RegistryConfig.load(path=None, environ=None, flags=None)`: defaults < the TOML file
    (`path`, else `$MODEL_REGISTRY_CONFIG`; `[model_registry]` or top level) <
    `MODEL_REGISTRY_<NAME>` < `flags` (docs/settings.md)."""

    #: The node's WebSocket URL
    chain_url: str = "ws://127.0.0.1:9944"
    #: Kubo's RPC API, where model directories are added (and pinned)
    ipfs_api_url: str = "http://127.0.0.1:5001"
    #: Wait for inclusion ("in_block") or finality ("finalized") of each extrinsic
    wait_for: WaitFor = "in_block"
    #: Longest wait for an extrinsic, in seconds
    submit_timeout_s: float = 120.0
    #: Give up on an unreachable node after this long, in seconds
    connect_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.chain_url.startswith(("ws://", "wss://")):
            raise RegistryConfigError(f"chain_url must be ws:// or wss://: {self.chain_url!r}")
        if not self.ipfs_api_url.startswith(("http://", "https://")):
            raise RegistryConfigError(f"ipfs_api_url must be http(s)://: {self.ipfs_api_url!r}")
        if self.wait_for not in ("in_block", "finalized"):
            raise RegistryConfigError("wait_for must be 'in_block' or 'finalized'")
        if self.submit_timeout_s <= 0 or self.connect_timeout_s <= 0:
            raise RegistryConfigError("timeouts must be positive")

    def replace(self, **changes: Any) -> RegistryConfig:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})
