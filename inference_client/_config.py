"""Typed settings: defaults, then a TOML file, then `INFER_*` environment variables, then
flags (the one loader, `settings`: docs/settings.md)."""

from __future__ import annotations

from dataclasses import dataclass

import settings

from ._errors import ConfigError

__all__ = ["InferenceClientConfig"]

ENV_PREFIX = "INFER_"


@dataclass(frozen=True, slots=True)
class InferenceClientConfig(
    settings.Settings, env_prefix=ENV_PREFIX, table="inference_client", error=ConfigError
):
    """`InferenceClientConfig.load(path=None, environ=None, flags=None)`: defaults < the TOML
    file (`path`, else `$INFER_CONFIG`; `[inference_client]` or top level) < `INFER_<NAME>` <
    `flags` (docs/settings.md)."""

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
