"""devnode's settings: the one loader's precedence and typed errors (docs/settings.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from devnode import ConfigError, DevNodeConfig, DevnodeError
from devnode.__main__ import build_parser, config_from_args, main


def test_precedence_file_env_flags(tmp_path: Path) -> None:
    path = tmp_path / "devnode.toml"
    path.write_text('[devnode]\nport = 9955\nchain_name = "Local"\nblock_time = "instant"\n')
    env = {"DEVNODE_PORT": "9966", "DEVNODE_FINALITY_LAG": "2"}
    config = DevNodeConfig.load(path, env)
    assert (config.port, config.chain_name, config.finality_lag) == (9966, "Local", 2)
    assert config.block_time is None
    assert DevNodeConfig.load(path, env, flags={"port": 1, "host": None}).port == 1
    assert DevNodeConfig.load(environ={"DEVNODE_CONFIG": str(path)}).port == 9955
    assert DevNodeConfig.load(environ={"DEVNODE_BLOCK_TIME": "0.25"}).block_time == 0.25


def test_flags_from_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "devnode.toml"
    path.write_text(f'base_path = "{tmp_path / "chain"}"\n')
    args = build_parser().parse_args(["--config", str(path), "--rpc-port", "0"])
    config = config_from_args(args)
    assert config.port == 0 and config.base_path == tmp_path / "chain"
    args = build_parser().parse_args(["--config", str(path), "--dev"])
    assert config_from_args(args).base_path is None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("bogus = 1\n", "unknown devnode settings: bogus"),
        ("port = 'x'\n", "setting port .*expected int"),
        ("block_time = 'soon'\n", "setting block_time"),
        ("[devnode\n", "cannot read config"),
    ],
)
def test_bad_settings_raise_a_typed_error(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "devnode.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as caught:
        DevNodeConfig.load(path, {})
    assert isinstance(caught.value, DevnodeError)


def test_the_cli_reports_a_bad_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "missing.toml")]) == 2
    assert "bad configuration: cannot read config" in capsys.readouterr().err
