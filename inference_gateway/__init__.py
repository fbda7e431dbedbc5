"""The direct path: an OpenAI-compatible gateway that streams from a warm executor at once.

`DirectClient` (the requester's side: routing, tickets, streaming, verification of the signed
final record), `GatewayServer` (`/v1/chat/completions`, `/v1/completions`, `/v1/models` over a
`DirectClient`), `protocol` (tickets and records, shared with the executor). Run it with
`infer gateway --port 8000`. See docs/gateway.md; the channel protocol is in docs/pallets.md.
"""

from ._client import (
    DirectClient,
    DirectConfig,
    DirectRequest,
    ModelEntry,
    StreamChunk,
    StreamEnd,
)
from ._config import GatewaySettings
from ._errors import (
    BadParameter,
    ChainUnavailable,
    GatewayClosed,
    GatewayConfigError,
    GatewayError,
    InsufficientCredit,
    NoChatTemplate,
    NoProvider,
    ProviderFailed,
    StreamIntegrityError,
    UnknownModel,
)
from ._server import GatewayServer, parse_request

__all__ = [
    "BadParameter",
    "ChainUnavailable",
    "DirectClient",
    "DirectConfig",
    "DirectRequest",
    "GatewayClosed",
    "GatewayConfigError",
    "GatewayError",
    "GatewayServer",
    "GatewaySettings",
    "InsufficientCredit",
    "ModelEntry",
    "NoChatTemplate",
    "NoProvider",
    "ProviderFailed",
    "StreamChunk",
    "StreamEnd",
    "StreamIntegrityError",
    "UnknownModel",
    "parse_request",
]
