"""Hashers used by Substrate: blake2, twox (xxhash64) and the storage-key hashers."""

from __future__ import annotations

import hashlib
from enum import IntEnum

import xxhash

from protocol import blake2_256

__all__ = [
    "StorageHasher",
    "blake2_128",
    "blake2_256",
    "hash_key",
    "storage_prefix",
    "twox_64",
    "twox_128",
]


def blake2_128(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def twox_64(data: bytes) -> bytes:
    return xxhash.xxh64(data, seed=0).digest()[::-1]


def twox_128(data: bytes) -> bytes:
    return xxhash.xxh64(data, seed=0).digest()[::-1] + xxhash.xxh64(data, seed=1).digest()[::-1]


class StorageHasher(IntEnum):
    """Metadata V14 storage hashers, with their wire indices."""

    BLAKE2_128 = 0
    BLAKE2_256 = 1
    BLAKE2_128_CONCAT = 2
    TWOX_128 = 3
    TWOX_256 = 4
    TWOX_64_CONCAT = 5
    IDENTITY = 6

    @property
    def concat(self) -> bool:
        """Whether the hashed key still carries the key itself (so keys can be iterated)."""
        return self in (
            StorageHasher.BLAKE2_128_CONCAT,
            StorageHasher.TWOX_64_CONCAT,
            StorageHasher.IDENTITY,
        )

    @property
    def digest_size(self) -> int:
        return {0: 16, 1: 32, 2: 16, 3: 16, 4: 32, 5: 8, 6: 0}[self.value]


def hash_key(hasher: StorageHasher, encoded_key: bytes) -> bytes:
    if hasher is StorageHasher.BLAKE2_128_CONCAT:
        return blake2_128(encoded_key) + encoded_key
    if hasher is StorageHasher.TWOX_64_CONCAT:
        return twox_64(encoded_key) + encoded_key
    if hasher is StorageHasher.IDENTITY:
        return encoded_key
    if hasher is StorageHasher.BLAKE2_128:
        return blake2_128(encoded_key)
    if hasher is StorageHasher.BLAKE2_256:
        return blake2_256(encoded_key)
    if hasher is StorageHasher.TWOX_128:
        return twox_128(encoded_key)
    return twox_128(encoded_key) + (
        xxhash.xxh64(encoded_key, seed=2).digest()[::-1]
        + xxhash.xxh64(encoded_key, seed=3).digest()[::-1]
    )


def storage_prefix(pallet: str, item: str) -> bytes:
    return twox_128(pallet.encode()) + twox_128(item.encode())
