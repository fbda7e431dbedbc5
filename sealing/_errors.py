"""The sealing package's typed errors.

    SealingError                the root; messages never contain plaintext
    ├── EnvelopeTruncated       shorter than its format allows
    ├── WrongRecipient          sealed to another key (or no wrap for this provider)
    ├── OpenFailed              authentication failed: corrupted, or not sealed to this key
    ├── ContextMismatch         opened, but bound to another model, role or party
    │   └── EnvelopeReplayed    opened, but bound to another request or ticket
    └── CommitmentMismatch      the plaintext does not match its salted on-chain commitment

PyNaCl's errors are translated in `_seal.py`.
"""

from __future__ import annotations

__all__ = [
    "CommitmentMismatch",
    "ContextMismatch",
    "EnvelopeReplayed",
    "EnvelopeTruncated",
    "OpenFailed",
    "SealingError",
    "WrongRecipient",
]


class SealingError(Exception):
    """Root of the sealing errors; messages never contain plaintext."""


class EnvelopeTruncated(SealingError):
    """The envelope is shorter than its format allows."""


class WrongRecipient(SealingError):
    """The envelope is sealed to another key."""


class OpenFailed(SealingError):
    """Authentication failed: the envelope is corrupted or not sealed to this key."""


class ContextMismatch(SealingError):
    """The envelope opened but is bound to another model, role or party."""


class EnvelopeReplayed(ContextMismatch):
    """The envelope opened but is bound to another request or ticket."""


class CommitmentMismatch(SealingError):
    """The plaintext does not match its salted commitment."""
