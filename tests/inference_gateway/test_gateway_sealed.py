"""The direct path sealed end to end (docs/privacy.md): a recording TCP proxy sits at the
boundary between the gateway and each executor (their registered endpoints are the proxies),
and the prompt's marker and the streamed output appear nowhere in what it captured, nor in the
blocks (the settlement) or the daemons' logs. A sealed request moved to another ticket is
refused with a typed reason; a gateway refuses an executor without a key unless plaintext is
allowed."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

import sealing
from runtime_types import ChainClient
from tests.cache.helpers import RedisServer
from tests.devnode.conftest import NodeThread
from tests.inference_gateway.helpers import BOB, CHARLIE, DAVE, channel, start_stack, wait_for
from tests.ipfs_store.conftest import KuboDaemon
from tests.ocw_daemon.helpers import free_port

pytestmark = pytest.mark.timeout(300)


class RecordingProxy:
    """A TCP relay that keeps every byte it forwards, both ways."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.captured = bytearray()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> RecordingProxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    self.captured.extend(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class CapturedLogs(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()}")


@pytest.fixture
def logs() -> Iterator[CapturedLogs]:
    handler = CapturedLogs()
    root, daemon = logging.getLogger(), logging.getLogger("ocw_daemon")
    old = root.level, daemon.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    daemon.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old[0])
        daemon.setLevel(old[1])


async def test_gateway_executor_traffic_is_sealed(
    tmp_path: Path,
    node: NodeThread,
    kubo: KuboDaemon,
    chain: ChainClient,
    model_cid: str,
    redis_server: RedisServer,
    logs: CapturedLogs,
) -> None:
    ports = {"bob": free_port(), "charlie": free_port()}
    proxies = {name: await RecordingProxy(port).start() for name, port in ports.items()}
    endpoints = {name: f"http://127.0.0.1:{p.port}" for name, p in proxies.items()}
    # reputation 0: every settled result is sampled, and its validator fetches the record from
    # the executor's registered endpoint, through the proxy too
    stack = await start_stack(
        tmp_path, node, kubo, chain, model_cid, redis_server.url, ports=ports,
        endpoints=endpoints, reputation={"bob": 0, "charlie": 0},
    )  # fmt: skip
    marker = "zq" + os.urandom(8).hex()
    oa = openai.AsyncOpenAI(base_url=stack.url, api_key="unused", max_retries=0)
    try:
        first = await chain.head_number() + 1
        texts = []
        for prompt in (f"tell me about {marker}", f"and {marker} again"):
            stream = await oa.completions.create(
                model="0x" + stack.model_id.hex(), prompt=prompt, max_tokens=16,
                temperature=0, stream=True,
            )  # fmt: skip
            texts.append("".join([c.choices[0].text async for c in stream if c.choices]))
        chat = await oa.chat.completions.create(
            model="0x" + stack.model_id.hex(),
            messages=[{"role": "user", "content": f"hi {marker}"}],
            max_tokens=12,
            temperature=0,
        )
        texts.append(chat.choices[0].message.content or "")
        assert await stack.settle() == 3

        async def judged() -> bool:
            found = [
                c
                for c in (await channel(chain, DAVE, BOB), await channel(chain, DAVE, CHARLIE))
                if c
            ]
            return bool(found) and all(c.held == 0 for c in found)

        await wait_for(judged, within=90)
        verdicts = []
        for number in range(first, await chain.head_number() + 1):
            block = await chain.block(number)
            assert block is not None
            verdicts += [e.name for e in block.events if e.name.startswith("DirectValidation")]
        assert verdicts.count("DirectValidationRequested") == 3
        assert verdicts.count("DirectValidationPassed") == 3  # honest, judged from sealed records

        def relayed() -> bytes:
            return b"".join(bytes(p.captured) for p in proxies.values())

        async def fetched_all() -> bool:  # each validator's record fetch went through a proxy
            return relayed().count(b"GET /direct/") >= 3

        await wait_for(fetched_all, within=30)
        captured = relayed()
        assert b"/v1/direct/generate" in captured  # the proxies did carry the requests
        assert b"event: sealed" in captured
        assert b"GET /direct/" in captured  # the validators' record fetches went through it
        secrets = [marker.encode(), *(t.encode() for t in texts if len(t.encode()) >= 8)]
        assert len(secrets) >= 2, texts
        blocks = []
        for number in range(first, await chain.head_number() + 1):
            block = await chain.block(number)
            assert block is not None
            blocks.extend(bytes(x) for x in block.extrinsics)
            blocks.extend(repr(r.event).encode() for r in block.events)
        for secret in secrets:
            assert secret not in captured, "readable between gateway and executor"
            assert all(secret not in b for b in blocks), "readable on-chain"
            assert all(secret not in line.encode() for line in logs.lines), "in a log"
    finally:
        await oa.close()
        await stack.close()
        for p in proxies.values():
            await p.close()


def test_a_sealed_request_moved_to_another_ticket_is_replay() -> None:
    key = sealing.EncryptionKey.generate()
    ticket = {"prompt_hash": "11" * 32, "model_id": "22" * 32, "requester": "33" * 32}
    body, _ = sealing.seal_direct_request(key.public, {"prompt": "secret"}, ticket, [])
    assert b"secret" not in bytes.fromhex(body["sealed"])
    request, stream_key = sealing.open_direct_request(key, body)
    assert request == {"prompt": "secret"} and len(stream_key) == 32
    moved = {**body, "ticket": {**ticket, "prompt_hash": "44" * 32}}
    with pytest.raises(sealing.EnvelopeReplayed):
        sealing.open_direct_request(key, moved)
    other_model = {**body, "ticket": {**ticket, "model_id": "55" * 32}}
    with pytest.raises(sealing.ContextMismatch):
        sealing.open_direct_request(key, other_model)
    with pytest.raises(sealing.WrongRecipient):
        sealing.open_direct_request(sealing.EncryptionKey.generate(), body)
    # the stream: frames open in order under this ticket only
    sealer = sealing.DirectStreamSealer(stream_key, ticket)
    header = sealer.header_event()
    frames = [sealer.event({"x": "tok"}), sealer.event({"done": True}, final=True)]
    opener = sealing.DirectStreamOpener(stream_key, ticket)
    opener.start(header)
    assert [opener.open(f) for f in frames] == [{"x": "tok"}, {"done": True}]
    elsewhere = sealing.DirectStreamOpener(stream_key, {**ticket, "prompt_hash": "44" * 32})
    elsewhere.start(header)
    with pytest.raises(sealing.OpenFailed):
        elsewhere.open(frames[0])
