"""Distance between claimed and recomputed log-probabilities."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["LogprobDistance", "logprob_distance"]


@dataclass(frozen=True, slots=True)
class LogprobDistance:
    """Mean and largest absolute difference over `count` compared log-probabilities."""

    mean: float
    max: float
    count: int


def logprob_distance(claimed: Sequence[float], recomputed: Sequence[float]) -> LogprobDistance:
    """Compare two equally long sequences of log-probabilities.

    Non-finite values compare as infinitely far unless both are the same infinity; an empty
    comparison has distance 0.
    """
    if len(claimed) != len(recomputed):
        raise ValueError("sequences differ in length")
    if not claimed:
        return LogprobDistance(0.0, 0.0, 0)
    total = 0.0
    largest = 0.0
    for a, b in zip(claimed, recomputed, strict=True):
        if a == b:
            diff = 0.0
        elif math.isfinite(a) and math.isfinite(b):
            diff = abs(a - b)
        else:
            diff = math.inf
        total += diff
        largest = max(largest, diff)
    return LogprobDistance(total / len(claimed), largest, len(claimed))
