"""Offline parts of inference_client: the signed output request, settings, keys, ids."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from substrateinterface import Keypair

from inference_client import (
    ConfigError,
    InferenceClient,
    InferenceClientConfig,
    KeyLoadError,
    load_keypair,
    output_request_message,
    parse_model_id,
    sign_output_request,
    verify_output_request,
)
from inference_client import InferenceClientError as Root

ALICE = Keypair.create_from_uri("//Alice")
BOB = Keypair.create_from_uri("//Bob")


def test_output_request_message_layout() -> None:
    message = output_request_message(0x0102, 1_700_000_000_123)
    assert message == b"genai-output:" + bytes.fromhex("0201000000000000") + (
        1_700_000_000_123
    ).to_bytes(8, "little")


def test_signed_output_request_verifies_and_binds_id_account_and_time() -> None:
    headers = sign_output_request(ALICE, 42, timestamp_ms=1_000_000)
    assert headers["X-Account"] == ALICE.ss58_address
    assert headers["X-Signature"].startswith("0x") and len(headers["X-Signature"]) == 130
    assert verify_output_request(headers, 42, now_ms=1_000_500) == ALICE.ss58_address
    with pytest.raises(Root, match="does not verify"):
        verify_output_request(headers, 43, now_ms=1_000_500)
    with pytest.raises(Root, match="does not verify"):
        verify_output_request({**headers, "X-Account": BOB.ss58_address}, 42, now_ms=1_000_500)
    with pytest.raises(Root, match="clock skew"):
        verify_output_request(headers, 42, now_ms=1_000_000 + 61_000)
    with pytest.raises(Root, match="malformed"):
        verify_output_request({"X-Account": ALICE.ss58_address}, 42)


def test_config_toml_then_env(tmp_path: Path) -> None:
    path = tmp_path / "client.toml"
    path.write_text(
        '[inference_client]\nchain_url = "ws://node:9944"\ndeadline_blocks = 7\n'
        "follow_finalized = false\n"
    )
    config = InferenceClientConfig.load(path, environ={"INFER_DEADLINE_BLOCKS": "9"})
    assert config.chain_url == "ws://node:9944"
    assert config.deadline_blocks == 9 and config.follow_finalized is False
    assert config.ipfs_api_url == InferenceClientConfig().ipfs_api_url


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("bogus = 1\n", "unknown"),
        ("deadline_blocks = 'x'\n", "expected int"),
        ("chain_url = 'http://x'\n", "ws://"),
        ("deadline_blocks = 0\n", ">= 1"),
    ],
)
def test_config_errors_are_typed(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        InferenceClientConfig.load(path, environ={})


def test_keys_from_file_env_and_keystore(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("//Alice\n")
    os.chmod(path, 0o600)
    assert load_keypair(path, environ={}).ss58_address == ALICE.ss58_address
    assert load_keypair(environ={"INFER_KEY_URI": "//Bob"}).ss58_address == BOB.ss58_address
    assert (
        load_keypair(environ={"INFER_KEY_FILE": str(path), "INFER_KEY_URI": "//Bob"}).ss58_address
        == ALICE.ss58_address
    )
    keystore = tmp_path / "keystore.json"
    keystore.write_text(json.dumps(BOB.export_to_encrypted_json("pw", name="bob")))
    os.chmod(keystore, 0o600)
    loaded = load_keypair(keystore, environ={"INFER_KEY_PASSWORD": "pw"})
    assert loaded.ss58_address == BOB.ss58_address
    with pytest.raises(KeyLoadError, match="wrong password"):
        load_keypair(keystore, environ={"INFER_KEY_PASSWORD": "nope"})


def test_key_errors_never_show_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("//Alice\n")
    os.chmod(path, 0o644)
    with pytest.raises(KeyLoadError, match="chmod 600"):
        load_keypair(path, environ={})
    secret = "correct horse battery staple not a mnemonic"
    with pytest.raises(KeyLoadError) as caught:
        load_keypair(environ={"INFER_KEY_URI": secret})
    assert secret not in str(caught.value) and caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    with pytest.raises(KeyLoadError, match="no key"):
        load_keypair(environ={})


def test_model_ids_are_normalised_and_checked() -> None:
    assert parse_model_id("AB" * 32) == "0x" + "ab" * 32
    with pytest.raises(ConfigError):
        parse_model_id("0x1234")


async def test_close_is_idempotent_and_unconnected_use_is_an_error() -> None:
    client = InferenceClient(InferenceClientConfig(), ALICE)
    with pytest.raises(Root, match="not connected"):
        _ = client.chain
    await client.close()
    await client.close()
    with pytest.raises(Root, match="closed"):
        await client.connect()
