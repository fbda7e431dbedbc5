"""The signed output request, shared by the provider daemon and the dApp client.

`GET {endpoint}/outputs/{request_id}` carries three headers: `X-Account` (the caller's SS58
address), `X-Timestamp` (unix milliseconds, within ±60 s of the server's clock) and
`X-Signature` (`0x` hex sr25519 signature over
`b"genai-output:" + request_id.to_bytes(8, "little") + timestamp.to_bytes(8, "little")`).

`ocw_daemon.protocol` and `inference_client` re-export it with their own error classes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Set

import sr25519
from substrateinterface import Keypair
from substrateinterface.utils.ss58 import ss58_decode

from ._errors import OutputAuthError
from ._ids import AccountId

__all__ = [
    "MAX_CLOCK_SKEW_MS",
    "OUTPUT_DOMAIN",
    "OutputAuthError",
    "output_request_message",
    "sign_output_request",
    "verify_output_request",
]

#: How far a request's timestamp may be from the server's clock
MAX_CLOCK_SKEW_MS = 60_000
OUTPUT_DOMAIN = b"genai-output:"


def output_request_message(request_id: int, timestamp_ms: int) -> bytes:
    """The bytes that are signed for `GET /outputs/{request_id}` at `timestamp_ms`."""
    return OUTPUT_DOMAIN + request_id.to_bytes(8, "little") + timestamp_ms.to_bytes(8, "little")


def sign_output_request(
    keypair: Keypair, request_id: int, timestamp_ms: int | None = None
) -> dict[str, str]:
    """The three headers that authenticate `keypair` for the output of `request_id` (now by
    default)."""
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    signature = keypair.sign(output_request_message(request_id, ts))
    return {
        "X-Account": str(keypair.ss58_address),
        "X-Timestamp": str(ts),
        "X-Signature": "0x" + bytes(signature).hex(),
    }


def verify_output_request(
    headers: Mapping[str, str],
    request_id: int,
    entitled: Set[bytes] | None = None,
    *,
    max_skew_ms: int = MAX_CLOCK_SKEW_MS,
    now_ms: int | None = None,
) -> AccountId:
    """Check the headers; return the caller's 32-byte account id, or raise `OutputAuthError`.

    401: a header is missing or malformed, the timestamp is outside ±`max_skew_ms`, or the
    sr25519 signature does not verify; 403: `entitled` is given and the account is not in it.
    """
    account_text = headers.get("X-Account")
    stamp_text = headers.get("X-Timestamp")
    signature_text = headers.get("X-Signature")
    if not account_text or not stamp_text or not signature_text:
        raise OutputAuthError(
            "malformed headers: X-Account, X-Timestamp and X-Signature are required"
        )
    try:
        account = bytes.fromhex(ss58_decode(account_text))
        timestamp_ms = int(stamp_text)
        signature = bytes.fromhex(signature_text.removeprefix("0x"))
    except (ValueError, TypeError, IndexError) as exc:
        raise OutputAuthError(f"malformed authentication header: {exc}") from exc
    if len(account) != 32 or len(signature) != 64 or not 0 <= timestamp_ms < 2**64:
        raise OutputAuthError("malformed account, signature or timestamp")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - timestamp_ms) > max_skew_ms:
        raise OutputAuthError("timestamp outside the allowed clock skew")
    message = output_request_message(request_id, timestamp_ms)
    try:
        valid = sr25519.verify(signature, message, account)
    except (ValueError, TypeError) as exc:
        raise OutputAuthError("signature does not verify") from exc
    if not valid:
        raise OutputAuthError("signature does not verify")
    if entitled is not None and account not in entitled:
        raise OutputAuthError("this account may not read this output", status=403)
    return AccountId(account)
