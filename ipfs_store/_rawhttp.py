"""A minimal HTTP/1.1 GET for one large identity-encoded body over plain TCP.

The fast file path reads many megabytes from a local Kubo gateway; receiving them with
``sock_recv_into`` straight into each block's buffer skips aiohttp's per-chunk objects and one
copy of every byte. Anything this client does not handle (TLS, chunked or compressed bodies,
redirects, errors) raises ``RawHttpUnsupported`` before the body is read, and the caller uses
aiohttp instead.
"""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import quote, urlsplit

from ._errors import IntegrityError, IpfsStoreError, KuboUnavailable

MAX_HEADER_BYTES = 64 * 1024


class RawHttpUnsupported(IpfsStoreError):
    """The response is not a plain 200 with a Content-Length body."""


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Status code and lower-cased headers of an HTTP/1.x response head (without the CRLFCRLF)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise RawHttpUnsupported(f"malformed status line {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise RawHttpUnsupported(f"malformed header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


class RawBody:
    """The body of one response: ``readinto`` fills buffers exactly, in order."""

    def __init__(self, sock: socket.socket, leftover: bytes, length: int, read_timeout: float):
        self._sock = sock
        self._leftover = memoryview(leftover)
        self.length = length
        self.remaining = length
        self._read_timeout = read_timeout

    @classmethod
    async def get(cls, url: str, *, connect_timeout: float, read_timeout: float) -> RawBody:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise RawHttpUnsupported(f"{url} is not a plain http URL")
        loop = asyncio.get_running_loop()
        port = parts.port or 80
        try:
            async with asyncio.timeout(connect_timeout):
                infos = await loop.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
                family, type_, proto, _, address = infos[0]
                sock = socket.socket(family, type_, proto)
                sock.setblocking(False)
                try:
                    await loop.sock_connect(sock, address)
                except BaseException:
                    sock.close()
                    raise
        except (OSError, TimeoutError) as exc:
            raise KuboUnavailable(f"cannot connect to {parts.netloc}: {exc!r}") from exc
        try:
            path = quote(parts.path or "/", safe="/%") + (f"?{parts.query}" if parts.query else "")
            request = (
                f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                "Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
            ).encode("latin-1")
            async with asyncio.timeout(read_timeout):
                await loop.sock_sendall(sock, request)
                buf = b""
                while (end := buf.find(b"\r\n\r\n")) < 0:
                    if len(buf) > MAX_HEADER_BYTES:
                        raise RawHttpUnsupported("response head too large")
                    chunk = await loop.sock_recv(sock, 65536)
                    if not chunk:
                        raise KuboUnavailable(f"{parts.netloc} closed the connection")
                    buf += chunk
            status, headers = parse_head(buf[:end])
            if status != 200:
                raise RawHttpUnsupported(f"HTTP {status}")
            if headers.get("transfer-encoding", "identity").lower() != "identity":
                raise RawHttpUnsupported("chunked body")
            if headers.get("content-encoding", "identity").lower() != "identity":
                raise RawHttpUnsupported("encoded body")
            length = headers.get("content-length", "")
            if not length.isdigit():
                raise RawHttpUnsupported("no Content-Length")
            return cls(sock, buf[end + 4 :], int(length), read_timeout)
        except TimeoutError as exc:
            sock.close()
            raise KuboUnavailable(f"{parts.netloc} did not answer: {exc!r}") from exc
        except OSError as exc:
            sock.close()
            raise KuboUnavailable(f"{parts.netloc}: {exc!r}") from exc
        except BaseException:
            sock.close()
            raise

    async def readinto(self, view: memoryview) -> None:
        """Fill ``view`` completely; IntegrityError if the body ends (or the peer hangs up)
        first, KuboUnavailable if it stalls for ``read_timeout``."""
        n = len(view)
        if n > self.remaining:
            raise IntegrityError(
                f"body holds {self.length} bytes, fewer than the content's verified size"
            )
        pos = 0
        if self._leftover:
            take = min(n, len(self._leftover))
            view[:take] = self._leftover[:take]
            self._leftover = self._leftover[take:]
            pos = take
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._read_timeout):
                while pos < n:
                    got = await loop.sock_recv_into(self._sock, view[pos:])
                    if not got:
                        raise IntegrityError(
                            f"stream truncated: {self.length - self.remaining + pos} of "
                            f"{self.length} bytes"
                        )
                    pos += got
        except TimeoutError as exc:
            raise KuboUnavailable(f"stream stalled for {self._read_timeout} s") from exc
        except ConnectionError as exc:
            raise IntegrityError(f"stream cut: {exc!r}") from exc
        self.remaining -= n

    def close(self) -> None:
        self._sock.close()
