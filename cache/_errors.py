"""One exception root for the cache, with a subclass per way a caller may react.

    CacheError
    ├── CacheClosedError        used after close() (also lifecycle.ResourceClosedError)
    ├── OriginError             the origin (IPFS) could not deliver the model (cause chained)
    ├── CacheLoadError          the loader could not load a local model directory (cause chained)
    ├── CapacityError           tier 1 can never make room: do not retry as is
    │   ├── ModelTooLargeError  larger than tier 1 even with everything else evicted
    │   └── LeaseDeadlockError  the caller's own leases pin the room its next model needs
    ├── CacheTimeout            a wait for tier-1 room or a caller's timeout ran out (TimeoutError)
    ├── LeaseReleasedError      a lease used after release()
    ├── InsufficientSpaceError  the local model directory cannot hold an entry
    ├── TierUnavailableError    tier 2 (Redis) down or too slow: callers bypass it
    ├── ChunkCorruptError       a tier-2 chunk does not hash to its manifest's value
    └── ManifestError           a malformed tier-2 manifest (ValueError)

Foreign errors are translated where they are met: the origin's in ``_origin.py``
(``OriginError``), the loader's in ``_cache.py`` (``CacheLoadError``), Redis's in
``_redis_tier.py`` (``TierUnavailableError``), the file system's in ``_disk.py``
(``InsufficientSpaceError``).
"""

from __future__ import annotations

from pathlib import Path

from lifecycle import ResourceClosedError


class CacheError(Exception):
    """Root of every error raised by the cache package."""


class CacheClosedError(CacheError, ResourceClosedError):
    """The cache was used after ``close()``."""


class OriginError(CacheError):
    """The origin (IPFS) could not deliver the model; the cause is chained."""


class CacheLoadError(CacheError):
    """The loader could not turn a local model directory into a loaded model (the loader's
    own error, such as inference_engine.ModelLoadError, is chained)."""


#: The old name, the same as inference_engine's error for a different failure; kept for
#: callers outside this tree
ModelLoadError = CacheLoadError


class CapacityError(CacheError):
    """Tier 1 can never make room for a model: callers should not retry as is."""


class ModelTooLargeError(CapacityError):
    """A model does not fit the tier-1 capacity even with everything else evicted."""

    def __init__(self, key: str, size: int, capacity: int) -> None:
        super().__init__(f"model {key} needs {size} bytes; tier-1 capacity is {capacity} bytes")
        self.key = key
        self.size = size
        self.capacity = capacity


class LeaseDeadlockError(CapacityError):
    """The caller's own leases hold the room its next model needs: waiting would never end.

    Raised to that caller only (other requests for the model keep waiting). Release a
    lease, or acquire the models one at a time.
    """

    def __init__(self, key: str, size: int, capacity: int, held: int) -> None:
        super().__init__(
            f"model {key} needs {size} bytes, but this task's leases pin {held} of the "
            f"{capacity} bytes of tier 1: it would wait for itself"
        )
        self.key = key
        self.size = size
        self.capacity = capacity
        self.held = held


class CacheTimeout(CacheError, TimeoutError):
    """A wait ran out: for tier-1 room (``CacheConfig.room_timeout``) or a caller's timeout."""

    def __init__(self, key: str, timeout: float | None, waiting_for: str) -> None:
        super().__init__(f"model {key}: gave up waiting for {waiting_for} after {timeout} s")
        self.key = key
        self.timeout = timeout
        self.waiting_for = waiting_for


class LeaseReleasedError(CacheError):
    """A lease was used after ``release()``: its model may already be evicted."""


class InsufficientSpaceError(CacheError):
    """The local model directory cannot hold an entry (cap or full disk)."""

    def __init__(self, directory: Path, requested: int, available: int) -> None:
        super().__init__(
            f"no space in {directory}: {requested} bytes requested, {available} bytes available"
        )
        self.directory = directory
        self.requested = requested
        self.available = available


class TierUnavailableError(CacheError):
    """Tier 2 (Redis) is down or too slow; callers bypass it."""


class ChunkCorruptError(CacheError):
    """A tier-2 chunk did not hash to the value in its manifest."""


class ManifestError(CacheError, ValueError):
    """A tier-2 manifest is malformed."""
