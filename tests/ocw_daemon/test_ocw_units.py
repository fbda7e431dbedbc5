"""Pure parts: the output-fetch authentication, configuration and the keystore."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from substrateinterface import Keypair

from ocw_daemon import (
    AuthError,
    ConfigError,
    JobStore,
    KeystoreError,
    StoreError,
    load_config,
    load_keypair,
    output_request_message,
    sign_output_request,
    verify_output_request,
)
from ocw_daemon.__main__ import main
from ocw_daemon._store import BlockChanges

ALICE = Keypair.create_from_uri("//Alice")
BOB = Keypair.create_from_uri("//Bob")
NOW = 1_700_000_000_000


def test_signed_request_verifies_for_the_entitled_account() -> None:
    headers = sign_output_request(ALICE, 7, NOW)
    assert headers["X-Account"] == ALICE.ss58_address and headers["X-Timestamp"] == str(NOW)
    assert headers["X-Signature"].startswith("0x") and len(headers["X-Signature"]) == 130
    assert verify_output_request(headers, 7, {ALICE.public_key}, now_ms=NOW + 59_000) == (
        ALICE.public_key
    )
    assert output_request_message(7, NOW) == (
        b"genai-output:" + (7).to_bytes(8, "little") + NOW.to_bytes(8, "little")
    )


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda h: h.pop("X-Signature"), 401),
        (lambda h: h.update({"X-Timestamp": str(NOW + 1)}), 401),  # signed another time
        (lambda h: h.update({"X-Account": BOB.ss58_address}), 401),  # someone else's signature
        (lambda h: h.update({"X-Signature": "0xzz"}), 401),
        (lambda h: h.update({"X-Account": "not-an-address"}), 401),
    ],
)
def test_tampered_headers_are_refused(mutate: object, status: int) -> None:
    headers = sign_output_request(ALICE, 7, NOW)
    mutate(headers)  # type: ignore[operator]
    with pytest.raises(AuthError) as caught:
        verify_output_request(headers, 7, {ALICE.public_key, BOB.public_key}, now_ms=NOW)
    assert caught.value.status == status


def test_other_request_stale_and_unentitled_are_refused() -> None:
    headers = sign_output_request(ALICE, 7, NOW)
    with pytest.raises(AuthError):
        verify_output_request(headers, 8, {ALICE.public_key}, now_ms=NOW)
    with pytest.raises(AuthError, match="clock skew"):
        verify_output_request(headers, 7, {ALICE.public_key}, now_ms=NOW + 60_001)
    with pytest.raises(AuthError) as caught:
        verify_output_request(headers, 7, {BOB.public_key}, now_ms=NOW)
    assert caught.value.status == 403


def test_config_from_toml_with_environment_overrides(tmp_path: Path) -> None:
    path = tmp_path / "daemon.toml"
    path.write_text(
        '[daemon]\nnode_url = "ws://node:9944"\nworkers = 4\noutputs_public = true\n'
        '[provider]\nmodels = ["0x' + "11" * 32 + '"]\ncapacity = 3\n'
    )
    config = load_config(path, env={"OCW_WORKERS": "9", "OCW_PROVIDER_STAKE": "5"})
    assert config.node_url == "ws://node:9944" and config.workers == 9
    assert config.outputs_public is True
    assert config.provider.models == ("0x" + "11" * 32,) and config.provider.capacity == 3
    assert config.provider.stake == 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.workers = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "text",
    ["[daemon]\nworkers = 0\n", "[daemon]\nnope = 1\n", "[other]\n", '[daemon]\nworkers = "x"\n'],
)
def test_bad_config_is_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "daemon.toml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        load_config(path, env={})


def test_keystore_file_mode_is_checked_and_the_secret_never_shown(tmp_path: Path) -> None:
    key = tmp_path / "key.json"
    key.write_text(json.dumps({"seed": "//Bob"}))
    key.chmod(0o644)
    config = load_config(None, env={"OCW_KEYSTORE": str(key)})
    with pytest.raises(KeystoreError, match="chmod 600"):
        load_keypair(config, env={})
    key.chmod(0o600)
    assert load_keypair(config, env={}).public_key == BOB.public_key
    assert load_keypair(config, env={"OCW_ACCOUNT_SEED": "//Alice"}).public_key == (
        ALICE.public_key
    )
    secret = "0x" + "ab" * 31  # wrong length: malformed
    key.write_text(json.dumps({"seed": secret}))
    with pytest.raises(KeystoreError) as caught:
        load_keypair(config, env={})
    assert secret not in str(caught.value)


def test_cli_takes_no_key_argument_and_reports_a_missing_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OCW_ACCOUNT_SEED", raising=False)
    monkeypatch.delenv("OCW_ACCOUNT_MNEMONIC", raising=False)
    with pytest.raises(SystemExit):
        main(["run", "--seed", "//Alice"])
    path = tmp_path / "daemon.toml"
    path.write_text(f'[daemon]\ndata_dir = "{tmp_path}"\n')
    assert main(["run", "--config", str(path)]) == 1
    assert "no key" in capsys.readouterr().err


async def test_job_store_opens_once_and_closes_idempotently(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "ocw.sqlite3")
    with pytest.raises(StoreError, match="closed"):
        await store.last_block()  # not opened yet
    async with store:
        await store.commit_block(BlockChanges(5))
        assert await store.last_block() == 5
    await store.close()  # again: nothing
    with pytest.raises(StoreError):
        await store.last_block()
    with pytest.raises(StoreError):
        await store.open()  # a closed store stays closed
    async with JobStore(tmp_path / "ocw.sqlite3") as again:  # the record outlives the object
        assert await again.last_block() == 5
