"""The local development stack: Kubo and Redis as throwaway loopback processes, and the demo.

devnode is the chain; `LocalKubo`, `LocalRedis` and `LocalRedisCluster` start the other real
components the project needs, on random ports with temporary state, for `make demo` and the
test fixtures. Online `LocalKubo` peers `connect` over the swarm on loopback (no shared repo).
`LocalRuntimeNode` runs the Rust runtime on chopsticks (`runtime-node`) in devnode's place.
"""

from ._processes import (
    ClusterNode,
    LocalKubo,
    LocalRedis,
    LocalRedisCluster,
    NodeInfo,
    ServiceError,
    free_port,
    kubo_binary,
)
from ._runtime_node import (
    MIN_BLOCK_TIME,
    LocalRuntimeNode,
    RuntimeNodeConfig,
    RuntimeNodeConfigError,
    RuntimeNodeMissing,
)

__all__ = [
    "MIN_BLOCK_TIME",
    "ClusterNode",
    "LocalKubo",
    "LocalRedis",
    "LocalRedisCluster",
    "LocalRuntimeNode",
    "NodeInfo",
    "RuntimeNodeConfig",
    "RuntimeNodeConfigError",
    "RuntimeNodeMissing",
    "ServiceError",
    "free_port",
    "kubo_binary",
]
