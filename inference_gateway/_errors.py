"""The gateway's errors; each carries the HTTP status and OpenAI error type it maps to.

GatewayError
├── BadParameter        400 invalid_request_error (param names the field)
├── NoChatTemplate      400 invalid_request_error (the model serves /v1/completions only)
├── UnknownModel        404 model_not_found
├── InsufficientCredit  402 insufficient_quota (no channel, or its free deposit is spent)
├── NoProvider          503 no_provider (no active, reachable provider of the model)
├── ProviderFailed      502 provider_failed (the executor failed after the first token)
├── StreamIntegrityError 502 stream_integrity (the signed final record does not match)
├── ChainUnavailable    503 chain_unavailable
├── GatewayConfigError  a bad `infer gateway` setting (also settings.SettingsError)
└── GatewayClosed       503 gateway_closed (the client was used after close(); also a
                        lifecycle.ResourceClosedError)

The direct path's wire format (`inference_gateway.protocol`, shared with ocw_daemon) has its own
root, `inference_gateway.protocol.ProtocolError` (a ValueError: a malformed ticket or record).
"""

from __future__ import annotations

from typing import ClassVar

from lifecycle import ResourceClosedError
from settings import SettingsError

__all__ = [
    "BadParameter",
    "ChainUnavailable",
    "GatewayClosed",
    "GatewayConfigError",
    "GatewayError",
    "InsufficientCredit",
    "NoChatTemplate",
    "NoProvider",
    "ProviderFailed",
    "StreamIntegrityError",
    "UnknownModel",
]


class GatewayError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    code: ClassVar[str | None] = None

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param

    def to_json(self) -> dict[str, object]:
        return {
            "error": {
                "message": str(self),
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class BadParameter(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_parameter"


class NoChatTemplate(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "no_chat_template"


class UnknownModel(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "model_not_found"


class InsufficientCredit(GatewayError):
    status = 402
    type = "insufficient_quota"
    code = "insufficient_credit"


class NoProvider(GatewayError):
    status = 503
    type = "server_error"
    code = "no_provider"


class ProviderFailed(GatewayError):
    status = 502
    type = "server_error"
    code = "provider_failed"


class StreamIntegrityError(GatewayError):
    status = 502
    type = "server_error"
    code = "stream_integrity"


class ChainUnavailable(GatewayError):
    status = 503
    type = "server_error"
    code = "chain_unavailable"


class GatewayClosed(GatewayError, ResourceClosedError):
    status = 503
    type = "server_error"
    code = "gateway_closed"


class GatewayConfigError(GatewayError, SettingsError):
    status = 500
    type = "server_error"
    code = "bad_configuration"
