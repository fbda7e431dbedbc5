"""The `devnode` command and the demo, run as a user would."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from devnode import demo


def test_help_describes_the_options() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "devnode", "--help"], capture_output=True, text=True, check=True
    )
    for option in ("--dev", "--base-path", "--rpc-port", "--block-time", "--finality-lag"):
        assert option in result.stdout


def test_command_serves_persists_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "DEVNODE_CHAIN_NAME": "Local Testnet"}
    args = [sys.executable, "-m", "devnode", "--base-path", str(tmp_path), "--rpc-port", "0"]
    args += ["--block-time", "0.05", "--log-level", "WARNING"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("devnode: serving ws://127.0.0.1:")
        url = banner.split()[2]

        async def chain_name() -> str:
            import aiohttp

            async with aiohttp.ClientSession() as session:
                http = url.replace("ws://", "http://")
                body = {"jsonrpc": "2.0", "id": 1, "method": "system_chain", "params": []}
                async with session.post(http, json=body) as response:
                    return str((await response.json())["result"])

        assert asyncio.run(chain_name()) == "Local Testnet"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    assert (tmp_path / "chain.sqlite").stat().st_size > 0


def test_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "devnode.toml"
    config.write_text("[devnode]\nno_such_setting = 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "devnode", "--config", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "no_such_setting" in result.stderr


async def test_demo_runs_and_balances_add_up(capsys) -> None:  # type: ignore[no-untyped-def]
    await demo.run(block_time=0.2, blocks_to_watch=2)
    printed = capsys.readouterr().out
    assert "Balances.Transfer" in printed
    assert "success=True" in printed
