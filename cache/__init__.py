"""Two-tier model cache: in-process LRU and shared Redis."""

from ._demand import DemandEstimator, plan_preload
from ._policy import POLICIES, EvictionPolicy, GreedyDualPolicy, LRUPolicy, make_policy
from ._sim import (
    SimResult,
    infinite_cache_bound,
    interval_upper_bound,
    lognormal_sizes,
    offline_belady,
    replay,
    zipf_trace,
)

DEFAULT_POLICY = "lfu-da-h"

__all__ = [
    "DEFAULT_POLICY",
    "POLICIES",
    "DemandEstimator",
    "EvictionPolicy",
    "GreedyDualPolicy",
    "LRUPolicy",
    "SimResult",
    "infinite_cache_bound",
    "interval_upper_bound",
    "lognormal_sizes",
    "make_policy",
    "offline_belady",
    "plan_preload",
    "replay",
    "zipf_trace",
]
