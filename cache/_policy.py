"""Eviction policies behind one interface: pure logic, no I/O.

A policy orders the entries a tier holds; the tier asks it for a victim when it needs room.
Sizes are bytes. ``victim()`` names the entry to evict next (and lets the policy age itself);
the tier then calls ``remove``.
"""

from __future__ import annotations

import heapq
import itertools
import sys
from collections.abc import Callable, Container, Hashable
from typing import Generic, Protocol, TypeVar

from lru import LRU

K = TypeVar("K", bound=Hashable)


class EvictionPolicy(Protocol[K]):
    """What a tier needs from a policy."""

    name: str

    def insert(self, key: K, size: int) -> None:
        """A new entry was admitted (it was just requested)."""

    def hit(self, key: K) -> None:
        """An entry already held was requested."""

    def remove(self, key: K) -> None:
        """An entry left the tier (evicted or dropped)."""

    def victim(self, exclude: Container[object] = ()) -> K:
        """The entry to evict next, skipping ``exclude`` (entries in use); ``KeyError`` if none."""

    def __len__(self) -> int: ...

    def __contains__(self, key: object) -> bool: ...


class LRUPolicy(Generic[K]):
    """Least recently used, on ``lru-dict`` (the baseline)."""

    name = "lru"

    def __init__(self) -> None:
        self._order: LRU[K, int] = LRU(sys.maxsize >> 32)

    def insert(self, key: K, size: int) -> None:
        self._order[key] = size

    def hit(self, key: K) -> None:
        self._order.get(key)  # get() moves the key to the most recent end

    def remove(self, key: K) -> None:
        if self._order.has_key(key):
            del self._order[key]

    def victim(self, exclude: Container[object] = ()) -> K:
        last = self._order.peek_last_item()
        if last is None:
            raise KeyError("policy is empty")
        key: K = last[0]
        if key not in exclude:
            return key
        for candidate in reversed(self._order.keys()):  # least recent first; O(n), rare
            if candidate not in exclude:
                return candidate
        raise KeyError("every entry is excluded")

    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, key: object) -> bool:
        return key in self._order


class GreedyDualPolicy(Generic[K]):
    """Greedy-Dual family: priority ``L + frequency * cost(size) / size``; evict the lowest.

    ``L`` (the inflation value) becomes the victim's priority on each eviction, so entries
    that stopped being requested age out. With ``cost(size) = 1`` this is GDSF (favours
    small entries: object hit ratio); with ``cost(size) = size`` it is LFU-DA (byte hit
    ratio). ``history`` keeps the frequency of that many evicted keys, so a popular entry
    evicted in a burst comes back with its count (bounded, LRU-ordered).
    """

    def __init__(self, name: str, cost: Callable[[int], float], history: int = 0) -> None:
        self.name = name
        self._cost = cost
        self._inflation = 0.0
        self._priority: dict[K, float] = {}
        self._size: dict[K, int] = {}
        self._freq: dict[K, int] = {}
        self._heap: list[tuple[float, int, K]] = []
        self._seq = itertools.count()
        self._history: LRU[K, int] | None = LRU(history) if history > 0 else None

    def _push(self, key: K) -> None:
        size = max(self._size[key], 1)
        priority = self._inflation + self._freq[key] * self._cost(size) / size
        self._priority[key] = priority
        heapq.heappush(self._heap, (priority, next(self._seq), key))
        if len(self._heap) > 4 * len(self._priority) + 64:
            self._compact()

    def _compact(self) -> None:
        self._heap = [(p, next(self._seq), k) for k, p in self._priority.items()]
        heapq.heapify(self._heap)

    def insert(self, key: K, size: int) -> None:
        past = 0
        if self._history is not None and self._history.has_key(key):
            past = self._history.pop(key) or 0
        self._size[key] = size
        self._freq[key] = past + 1
        self._push(key)

    def hit(self, key: K) -> None:
        if key in self._priority:
            self._freq[key] += 1
            self._push(key)

    def remove(self, key: K) -> None:
        if self._priority.pop(key, None) is None:
            return
        freq = self._freq.pop(key)
        del self._size[key]
        if self._history is not None:
            self._history[key] = freq

    def victim(self, exclude: Container[object] = ()) -> K:
        while self._heap:
            priority, _, key = self._heap[0]
            if self._priority.get(key) == priority:
                break
            heapq.heappop(self._heap)  # stale: the entry was re-prioritised or removed
        else:
            raise KeyError("policy is empty")
        if key in exclude:  # O(n log n), only while entries are in use
            ranked = sorted((p, k) for k, p in self._priority.items() if k not in exclude)
            if not ranked:
                raise KeyError("every entry is excluded")
            priority, key = ranked[0]
        self._inflation = priority
        return key

    def __len__(self) -> int:
        return len(self._priority)

    def __contains__(self, key: object) -> bool:
        return key in self._priority


def _unit_cost(size: int) -> float:
    return 1.0


def _byte_cost(size: int) -> float:
    return float(size)


POLICIES: dict[str, Callable[[], EvictionPolicy[Hashable]]] = {
    "lru": LRUPolicy,
    "gdsf": lambda: GreedyDualPolicy("gdsf", _unit_cost),
    "lfu-da": lambda: GreedyDualPolicy("lfu-da", _byte_cost),
    "lfu-da-h": lambda: GreedyDualPolicy("lfu-da-h", _byte_cost, history=4096),
}


def make_policy(name: str) -> EvictionPolicy[Hashable]:
    """A fresh policy by name (``lru``, ``gdsf``, ``lfu-da``, ``lfu-da-h``)."""
    try:
        return POLICIES[name]()
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(POLICIES)}") from None
