"""Sampling randomness derived from the request id, so any machine can reproduce it."""

from __future__ import annotations

import hashlib

__all__ = ["derive_seed", "step_uniform"]

_SEED_DOMAIN = b"inference-engine/seed/v1\x00"
_STEP_DOMAIN = b"inference-engine/step/v1\x00"


def derive_seed(request_id: str) -> int:
    """A 64-bit seed: the first 8 bytes (little-endian) of blake2b(domain || request id)."""
    digest = hashlib.blake2b(_SEED_DOMAIN + request_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def step_uniform(seed: int, step: int) -> float:
    """The uniform number in [0, 1) that picks the token at generation step `step`.

    53 bits of blake2b(domain || seed || step), so the value is exact in a float64 and the same on
    every platform. Sampling is by inverse CDF over the filtered distribution, which makes a
    sampled token checkable by a validator that recomputes that distribution.
    """
    if not (0 <= seed < 1 << 64) or step < 0:
        raise ValueError("seed must be a u64 and step >= 0")
    payload = _STEP_DOMAIN + seed.to_bytes(8, "little") + step.to_bytes(8, "little")
    digest = hashlib.blake2b(payload, digest_size=8).digest()
    return (int.from_bytes(digest, "little") >> 11) / float(1 << 53)
