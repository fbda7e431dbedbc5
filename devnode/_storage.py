"""Versioned key-value state: every block's view stays readable, so queries at old hashes work."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterator

from ._hashing import blake2_256

__all__ = ["VersionedStorage"]

_MOD = 1 << 256

ReadFn = Callable[[bytes], bytes | None]


def _entry_digest(key: bytes, value: bytes) -> int:
    return int.from_bytes(blake2_256(len(key).to_bytes(4, "little") + key + value), "little")


class VersionedStorage:
    """Storage with history: each key keeps (block number, value) pairs in block order.

    The state root is a commitment to the whole state kept up to date incrementally: the sum,
    modulo 2**256, of a hash per (key, value) entry, hashed once more. It changes with any change
    to the state and costs O(changes) per block; it is not Substrate's Merkle-Patricia trie root
    (docs/devnode.md lists this difference).
    """

    def __init__(self) -> None:
        self._history: dict[bytes, tuple[list[int], list[bytes | None]]] = {}
        self._current: dict[bytes, bytes] = {}
        self._sorted_keys: list[bytes] = []
        self._accumulator = 0
        self._roots: dict[int, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self._current.get(key)

    def get_at(self, key: bytes, block: int) -> bytes | None:
        entry = self._history.get(key)
        if entry is None:
            return None
        numbers, values = entry
        index = bisect_right(numbers, block) - 1
        return values[index] if index >= 0 else None

    def reader_at(self, block: int, best: int) -> ReadFn:
        if block >= best:
            return self._current.get
        return lambda key: self.get_at(key, block)

    def apply(self, block: int, changes: dict[bytes, bytes | None]) -> bytes:
        """Record block `block`'s changes; returns the new state root."""
        for key, value in changes.items():
            old = self._current.get(key)
            if old == value:
                continue
            entry = self._history.get(key)
            if entry is None:
                entry = ([], [])
                self._history[key] = entry
                insort(self._sorted_keys, key)
            numbers, values = entry
            if numbers and numbers[-1] == block:
                values[-1] = value
            else:
                numbers.append(block)
                values.append(value)
            if old is not None:
                self._accumulator = (self._accumulator - _entry_digest(key, old)) % _MOD
            if value is None:
                self._current.pop(key, None)
            else:
                self._current[key] = value
                self._accumulator = (self._accumulator + _entry_digest(key, value)) % _MOD
        root = blake2_256(self._accumulator.to_bytes(32, "little"))
        self._roots[block] = root
        return root

    def root_at(self, block: int) -> bytes:
        return self._roots[block]

    def keys_after(self, prefix: bytes, start_key: bytes | None, block: int) -> Iterator[bytes]:
        """Keys under `prefix` that exist at `block`, in order, strictly after `start_key`."""
        if start_key is not None and start_key >= prefix:
            index = bisect_right(self._sorted_keys, start_key)
        else:
            index = bisect_left(self._sorted_keys, prefix)
        keys = self._sorted_keys
        while index < len(keys):
            key = keys[index]
            if not key.startswith(prefix):
                return
            if self.get_at(key, block) is not None:
                yield key
            index += 1

    def __len__(self) -> int:
        return len(self._current)
