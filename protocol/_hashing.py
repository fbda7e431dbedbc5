"""blake2-256: the hash of output records, prompts and model ids on-chain (Substrate's
`BlakeTwo256`)."""

from __future__ import annotations

import hashlib

__all__ = ["blake2_256"]


def blake2_256(data: bytes) -> bytes:
    """The 32-byte blake2b digest of `data` (unkeyed, no salt or personalisation)."""
    return hashlib.blake2b(data, digest_size=32).digest()
