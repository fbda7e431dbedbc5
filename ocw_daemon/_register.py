"""`ocw-daemon register`: announce this account as a provider (stake, endpoint, models)."""

from __future__ import annotations

from typing import Any

from substrateinterface import Keypair

from runtime_types import (
    Bindings,
    Call,
    ChainClient,
    ChainClientError,
    ClientConfig,
    ConnectionLost,
    Receipt,
)
from runtime_types.generated.devnode import BINDINGS, providers, types

from ._config import DaemonConfig, load_encryption_key
from ._errors import ChainError, ConfigError

__all__ = ["register_provider"]


def _model_ids(models: tuple[str, ...]) -> list[types.H256]:
    out = []
    for text in models:
        try:
            raw = bytes.fromhex(text.removeprefix("0x"))
        except ValueError as exc:
            raise ConfigError(f"model id {text!r} is not hex") from exc
        if len(raw) != 32:
            raise ConfigError(f"model id {text!r} is not 32 bytes")
        out.append(types.H256(raw))
    return out


async def register_provider(
    config: DaemonConfig, keypair: Keypair, *, bindings: Bindings = BINDINGS
) -> Receipt:
    """Submit `Providers.register_provider` (or `update_provider` if already registered)."""
    settings = config.provider
    models = _model_ids(settings.models)
    if not models:
        raise ConfigError("provider.models must name at least one model id")
    endpoint = config.endpoint.encode()
    public_key = load_encryption_key(config).public  # sealed payloads are sealed to it
    try:
        # an interactive command: a wrong URL fails within seconds (the daemon itself retries)
        chain_config = ClientConfig(config.node_url, connect_timeout=1.0, socket_timeout=15.0)
        async with ChainClient(bindings, chain_config) as client:
            existing = await client.query(
                providers.storage.providers(types.AccountId32(keypair.public_key))
            )
            call: Call[Any]
            if existing is None:
                call = providers.calls.register_provider(
                    settings.stake, endpoint, models, settings.capacity, public_key
                )
            else:
                call = providers.calls.update_provider(
                    endpoint, models, settings.capacity, public_key
                )
            receipt = await client.submit(call, keypair)
    except ConnectionLost as exc:
        raise ChainError(
            f"registration failed: cannot reach the node at {config.node_url} ({exc}); the URL "
            "is [daemon] node_url in the config or $OCW_NODE_URL (a local chain: devnode --dev)"
        ) from exc
    except ChainClientError as exc:
        raise ChainError(f"registration failed: {exc}") from exc
    if receipt.error is not None:
        raise ChainError(f"registration failed: {receipt.error}") from receipt.error
    return receipt
