"""devnode's configuration: a typed value with defaults, loadable from TOML and the environment."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["DevNodeConfig"]


@dataclass(frozen=True)
class DevNodeConfig:
    host: str = "127.0.0.1"
    #: 0 picks a free port (tests); 9944 is Substrate's default.
    port: int = 9944
    #: Where the chain is persisted; None keeps it in memory (`--dev`).
    base_path: Path | None = None
    #: Seconds between blocks; None seals a block as soon as transactions are ready.
    block_time: float | None = None
    #: How many blocks finality trails the best block (0: instant finality).
    finality_lag: int = 0
    chain_name: str = "Development"
    token_symbol: str = "UNIT"
    token_decimals: int = 12
    ss58_format: int = 42
    #: Largest JSON-RPC request or WebSocket frame accepted, in bytes.
    max_request_bytes: int = 10 * 1024 * 1024
    max_connections: int = 256
    max_subscriptions_per_connection: int = 1024
    #: Notifications buffered per connection before a slow client is disconnected.
    max_pending_notifications: int = 4096
    #: The new JSON-RPC interface's limits (the spec's minimums are 2 follows, 16 operations
    #: and 4 broadcasts); past them: error -32800, `limitReached`, a `stop` event, `null`.
    chainhead_max_follows_per_connection: int = 4
    chainhead_max_operations: int = 16
    chainhead_max_pinned_blocks: int = 512
    chainhead_storage_page_items: int = 256
    max_broadcasts_per_connection: int = 16
    pool_max_transactions: int = 16_384
    max_extrinsics_per_block: int = 4_096
    #: Dev accounts endowed at genesis, each with this much of the native token.
    endowment: int = 1 << 60

    @classmethod
    def from_toml(cls, path: Path) -> DevNodeConfig:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        section = data.get("devnode", data)
        return cls.from_mapping(section)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> DevNodeConfig:
        known = {f.name: f for f in fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise ValueError(f"unknown devnode settings: {', '.join(sorted(unknown))}")
        converted: dict[str, Any] = {}
        for name, value in values.items():
            converted[name] = _convert(name, value)
        return cls(**converted)

    def with_env(self, environ: dict[str, str] | None = None) -> DevNodeConfig:
        """Override settings from `DEVNODE_<NAME>` variables (for example `DEVNODE_PORT=9955`)."""
        env = os.environ if environ is None else environ
        overrides = {
            f.name: _convert(f.name, env[f"DEVNODE_{f.name.upper()}"])
            for f in fields(self)
            if f"DEVNODE_{f.name.upper()}" in env
        }
        return replace(self, **overrides)


_INTS = {
    "port",
    "finality_lag",
    "token_decimals",
    "ss58_format",
    "max_request_bytes",
    "max_connections",
    "max_subscriptions_per_connection",
    "max_pending_notifications",
    "chainhead_max_follows_per_connection",
    "chainhead_max_operations",
    "chainhead_max_pinned_blocks",
    "chainhead_storage_page_items",
    "max_broadcasts_per_connection",
    "pool_max_transactions",
    "max_extrinsics_per_block",
    "endowment",
}


def _convert(name: str, value: Any) -> Any:
    if name in _INTS:
        return int(value)
    if name == "block_time":
        return None if value in (None, "", "instant", 0, "0") else float(value)
    if name == "base_path":
        return None if value in (None, "") else Path(value)
    return str(value)
