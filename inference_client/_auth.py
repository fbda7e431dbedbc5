"""The signed output request (`GET {endpoint}/outputs/{request_id}`), agreed with ocw_daemon.

Headers: `X-Account` (SS58), `X-Timestamp` (unix ms), `X-Signature` (0x hex sr25519 over
`b"genai-output:" + request_id (u64 LE) + timestamp_ms (u64 LE)`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from substrateinterface import Keypair

from ._errors import InferenceClientError

__all__ = [
    "OUTPUT_DOMAIN",
    "output_request_message",
    "sign_output_request",
    "verify_output_request",
]

OUTPUT_DOMAIN = b"genai-output:"


def output_request_message(request_id: int, timestamp_ms: int) -> bytes:
    return OUTPUT_DOMAIN + request_id.to_bytes(8, "little") + timestamp_ms.to_bytes(8, "little")


def sign_output_request(
    keypair: Keypair, request_id: int, timestamp_ms: int | None = None
) -> dict[str, str]:
    """The three headers proving `keypair` asks for `request_id`'s output now."""
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    signature: bytes = keypair.sign(output_request_message(request_id, ts))
    return {
        "X-Account": str(keypair.ss58_address),
        "X-Timestamp": str(ts),
        "X-Signature": "0x" + signature.hex(),
    }


def verify_output_request(
    headers: Mapping[str, str],
    request_id: int,
    *,
    max_skew_ms: int = 60_000,
    now_ms: int | None = None,
) -> str:
    """The SS58 account that signed an output request; raises `InferenceClientError` otherwise.

    For the serving side (an executor, or a test stand-in): checks the timestamp is within
    `max_skew_ms` of now and the sr25519 signature. Whether that account is entitled to the
    output (the requester or the drawn validator) is the server's decision.
    """
    try:
        account = headers["X-Account"]
        ts = int(headers["X-Timestamp"])
        signature = bytes.fromhex(headers["X-Signature"].removeprefix("0x"))
    except (KeyError, ValueError) as exc:
        raise InferenceClientError(f"malformed output request headers: {exc}") from exc
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - ts) > max_skew_ms or ts < 0 or ts >= 1 << 64:
        raise InferenceClientError("output request timestamp outside the allowed window")
    try:
        ok = Keypair(ss58_address=account).verify(output_request_message(request_id, ts), signature)
    except (ValueError, TypeError) as exc:
        raise InferenceClientError(f"bad output request signature: {exc}") from exc
    if not ok:
        raise InferenceClientError("output request signature does not verify")
    return account
