"""The Rust runtime's wasm on chopsticks, driven by unmodified substrate-interface 1.8.1.

It needs the wasm runtime and its raw chain spec, which `make chain-build` builds and writes
(docs/runtime.md). Not collected by the default pytest run (testpaths = tests/); run it with
`make chain-node-test` or `.venv/bin/python -m pytest chain/tests`. Without the spec it fails
saying what is missing (never a silent skip).
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from substrateinterface import Keypair, SubstrateInterface

CHAIN = Path(__file__).resolve().parents[1]
SPEC = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    / "genai-substrate"
    / "chain-spec"
    / "genai-dev.raw.json"
)
UNIT = 10**12
CID = "QmbyV4BASLJCFiCfKz37eNwFX8y6hefQ7LGpzvEwJQzNft"
START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def node() -> Iterator[str]:
    assert SPEC.is_file(), f"no raw chain spec at {SPEC}: run 'make chain-build' (docs/runtime.md)"
    port = _free_port()
    process = subprocess.Popen(
        [str(CHAIN / "runtime-node"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + START_TIMEOUT_S
    output = b""
    try:
        # chopsticks logs its listening address once the chain is ready: wait for that line.
        while not any(
            str(port).encode() in line and b"listening" in line.lower()
            for line in output.splitlines()
        ):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(remaining, 0))
            assert ready, "runtime-node did not start in time:\n" + output.decode(errors="replace")
            chunk = os.read(fd, 65536)
            assert chunk, "runtime-node exited:\n" + output.decode(errors="replace")
            output += chunk
        # Keep reading its log so that a full pipe never stalls it.
        threading.Thread(
            target=lambda: all(iter(lambda: os.read(fd, 65536), b"")), daemon=True
        ).start()
        yield f"ws://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture()
def substrate(node: str) -> Iterator[SubstrateInterface]:
    client = SubstrateInterface(url=node)
    try:
        yield client
    finally:
        client.close()


def _free(substrate: SubstrateInterface, who: Keypair) -> int:
    return int(substrate.query("System", "Account", [who.ss58_address]).value["data"]["free"])


def test_transfer_and_register_model_with_their_events(substrate: SubstrateInterface) -> None:
    alice, bob = Keypair.create_from_uri("//Alice"), Keypair.create_from_uri("//Bob")
    before = _free(substrate, bob)
    call = substrate.compose_call(
        "Balances", "transfer_keep_alive", {"dest": bob.ss58_address, "value": 3 * UNIT}
    )
    receipt = substrate.submit_extrinsic(
        substrate.create_signed_extrinsic(call, alice), wait_for_inclusion=True
    )
    assert receipt.is_success, receipt.error_message
    transfer = next(e for e in receipt.triggered_events if e.value["event_id"] == "Transfer")
    assert transfer.value["attributes"] == {
        "from": alice.ss58_address,
        "to": bob.ss58_address,
        "amount": 3 * UNIT,
    }
    assert _free(substrate, bob) == before + 3 * UNIT

    register = substrate.compose_call(
        "ModelRegistry",
        "register_model",
        {
            "cid": CID,
            "name": "tiny",
            "task": "TextGeneration",
            "format": "Safetensors",
            "size_bytes": 100,
            "price_per_1k_tokens": 10,
            "currency_id": 1,
            "author_share": 50_000,
        },
    )
    receipt = substrate.submit_extrinsic(
        substrate.create_signed_extrinsic(register, alice), wait_for_inclusion=True
    )
    assert receipt.is_success, receipt.error_message
    registered = next(
        e for e in receipt.triggered_events if e.value["event_id"] == "ModelRegistered"
    )
    assert registered.value["module_id"] == "ModelRegistry"
    assert registered.value["attributes"]["owner"] == alice.ss58_address

    # The same CID again: the module error is decoded from the runtime's metadata.
    again = substrate.submit_extrinsic(
        substrate.create_signed_extrinsic(register, alice), wait_for_inclusion=True
    )
    assert not again.is_success
    assert again.error_message["name"] == "DuplicateCid"
