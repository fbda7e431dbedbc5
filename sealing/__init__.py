"""Sealed payloads: prompts and outputs readable only by the parties entitled to them.

Built on libsodium through PyNaCl (`docs/privacy.md`): a payload for one recipient is a libsodium
*sealed box* (X25519 + XSalsa20-Poly1305, an ephemeral sender key per message); a payload for
many (an on-chain input the chain may assign to any listed provider) is one XChaCha20-Poly1305
content key wrapped in a sealed box per recipient; a stream is libsodium's *secretstream*
(XChaCha20-Poly1305, ordered, truncation-evident) under a key that travels in a sealed box.
Every envelope binds its `Context` (request or ticket id, model id, the roles): the context is
authenticated inside the ciphertext (), so an envelope moved to
another request fails to open.

Errors::

    SealingError
    ├── EnvelopeTruncated      shorter than its format allows
    ├── WrongRecipient         sealed to another key (or no wrap for this provider)
    ├── OpenFailed             authentication failed: corrupted, or not sealed to this key
    ├── ContextMismatch        opened, but bound to another model, role or party
    │   └── EnvelopeReplayed   opened, but bound to another request or ticket
    └── CommitmentMismatch     the plaintext does not match its salted on-chain commitment
"""

from __future__ import annotations

from ._direct import (
    DirectStreamOpener,
    DirectStreamSealer,
    open_direct_request,
    seal_direct_request,
    ticket_context,
)
from ._errors import (
    CommitmentMismatch,
    ContextMismatch,
    EnvelopeReplayed,
    EnvelopeTruncated,
    OpenFailed,
    SealingError,
    WrongRecipient,
)
from ._keys import EncryptionKey, load_or_create_key
from ._seal import (
    SALT_BYTES,
    Context,
    MultiSealed,
    Role,
    StreamOpener,
    StreamSealer,
    commit_input,
    commit_output,
    open_for,
    open_multi,
    open_output,
    pack,
    seal_for,
    seal_multi,
    seal_output,
    unpack,
)

__all__ = [
    "SALT_BYTES",
    "CommitmentMismatch",
    "Context",
    "ContextMismatch",
    "DirectStreamOpener",
    "DirectStreamSealer",
    "EncryptionKey",
    "EnvelopeReplayed",
    "EnvelopeTruncated",
    "MultiSealed",
    "OpenFailed",
    "Role",
    "SealingError",
    "StreamOpener",
    "StreamSealer",
    "WrongRecipient",
    "commit_input",
    "commit_output",
    "load_or_create_key",
    "open_direct_request",
    "open_for",
    "open_multi",
    "open_output",
    "pack",
    "seal_direct_request",
    "seal_for",
    "seal_multi",
    "seal_output",
    "ticket_context",
    "unpack",
]
