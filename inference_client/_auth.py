"""The signed output request (`GET {endpoint}/outputs/{request_id}`), agreed with ocw_daemon.

Headers: `X-Account` (SS58), `X-Timestamp` (unix ms), `X-Signature` (0x hex sr25519 over
`b"genai-output:" + request_id (u64 LE) + timestamp_ms (u64 LE)`). The one implementation is
`protocol`, which the daemon uses too; this module raises the client's errors.
"""

from __future__ import annotations

from collections.abc import Mapping

import protocol
from protocol import MAX_CLOCK_SKEW_MS, OUTPUT_DOMAIN, output_request_message, sign_output_request

from ._errors import InferenceClientError

__all__ = [
    "OUTPUT_DOMAIN",
    "output_request_message",
    "sign_output_request",
    "verify_output_request",
]


def verify_output_request(
    headers: Mapping[str, str],
    request_id: int,
    *,
    max_skew_ms: int = MAX_CLOCK_SKEW_MS,
    now_ms: int | None = None,
) -> str:
    """The SS58 account that signed an output request; raises `InferenceClientError` otherwise.

    For the serving side (an executor, or a test stand-in): checks the timestamp is within
    `max_skew_ms` of now and the sr25519 signature. Whether that account is entitled to the
    output (the requester or the drawn validator) is the server's decision.
    """
    try:
        protocol.verify_output_request(headers, request_id, max_skew_ms=max_skew_ms, now_ms=now_ms)
    except protocol.OutputAuthError as exc:
        raise InferenceClientError(f"output request refused: {exc}") from exc
    return headers["X-Account"]
