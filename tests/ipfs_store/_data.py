"""Deterministic test data: cheap to generate, unique per chunk (so Kubo cannot deduplicate)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator

from Crypto.Cipher import ChaCha20

MiB = 1024 * 1024
_BASE = hashlib.shake_256(b"ipfs_store test pattern").digest(MiB)


def pattern(size: int, piece: int = MiB) -> Iterator[bytes]:
    """``size`` bytes in ``piece``-sized parts; every MiB starts with its own index."""
    index = 0
    left = size
    while left > 0:
        block = index.to_bytes(8, "big") + _BASE[8:]
        n = min(left, MiB)
        for start in range(0, n, piece):
            yield block[start : min(start + piece, n)]
        left -= n
        index += 1


async def apattern(size: int) -> AsyncIterator[bytes]:
    for part in pattern(size):
        yield part


def deterministic_random(size: int, seed: str, piece: int = MiB) -> Iterator[bytes]:
    """Kubo's test generator (test/cli/testutils): ChaCha20, key sha256(seed), zero nonce."""
    cipher = ChaCha20.new(key=hashlib.sha256(seed.encode()).digest(), nonce=bytes(12))
    zeros = bytes(piece)
    left = size
    while left > 0:
        n = min(left, piece)
        yield cipher.encrypt(zeros[:n])
        left -= n


# Kubo's test/cli AlphabetEasy ("0" appears twice there too).
_NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz01234567890-_"


def deterministic_names(count: int, length: int, last_length: int, seed: str) -> list[str]:
    """Kubo's HAMT fixture file names (test/cli createDeterministicFiles): consecutive bytes of
    the seed's ChaCha20 stream mapped onto its alphabet; the last name has its own length."""
    cipher = ChaCha20.new(key=hashlib.sha256(seed.encode()).digest(), nonce=bytes(12))
    names = []
    for index in range(count):
        n = last_length if index == count - 1 else length
        raw = cipher.encrypt(bytes(n))
        names.append("".join(_NAME_ALPHABET[b % len(_NAME_ALPHABET)] for b in raw))
    return names
