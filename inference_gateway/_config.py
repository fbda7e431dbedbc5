"""`infer gateway`'s settings, through the one loader (docs/settings.md): defaults < TOML
(`--config` or `$INFER_GATEWAY_CONFIG`, table `[gateway]`) < `INFER_GATEWAY_<NAME>` (the
node URL also from the client's `INFER_CHAIN_URL`) < flags."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import settings

from ._errors import GatewayConfigError

__all__ = ["GatewaySettings"]


@dataclass(frozen=True)
class GatewaySettings(
    settings.Settings, env_prefix="INFER_GATEWAY_", table="gateway", error=GatewayConfigError
):
    """`GatewaySettings.load(path=None, environ=None, flags=None)` (docs/settings.md)."""

    #: Address and port the OpenAI-compatible API listens on (port 0: any)
    host: str = "127.0.0.1"
    port: int = 8000
    #: The node's WebSocket URL
    chain_url: str = field(
        default="ws://127.0.0.1:9944", metadata={settings.ENV: "INFER_CHAIN_URL"}
    )
    #: File keeping the ticket chains across restarts (none: in memory only)
    state: Path | None = None
    #: Blocks a ticket lives
    ticket_life: int = 60
