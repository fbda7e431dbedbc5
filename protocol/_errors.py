"""The errors of `protocol`: one root, each subclass naming what went wrong.

```
ProtocolError
├── RecordError                  an output record or its bytes are not canonical
│   ├── RecordEncodeError        a record that has no canonical encoding (ValueError)
│   └── RecordDecodeError        bytes that are not the canonical encoding of a record
├── InvalidIdError               a malformed id (a model id that is not 0x + 64 hex digits)
├── OutputAuthError              a signed output request refused (`status`: 401 or 403)
├── KeyLoadError                 the account key could not be loaded (never echoes the secret)
└── OutputFetchError             `fetch_verified_output` got no verified output (`url`)
    ├── OutputUnreachable        connection refused or reset, timed out, body cut short
    ├── OutputHTTPError          the server answered with a status other than 200 (`status`)
    │   └── OutputRefused        401 or 403: the request's signature or entitlement refused
    ├── OutputTooLarge           the body is larger than the caller's limit (`limit`)
    └── OutputHashMismatch       the body's blake2-256 is not the on-chain hash
```
Foreign errors (aiohttp's, the key library's) are translated where they are caught.
"""

from __future__ import annotations

__all__ = [
    "InvalidIdError",
    "KeyLoadError",
    "OutputAuthError",
    "OutputFetchError",
    "OutputHTTPError",
    "OutputHashMismatch",
    "OutputRefused",
    "OutputTooLarge",
    "OutputUnreachable",
    "ProtocolError",
    "RecordDecodeError",
    "RecordEncodeError",
    "RecordError",
]


class ProtocolError(Exception):
    """Root of every error raised by `protocol`."""


class RecordError(ProtocolError):
    """An output record, or bytes claiming to be one, is not canonical (docs/output-format.md)."""


class RecordEncodeError(RecordError, ValueError):
    """The record has no canonical encoding (a value out of range, top-k out of order, ...)."""


class RecordDecodeError(RecordError):
    """Bytes are not the canonical encoding of an output record."""


class InvalidIdError(ProtocolError, ValueError):
    """A malformed identifier."""


class OutputAuthError(ProtocolError):
    """Missing, malformed, stale or forged headers (`status` 401), or not entitled (403)."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class KeyLoadError(ProtocolError):
    """The account key could not be loaded; the message never contains the secret."""


class OutputFetchError(ProtocolError):
    """No verified output came from `url`."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


class OutputUnreachable(OutputFetchError):
    """The connection failed, timed out, or the body ended before its announced length."""


class OutputHTTPError(OutputFetchError):
    """The server answered `status`, not 200."""

    def __init__(self, message: str, url: str, status: int) -> None:
        super().__init__(message, url)
        self.status = status


class OutputRefused(OutputHTTPError):
    """401 or 403: the server refused this account's signed request."""


class OutputTooLarge(OutputFetchError):
    """The body is larger than `limit` bytes (reading stopped there)."""

    def __init__(self, message: str, url: str, limit: int) -> None:
        super().__init__(message, url)
        self.limit = limit


class OutputHashMismatch(OutputFetchError):
    """The body's blake2-256 (`actual`) is not the expected on-chain hash (`expected`)."""

    def __init__(self, message: str, url: str, expected: bytes, actual: bytes) -> None:
        super().__init__(message, url)
        self.expected = expected
        self.actual = actual
