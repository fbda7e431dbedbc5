"""`fetch_verified_output`: GET an output, read all of it up to a limit, check its hash.

The one implementation of "fetch the output and check it against the on-chain hash", used by
the dApp client and the daemon's validator. The whole body is read (however many chunks it
arrives in) before it is hashed; reading stops with `OutputTooLarge` as soon as more than
`max_bytes` arrived, so a hostile server cannot make the reader buffer more than that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp

from ._errors import (
    OutputHashMismatch,
    OutputHTTPError,
    OutputRefused,
    OutputTooLarge,
    OutputUnreachable,
)
from ._hashing import blake2_256

__all__ = ["fetch_verified_output"]

#: Outputs at least this large are hashed in a worker thread, off the event loop
_OFF_LOOP_BYTES = 256 * 1024
_CHUNK = 1 << 16


async def fetch_verified_output(
    session: aiohttp.ClientSession,
    url: str,
    expected_hash: bytes | None,
    *,
    max_bytes: int,
    headers: Mapping[str, str] | None = None,
    request_timeout: aiohttp.ClientTimeout | None = None,
) -> bytes:
    """The body of `GET url`, whose blake2-256 is `expected_hash`.

    `headers` are sent as given (usually `sign_output_request(...)`); `request_timeout`
    replaces the session's timeout for this request. `expected_hash=None` skips the hash
    check: for a sealed envelope, which the caller checks against its salted commitment once
    opened.

    Raises `OutputRefused` (401/403), `OutputHTTPError` (any other status but 200),
    `OutputTooLarge` (more than `max_bytes`), `OutputHashMismatch`, or `OutputUnreachable`
    (connection failed or reset, timed out, body cut short); all are `OutputFetchError`s.
    """
    options: dict[str, Any] = {}
    if headers is not None:
        options["headers"] = dict(headers)
    if request_timeout is not None:
        options["timeout"] = request_timeout
    try:
        async with session.get(url, **options) as response:
            if response.status != 200:
                error = OutputRefused if response.status in (401, 403) else OutputHTTPError
                raise error(f"GET {url}: HTTP {response.status}", url, response.status)
            data = await _read_all(response, url, max_bytes)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise OutputUnreachable(f"GET {url}: {type(exc).__name__}: {exc}", url) from exc
    if expected_hash is not None:
        if len(data) < _OFF_LOOP_BYTES:
            actual = blake2_256(data)
        else:
            actual = await asyncio.to_thread(blake2_256, data)
        if actual != expected_hash:
            raise OutputHashMismatch(
                f"GET {url}: {len(data)} bytes whose blake2-256 0x{actual.hex()} is not the "
                f"expected 0x{expected_hash.hex()}",
                url,
                expected_hash,
                actual,
            )
    return data


async def _read_all(response: aiohttp.ClientResponse, url: str, limit: int) -> bytes:
    """Every byte of the body, or `OutputTooLarge` once more than `limit` arrived."""
    announced = response.content_length
    if announced is not None and announced > limit:
        raise OutputTooLarge(f"GET {url}: {announced} bytes announced, over {limit}", url, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise OutputTooLarge(f"GET {url}: more than {limit} bytes", url, limit)
        chunks.append(chunk)
    return b"".join(chunks)
