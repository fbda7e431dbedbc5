"""`ocw-daemon check` against real devnode, Kubo and Redis, with a running daemon; and the
daemon started before its node: it keeps retrying and says `not ready` on /healthz."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from substrateinterface import Keypair

from ipfs_store import IpfsStore, cid_of_bytes
from ocw_daemon import ChainError, Daemon, DaemonConfig, load_encryption_key
from ocw_daemon import register_provider as register_provider_cli
from ocw_daemon._check import CheckResult, run_checks
from ocw_daemon._status import StatusError, sign_status, verify_status
from runtime_types import ChainClient
from runtime_types.generated.devnode import system
from sealing import EncryptionKey
from tests.cache.helpers import RedisServer
from tests.devnode.conftest import NodeThread
from tests.ipfs_store.conftest import KuboDaemon
from tests.ocw_daemon.helpers import (
    BOB,
    account,
    daemon_config,
    free_port,
    register_model,
    register_provider,
    write_daemon_toml,
    write_keystore,
)

pytestmark = pytest.mark.timeout(240)


def write_config(path: Path, config: DaemonConfig, keystore: Path, models: list[str]) -> Path:
    write_daemon_toml(path, config, keystore)
    with path.open("a") as handle:
        handle.write(f"\n[provider]\nmodels = {json.dumps(models)}\ncapacity = 8\n")
    return path


def failing(results: list[CheckResult]) -> set[str]:
    return {r.name for r in results if r.ok is False}


def unchecked(results: list[CheckResult]) -> set[str]:
    return {r.name for r in results if r.ok is None}


def by_name(results: list[CheckResult], name: str) -> CheckResult:
    return next(r for r in results if r.name == name)


async def nonce(chain: ChainClient, who: Keypair) -> int:
    return int((await chain.query(system.storage.account(account(who)))).nonce)


async def test_check_passes_when_configured_and_names_each_failing_item(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    store: IpfsStore,
    tiny_cid: str,
    redis_server: RedisServer,
) -> None:
    model = "0x" + (await register_model(chain, tiny_cid)).hex()
    config = daemon_config(tmp_path, "bob", node.url, kubo.api_url, free_port(), redis_server.url)
    published = load_encryption_key(config).public  # created here, as `register` does
    await register_provider(
        chain, BOB, config.endpoint, [bytes.fromhex(model[2:])], capacity=8,
        encryption_key=published,
    )  # fmt: skip
    keystore = write_keystore(tmp_path / "bob.json", "//Bob")
    path = write_config(tmp_path / "daemon.toml", config, keystore, [model])
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OCW_")}

    async with Daemon(config, BOB):
        bob_nonce = await nonce(chain, BOB)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ocw_daemon", "check", "--config", str(path),
            env=environ, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        text = out.decode()
        assert proc.returncode == 0, text + err.decode()
        lines = text.splitlines()
        names = ["config", "key", "node", "funds", "registration", "encryption key"]
        names += ["endpoint", "kubo"]
        names += [f"model {model}", "redis", "device", "disk"]
        assert len(lines) == len(names), text
        for line, name in zip(lines, names, strict=True):
            assert line.startswith(f"\u2714 {name} "), line
        assert "mode 0600" in lines[1] and "signed by " + BOB.ss58_address in lines[6]
        assert "matches" in lines[5] and "PONG" in lines[9] and "cpu" in lines[10]

        # Each broken item is named, and nothing else fails.
        results = await run_checks(path, {"OCW_NODE_URL": f"ws://127.0.0.1:{free_port()}"})
        assert failing(results) == {"node"}
        assert "devnode --dev" in by_name(results, "node").fix
        assert {"funds", "registration", "encryption key", f"model {model}"} <= unchecked(results)

        # A local X25519 key that is not the published one: sealed inputs would not open.
        other = EncryptionKey.generate().secret_bytes().hex()
        results = await run_checks(path, {"OCW_ENCRYPTION_SECRET": other})
        assert failing(results) == {"encryption key"}
        mismatch = by_name(results, "encryption key")
        assert "differs from the local key" in mismatch.detail
        assert published.hex()[:16] in mismatch.detail and "ocw-daemon register" in mismatch.fix

        keystore.chmod(0o644)
        results = await run_checks(path, {})
        keystore.chmod(0o600)
        assert failing(results) == {"key"}
        assert "chmod 600" in by_name(results, "key").detail

        poor = write_keystore(tmp_path / "poor.json", Keypair.generate_mnemonic())
        results = await run_checks(write_config(tmp_path / "poor.toml", config, poor, [model]))
        assert failing(results) == {"funds", "registration", "endpoint"}
        assert "short by" in by_name(results, "funds").detail
        assert "not the provider key" in by_name(results, "endpoint").detail

        ferdie = write_keystore(tmp_path / "ferdie.json", "//Ferdie")
        results = await run_checks(write_config(tmp_path / "f.toml", config, ferdie, [model]))
        assert failing(results) == {"registration", "endpoint"}
        assert "ocw-daemon register" in by_name(results, "registration").fix

        results = await run_checks(path, {"OCW_IPFS_API_URL": f"http://127.0.0.1:{free_port()}"})
        assert failing(results) == {"kubo"} and unchecked(results) == {f"model {model}"}
        assert "ipfs daemon" in by_name(results, "kubo").fix

        results = await run_checks(path, {"OCW_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
        assert failing(results) == {"redis"}

        missing_cid = str(cid_of_bytes(os.urandom(64)).cid)  # never added to Kubo
        missing = "0x" + (await register_model(chain, missing_cid, b"gone")).hex()
        results = await run_checks(path, {"OCW_PROVIDER_MODELS": f"{model},{missing}"})
        assert failing(results) == {"registration", f"model {missing}"}
        assert "does not resolve" in by_name(results, f"model {missing}").detail
        assert missing in by_name(results, "registration").detail

        assert await nonce(chain, BOB) == bob_nonce  # the checks never submitted anything


def test_the_status_signature_binds_key_and_nonce() -> None:
    document = {"account": BOB.ss58_address, "nonce": "ab" * 16, "ready": True}
    body = sign_status(BOB, document)
    assert verify_status(body, BOB.public_key, "ab" * 16) == document
    with pytest.raises(StatusError, match="nonce"):
        verify_status(body, BOB.public_key, "cd" * 16)
    with pytest.raises(StatusError, match="signature"):
        verify_status(body, Keypair.create_from_uri("//Eve").public_key, "ab" * 16)
    forged = {**body, "document": {**document, "ready": False}}
    with pytest.raises(StatusError, match="signature"):
        verify_status(forged, BOB.public_key, "ab" * 16)


async def health(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, object]]:
    try:
        async with session.get(f"{url}/healthz") as resp:
            return resp.status, await resp.json()
    except aiohttp.ClientError:
        return 0, {}


async def wait_health(
    session: aiohttp.ClientSession, url: str, want: int, reason: str = ""
) -> dict[str, object]:
    for _ in range(600):
        status, body = await health(session, url)
        if status == want and reason in str(body.get("reason", "")):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"/healthz never answered {want} {reason}")


class Proxy:
    """A TCP relay to the node on a fixed port: closing it is an outage of the node's network
    (fault injection at the boundary; the node itself keeps running)."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port = port
        self.target = target
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in self._writers:
            writer.close()
        self._writers.clear()


async def test_the_daemon_waits_for_its_node_and_says_not_ready(
    tmp_path: Path, node: NodeThread, kubo: KuboDaemon, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    http_port = free_port()
    config = daemon_config(tmp_path, "early", f"ws://127.0.0.1:{port}", kubo.api_url, http_port)
    host, node_port = node.url.removeprefix("ws://").rsplit(":", 1)
    proxy = Proxy(port, (host, int(node_port)))
    daemon = Daemon(config, BOB)
    starting = asyncio.create_task(daemon.start())
    url = f"http://127.0.0.1:{http_port}"
    try:
        async with aiohttp.ClientSession() as session:
            body = await wait_health(session, url, 503, "unreachable")
            assert body["status"] == "not ready"
            for _ in range(300):  # each failed attempt is logged
                if "unreachable" in caplog.text and "retrying" in caplog.text:
                    break
                await asyncio.sleep(0.1)
            assert "retrying" in caplog.text
            assert not starting.done()  # still trying, not exited

            await proxy.start()  # the node comes
            await asyncio.wait_for(starting, 60)
            assert (await wait_health(session, url, 200))["status"] == "ok"

            await proxy.stop()  # a transient outage: not ready, and the daemon keeps running
            body = await wait_health(session, url, 503, "node")
            assert body["status"] == "not ready" and not daemon.stopping

            await proxy.start()  # back: ready again
            assert (await wait_health(session, url, 200))["status"] == "ok"
    finally:
        if not starting.done():
            daemon.stop()
        await daemon.close()
        await proxy.stop()


async def test_register_against_a_closed_port_fails_fast_and_names_the_setting(
    tmp_path: Path,
) -> None:
    url = f"ws://127.0.0.1:{free_port()}"
    config = daemon_config(tmp_path, "x", url, "http://127.0.0.1:1", free_port())
    config = dataclasses.replace(
        config, provider=dataclasses.replace(config.provider, models=("0x" + "11" * 32,))
    )
    started = time.monotonic()
    with pytest.raises(ChainError) as caught:
        await register_provider_cli(config, BOB)
    assert time.monotonic() - started < 2.0
    assert "node_url" in str(caught.value) and "$OCW_NODE_URL" in str(caught.value)
