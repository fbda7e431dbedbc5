"""`protocol.fetch_verified_output` against a real aiohttp server on loopback.

The server is real; only its answers are chosen per test (the whole output in several
separately flushed chunks, a wrong body, too many bytes, a refusal, a body cut short).
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web
from substrateinterface import Keypair

import protocol

#: The chain's MaxOutputBytes (1 MiB)
MAX_OUTPUT = 1 << 20
#: An output of 512 KiB, written in 16 chunks of 32 KiB, each flushed before the next
OUTPUT = os.urandom(512 * 1024)
CHUNK = 32 * 1024
ALICE = Keypair.create_from_uri("//Alice")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class OutputServer:
    """A real HTTP server whose `/outputs/{id}` answers with `self.handler`."""

    def __init__(self) -> None:
        self.handler: Handler = self.chunked
        self.requests: list[web.Request] = []
        self.url = ""

    async def serve(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request)
        return await self.handler(request)

    async def chunked(self, request: web.Request) -> web.StreamResponse:
        """The whole output, chunk by chunk (chunked transfer encoding, no Content-Length)."""
        response = web.StreamResponse()
        await response.prepare(request)
        for start in range(0, len(OUTPUT), CHUNK):
            await response.write(OUTPUT[start : start + CHUNK])  # drained before the next
        await response.write_eof()
        return response


@pytest.fixture
async def server() -> AsyncIterator[OutputServer]:
    state = OutputServer()
    app = web.Application()
    app.router.add_get("/outputs/{rid}", state.serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{port}/outputs/7"
    try:
        yield state
    finally:
        await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client:
        yield client


async def test_an_output_in_many_chunks_is_read_whole_and_verified(
    server: OutputServer, session: aiohttp.ClientSession
) -> None:
    # The daemon's old fetch, `resp.content.read(limit + 1)`, returned whatever had arrived
    # (one or a few chunks of this output) and so failed the hash check of an honest executor.
    headers = protocol.sign_output_request(ALICE, 7)
    data = await protocol.fetch_verified_output(
        session, server.url, protocol.output_hash(OUTPUT), max_bytes=MAX_OUTPUT, headers=headers
    )
    assert data == OUTPUT
    (request,) = server.requests
    assert protocol.verify_output_request(request.headers, 7) == ALICE.public_key


async def test_an_output_with_a_content_length_in_many_chunks(
    server: OutputServer, session: aiohttp.ClientSession
) -> None:
    async def sized(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = len(OUTPUT)
        await response.prepare(request)
        for start in range(0, len(OUTPUT), CHUNK):
            await response.write(OUTPUT[start : start + CHUNK])
        return response

    server.handler = sized
    digest = protocol.blake2_256(OUTPUT)
    data = await protocol.fetch_verified_output(session, server.url, digest, max_bytes=MAX_OUTPUT)
    assert data == OUTPUT


async def test_bytes_that_do_not_match_the_hash(
    server: OutputServer, session: aiohttp.ClientSession
) -> None:
    expected = protocol.blake2_256(b"the honest output")
    with pytest.raises(protocol.OutputHashMismatch) as caught:
        await protocol.fetch_verified_output(session, server.url, expected, max_bytes=MAX_OUTPUT)
    assert caught.value.expected == expected
    assert caught.value.actual == protocol.blake2_256(OUTPUT)
    assert caught.value.url == server.url
    assert isinstance(caught.value, protocol.OutputFetchError)


async def test_no_hash_check_for_a_sealed_envelope(
    server: OutputServer, session: aiohttp.ClientSession
) -> None:
    data = await protocol.fetch_verified_output(session, server.url, None, max_bytes=MAX_OUTPUT)
    assert data == OUTPUT


async def test_more_than_the_limit_stops_reading(
    server: OutputServer, session: aiohttp.ClientSession
) -> None:
    digest = protocol.blake2_256(OUTPUT)
    with pytest.raises(protocol.OutputTooLarge) as caught:  # chunked: counted while reading
        await protocol.fetch_verified_output(session, server.url, digest, max_bytes=100_000)
    assert caught.value.limit == 100_000

    async def announced(request: web.Request) -> web.StreamResponse:
        return web.Response(body=OUTPUT)

    server.handler = announced  # Content-Length over the limit: refused before reading
    with pytest.raises(protocol.OutputTooLarge, match="announced"):
        await protocol.fetch_verified_output(session, server.url, digest, max_bytes=100_000)
    # exactly the limit is fine
    data = await protocol.fetch_verified_output(session, server.url, digest, max_bytes=len(OUTPUT))
    assert data == OUTPUT


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, protocol.OutputRefused),
        (403, protocol.OutputRefused),
        (404, protocol.OutputHTTPError),
        (503, protocol.OutputHTTPError),
    ],
)
async def test_a_status_other_than_200(
    server: OutputServer,
    session: aiohttp.ClientSession,
    status: int,
    error: type[protocol.OutputHTTPError],
) -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text="no")

    server.handler = answer
    with pytest.raises(error) as caught:
        await protocol.fetch_verified_output(session, server.url, None, max_bytes=MAX_OUTPUT)
    assert type(caught.value) is error
    assert caught.value.status == status


async def test_a_body_cut_short_is_unreachable(
    server: OutputServer, session: aiohttp.ClientSession
) -> None:
    async def cut(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = len(OUTPUT)
        await response.prepare(request)
        await response.write(OUTPUT[:CHUNK])
        assert request.transport is not None
        request.transport.close()  # the connection drops mid-body
        return response

    server.handler = cut
    with pytest.raises(protocol.OutputUnreachable):
        await protocol.fetch_verified_output(
            session, server.url, protocol.blake2_256(OUTPUT), max_bytes=MAX_OUTPUT
        )


async def test_a_closed_port_is_unreachable(session: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/outputs/7"
    with pytest.raises(protocol.OutputUnreachable) as caught:
        await protocol.fetch_verified_output(session, url, None, max_bytes=MAX_OUTPUT)
    assert caught.value.url == url
    assert isinstance(caught.value.__cause__, aiohttp.ClientError)


async def test_a_stalled_server_times_out_as_unreachable(
    server: OutputServer, session: aiohttp.ClientSession
) -> None:
    released = asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(OUTPUT[:CHUNK])
        await released.wait()  # never set while the client waits
        return response

    server.handler = stall
    try:
        with pytest.raises(protocol.OutputUnreachable, match="Timeout"):
            await protocol.fetch_verified_output(
                session,
                server.url,
                None,
                max_bytes=MAX_OUTPUT,
                request_timeout=aiohttp.ClientTimeout(total=0.5),
            )
    finally:
        released.set()
