"""One substrate-interface connection, owned by one thread.

substrate-interface is synchronous and not thread-safe. Each `Connection` therefore runs every
use of its `SubstrateInterface` on a single dedicated worker thread (an executor of one), and
the event loop only awaits those jobs: it never blocks, and the interface is never touched by two
threads. Connection failures are retried with exponential backoff after re-creating the
interface, until `reconnect_timeout` has passed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

from substrateinterface import SubstrateInterface
from substrateinterface.exceptions import SubstrateRequestException
from websocket import WebSocketException

from ._client_types import ClientConfig
from ._errors import ChainClientError, ConnectionLost

__all__ = ["Connection", "RpcFailure"]

log = logging.getLogger("runtime_types.client")
T = TypeVar("T")
_CONNECTION_ERRORS = (OSError, WebSocketException, ConnectionError, TimeoutError)


class RpcFailure(ChainClientError):
    """The node answered a request with a JSON-RPC error."""

    def __init__(self, message: str, code: int | None, data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.data = data


class Connection:
    def __init__(self, config: ClientConfig, name: str) -> None:
        self.config = config
        self.name = name
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix=f"rt-{name}"
        )
        self._substrate: SubstrateInterface | None = None
        self._closed = False
        #: Bumped on every successful (re)connection
        self.generation = 0
        #: Runs on the owner thread after each (re)connection, before any job
        self.on_connect: Callable[[SubstrateInterface], None] | None = None

    async def call(self, job: Callable[[SubstrateInterface], T], *, retry: bool = True) -> T:
        """Run `job` on the owner thread; reconnect and retry on connection failures."""
        give_up = self.config.reconnect_timeout
        if self.generation == 0 and self.config.connect_timeout is not None:
            give_up = self.config.connect_timeout  # never connected: a wrong URL fails fast
        deadline = time.monotonic() + give_up
        delay = self.config.reconnect_initial_delay
        loop = asyncio.get_running_loop()
        while True:
            if self._closed:
                raise ConnectionLost("the client is closed")
            try:
                return await loop.run_in_executor(self._executor, self._run, job)
            except _CONNECTION_ERRORS as exc:
                if not retry or time.monotonic() > deadline:
                    raise ConnectionLost(f"{self.config.url} unreachable: {exc}") from exc
                log.info(
                    "connection to %s failed (%s); retrying in %.2fs", self.config.url, exc, delay
                )
                await asyncio.sleep(max(0.0, min(delay, deadline - time.monotonic())))
                delay = min(delay * 2, self.config.reconnect_max_delay)

    def _run(self, job: Callable[[SubstrateInterface], T]) -> T:
        # Runs on the owner thread only.
        if self._substrate is None:
            options: dict[str, Any] = {}
            if self.config.socket_timeout is not None:
                options["timeout"] = self.config.socket_timeout
            substrate = SubstrateInterface(url=self.config.url, ws_options=options or None)
            try:
                if self.on_connect is not None:
                    self.on_connect(substrate)
            except BaseException:
                substrate.close()
                raise
            self._substrate = substrate
            self.generation += 1
        try:
            return job(self._substrate)
        except _CONNECTION_ERRORS:
            self._drop()
            raise
        except SubstrateRequestException as exc:
            raise _rpc_failure(exc) from exc

    def _drop(self) -> None:
        substrate, self._substrate = self._substrate, None
        if substrate is not None:
            try:
                substrate.close()
            except Exception:  # closing a broken socket may fail; the socket is gone either way
                log.debug("closing a broken connection failed", exc_info=True)

    async def rpc(self, method: str, params: list[Any], *, retry: bool = True) -> Any:
        def job(substrate: SubstrateInterface) -> Any:
            return substrate.rpc_request(method, params).get("result")

        return await self.call(job, retry=retry)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # A job may be blocked reading an answer that never comes (no socket timeout is set by
        # default): shutting the socket down from here makes that read fail at once, so closing
        # never waits on the node.
        self._interrupt()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._drop)
        self._executor.shutdown(wait=False)

    def _interrupt(self) -> None:
        substrate = self._substrate
        sock = getattr(getattr(substrate, "websocket", None), "sock", None)
        if sock is None:
            return
        with contextlib.suppress(OSError):  # already closed or never connected
            sock.shutdown(socket.SHUT_RDWR)


def _rpc_failure(exc: SubstrateRequestException) -> RpcFailure:
    detail = exc.args[0] if exc.args else None
    if isinstance(detail, dict):
        return RpcFailure(str(detail.get("message")), detail.get("code"), detail.get("data"))
    return RpcFailure(str(detail), None, None)
