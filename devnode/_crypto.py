"""Signature verification for the schemes a `MultiSignature` carries."""

from __future__ import annotations

import ed25519_zebra
import sr25519

__all__ = ["verify_signature"]


def verify_signature(scheme: str, signature: bytes, message: bytes, public_key: bytes) -> bool:
    """True when `signature` by `public_key` over `message` verifies; never raises on bad input."""
    try:
        if scheme == "Sr25519":
            return bool(sr25519.verify(signature, message, public_key))
        if scheme == "Ed25519":
            return bool(ed25519_zebra.ed_verify(signature, message, public_key))
    except (ValueError, TypeError, BaseException) as exc:  # the bindings raise pyo3 panics too
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return False
    return False
