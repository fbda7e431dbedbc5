"""The shared account-key loader and output-fetch authentication, and their users' wrappers."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from substrateinterface import Keypair

import inference_client
import ocw_daemon
import protocol as shared_protocol
from ocw_daemon import protocol
from runtime_types import KeyLoadError, OutputAuthError, load_keypair

ALICE = Keypair.create_from_uri("//Alice")
BOB = Keypair.create_from_uri("//Bob")
MNEMONIC = Keypair.generate_mnemonic()
SEED = "0x" + "11" * 32


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("//Alice\n", ALICE),
        (f"{MNEMONIC}\n", Keypair.create_from_mnemonic(MNEMONIC)),
        (f"{SEED}\n", Keypair.create_from_seed(SEED)),
        (json.dumps({"seed": SEED}), Keypair.create_from_seed(SEED)),
        (json.dumps({"seed": "//Bob"}), BOB),
        (json.dumps({"mnemonic": MNEMONIC}), Keypair.create_from_mnemonic(MNEMONIC)),
        (json.dumps({"uri": "//Alice//stash"}), Keypair.create_from_uri("//Alice//stash")),
    ],
)
def test_every_file_format(tmp_path: Path, content: str, expected: Keypair) -> None:
    path = _write(tmp_path / "key", content)
    assert load_keypair(path, "X_", environ={}).public_key == expected.public_key
    # the same file through the environment variable
    assert (
        load_keypair(environ={"X_KEY_FILE": str(path)}, env_prefix="X_").public_key
        == expected.public_key
    )


def test_polkadot_js_keystore_and_its_password(tmp_path: Path) -> None:
    path = _write(tmp_path / "k.json", json.dumps(BOB.export_to_encrypted_json("pw", name="b")))
    assert load_keypair(path, "P_", environ={"P_KEY_PASSWORD": "pw"}).public_key == BOB.public_key
    with pytest.raises(KeyLoadError, match="P_KEY_PASSWORD"):
        load_keypair(path, "P_", environ={})
    with pytest.raises(KeyLoadError, match="wrong password") as caught:
        load_keypair(path, "P_", environ={"P_KEY_PASSWORD": "nope"})
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_precedence_seed_env_then_file_then_uri(tmp_path: Path) -> None:
    path = _write(tmp_path / "key", "//Alice")
    env = {"Q_KEY_FILE": str(path), "Q_KEY_URI": "//Bob"}
    assert load_keypair(environ=env, env_prefix="Q_").public_key == ALICE.public_key
    assert load_keypair(environ={"Q_KEY_URI": "//Bob"}, env_prefix="Q_").public_key == (
        BOB.public_key
    )
    seeded = {**env, "Q_ACCOUNT_SEED": SEED}
    assert load_keypair(path, "Q_", environ=seeded).public_key == (
        Keypair.create_from_seed(SEED).public_key
    )
    mnemonic = {**env, "Q_ACCOUNT_MNEMONIC": MNEMONIC}
    assert load_keypair(path, "Q_", environ=mnemonic).public_key == (
        Keypair.create_from_mnemonic(MNEMONIC).public_key
    )
    with pytest.raises(KeyLoadError, match="no key"):
        load_keypair(None, "Q_", environ={})


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_group_or_other_access_is_refused(tmp_path: Path, mode: int) -> None:
    path = _write(tmp_path / "key", "//Alice", mode)
    with pytest.raises(KeyLoadError, match="chmod 600"):
        load_keypair(path, environ={})


def test_not_a_regular_file_and_missing_file(tmp_path: Path) -> None:
    directory = tmp_path / "dir"
    directory.mkdir(mode=0o700)
    with pytest.raises(KeyLoadError, match="not a regular file"):
        load_keypair(directory, environ={})
    with pytest.raises(KeyLoadError, match="cannot read"):
        load_keypair(tmp_path / "absent", environ={})


@pytest.mark.parametrize(
    "content",
    [
        "correct horse battery staple not a mnemonic",
        json.dumps({"seed": "0x" + "ab" * 31}),
        json.dumps({"mnemonic": "correct horse battery staple not a mnemonic"}),
    ],
)
def test_secrets_never_appear_in_errors_or_logs(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = content if not content.startswith("{") else next(iter(json.loads(content).values()))
    path = _write(tmp_path / "key", content)
    caplog.set_level(logging.DEBUG)
    for call in (
        lambda: load_keypair(path, environ={}),
        lambda: load_keypair(environ={"R_KEY_URI": secret}, env_prefix="R_"),
        lambda: load_keypair(environ={"R_ACCOUNT_SEED": secret}, env_prefix="R_"),
    ):
        with pytest.raises(KeyLoadError) as caught:
            call()
        assert secret not in str(caught.value)
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert secret not in caplog.text


def test_the_three_packages_share_the_loader(tmp_path: Path) -> None:
    """Each package reads every format, with its own documented variables and error class."""
    daemon_style = _write(tmp_path / "daemon.json", json.dumps({"seed": "//Bob"}))
    polkadot = _write(tmp_path / "pjs.json", json.dumps(ALICE.export_to_encrypted_json("pw")))
    # the client (and model_registry through the same function) reads the daemon's keystore
    assert inference_client.load_keypair(daemon_style, environ={}).public_key == BOB.public_key
    assert (
        inference_client.load_keypair(
            environ={"MODEL_REGISTRY_KEY_URI": "//Bob"}, env_prefix="MODEL_REGISTRY_"
        ).public_key
        == BOB.public_key
    )
    # the daemon reads a polkadot.js keystore, and still honours OCW_ACCOUNT_SEED first
    config = ocw_daemon.load_config(None, env={"OCW_KEYSTORE": str(polkadot)})
    loaded = ocw_daemon.load_keypair(config, env={"OCW_KEY_PASSWORD": "pw"})
    assert loaded.public_key == ALICE.public_key
    seeded = ocw_daemon.load_keypair(config, env={"OCW_ACCOUNT_SEED": "//Bob"})
    assert seeded.public_key == BOB.public_key
    with pytest.raises(ocw_daemon.KeystoreError, match="OCW_KEY_PASSWORD"):
        ocw_daemon.load_keypair(config, env={})
    with pytest.raises(inference_client.KeyLoadError, match="no key"):
        inference_client.load_keypair(environ={})


NOW = 1_700_000_000_000


def test_output_auth_is_one_implementation_and_interoperates() -> None:
    assert protocol.sign_output_request is shared_protocol.sign_output_request
    assert inference_client.sign_output_request is shared_protocol.sign_output_request
    assert protocol.output_request_message is inference_client.output_request_message
    headers = inference_client.sign_output_request(ALICE, 9, NOW)
    # the daemon verifies what the client signed, with entitlement
    assert protocol.verify_output_request(headers, 9, {ALICE.public_key}, now_ms=NOW) == (
        ALICE.public_key
    )
    with pytest.raises(ocw_daemon.AuthError) as refused:
        protocol.verify_output_request(headers, 9, {BOB.public_key}, now_ms=NOW)
    assert refused.value.status == 403
    with pytest.raises(ocw_daemon.AuthError) as stale:
        protocol.verify_output_request(headers, 9, {ALICE.public_key}, now_ms=NOW + 60_001)
    assert stale.value.status == 401
    # the client's verifier reads what the daemon signed
    daemon_signed = protocol.sign_output_request(BOB, 9, NOW)
    assert inference_client.verify_output_request(daemon_signed, 9, now_ms=NOW) == BOB.ss58_address
    with pytest.raises(inference_client.InferenceClientError):
        inference_client.verify_output_request(daemon_signed, 10, now_ms=NOW)
    with pytest.raises(OutputAuthError) as forged:
        shared_protocol.verify_output_request(
            {**daemon_signed, "X-Account": ALICE.ss58_address}, 9, now_ms=NOW
        )
    assert forged.value.status == 401 and "does not verify" in str(forged.value)
