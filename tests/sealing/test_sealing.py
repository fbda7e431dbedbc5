"""The sealing package: round trips, and each way an envelope can be refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sealing import (
    CommitmentMismatch,
    Context,
    ContextMismatch,
    EncryptionKey,
    EnvelopeReplayed,
    EnvelopeTruncated,
    OpenFailed,
    Role,
    SealingError,
    StreamOpener,
    StreamSealer,
    WrongRecipient,
    commit_input,
    load_or_create_key,
    open_for,
    open_multi,
    open_output,
    seal_for,
    seal_multi,
    seal_output,
)

MODEL = bytes(range(32))
OTHER_MODEL = bytes(32)
REQUESTER = b"\x11" * 32


def ctx(rid: int = 7, model: bytes = MODEL, recipient: Role = Role.REQUESTER) -> Context:
    return Context("request", rid, model, Role.EXECUTOR, recipient, REQUESTER)


def test_single_recipient_round_trip_and_no_plaintext_in_envelope() -> None:
    key = EncryptionKey.generate()
    envelope = seal_for(key.public, b"secret-marker prompt", ctx())
    assert b"secret-marker" not in envelope
    assert open_for(key, envelope, ctx()) == b"secret-marker prompt"


def test_moved_to_another_request_is_replay() -> None:
    key = EncryptionKey.generate()
    envelope = seal_for(key.public, b"x", ctx(rid=7))
    with pytest.raises(EnvelopeReplayed, match="request 7, not request 8"):
        open_for(key, envelope, ctx(rid=8))


@pytest.mark.parametrize(
    "other",
    [ctx(model=OTHER_MODEL), ctx(recipient=Role.VALIDATOR)],
)
def test_other_model_or_role_is_a_context_mismatch(other: Context) -> None:
    key = EncryptionKey.generate()
    envelope = seal_for(key.public, b"x", ctx())
    with pytest.raises(ContextMismatch) as info:
        open_for(key, envelope, other)
    assert not isinstance(info.value, EnvelopeReplayed)


def test_wrong_recipient_truncated_and_corrupted() -> None:
    key, other = EncryptionKey.generate(), EncryptionKey.generate()
    envelope = seal_for(key.public, b"payload", ctx())
    with pytest.raises(WrongRecipient):
        open_for(other, envelope, ctx())
    with pytest.raises(EnvelopeTruncated):
        open_for(key, envelope[:40], ctx())
    flipped = bytearray(envelope)
    flipped[-1] ^= 1
    with pytest.raises(OpenFailed):
        open_for(key, bytes(flipped), ctx())
    # a recipient header rewritten to another key still does not open for it
    forged = envelope[:4] + other.public + envelope[36:]
    with pytest.raises(OpenFailed):
        open_for(other, forged, ctx())


def test_multi_recipient_each_listed_provider_opens() -> None:
    keys = [EncryptionKey.generate() for _ in range(3)]
    accounts = [bytes([i]) * 32 for i in range(3)]
    chain_ctx = Context("chain-input", 0, MODEL, Role.REQUESTER, Role.EXECUTOR, REQUESTER)
    sealed = seal_multi(
        [(a, k.public) for a, k in zip(accounts, keys, strict=True)], b"hi", chain_ctx
    )
    assert all(len(w) == 112 for _, w in sealed.wraps)  # key id + sealed content key
    for account, key in zip(accounts, keys, strict=True):
        assert open_multi(key, account, list(sealed.wraps), sealed.payload, chain_ctx) == b"hi"
    outsider = EncryptionKey.generate()
    with pytest.raises(WrongRecipient):
        open_multi(outsider, b"\x09" * 32, list(sealed.wraps), sealed.payload, chain_ctx)
    # a wrap claimed for account 0 but opened with key 1
    with pytest.raises(WrongRecipient):
        open_multi(keys[1], accounts[0], list(sealed.wraps), sealed.payload, chain_ctx)
    with pytest.raises(EnvelopeTruncated):
        open_multi(keys[0], accounts[0], list(sealed.wraps), sealed.payload[:30], chain_ctx)
    other_party = Context("chain-input", 0, MODEL, Role.REQUESTER, Role.EXECUTOR, b"\x22" * 32)
    with pytest.raises(ContextMismatch):
        open_multi(keys[0], accounts[0], list(sealed.wraps), sealed.payload, other_party)


def test_output_commitment_is_salted_and_checked() -> None:
    key = EncryptionKey.generate()
    env1, c1 = seal_output(key.public, b"out", ctx())
    _env2, c2 = seal_output(key.public, b"out", ctx())
    assert c1 != c2  # the same output never gives the same on-chain hash
    assert open_output(key, env1, ctx(), c1) == b"out"
    with pytest.raises(CommitmentMismatch):
        open_output(key, env1, ctx(), c2)
    assert commit_input(b"a" * 32, b"p") != commit_input(b"b" * 32, b"p")


def test_stream_frames_open_in_order_only() -> None:
    stream_key = os.urandom(32)
    sealer = StreamSealer(stream_key, ctx())
    frames = [sealer.seal(b"tok1"), sealer.seal(b"tok2"), sealer.seal(b"", final=True)]
    opener = StreamOpener(stream_key, sealer.header, ctx())
    assert [opener.open(f) for f in frames] == [b"tok1", b"tok2", b""]
    assert opener.finished
    reordered = StreamOpener(stream_key, sealer.header, ctx())
    with pytest.raises(OpenFailed):
        reordered.open(frames[1])
    moved = StreamOpener(stream_key, sealer.header, ctx(rid=8))
    with pytest.raises(OpenFailed):
        moved.open(frames[0])
    with pytest.raises(EnvelopeTruncated):
        StreamOpener(stream_key, sealer.header[:5], ctx())


def test_key_file_created_owner_only_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "encryption.json"
    key = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path).public == key.public
    assert "x25519" not in repr(key) and key.secret_bytes().hex() not in repr(key)
    path.chmod(0o644)
    with pytest.raises(SealingError, match="readable by others"):
        load_or_create_key(path)
    env_key = load_or_create_key(path, env_value=key.secret_bytes().hex())
    assert env_key.public == key.public
