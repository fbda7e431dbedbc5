"""Envelopes (pure functions over bytes; the formats are `docs/privacy.md`'s)."""

from __future__ import annotations

import enum
import os
import struct
from dataclasses import dataclass

from nacl import bindings as sodium
from nacl.exceptions import CryptoError
from nacl.public import PublicKey, SealedBox

from protocol import blake2_256 as _blake2_256

from ._errors import (
    CommitmentMismatch,
    ContextMismatch,
    EnvelopeReplayed,
    EnvelopeTruncated,
    OpenFailed,
    WrongRecipient,
)
from ._keys import EncryptionKey

__all__ = [
    "SALT_BYTES",
    "Context",
    "MultiSealed",
    "Role",
    "StreamOpener",
    "StreamSealer",
    "commit_input",
    "commit_output",
    "open_for",
    "open_multi",
    "open_output",
    "pack",
    "seal_for",
    "seal_multi",
    "seal_output",
    "unpack",
]

SALT_BYTES = 32
_SINGLE = b"GSB1"  # one recipient: a libsodium sealed box
_MULTI = b"GSM1"  # many recipients: XChaCha20-Poly1305 under a key wrapped per recipient
_SEALBOX_OVERHEAD = 48  # ephemeral public key + Poly1305 tag
_NONCE = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
_TAG = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES


class Role(enum.Enum):
    REQUESTER = "requester"
    EXECUTOR = "executor"
    VALIDATOR = "validator"
    GATEWAY = "gateway"


@dataclass(frozen=True)
class Context:
    """What an envelope is for; sealed inside it and checked when it is opened.

    `scope` names the id space (`"chain-input"`: an on-chain input, which is sealed before the
    chain assigns its id and is kept unique by its commitment instead; `"request"`; `"ticket"`),
    `id` the request id or the ticket's channel and nonce, `party` the requester's account.
    """

    scope: str
    id: int
    model_id: bytes
    sender: Role
    recipient: Role
    party: bytes = b""

    def encode(self) -> bytes:
        fields = [
            b"genai-seal/v1",
            self.scope.encode(),
            self.id.to_bytes(16, "little"),
            bytes(self.model_id),
            self.sender.value.encode(),
            self.recipient.value.encode(),
            bytes(self.party),
        ]
        return pack(*fields)

    @classmethod
    def decode(cls, data: bytes) -> Context:
        try:
            magic, scope, rid, model, sender, recipient, party = unpack(data, 7)
            if magic != b"genai-seal/v1":
                raise ValueError("magic")
            return cls(
                scope.decode(),
                int.from_bytes(rid, "little"),
                model,
                Role(sender.decode()),
                Role(recipient.decode()),
                party,
            )
        except (ValueError, EnvelopeTruncated) as exc:
            raise OpenFailed("the envelope's context is malformed") from exc


def pack(*parts: bytes) -> bytes:
    """Length-prefixed concatenation (u32 LE lengths)."""
    return b"".join(struct.pack("<I", len(p)) + bytes(p) for p in parts)


def unpack(data: bytes, count: int) -> list[bytes]:
    out: list[bytes] = []
    at = 0
    for _ in range(count):
        if at + 4 > len(data):
            raise EnvelopeTruncated("a length prefix is cut off")
        (n,) = struct.unpack_from("<I", data, at)
        at += 4
        if at + n > len(data):
            raise EnvelopeTruncated("a part is cut off")
        out.append(bytes(data[at : at + n]))
        at += n
    if at != len(data):
        raise OpenFailed("trailing bytes after the last part")
    return out


def _check_context(found: Context, expected: Context) -> None:
    if found == expected:
        return
    if (found.scope, found.id) != (expected.scope, expected.id) and found == Context(
        found.scope, found.id, expected.model_id, expected.sender, expected.recipient,
        expected.party,
    ):  # fmt: skip
        raise EnvelopeReplayed(
            f"the envelope is bound to {found.scope} {found.id}, not {expected.scope} {expected.id}"
        )
    raise ContextMismatch("the envelope is bound to another model, role or party")


def commit_input(salt: bytes, prompt: bytes) -> bytes:
    """The on-chain `input_hash` of a sealed input: salted, so a short prompt cannot be guessed."""
    return _blake2_256(b"genai-input" + salt + prompt)


def commit_output(salt: bytes, record: bytes) -> bytes:
    """The on-chain `output_hash` of a sealed output."""
    return _blake2_256(b"genai-output" + salt + record)


# -- one recipient: a sealed box ---------------------------------------------------------------


def seal_for(recipient: bytes, plaintext: bytes, context: Context) -> bytes:
    """`GSB1 ++ recipient (32) ++ sealed_box(pack(context, plaintext))`."""
    box = SealedBox(PublicKey(bytes(recipient)))
    return _SINGLE + bytes(recipient) + box.encrypt(pack(context.encode(), plaintext))


def open_for(key: EncryptionKey, envelope: bytes, expected: Context) -> bytes:
    envelope = bytes(envelope)
    if len(envelope) < len(_SINGLE) + 32 + _SEALBOX_OVERHEAD + 8:
        raise EnvelopeTruncated(f"a sealed envelope of {len(envelope)} bytes is too short")
    if envelope[:4] != _SINGLE:
        raise OpenFailed("not a sealed envelope")
    if envelope[4:36] != key.public:
        raise WrongRecipient("the envelope is sealed to another key")
    try:
        inner = SealedBox(key.private).decrypt(envelope[36:])
    except CryptoError as exc:
        raise OpenFailed("the envelope does not authenticate") from exc
    raw_context, plaintext = unpack(inner, 2)
    _check_context(Context.decode(raw_context), expected)
    return plaintext


# -- many recipients: one content key, wrapped per recipient ----------------------------------


@dataclass(frozen=True)
class MultiSealed:
    """A payload and its content key wrapped to each recipient (`(account, wrapped)`)."""

    payload: bytes
    wraps: tuple[tuple[bytes, bytes], ...]


def seal_multi(
    recipients: list[tuple[bytes, bytes]], plaintext: bytes, context: Context
) -> MultiSealed:
    """Seal once to every `(account, x25519 public key)`: any one of them can open it."""
    content_key = os.urandom(32)
    nonce = os.urandom(_NONCE)
    # the context is inside the authenticated plaintext, so a moved payload opens only to be
    # refused with a typed error naming what it was bound to
    body = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
        pack(context.encode(), plaintext), _MULTI, nonce, content_key
    )
    # each wrap names the key it is sealed to, so a stale key (rotation) is a typed error
    wraps = tuple(
        (bytes(account), bytes(pub) + SealedBox(PublicKey(bytes(pub))).encrypt(content_key))
        for account, pub in recipients
    )
    return MultiSealed(_MULTI + nonce + body, wraps)


def open_multi(
    key: EncryptionKey,
    account: bytes,
    wraps: list[tuple[bytes, bytes]],
    payload: bytes,
    expected: Context,
) -> bytes:
    wrapped = next((w for a, w in wraps if bytes(a) == bytes(account)), None)
    if wrapped is None:
        raise WrongRecipient("the input's key is not wrapped to this provider")
    if len(wrapped) < 32 + _SEALBOX_OVERHEAD + 32:
        raise EnvelopeTruncated("the key wrap is too short")
    if bytes(wrapped[:32]) != key.public:
        raise WrongRecipient("the input's key is wrapped to another key of this provider")
    try:
        content_key = SealedBox(key.private).decrypt(bytes(wrapped[32:]))
    except CryptoError as exc:
        raise OpenFailed("the key wrap does not open with this provider's key") from exc
    payload = bytes(payload)
    if len(payload) < len(_MULTI) + _NONCE + _TAG + 8:
        raise EnvelopeTruncated(f"a sealed payload of {len(payload)} bytes is too short")
    if payload[:4] != _MULTI or len(content_key) != 32:
        raise OpenFailed("not a sealed payload")
    nonce, body = payload[4 : 4 + _NONCE], payload[4 + _NONCE :]
    try:
        inner = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(body, _MULTI, nonce, content_key)
    except CryptoError as exc:
        raise OpenFailed("the sealed payload does not authenticate") from exc
    raw_context, plaintext = unpack(inner, 2)
    _check_context(Context.decode(raw_context), expected)
    return plaintext


# -- outputs -----------------------------------------------------------------------------------


def seal_output(recipient: bytes, record: bytes, context: Context) -> tuple[bytes, bytes]:
    """Seal an output record to the requester: `(envelope, salted output commitment)`."""
    salt = os.urandom(SALT_BYTES)
    return seal_for(recipient, salt + record, context), commit_output(salt, record)


def open_output(key: EncryptionKey, envelope: bytes, expected: Context, commitment: bytes) -> bytes:
    """Open a sealed output and check it against the on-chain `output_hash`."""
    plain = open_for(key, envelope, expected)
    if len(plain) < SALT_BYTES:
        raise EnvelopeTruncated("the sealed output has no salt")
    salt, record = plain[:SALT_BYTES], plain[SALT_BYTES:]
    if commit_output(salt, record) != bytes(commitment):
        raise CommitmentMismatch("the output does not match its on-chain commitment")
    return record


# -- streams: libsodium secretstream, one frame per chunk --------------------------------------


class StreamSealer:
    """Seals a token stream chunk by chunk under `key` (32 bytes, sent sealed beforehand);
    `header` goes first. Each frame authenticates its position and the context."""

    def __init__(self, key: bytes, context: Context) -> None:
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        self.header = sodium.crypto_secretstream_xchacha20poly1305_init_push(self._state, key)
        self._ad = context.encode()

    def seal(self, chunk: bytes, *, final: bool = False) -> bytes:
        tag = (
            sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
            if final
            else sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
        )
        return sodium.crypto_secretstream_xchacha20poly1305_push(self._state, chunk, self._ad, tag)


class StreamOpener:
    """Opens frames from a `StreamSealer` in order; `finished` after the final frame."""

    def __init__(self, key: bytes, header: bytes, context: Context) -> None:
        if len(header) != sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES:
            raise EnvelopeTruncated("the stream header is cut off")
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(self._state, header, key)
        self._ad = context.encode()
        self.finished = False

    def open(self, frame: bytes) -> bytes:
        if self.finished:
            raise OpenFailed("a frame after the final one")
        if len(frame) < sodium.crypto_secretstream_xchacha20poly1305_ABYTES:
            raise EnvelopeTruncated("a stream frame is cut off")
        try:
            chunk, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                self._state, frame, self._ad
            )
        except (CryptoError, RuntimeError) as exc:
            raise OpenFailed(
                "a stream frame does not authenticate (moved, reordered or altered)"
            ) from exc
        if tag == sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL:
            self.finished = True
        return bytes(chunk)
