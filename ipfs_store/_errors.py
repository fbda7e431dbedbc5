"""The exception hierarchy: one root, one class per way a caller may want to react."""

from __future__ import annotations


class IpfsStoreError(Exception):
    """Root of every error raised by ipfs_store.

    ``attempts`` lists, for an error summarising several sources, each source's own error.
    """

    attempts: tuple[tuple[str, IpfsStoreError], ...] = ()


class InvalidCid(IpfsStoreError, ValueError):
    """A string or byte sequence is not a CID this package understands."""


class KuboUnavailable(IpfsStoreError):
    """The Kubo RPC API (or every configured source) could not be reached in time."""


class ContentNotFound(IpfsStoreError):
    """No source has the requested content."""


class IntegrityError(IpfsStoreError):
    """Received data does not match the CID that names it (tampered, truncated or incomplete)."""


class TooLarge(IpfsStoreError):
    """Content exceeds a configured size limit."""


class UnsupportedContent(IpfsStoreError):
    """Valid IPFS content this package deliberately does not handle (symlinks, other codecs...)."""
