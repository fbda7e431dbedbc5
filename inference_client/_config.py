"""Typed settings: defaults, then a TOML file, then `INFER_*` environment variables."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ._errors import ConfigError

__all__ = ["InferenceClientConfig"]

ENV_PREFIX = "INFER_"


@dataclass(frozen=True, slots=True)
class InferenceClientConfig:
    #: The node's WebSocket URL
    chain_url: str = "ws://127.0.0.1:9944"
    #: Kubo's RPC API, for prompts over `MaxInlineInput` and outputs published by CID
    #: ("" disables IPFS)
    ipfs_api_url: str = "http://127.0.0.1:5001"
    #: Blocks the executor gets to submit its result (`MinDeadline`..`MaxDeadline`)
    deadline_blocks: int = 20
    #: Follow finalized blocks (True) or best blocks while waiting for completion
    follow_finalized: bool = True
    #: Longest wall-clock wait for a terminal event, in seconds
    wait_timeout_s: float = 600.0
    #: Longest wait for a node that accepts the connection but does not answer, in seconds
    #: (a refused connection fails within about a second)
    connect_timeout_s: float = 15.0
    #: Timeout of one HTTP request to the executor, in seconds
    http_timeout_s: float = 10.0
    #: Attempts at the executor's endpoint before falling back to IPFS or giving up
    fetch_attempts: int = 4
    fetch_backoff_s: float = 0.2
    #: Largest output accepted, in bytes
    max_output_bytes: int = 16 * 1024 * 1024

    def __post_init__(self) -> None:
        if not self.chain_url.startswith(("ws://", "wss://")):
            raise ConfigError(f"chain_url must be ws:// or wss://, not {self.chain_url!r}")
        if self.deadline_blocks < 1:
            raise ConfigError("deadline_blocks must be >= 1")
        if self.wait_timeout_s <= 0 or self.http_timeout_s <= 0 or self.connect_timeout_s <= 0:
            raise ConfigError("timeouts must be positive")
        if self.fetch_attempts < 1 or self.max_output_bytes < 1 or self.fetch_backoff_s < 0:
            raise ConfigError("fetch_attempts and max_output_bytes must be >= 1")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> InferenceClientConfig:
        known = {f.name: f for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise ConfigError(f"unknown inference client settings: {', '.join(sorted(unknown))}")
        return cls(**{k: _convert(known[k].type, k, v) for k, v in values.items()})

    @classmethod
    def load(
        cls, path: str | Path | None = None, environ: Mapping[str, str] | None = None
    ) -> InferenceClientConfig:
        """Defaults, then the TOML file (`[inference_client]` table or top level), then env."""
        env = os.environ if environ is None else environ
        path = path or env.get(f"{ENV_PREFIX}CONFIG")
        values: dict[str, Any] = {}
        if path:
            try:
                with Path(path).open("rb") as handle:
                    data = tomllib.load(handle)
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise ConfigError(f"cannot read config {path}: {exc}") from exc
            section = data.get("inference_client", data)
            if not isinstance(section, dict):
                raise ConfigError(f"{path}: [inference_client] must be a table")
            values.update(section)
        config = cls.from_mapping(values)
        return config.with_env(env)

    def with_env(self, environ: Mapping[str, str] | None = None) -> InferenceClientConfig:
        """Override settings from `INFER_<NAME>` variables (`INFER_CHAIN_URL=ws://...`)."""
        env = os.environ if environ is None else environ
        changes = {
            f.name: _convert(f.type, f.name, env[f"{ENV_PREFIX}{f.name.upper()}"])
            for f in fields(self)
            if f"{ENV_PREFIX}{f.name.upper()}" in env
        }
        return dataclasses.replace(self, **changes) if changes else self


def _convert(kind: Any, name: str, value: Any) -> Any:
    kind = str(kind)
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("1", "true", "yes", "on"):
                return True
            if str(value).lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if kind == "float":
            return float(value)
        if not isinstance(value, str):
            raise ValueError(value)
        return value
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name}: expected {kind}, got {value!r}") from exc
