"""`runtime-node` (devstack/_runtime_node.py): its typed errors without a built runtime, and with
one: the foreground process until SIGTERM, and chopsticks' dev RPCs that tests/chains.py uses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from devstack import LocalRuntimeNode, RuntimeNodeConfig, RuntimeNodeMissing, free_port
from runtime_types import hash_key
from tests.chains import require_runtime

CLI = [sys.executable, "-m", "devstack.runtime_node"]
NOW = "0x" + (hash_key("Twox128", b"Timestamp") + hash_key("Twox128", b"Now")).hex()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )


def test_a_missing_spec_or_chopsticks_names_make_chain_build(tmp_path: Path) -> None:
    done = run_cli("--spec", str(tmp_path / "none.json"))
    assert done.returncode == 2
    assert f"no raw chain spec at {tmp_path / 'none.json'}" in done.stderr
    assert "make chain-build" in done.stderr
    spec = tmp_path / "spec.json"
    spec.write_text("{}")
    done = run_cli("--spec", str(spec), env={"RUNTIME_NODE_CHOPSTICKS": str(tmp_path / "no")})
    assert done.returncode == 2
    assert "chopsticks is not installed" in done.stderr and "make chain-build" in done.stderr
    with pytest.raises(RuntimeNodeMissing):
        LocalRuntimeNode.start(spec=tmp_path / "none.json")


def test_bad_settings_are_typed_and_name_their_source(tmp_path: Path) -> None:
    done = run_cli(env={"RUNTIME_NODE_BLOCK_MODE": "Sometimes"})
    assert done.returncode == 2
    assert "setting block_mode (from $RUNTIME_NODE_BLOCK_MODE)" in done.stderr
    config = tmp_path / "node.toml"
    config.write_text("[runtime_node]\nport = 70000\n")
    done = run_cli("--config", str(config))
    assert done.returncode == 2 and "70000 is not a TCP port" in done.stderr
    # flags win over the file, the file over the defaults
    config.write_text('[runtime_node]\nport = 9000\nblock_mode = "Batch"\n')
    loaded = RuntimeNodeConfig.load(config, environ={}, flags={"port": 9100})
    assert (loaded.port, loaded.block_mode, loaded.host) == (9100, "Batch", "127.0.0.1")


@pytest.mark.runtime
def test_the_console_script_serves_until_sigterm() -> None:
    require_runtime()
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        body = json.dumps({"id": 1, "jsonrpc": "2.0", "method": "system_chain", "params": []})
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, "runtime-node exited"
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}", body.encode(), {"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=5) as answer:
                    assert json.loads(answer.read())["result"] == "genai_dev"
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "runtime-node did not serve RPC"
                time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def now(node: LocalRuntimeNode) -> int:
    return int.from_bytes(bytes.fromhex(str(node.rpc("state_getStorage", NOW))[2:]), "little")


@pytest.mark.runtime
def test_manual_blocks_timestamps_and_the_block_thread() -> None:
    require_runtime()
    node = LocalRuntimeNode.start(block_mode="Manual")
    try:
        number = int(node.rpc("chain_getHeader")["number"], 16)
        before = now(node)
        head = node.new_blocks(3)
        assert int(node.rpc("chain_getHeader", head)["number"], 16) == number + 3
        # no Aura: each block moves Timestamp.Now on by 12 s, whatever the wall clock did
        assert now(node) == before + 3 * 12_000
        # every new head is final
        assert node.rpc("chain_getFinalizedHead") == head
        node.set_block_mode("Instant")
        assert int(node.rpc("chain_getHeader")["number"], 16) == number + 3
    finally:
        node.stop()
    ticking = LocalRuntimeNode.start(block_time=0.5)
    try:
        first = int(ticking.rpc("chain_getHeader")["number"], 16)
        deadline = time.monotonic() + 30
        while int(ticking.rpc("chain_getHeader")["number"], 16) < first + 2:
            assert time.monotonic() < deadline, "no blocks from the block thread"
            time.sleep(0.1)
    finally:
        ticking.stop()
    assert not ticking.tick_errors
