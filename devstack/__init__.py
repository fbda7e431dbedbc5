"""The local development stack: Kubo and Redis as throwaway loopback processes, and the demo.

devnode is the chain; `LocalKubo` and `LocalRedis` start the other two real components the
project needs, on random ports with temporary state, for `make demo` and the test fixtures.
"""

from ._processes import LocalKubo, LocalRedis, ServiceError, free_port, kubo_binary

__all__ = ["LocalKubo", "LocalRedis", "ServiceError", "free_port", "kubo_binary"]
