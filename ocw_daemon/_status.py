"""The signed status document served at `GET /status?nonce=...`.

The daemon answers with `{"document": {...}, "signature": "0x..."}`: the document names the
provider's account, endpoint, models, readiness and last block, and echoes the caller's nonce;
the signature is the provider key's sr25519 signature over `b"genai-status:"` + the document as
canonical JSON (sorted keys, no spaces). A fresh nonce per check proves that the holder of the
registered key answers at the registered endpoint now (`ocw-daemon check` uses it).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

from substrateinterface import Keypair

from ._errors import DaemonError

__all__ = [
    "STATUS_DOMAIN",
    "StatusError",
    "canonical_json",
    "sign_status",
    "status_message",
    "valid_nonce",
    "verify_status",
]

STATUS_DOMAIN = b"genai-status:"
_NONCE = re.compile(r"^[0-9a-f]{16,128}$")


class StatusError(DaemonError):
    """A status answer is malformed, unsigned, signed by another key or for another nonce."""


def valid_nonce(nonce: str) -> bool:
    """16 to 128 lower-case hex digits."""
    return bool(_NONCE.match(nonce))


def canonical_json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def status_message(document: Mapping[str, Any]) -> bytes:
    return STATUS_DOMAIN + canonical_json(document)


def sign_status(keypair: Keypair, document: Mapping[str, Any]) -> dict[str, Any]:
    signature = keypair.sign(status_message(document))
    return {"document": dict(document), "signature": "0x" + bytes(signature).hex()}


def verify_status(body: Any, public_key: bytes, nonce: str) -> dict[str, Any]:
    """The document of a `/status` answer, checked against the expected key and nonce."""
    if not isinstance(body, dict):
        raise StatusError("the answer is not a JSON object")
    document, signature = body.get("document"), body.get("signature")
    if not isinstance(document, dict) or not isinstance(signature, str):
        raise StatusError("the answer has no document and signature")
    if document.get("nonce") != nonce:
        raise StatusError("the document is not for this nonce (a replayed or proxied answer?)")
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
        verifier = Keypair(public_key=public_key, ss58_format=42)
        valid = bool(verifier.verify(status_message(document), raw))
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise StatusError("the signature is not the provider key's")
    return document


def status_document(
    *,
    account: str,
    endpoint: str,
    models: tuple[str, ...],
    ready: bool,
    last_block: int,
    nonce: str,
) -> dict[str, Any]:
    return {
        "account": account,
        "endpoint": endpoint,
        "models": list(models),
        "ready": ready,
        "last_block": last_block,
        "nonce": nonce,
        "time_ms": int(time.time() * 1000),
    }
