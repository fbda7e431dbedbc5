"""Identifiers, configuration and metric records."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NewType

# A model is named by its CID: entries never go stale; a new version is a new CID.
ModelKey = NewType("ModelKey", str)

# Policies the tier-2 index implements (in a Redis script), named as in ``POLICIES``.
TIER2_POLICIES = ("lru", "gdsf", "lfu-da")

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """How big each tier is and how hard to try.

    ``tier1_capacity`` is bytes of (device) memory for loaded models, as the loader measures
    them. ``disk_capacity`` caps the local model directory ``disk_dir``. ``redis_url`` names
    tier 2: one Redis (``redis://host:port/db``), or a Redis Cluster by its seed nodes, as a
    ``redis+cluster://host:port,host:port`` URL or a tuple of ``host:port`` strings (any live
    seed is enough; the client learns the rest of the cluster from it). ``None`` disables it.
    """

    disk_dir: Path
    tier1_capacity: int = 8 * GiB
    disk_capacity: int = 64 * GiB
    redis_url: str | tuple[str, ...] | None = None
    # Every key starts with this prefix; the CID goes in a {hash tag} so a model's keys share
    # one Redis Cluster slot (multi-key publish stays atomic there too).
    redis_prefix: str = "mc"
    chunk_size: int = 4 * MiB
    # Bytes of model data tier 2 may hold, shared by every daemon using this Redis (configure
    # them alike). Whole models (manifest and chunks) are evicted by ``tier2_policy`` to stay
    # under it. ``None``: no budget of the cache's own (Redis's ``maxmemory`` decides).
    tier2_capacity: int | None = None
    # Tier-2 eviction policy: ``lru``, ``gdsf`` or ``lfu-da`` (the same priorities as the
    # tier-1 policies of those names, kept in Redis so every daemon shares them).
    tier2_policy: str = "lfu-da"
    # Chunks per pipelined round trip when reading or writing tier 2.
    pipeline_chunks: int = 4
    # Any single Redis call slower than this counts as Redis being down.
    redis_timeout: float = 5.0
    # After a Redis failure, tier 2 is skipped for this long before it is tried again.
    redis_retry_after: float = 5.0
    # On a Redis Cluster, a call that fails because a node is unreachable or the cluster is
    # electing a new master (connection refused, CLUSTERDOWN, TRYAGAIN) is retried, against
    # the topology the client re-reads each time, for up to this long before tier 2 counts as
    # down: long enough for a replica to be promoted (about 2 x cluster-node-timeout).
    redis_failover_wait: float = 10.0
    # The cross-daemon fill lock expires after this long (a crashed filler frees it).
    fill_lock_ttl: float = 120.0
    # How long a daemon waits for another daemon's fill before fetching from the origin itself.
    fill_wait: float = 120.0
    fill_poll: float = 0.05
    # Staging keys of an abandoned fill expire after this long.
    staging_ttl: float = 600.0
    # Tier-1 policy name: see ``POLICIES``.
    policy: str = "lfu-da-h"
    # A load that needs tier-1 room held by models in use (leases) or by other loads waits at
    # most this long, then fails with ``CacheTimeout`` (every request sharing that load does).
    room_timeout: float = 60.0
    # Models loaded at once (each load can take gigabytes of host memory on its way in).
    max_concurrent_loads: int = 2
    # Demand estimator half-life in seconds.
    demand_half_life: float = 3600.0

    def __post_init__(self) -> None:
        if self.tier1_capacity <= 0 or self.disk_capacity <= 0:
            raise ValueError("capacities must be positive")
        if self.chunk_size < 1 or self.pipeline_chunks < 1 or self.max_concurrent_loads < 1:
            raise ValueError("chunk_size, pipeline_chunks and max_concurrent_loads must be >= 1")
        if self.tier2_capacity is not None and self.tier2_capacity <= 0:
            raise ValueError("tier2_capacity must be positive (or None)")
        if self.tier2_policy not in TIER2_POLICIES:
            raise ValueError(f"tier2_policy must be one of {', '.join(TIER2_POLICIES)}")
        if self.room_timeout <= 0:
            raise ValueError("room_timeout must be positive")
        if "{" in self.redis_prefix or "}" in self.redis_prefix:
            raise ValueError("redis_prefix must not contain braces")
        if self.redis_failover_wait < 0:
            raise ValueError("redis_failover_wait must be >= 0")
        if isinstance(self.redis_url, tuple):
            if not self.redis_url:
                raise ValueError("a Redis Cluster needs at least one seed node")
            for seed in self.redis_url:
                parse_seed(seed)
        elif self.redis_url is not None and self.redis_url.startswith(CLUSTER_SCHEMES):
            cluster_seeds(self.redis_url)

    @property
    def redis_cluster(self) -> bool:
        """Whether tier 2 is a Redis Cluster (seed nodes) rather than one Redis."""
        url = self.redis_url
        return isinstance(url, tuple) or (url is not None and url.startswith(CLUSTER_SCHEMES))


CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


def parse_seed(seed: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) of one cluster seed node; ``ValueError`` otherwise."""
    host, sep, port = seed.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"a cluster seed node is host:port, not {seed!r}")
    return host, int(port)


def cluster_seeds(url: str) -> tuple[list[tuple[str, int]], str | None, str | None, bool]:
    """The seed nodes, user, password and TLS flag of a ``redis+cluster://`` URL."""
    tls = url.startswith("rediss+")
    rest = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    user: str | None = None
    password: str | None = None
    if "@" in rest:
        credentials, rest = rest.rsplit("@", 1)
        name, sep, secret = credentials.partition(":")
        user, password = (name or None, secret) if sep else (None, name)
    seeds = [parse_seed(part) for part in rest.split(",") if part.strip()]
    if not seeds:
        raise ValueError("a redis+cluster:// URL names at least one host:port")
    return seeds, user, password, tls


@dataclass(frozen=True, slots=True)
class Eviction:
    """One tier-1 or disk eviction: which entry, how big, and how long it had been cached."""

    tier: str
    key: ModelKey
    size: int
    age_s: float


@dataclass(frozen=True, slots=True)
class CacheMetrics:
    """A snapshot of the cache's counters."""

    tier1_hits: int = 0
    tier1_misses: int = 0
    disk_hits: int = 0
    disk_misses: int = 0
    tier2_hits: int = 0
    tier2_misses: int = 0
    origin_fetches: int = 0
    bytes_from_origin: int = 0
    bytes_from_tier2: int = 0
    bytes_to_tier2: int = 0
    corrupt_chunks: int = 0
    tier2_bypassed: int = 0
    # Models this daemon evicted from tier 2 to keep it under ``tier2_capacity``.
    tier2_evictions: int = 0
    # Redis Cluster calls retried through a failover (node gone, CLUSTERDOWN, TRYAGAIN).
    tier2_retries: int = 0
    loads: int = 0
    load_seconds: float = 0.0
    tier1_bytes: int = 0
    evictions: tuple[Eviction, ...] = field(default_factory=tuple)
