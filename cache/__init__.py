"""Two-tier model cache: loaded models in process (tier 1), model files in Redis (tier 2).

``async with cache.use(cid) as entry:`` (or ``lease = await cache.acquire(cid)``) hands out a
loaded model under a lease, so it is never evicted while a request runs on it, filling on the
way: tier 1 (an in-process,
byte-capped map ordered by an eviction policy), the local content-addressed model directory,
tier 2 (verified chunks in a shared Redis or Redis Cluster), then the origin (``ipfs_store``,
pinning what it fetched while any tier holds it). Concurrent requests for one missing model
cause one origin fetch, in a process and across processes sharing Redis. The policies, the demand estimator and the simulator are pure logic.
"""

from ._cache import CachedModel, Lease, ModelCache
from ._demand import DemandEstimator, plan_preload
from ._errors import (
    CacheClosedError,
    CacheError,
    CacheLoadError,
    CacheTimeout,
    CapacityError,
    ChunkCorruptError,
    InsufficientSpaceError,
    LeaseDeadlockError,
    LeaseReleasedError,
    ManifestError,
    ModelLoadError,
    ModelTooLargeError,
    OriginError,
    TierUnavailableError,
)
from ._manifest import FileEntry, IndexKeys, Keys, Manifest
from ._origin import EngineLoader, IpfsOrigin, ModelLoader, Origin, PinningOrigin
from ._policy import POLICIES, EvictionPolicy, GreedyDualPolicy, LRUPolicy, make_policy
from ._redis_tier import Admission, RedisTier, make_client
from ._sim import (
    SimResult,
    infinite_cache_bound,
    interval_upper_bound,
    lognormal_sizes,
    offline_belady,
    replay,
    zipf_trace,
)
from ._types import TIER2_POLICIES, CacheConfig, CacheMetrics, Eviction, ModelKey

# The policy with the best byte hit ratio in bench/cache_sim.py (see docs/cache.md).
DEFAULT_POLICY = "lfu-da-h"

__all__ = [
    "DEFAULT_POLICY",
    "POLICIES",
    "TIER2_POLICIES",
    "Admission",
    "CacheClosedError",
    "CacheConfig",
    "CacheError",
    "CacheLoadError",
    "CacheMetrics",
    "CacheTimeout",
    "CachedModel",
    "CapacityError",
    "ChunkCorruptError",
    "DemandEstimator",
    "EngineLoader",
    "Eviction",
    "EvictionPolicy",
    "FileEntry",
    "GreedyDualPolicy",
    "IndexKeys",
    "InsufficientSpaceError",
    "IpfsOrigin",
    "Keys",
    "LRUPolicy",
    "Lease",
    "LeaseDeadlockError",
    "LeaseReleasedError",
    "Manifest",
    "ManifestError",
    "ModelCache",
    "ModelKey",
    "ModelLoadError",
    "ModelLoader",
    "ModelTooLargeError",
    "Origin",
    "OriginError",
    "PinningOrigin",
    "RedisTier",
    "SimResult",
    "TierUnavailableError",
    "infinite_cache_bound",
    "interval_upper_bound",
    "lognormal_sizes",
    "make_client",
    "make_policy",
    "offline_belady",
    "plan_preload",
    "replay",
    "zipf_trace",
]
