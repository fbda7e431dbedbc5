"""Sealed requests on the executor and validator side (pure; formats in `docs/privacy.md`).

The executor opens a sealed input with its X25519 key, checks it against the salted on-chain
commitment, and keeps its result as `SEALED_JOB ++ pack(to_requester, to_self)`: the output
sealed to the requester's `output_key` (what `/outputs/{id}` and IPFS serve) and a copy of
prompt and output sealed to its own key, from which it re-seals both to a drawn validator. The
job database therefore holds no plaintext output.
"""

from __future__ import annotations

import os

import sealing
from runtime_types.generated.devnode import types
from sealing import Context, Role

from ._errors import JobFailed

__all__ = [
    "SEALED_JOB",
    "SealedInputRefused",
    "input_context",
    "open_input",
    "open_validator_bundle",
    "requester_envelope",
    "seal_job_output",
    "validator_bundle",
]

SEALED_JOB = b"\x00genai-sealed-job\x00"


class SealedInputRefused(JobFailed):
    """A sealed input that cannot be served (does not open, or does not match its
    commitment): the executor declines the request on-chain so the requester is refunded."""

    def __init__(self, error: sealing.SealingError) -> None:
        super().__init__(f"sealed input refused: {type(error).__name__}: {error}")
        self.error = error


def _model(req: types.InferenceRequest) -> bytes:
    return bytes(req.model_id.value)


def _requester(req: types.InferenceRequest) -> bytes:
    return bytes(req.requester.value)


def input_context(req: types.InferenceRequest) -> Context:
    """An on-chain input is sealed before the chain assigns its id: it is bound to the
    requester and model, and the chain accepts its commitment once (`SealedCommitments`)."""
    return Context("chain-input", 0, _model(req), Role.REQUESTER, Role.EXECUTOR, _requester(req))


def _context(rid: int, req: types.InferenceRequest, sender: Role, recipient: Role) -> Context:
    return Context("request", rid, _model(req), sender, recipient, _requester(req))


def open_input(
    key: sealing.EncryptionKey,
    account: bytes,
    sealed_input: types.SealedInput,
    payload: bytes,
    req: types.InferenceRequest,
) -> bytes:
    """`salt ++ prompt`, checked against `req.input_hash`; `SealedInputRefused` otherwise."""
    wraps = [(bytes(w.provider.value), bytes(w.wrapped)) for w in sealed_input.wraps]
    try:
        plain = sealing.open_multi(key, account, wraps, payload, input_context(req))
        if len(plain) <= sealing.SALT_BYTES:
            raise sealing.EnvelopeTruncated("the sealed input has no prompt after its salt")
        salt, prompt = plain[: sealing.SALT_BYTES], plain[sealing.SALT_BYTES :]
        if sealing.commit_input(salt, prompt) != bytes(req.input_hash.value):
            raise sealing.CommitmentMismatch("the input does not match its on-chain commitment")
    except sealing.SealingError as exc:
        raise SealedInputRefused(exc) from None
    return plain


def seal_job_output(
    key: sealing.EncryptionKey,
    rid: int,
    req: types.InferenceRequest,
    input_plain: bytes,
    record: bytes,
) -> tuple[bytes, bytes]:
    """`(stored job output, salted output commitment for submit_result)`."""
    assert req.output_key is not None
    salt = os.urandom(sealing.SALT_BYTES)
    to_requester = sealing.seal_for(
        bytes(req.output_key), salt + record, _context(rid, req, Role.EXECUTOR, Role.REQUESTER)
    )
    to_self = sealing.seal_for(
        key.public,
        sealing.pack(input_plain, salt + record),
        _context(rid, req, Role.EXECUTOR, Role.EXECUTOR),
    )
    return SEALED_JOB + sealing.pack(to_requester, to_self), sealing.commit_output(salt, record)


def _parts(stored: bytes) -> list[bytes]:
    if not stored.startswith(SEALED_JOB):
        raise sealing.OpenFailed("not a sealed job output")
    return sealing.unpack(stored[len(SEALED_JOB) :], 2)


def requester_envelope(stored: bytes) -> bytes:
    """What the requester (and IPFS) gets: the output sealed to the request's `output_key`."""
    return _parts(stored)[0]


def validator_bundle(
    key: sealing.EncryptionKey,
    stored: bytes,
    rid: int,
    req: types.InferenceRequest,
    validator_key: bytes,
) -> bytes:
    """Prompt and output (with their salts) re-sealed to the drawn validator's key."""
    own = sealing.open_for(key, _parts(stored)[1], _context(rid, req, Role.EXECUTOR, Role.EXECUTOR))
    return sealing.seal_for(validator_key, own, _context(rid, req, Role.EXECUTOR, Role.VALIDATOR))


def open_validator_bundle(
    key: sealing.EncryptionKey, bundle: bytes, rid: int, req: types.InferenceRequest
) -> tuple[bytes, bytes]:
    """`(prompt, output record)`, both checked against the request's commitments."""
    plain = sealing.open_for(key, bundle, _context(rid, req, Role.EXECUTOR, Role.VALIDATOR))
    input_plain, output_plain = sealing.unpack(plain, 2)
    n = sealing.SALT_BYTES
    if len(input_plain) < n or len(output_plain) < n:
        raise sealing.EnvelopeTruncated("a salt is missing")
    prompt, record = input_plain[n:], output_plain[n:]
    if sealing.commit_input(input_plain[:n], prompt) != bytes(req.input_hash.value):
        raise sealing.CommitmentMismatch("the prompt does not match the input commitment")
    if req.output_hash is None or sealing.commit_output(output_plain[:n], record) != bytes(
        req.output_hash.value
    ):
        raise sealing.CommitmentMismatch("the output does not match the output commitment")
    return prompt, record
