"""Trace-driven cache simulation and offline bounds: pure logic, stdlib only.

``zipf_trace`` and ``lognormal_sizes`` make a workload; ``replay`` runs a policy over it;
``offline_belady`` is a feasible offline policy (a lower bound on the optimum) and
``interval_upper_bound`` / ``infinite_cache_bound`` are upper bounds on it.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import random
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import cast

from ._policy import EvictionPolicy


@dataclass(frozen=True, slots=True)
class SimResult:
    """Hits and bytes of one replay (or one bound)."""

    name: str
    requests: int
    hits: float
    bytes_requested: int
    bytes_hit: float

    @property
    def object_hit_ratio(self) -> float:
        return self.hits / self.requests if self.requests else 0.0

    @property
    def byte_hit_ratio(self) -> float:
        return self.bytes_hit / self.bytes_requested if self.bytes_requested else 0.0


def lognormal_sizes(n: int, *, mu: float, sigma: float, seed: int) -> list[int]:
    """``n`` object sizes in bytes, log-normally distributed (at least 1 byte)."""
    rng = random.Random(seed)
    return [max(1, int(rng.lognormvariate(mu, sigma))) for _ in range(n)]


def zipf_trace(n_objects: int, length: int, alpha: float, *, seed: int) -> list[int]:
    """``length`` requests over ``n_objects`` keys with Zipf(alpha) popularity.

    Popularity rank is shuffled against key order, so popularity is independent of size.
    """
    rng = random.Random(seed)
    weights = [1.0 / (rank**alpha) for rank in range(1, n_objects + 1)]
    cumulative = list(itertools.accumulate(weights))
    total = cumulative[-1]
    keys = list(range(n_objects))
    rng.shuffle(keys)
    return [
        keys[min(bisect.bisect_left(cumulative, rng.random() * total), n_objects - 1)]
        for _ in range(length)
    ]


def replay(
    trace: Sequence[int],
    sizes: Sequence[int],
    capacity: int,
    policy: EvictionPolicy[Hashable],
    *,
    warmup: int = 0,
) -> SimResult:
    """Run ``policy`` over ``trace`` with a cache of ``capacity`` bytes.

    Every miss is admitted (evicting until it fits) unless it is bigger than the cache.
    The first ``warmup`` requests fill the cache without being counted.
    """
    used = 0
    hits = 0
    bytes_hit = 0
    requests = 0
    bytes_requested = 0
    for index, key in enumerate(trace):
        size = sizes[key]
        counted = index >= warmup
        if counted:
            requests += 1
            bytes_requested += size
        if key in policy:
            policy.hit(key)
            if counted:
                hits += 1
                bytes_hit += size
            continue
        if size > capacity:
            continue
        while used + size > capacity:
            victim = policy.victim()
            policy.remove(victim)
            used -= sizes[cast(int, victim)]
        policy.insert(key, size)
        used += size
    return SimResult(policy.name, requests, hits, bytes_requested, bytes_hit)


def _next_uses(trace: Sequence[int]) -> list[int]:
    """For each position, the position of the same key's next request (``len`` if none)."""
    nxt = [len(trace)] * len(trace)
    last: dict[int, int] = {}
    for index in range(len(trace) - 1, -1, -1):
        key = trace[index]
        nxt[index] = last.get(key, len(trace))
        last[key] = index
    return nxt


def offline_belady(
    trace: Sequence[int], sizes: Sequence[int], capacity: int, *, warmup: int = 0
) -> SimResult:
    """Belady with sizes and bypass: evict the entry requested furthest in the future.

    A missed entry is not admitted when its own next request is further away than that of
    every entry it would displace. It is a feasible schedule, so a lower bound on the
    optimum (the optimum with variable sizes is NP-hard).
    """
    nxt = _next_uses(trace)
    cached: dict[int, int] = {}  # key -> its next request position
    heap: list[tuple[int, int]] = []  # (-next use, key), lazily invalidated
    used = hits = bytes_hit = requests = bytes_requested = 0
    for index, key in enumerate(trace):
        size = sizes[key]
        counted = index >= warmup
        if counted:
            requests += 1
            bytes_requested += size
        if key in cached:
            if counted:
                hits += 1
                bytes_hit += size
            cached[key] = nxt[index]
            heapq.heappush(heap, (-nxt[index], key))
            continue
        if size > capacity or nxt[index] >= len(trace):
            continue
        # Which entries would go, furthest next use first; bypass if we are further still.
        victims: list[int] = []
        freed = 0
        admit = True
        while used - freed + size > capacity:
            while heap and (
                heap[0][1] not in cached
                or cached[heap[0][1]] != -heap[0][0]
                or heap[0][1] in victims
            ):
                heapq.heappop(heap)
            neg_next, victim = heap[0]
            if -neg_next < nxt[index]:
                admit = False
                break
            heapq.heappop(heap)
            victims.append(victim)
            freed += sizes[victim]
        if not admit:
            for victim in victims:
                heapq.heappush(heap, (-cached[victim], victim))
            continue
        for victim in victims:
            del cached[victim]
        used -= freed
        cached[key] = nxt[index]
        heapq.heappush(heap, (-nxt[index], key))
        used += size
    return SimResult("belady-size", requests, hits, bytes_requested, bytes_hit)


def interval_upper_bound(
    trace: Sequence[int], sizes: Sequence[int], capacity: int, *, warmup: int = 0
) -> SimResult:
    """An upper bound on the offline optimum's byte hits (PFOO-U style).

    A hit at request ``j`` of a key last requested at ``i`` needs the key held for the
    ``j - i`` steps in between, which costs ``size * (j - i)`` byte-steps; a cache of
    ``capacity`` bytes has ``capacity * len(trace)`` byte-steps in all. Relaxing "at most
    ``capacity`` bytes at each step" to that total budget and allowing fractional intervals
    gives a fractional knapsack, solved exactly by taking the shortest intervals first
    (each byte of a hit costs ``j - i``). Hits before ``warmup`` are not counted but still
    pay for their byte-steps. The object count reported is the number of whole-or-partial
    intervals taken, weighted by the fraction taken.
    """
    last: dict[int, int] = {}
    intervals: list[tuple[int, int, bool]] = []  # (length, size, counted)
    requests = bytes_requested = 0
    for index, key in enumerate(trace):
        size = sizes[key]
        if index >= warmup:
            requests += 1
            bytes_requested += size
        if key in last and size <= capacity:
            intervals.append((index - last[key], size, index >= warmup))
        last[key] = index
    intervals.sort()
    budget = float(capacity) * len(trace)
    hits = 0.0
    bytes_hit = 0.0
    for length, size, counted in intervals:
        cost = float(size) * length
        fraction = 1.0 if cost <= budget else budget / cost
        budget -= cost * fraction
        if counted:
            hits += fraction
            bytes_hit += size * fraction
        if budget <= 0:
            break
    return SimResult("upper-bound", requests, hits, bytes_requested, bytes_hit)


def infinite_cache_bound(
    trace: Sequence[int], sizes: Sequence[int], *, warmup: int = 0
) -> SimResult:
    """Every request but each key's first is a hit: no finite cache does better."""
    seen: set[int] = set()
    hits = bytes_hit = requests = bytes_requested = 0
    for index, key in enumerate(trace):
        size = sizes[key]
        counted = index >= warmup
        if counted:
            requests += 1
            bytes_requested += size
            if key in seen:
                hits += 1
                bytes_hit += size
        seen.add(key)
    return SimResult("infinite", requests, hits, bytes_requested, bytes_hit)
