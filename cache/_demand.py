"""Demand estimation and preload planning: pure logic."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(slots=True)
class _Count:
    value: float
    at: float


class DemandEstimator(Generic[K]):
    """An exponentially weighted request count per key, decaying with a half-life (seconds).

    Feed it recent on-chain requests (``observe``); ``estimate`` is the decayed count now.
    Keys whose estimate falls below ``floor`` are forgotten, so memory stays bounded by the
    keys recently seen.
    """

    def __init__(self, half_life: float, floor: float = 1e-3) -> None:
        if half_life <= 0:
            raise ValueError("half_life must be positive")
        self._rate = math.log(2) / half_life
        self._floor = floor
        self._counts: dict[K, _Count] = {}

    def _decayed(self, count: _Count, now: float) -> float:
        return count.value * math.exp(-self._rate * max(0.0, now - count.at))

    def observe(self, key: K, now: float, weight: float = 1.0) -> None:
        count = self._counts.get(key)
        if count is None:
            self._counts[key] = _Count(weight, now)
        else:
            count.value = self._decayed(count, now) + weight
            count.at = now

    def estimate(self, key: K, now: float) -> float:
        count = self._counts.get(key)
        return 0.0 if count is None else self._decayed(count, now)

    def snapshot(self, now: float) -> dict[K, float]:
        """Every key's current estimate; forgets keys that decayed below the floor."""
        out: dict[K, float] = {}
        for key, count in list(self._counts.items()):
            value = self._decayed(count, now)
            if value < self._floor:
                del self._counts[key]
            else:
                out[key] = value
        return out


def plan_preload(
    demand: Mapping[K, float],
    sizes: Mapping[K, int],
    capacity: int,
    already: Iterable[K] = (),
) -> list[K]:
    """Keys to preload, most demanded first, that fit ``capacity`` bytes together.

    Byte hit ratio is the goal, so each byte of a key is worth its demand: keys are taken in
    order of demand, skipping those that no longer fit (a greedy knapsack). Keys in
    ``already`` count against the capacity but are not returned. Keys without a known size
    or with no demand are skipped.
    """
    held = set(already)
    used = sum(sizes.get(k, 0) for k in held)
    plan: list[K] = []
    for key in sorted(demand, key=lambda k: (-demand[k], sizes.get(k, 0))):
        size = sizes.get(key)
        if size is None or demand[key] <= 0 or key in held:
            continue
        if used + size <= capacity:
            plan.append(key)
            used += size
    return plan
