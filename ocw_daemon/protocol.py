"""The output-fetch authentication shared by the daemon and the dApp client.

A requester (or the drawn validator) proves who it is with three headers: `X-Account` (its
SS58 address), `X-Timestamp` (unix milliseconds, within ±60 s of the server's clock) and
`X-Signature` (`0x` hex sr25519 signature over
`b"genai-output:" + request_id.to_bytes(8, "little") + timestamp.to_bytes(8, "little")`).

The one implementation is `protocol` (the client uses it too); this module is the daemon's
public face of it, raising the daemon's `AuthError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

import protocol
from protocol import MAX_CLOCK_SKEW_MS, output_request_message, sign_output_request

from ._errors import AuthError

__all__ = [
    "MAX_CLOCK_SKEW_MS",
    "output_request_message",
    "sign_output_request",
    "verify_output_request",
]


def verify_output_request(
    headers: Mapping[str, str],
    request_id: int,
    entitled: Set[bytes],
    *,
    now_ms: int | None = None,
) -> bytes:
    """Check the headers; return the caller's 32-byte account id, or raise `AuthError`.

    401: a header is missing or malformed, the timestamp is outside ±60 s, or the signature
    does not verify; 403: the account is valid but not in `entitled`.
    """
    try:
        return protocol.verify_output_request(headers, request_id, entitled, now_ms=now_ms)
    except protocol.OutputAuthError as exc:
        raise AuthError(str(exc), status=exc.status) from exc
