"""The sealing package's typed errors (tree in the package docstring)."""

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
