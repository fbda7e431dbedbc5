"""The package's exceptions: one root, typed subclasses.

    InferenceClientError
    ├── ConfigError            a setting is unknown or malformed (also settings.SettingsError)
    ├── KeyLoadError           the account key could not be loaded (never echoes the secret)
    ├── ChainError             the node could not be used, or it refused an extrinsic
    │   ├── ClientClosed       used after close() (also lifecycle.ResourceClosedError)
    │   └── NodeUnreachable    nothing answers at the node's URL; names the setting
    ├── ModelUnavailable       the model is not registered, or deprecated
    ├── InputUnavailable       a prompt too large to inline could not be added to IPFS
    ├── RequestRejected        the chain refused `Inference.request` (`error`: the pallet error)
    ├── RequestFailed          the request ended without a result (`state`: Expired, Rejected...)
    ├── RequestTimeout         no terminal event within the configured wait
    ├── OutputUnavailable      neither the executor nor IPFS delivered the output (`attempts`)
    ├── PlaintextRefused       nothing can be sealed and plaintext was not asked for
    └── OutputTampered         output bytes that do not match the on-chain hash (`source`)

Foreign errors are translated at the boundary with `raise ... from`: the chain client's
(`runtime_types.ChainClientError`) in `_client.py`, protocol's key errors in `_keys.py`,
sealing's and protocol's output errors where the output is fetched and opened (`_client.py`).
"""

from __future__ import annotations

from lifecycle import ResourceClosedError
from runtime_types import node_unreachable_message, unreachable_reason
from settings import SettingsError

__all__ = [
    "ChainError",
    "ClientClosed",
    "ConfigError",
    "InferenceClientError",
    "InputUnavailable",
    "KeyLoadError",
    "ModelUnavailable",
    "NodeUnreachable",
    "OutputTampered",
    "OutputUnavailable",
    "PlaintextRefused",
    "RequestFailed",
    "RequestRejected",
    "RequestTimeout",
]


class InferenceClientError(Exception):
    """Root of every error raised by inference_client."""


class ConfigError(InferenceClientError, SettingsError):
    """A setting (TOML, environment or argument) is missing or out of range."""


class KeyLoadError(InferenceClientError):
    """The account key could not be loaded; the message never contains the secret."""


class ChainError(InferenceClientError):
    """The node could not be reached, or it refused an extrinsic."""


class ClientClosed(ChainError, ResourceClosedError):
    """The client was used (or connected) after ``close()``."""


class NodeUnreachable(ChainError):
    """Nothing usable answers at the node's URL (refused, or no answer in time); the message
    names the setting that holds the URL and how to start a local chain."""

    def __init__(self, url: str, cause: BaseException) -> None:
        reason = unreachable_reason(cause)
        super().__init__(
            node_unreachable_message(
                url, reason, url_env="INFER_CHAIN_URL", config_env="INFER_CONFIG"
            )
        )
        self.url = url
        self.reason = reason


class ModelUnavailable(InferenceClientError):
    """The model is not registered, or is deprecated."""


class InputUnavailable(InferenceClientError):
    """A prompt too large to send inline could not be added to IPFS."""


class RequestRejected(InferenceClientError):
    """The chain refused the `Inference.request` call; `error` names the pallet error."""

    def __init__(self, message: str, error: str) -> None:
        super().__init__(message)
        self.error = error


class RequestFailed(InferenceClientError):
    """The request ended without a result: `state` is the terminal state (Expired, Rejected)."""

    def __init__(self, request_id: int, state: str, event: str, refund: int) -> None:
        super().__init__(f"request {request_id} ended {state} ({event}); refunded {refund}")
        self.request_id = request_id
        self.state = state
        self.event = event
        self.refund = refund


class RequestTimeout(InferenceClientError):
    """No terminal event for the request within the configured wall-clock wait."""


class OutputUnavailable(InferenceClientError):
    """Neither the executor nor IPFS delivered the output; `attempts` lists what was tried."""

    def __init__(self, message: str, attempts: tuple[str, ...] = ()) -> None:
        super().__init__(message if not attempts else f"{message}: {'; '.join(attempts)}")
        self.attempts = attempts


class PlaintextRefused(InferenceClientError):
    """The request cannot be sealed (no provider of the model publishes an encryption key) and
    plaintext was not asked for: nothing was sent. Pass `plaintext=True` (`--plaintext`) to send
    it readable by anyone following the chain."""


class OutputTampered(InferenceClientError):
    """Output bytes were delivered but do not hash to the on-chain output hash (or do not
    decode as a canonical output of this request)."""

    def __init__(self, message: str, source: str) -> None:
        super().__init__(message)
        self.source = source
