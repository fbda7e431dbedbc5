"""`infer gateway`'s settings: the one loader's precedence, the shared INFER_CHAIN_URL, typed errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference_gateway import GatewayConfigError, GatewayError, GatewaySettings
from settings import SettingsError


def test_precedence_and_the_existing_variables(tmp_path: Path) -> None:
    assert GatewaySettings.load(environ={}) == GatewaySettings()
    path = tmp_path / "gw.toml"
    path.write_text('[gateway]\nport = 8100\nchain_url = "ws://file:9944"\nticket_life = 30\n')
    env = {
        "INFER_GATEWAY_PORT": "8200",
        "INFER_CHAIN_URL": "ws://client:9944",
        "INFER_GATEWAY_STATE": str(tmp_path / "tickets.json"),
    }
    found = GatewaySettings.load(path, env)
    assert (found.port, found.chain_url, found.ticket_life) == (8200, "ws://client:9944", 30)
    assert found.state == tmp_path / "tickets.json"
    own = GatewaySettings.load(path, {**env, "INFER_GATEWAY_CHAIN_URL": "ws://own:9944"})
    assert own.chain_url == "ws://own:9944"
    flagged = GatewaySettings.load(path, env, flags={"port": 0, "host": None, "state": None})
    assert flagged.port == 0 and flagged.host == "127.0.0.1"
    assert GatewaySettings.load(environ={"INFER_GATEWAY_CONFIG": str(path)}).port == 8100
    assert GatewaySettings.load(environ={"INFER_GATEWAY_STATE": ""}).state is None


def test_a_bad_setting_is_a_typed_gateway_error() -> None:
    with pytest.raises(GatewayConfigError, match=r"port \(from \$INFER_GATEWAY_PORT\)") as caught:
        GatewaySettings.load(environ={"INFER_GATEWAY_PORT": "eighty"})
    assert isinstance(caught.value, GatewayError) and isinstance(caught.value, SettingsError)
