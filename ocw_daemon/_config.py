"""Typed, frozen configuration from a TOML file and `OCW_*` environment variables (the one
loader, `settings`: docs/settings.md), and the account key from a keystore file or the
environment (never from the command line, never in the config file)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from substrateinterface import Keypair

import runtime_types
import sealing
import settings

from ._errors import ConfigError, KeystoreError

__all__ = [
    "DaemonConfig",
    "ProviderSettings",
    "load_config",
    "load_encryption_key",
    "load_keypair",
]


@dataclass(frozen=True)
class ProviderSettings:
    """What `ocw-daemon register` announces on-chain (`[provider]` table, `OCW_PROVIDER_*`)."""

    #: Stake in the staking currency (base units)
    stake: int = 100 * 10**12
    #: The URL the HTTP server is reachable at (default: built from http_host/http_port)
    endpoint: str = ""
    #: Model ids (0x hex H256) this provider serves
    models: tuple[str, ...] = ()
    capacity: int = 8


@dataclass(frozen=True)
class DaemonConfig(
    settings.Settings,
    env_prefix="OCW_",
    table="daemon",
    error=ConfigError,
    subtables={"provider": "OCW_PROVIDER_"},
    forbidden={
        key: "the account key never goes in the config file"
        for key in ("OCW_ACCOUNT_SEED", "keypair", "seed", "mnemonic")
    },
):
    """Settings of `ocw-daemon run` (`[daemon]` table, `OCW_<NAME>` environment variables)."""

    node_url: str = "ws://127.0.0.1:9944"
    data_dir: Path = Path("./ocw-data")
    #: JSON keystore file with `seed`, `mnemonic` or `uri` (mode 0600 or stricter)
    keystore: Path | None = None
    #: The provider's X25519 key for sealed payloads (created on first use, mode 0600; default
    #: beside the keystore as `<keystore>.x25519.json`, else `<data_dir>/encryption-key.json`;
    #: `OCW_ENCRYPTION_SECRET` (hex) overrides it)
    encryption_keystore: Path | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    ipfs_api_url: str = "http://127.0.0.1:5001"
    #: May hold a password (redis://:pw@host): never echoed (settings.redacted masks it)
    redis_url: str | None = field(default=None, repr=False, metadata={settings.SECRET: True})
    tier1_capacity: int = 8 * 2**30
    disk_capacity: int = 64 * 2**30
    device: str = "auto"
    #: Jobs waiting for a worker (priority by price)
    queue_size: int = 256
    #: Executor jobs run at once (the engine batches them)
    workers: int = 16
    #: Validations run at once
    validators: int = 8
    #: Add and pin every output to IPFS and put its CID on-chain
    outputs_public: bool = False
    #: Attempts per job for retryable failures (IPFS or cache unavailable)
    job_attempts: int = 3
    retry_backoff_s: float = 0.5
    #: Longest inference per job
    inference_timeout_s: float = 60.0
    #: How long a validator tries the executor's endpoint before `request_output`
    fetch_timeout_s: float = 5.0
    #: SIGTERM: how long in-flight jobs may take to finish before they are abandoned
    grace_period_s: float = 10.0
    #: First block to follow on a fresh database (None: the finalized head)
    start_block: int | None = None
    #: Seconds between preloads of the most demanded models (0: never)
    preload_interval_s: float = 60.0
    poll_interval_s: float = 0.05
    max_input_bytes: int = 1 << 20
    #: Direct path: settle served tickets at least this often (seconds)
    direct_settle_interval_s: float = 2.0
    #: Direct path: settle at once when this many served tickets are waiting
    direct_settle_batch: int = 100
    provider: ProviderSettings = field(default_factory=ProviderSettings)

    def __post_init__(self) -> None:
        for name in ("queue_size", "workers", "validators", "job_attempts"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1")
        if not 0 <= self.http_port < 65536:
            raise ConfigError("http_port must be a TCP port")
        if self.grace_period_s < 0 or self.fetch_timeout_s <= 0 or self.inference_timeout_s <= 0:
            raise ConfigError("timeouts must be positive")
        if not self.node_url.startswith(("ws://", "wss://", "http://", "https://")):
            raise ConfigError(f"node_url must be a ws(s):// or http(s):// URL: {self.node_url!r}")

    @property
    def database(self) -> Path:
        return self.data_dir / "ocw.sqlite3"

    @property
    def encryption_key_path(self) -> Path:
        if self.encryption_keystore is not None:
            return self.encryption_keystore
        if self.keystore is not None:
            return self.keystore.with_name(self.keystore.name + ".x25519.json")
        return self.data_dir / "encryption-key.json"

    @property
    def endpoint(self) -> str:
        return self.provider.endpoint or f"http://{self.http_host}:{self.http_port}"


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> DaemonConfig:
    """Defaults < the TOML file (`path`, else `$OCW_CONFIG`: `[daemon]` and `[provider]`
    tables) < `OCW_<NAME>` and `OCW_PROVIDER_<NAME>` variables (docs/settings.md)."""
    return DaemonConfig.load(path, env)


def load_keypair(config: DaemonConfig, env: Mapping[str, str] | None = None) -> Keypair:
    """The account key: `OCW_ACCOUNT_SEED` / `OCW_ACCOUNT_MNEMONIC`, else the keystore file.

    `runtime_types.load_keypair(config.keystore, "OCW_")`: the keystore (or `OCW_KEY_FILE`) is
    a JSON object with `seed`, `mnemonic` or `uri`, a polkadot.js keystore (password in
    `OCW_KEY_PASSWORD`) or a text secret, and must be a regular file readable by its owner only
    (no group or other bits); `OCW_KEY_URI` is the last resort.
    """
    try:
        return runtime_types.load_keypair(config.keystore, "OCW_", environ=env)
    except runtime_types.KeyLoadError as exc:
        hint = " (set keystore in the config)" if str(exc).startswith("no key") else ""
        raise KeystoreError(f"{exc}{hint}") from None


def load_encryption_key(
    config: DaemonConfig, env: Mapping[str, str] | None = None
) -> sealing.EncryptionKey:
    """The provider's X25519 key (`OCW_ENCRYPTION_SECRET`, else `config.encryption_key_path`,
    created owner-only on first use): what sealed inputs and validator payloads open with."""
    environ = os.environ if env is None else env
    try:
        return sealing.load_or_create_key(
            config.encryption_key_path, environ.get("OCW_ENCRYPTION_SECRET")
        )
    except (sealing.SealingError, OSError) as exc:
        raise KeystoreError(f"encryption key: {exc}") from None
