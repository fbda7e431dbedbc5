"""Offline parts of model_registry: value parsing and settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_registry import (
    RegistryConfig,
    RegistryConfigError,
    parse_author_share,
    parse_currency,
    parse_model_id,
)
from model_registry.__main__ import ProgressBar


@pytest.mark.parametrize(
    ("text", "ppm"),
    [
        ("25%", 250_000),
        ("0.25", 250_000),
        ("1", 1_000_000),
        ("0", 0),
        ("12ppm", 12),
        ("0.5%", 5000),
    ],
)
def test_author_share_forms(text: str, ppm: int) -> None:
    assert parse_author_share(text) == ppm


@pytest.mark.parametrize("text", ["101%", "-1%", "0.0000001", "half"])
def test_author_share_refusals(text: str) -> None:
    with pytest.raises(RegistryConfigError):
        parse_author_share(text)


def test_currencies_and_ids() -> None:
    assert (parse_currency("usdd"), parse_currency("INFER"), parse_currency("7")) == (2, 1, 7)
    with pytest.raises(RegistryConfigError):
        parse_currency("DOGE")
    with pytest.raises(RegistryConfigError):
        parse_currency(str(1 << 32))
    assert parse_model_id("0X" + "AB" * 32) == "0x" + "ab" * 32
    with pytest.raises(RegistryConfigError):
        parse_model_id("0x12")


def test_config_toml_then_env(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text('[model_registry]\nchain_url = "wss://rpc.example"\nwait_for = "finalized"\n')
    config = RegistryConfig.load(path, {"MODEL_REGISTRY_IPFS_API_URL": "http://kubo:5001"})
    assert config.chain_url == "wss://rpc.example" and config.wait_for == "finalized"
    assert config.ipfs_api_url == "http://kubo:5001"
    assert config.replace(chain_url=None, ipfs_api_url="http://x:1").chain_url == config.chain_url
    path.write_text('wait_for = "soon"\n')
    with pytest.raises(RegistryConfigError, match="wait_for"):
        RegistryConfig.load(path, {})
    path.write_text("colour = 1\n")
    with pytest.raises(RegistryConfigError, match="unknown"):
        RegistryConfig.load(path, {})


def test_progress_bar_draws_and_finishes(tmp_path: Path) -> None:
    out = tmp_path / "err.txt"
    with out.open("w") as stream:
        bar = ProgressBar(stream, width=10)
        bar(0, 2048 * 1024)
        bar(1024 * 1024, 2048 * 1024)
        bar(2048 * 1024, 2048 * 1024)
        bar.finish()
    text = out.read_text()
    assert "[##########] 100% 2.0/2.0 MiB" in text and text.endswith("\n")
