"""Typed settings: defaults, then a TOML file, then `MODEL_REGISTRY_*` environment variables."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from runtime_types import WaitFor

from ._errors import RegistryConfigError

__all__ = ["RegistryConfig"]

ENV_PREFIX = "MODEL_REGISTRY_"


@dataclass(frozen=True, slots=True)
class RegistryConfig:
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

    @classmethod
    def load(
        cls, path: str | Path | None = None, environ: Mapping[str, str] | None = None
    ) -> RegistryConfig:
        """Defaults, then the TOML file (`[model_registry]` table or top level), then env."""
        env = os.environ if environ is None else environ
        path = path or env.get(f"{ENV_PREFIX}CONFIG")
        values: dict[str, Any] = {}
        if path:
            try:
                with Path(path).open("rb") as handle:
                    data = tomllib.load(handle)
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise RegistryConfigError(f"cannot read config {path}: {exc}") from exc
            section = data.get("model_registry", data)
            if not isinstance(section, dict):
                raise RegistryConfigError(f"{path}: [model_registry] must be a table")
            values.update(section)
        known = {f.name: f for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise RegistryConfigError(
                f"unknown model_registry settings: {', '.join(sorted(unknown))}"
            )
        for f in fields(cls):
            name = f"{ENV_PREFIX}{f.name.upper()}"
            if name in env:
                values[f.name] = env[name]
        return cls(**{k: _convert(str(known[k].type), k, v) for k, v in values.items()})

    def replace(self, **changes: Any) -> RegistryConfig:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def _convert(kind: str, name: str, value: Any) -> Any:
    try:
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if not isinstance(value, str):
            raise ValueError(value)
        return value
    except (TypeError, ValueError) as exc:
        raise RegistryConfigError(f"setting {name}: expected {kind}, got {value!r}") from exc
