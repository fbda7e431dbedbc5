"""The local development stack: Kubo and Redis as throwaway loopback processes, and the demo.

devnode is the chain; `LocalKubo`, `LocalRedis` and `LocalRedisCluster` start the other real
components the project needs, on random ports with temporary state, for `make demo` and the
test fixtures. Online `LocalKubo` peers `connect` over the swarm on loopback (no shared repo).
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

__all__ = [
    "ClusterNode",
    "LocalKubo",
    "LocalRedis",
    "LocalRedisCluster",
    "NodeInfo",
    "ServiceError",
    "free_port",
    "kubo_binary",
]
