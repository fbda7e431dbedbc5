"""A new model author's first mistakes: a wrong URL fails fast and names the setting, a silent
node gets a visible bounded wait, and `register --check` shows the registration offline."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from registry_support import Registry, closed_port

from ipfs_store import cid_of_path

pytestmark = pytest.mark.timeout(180)
CLI = [sys.executable, "-m", "model_registry"]


def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str, float]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MODEL_REGISTRY_")}
    environ.update(env or {})
    started = time.monotonic()
    done = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=120, env=environ, check=False
    )
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started


@pytest.fixture
def silent_node() -> Iterator[str]:
    """A TCP server that accepts connections and never answers (a stalled node)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in accepted:
        conn.close()
    server.close()


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_closed_port_fails_within_3_seconds_and_names_the_setting(how: str) -> None:
    url = f"ws://127.0.0.1:{closed_port()}"
    if how == "flag":
        code, out, err, took = run_cli("list", "--url", url)
    else:
        code, out, err, took = run_cli("list", env={"MODEL_REGISTRY_CHAIN_URL": url})
    assert code == 5 and out == ""
    # Python start-up and imports are measured alongside, so a loaded machine does not fail this
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "import model_registry.__main__"], check=True)
    imports = time.monotonic() - started
    assert took - imports < 2.0 and took < 3.0 + imports, f"took {took:.1f} s ({imports:.1f} s)"
    assert f"cannot reach the node at {url} (connection refused)" in err
    for setting in ("--url", "$MODEL_REGISTRY_CHAIN_URL", "chain_url", "devnode --dev"):
        assert setting in err
    assert "Traceback" not in err


def test_a_silent_node_gets_a_visible_bounded_wait(silent_node: str) -> None:
    code, out, err, took = run_cli(
        "list", "--url", silent_node, env={"MODEL_REGISTRY_CONNECT_TIMEOUT_S": "4"}
    )
    assert code == 5 and out == ""
    assert f"waiting for the node at {silent_node}" in err
    assert "did not answer in time" in err and "chain_url" in err
    assert 2.0 < took < 15.0, f"took {took:.1f} s"


def test_kubo_down_names_the_ipfs_setting(
    registry: Registry, capsys: pytest.CaptureFixture[str], model_dir: Path, author: str
) -> None:
    code, _, err = registry.run(
        capsys,
        "register",
        str(model_dir),
        "--name",
        "m",
        "--task",
        "text-generation",
        "--price",
        "1",
        "--currency",
        "USDD",
        "--ipfs-api",
        f"http://127.0.0.1:{closed_port()}",
        "--quiet",
    )
    assert code == 4 and "IpfsUnavailable" in err, err
    assert "--ipfs-api" in err and "$MODEL_REGISTRY_IPFS_API_URL" in err and "ipfs daemon" in err


def test_register_check_describes_the_model_offline(registry: Registry, model_dir: Path) -> None:
    # No key, no node, no Kubo: --check needs none of them.
    dead = f"http://127.0.0.1:{closed_port()}"
    code, out, err, _ = run_cli(
        "register", "--check", str(model_dir), "--json", "--ipfs-api", dead,
        "--url", f"ws://127.0.0.1:{closed_port()}",
    )  # fmt: skip
    assert code == 0, err
    plan = json.loads(out)
    assert plan["cid"] == str(cid_of_path(model_dir).cid)  # the CID the upload will have
    names = {f["path"]: f["size_bytes"] for f in plan["files"]}
    assert names["model.safetensors"] == (model_dir / "model.safetensors").stat().st_size
    assert plan["size_bytes"] == sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    assert (plan["model_type"], plan["architecture"], plan["dtype"]) == (
        "gpt2",
        "GPT2LMHeadModel",
        "float32",
    )
    assert plan["parameters"] > 0
    assert plan["memory_cpu_bytes"] > plan["memory_gpu_bytes"] > plan["parameters"]
    assert plan["findings"] == []
    # nothing was uploaded to the registry's Kubo either
    pins = registry.kubo.cli("pin", "ls", "--type=recursive").stdout
    assert plan["cid"] not in pins

    code, out, err, _ = run_cli("register", "--check", str(model_dir))
    assert code == 0, err
    assert "would register" in out and plan["cid"] in out and "no findings" in out


def test_register_check_lists_every_safety_finding(registry: Registry, model_dir: Path) -> None:
    (model_dir / "pytorch_model.bin").write_bytes(b"\x80\x04pickle")
    (model_dir / "modeling_evil.py").write_text("import os\n")
    config = json.loads((model_dir / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.Evil"}
    (model_dir / "config.json").write_text(json.dumps(config))
    code, out, err, _ = run_cli("register", "--check", str(model_dir), "--json")
    assert code == 3, err
    kinds = sorted((f["kind"], f["path"]) for f in json.loads(out)["findings"])
    assert kinds == [
        ("pickle weights", "pytorch_model.bin"),
        ("remote code", "config.json"),
        ("remote code", "modeling_evil.py"),
    ]
    code, out, _, _ = run_cli("register", "--check", str(model_dir))
    assert code == 3 and "would be REFUSED" in out and out.count("\u2718") == 3


def test_register_without_check_still_needs_its_options(tmp_path: Path) -> None:
    code, _, err, _ = run_cli("register", str(tmp_path))
    assert code == 2 and "--name" in err and "--check" in err
