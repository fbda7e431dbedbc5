"""The compute provider's daemon: follows the chain, runs and validates inference jobs.

`Daemon(config, keypair)` is the whole daemon (`async with`); `load_config` and `load_keypair`
read its settings and key; `protocol` holds the output-fetch authentication shared with the
dApp client. See docs/ocw_daemon.md.
"""

from ._config import (
    DaemonConfig,
    ProviderSettings,
    load_config,
    load_encryption_key,
    load_keypair,
)
from ._daemon import Daemon, JobTiming
from ._errors import (
    AuthError,
    ChainError,
    ConfigError,
    DaemonError,
    JobFailed,
    KeystoreError,
    StoreError,
)
from ._register import register_provider
from ._store import JobStore
from ._types import AccountId, ChainRequestId, ExecJob, JobState, ValidationJob, ValidationState
from .protocol import output_request_message, sign_output_request, verify_output_request

__all__ = [
    "AccountId",
    "AuthError",
    "ChainError",
    "ChainRequestId",
    "ConfigError",
    "Daemon",
    "DaemonConfig",
    "DaemonError",
    "ExecJob",
    "JobFailed",
    "JobState",
    "JobStore",
    "JobTiming",
    "KeystoreError",
    "ProviderSettings",
    "StoreError",
    "ValidationJob",
    "ValidationState",
    "load_config",
    "load_encryption_key",
    "load_keypair",
    "output_request_message",
    "register_provider",
    "sign_output_request",
    "verify_output_request",
]
