"""The exception hierarchy: one root, one class per way a caller may want to react.

    IpfsStoreError              root of every error raised by ipfs_store
    ├── InvalidCid              not a CID this package understands (ValueError)
    ├── SourceUnavailable       a source could not be reached in time
    │   ├── KuboUnavailable     the Kubo node (its RPC API or its own gateway)
    │   └── GatewayUnavailable  an HTTP gateway
    ├── ContentNotFound         no source has the content
    ├── IntegrityError          data does not match its CID
    ├── TooLarge                over a configured size limit
    ├── UnsupportedContent      valid IPFS content this package does not handle
    └── IpfsStoreClosed         used after close() (also lifecycle.ResourceClosedError)

Foreign errors (aiohttp's, timeouts) are translated where the store talks HTTP
(``ipfs_store/_client.py``: ``_with_retries`` and the stream readers; ``_rawhttp.py``).
"""

from __future__ import annotations

from lifecycle import ResourceClosedError


class IpfsStoreError(Exception):
    """Root of every error raised by ipfs_store.

    ``attempts`` lists, for an error summarising several sources, each source's own error.
    """

    attempts: tuple[tuple[str, IpfsStoreError], ...] = ()


class InvalidCid(IpfsStoreError, ValueError):
    """A string or byte sequence is not a CID this package understands."""


class SourceUnavailable(IpfsStoreError):
    """A source (or every configured source) could not be reached in time."""


class KuboUnavailable(SourceUnavailable):
    """The Kubo node (its RPC API, or its own gateway) could not be reached in time."""


class GatewayUnavailable(SourceUnavailable):
    """An HTTP gateway could not be reached in time (or answered 502/503/504)."""


class ContentNotFound(IpfsStoreError):
    """No source has the requested content."""


class IntegrityError(IpfsStoreError):
    """Received data does not match the CID that names it (tampered, truncated or incomplete)."""


class TooLarge(IpfsStoreError):
    """Content exceeds a configured size limit."""


class UnsupportedContent(IpfsStoreError):
    """Valid IPFS content this package deliberately does not handle (symlinks, other codecs...)."""


class IpfsStoreClosed(IpfsStoreError, ResourceClosedError):
    """The store was used after ``close()``."""
