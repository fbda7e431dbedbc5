"""devnode's configuration: a typed value with defaults, loaded by the one settings loader
(defaults < TOML file < `DEVNODE_*` environment < flags: docs/settings.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import settings

from ._errors import ConfigError

__all__ = ["DevNodeConfig"]


def _block_time(value: Any) -> float | None:
    """Seconds between blocks; "instant", 0 or empty: a block as soon as transactions arrive."""
    if value in (None, "", "instant", 0, "0"):
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value)


@dataclass(frozen=True)
class DevNodeConfig(settings.Settings, env_prefix="DEVNODE_", table="devnode", error=ConfigError):
    """`DevNodeConfig.load(path=None, environ=None, flags=None)`: defaults < the TOML file
    (`path`, else `$DEVNODE_CONFIG`; `[devnode]` or top level) < `DEVNODE_<NAME>` < `flags`."""

    host: str = "127.0.0.1"
    #: 0 picks a free port (tests); 9944 is Substrate's default.
    port: int = 9944
    #: Where the chain is persisted; None keeps it in memory (`--dev`).
    base_path: Path | None = None
    #: Seconds between blocks; None seals a block as soon as transactions are ready.
    block_time: float | None = field(default=None, metadata={settings.PARSE: _block_time})
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
