"""The HTTP server at the registered endpoint: outputs to those entitled, health, metrics.

It sees the daemon only through `OutputSource`: the kept outputs, who may fetch them, the
readiness and the signed status; other routes (the direct path) are added by their owner.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from sealing import SealingError

from ._errors import AuthError, DaemonError
from ._sealed import SEALED_JOB, requester_envelope
from ._status import valid_nonce
from ._types import ExecJob
from .protocol import verify_output_request

__all__ = ["OutputServer", "OutputSource"]


class OutputSource(Protocol):
    """What the output server needs to know (the daemon provides it)."""

    @property
    def address(self) -> str:
        """The provider account (SS58), for `/healthz`."""
        ...

    @property
    def stopping(self) -> bool: ...

    @property
    def head(self) -> int:
        """The last finalized block processed."""
        ...

    async def kept_job(self, request_id: int) -> ExecJob | None:
        """This executor's record of a job, with its output once it has one."""
        ...

    async def validator_of(self, request_id: int) -> bytes | None:
        """The account drawn to validate the request (None: none, or no such request)."""
        ...

    async def validator_payload(self, request_id: int) -> bytes:
        """A sealed job's prompt and output re-sealed to its drawn validator."""
        ...

    async def not_ready_reason(self) -> str | None:
        """None when serving with the node answering; else why not."""
        ...

    async def signed_status(self, nonce: str) -> dict[str, Any]:
        """The status document for `nonce`, signed with the provider key."""
        ...

    async def render_metrics(self) -> bytes:
        """The Prometheus exposition of the daemon's metrics."""
        ...


class OutputServer:
    """`GET /outputs/{request_id}`, `GET /healthz`, `GET /status`, `GET /metrics`;
    `close()` is idempotent."""

    def __init__(
        self, source: OutputSource, routes: Callable[[web.UrlDispatcher], None] | None = None
    ) -> None:
        self._source = source
        self._runner: web.AppRunner | None = None
        self.url = ""
        app = web.Application()
        app.router.add_get("/outputs/{request_id}", self._output)
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/status", self._status)
        app.router.add_get("/metrics", self._metrics)
        if routes is not None:
            routes(app.router)  # the direct path's
        self._app = app

    async def start(self, host: str, port: int) -> None:
        runner = web.AppRunner(self._app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound = port
        sockets = getattr(site._server, "sockets", None)
        if sockets:
            bound = int(sockets[0].getsockname()[1])
        self.url = f"http://{host}:{bound}"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1]) if self.url else 0

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _output(self, request: web.Request) -> web.Response:
        try:
            rid = int(request.match_info["request_id"])
        except ValueError:
            return web.Response(status=400, text="bad request id")
        if not 0 <= rid < 2**64:
            return web.Response(status=400, text="bad request id")
        source = self._source
        job = await source.kept_job(rid)
        if job is None or job.output is None:
            return web.Response(status=404, text="no output for this request here")
        entitled = {bytes(job.requester)}
        as_validator = False
        try:
            try:
                verify_output_request(request.headers, rid, entitled)
            except AuthError as exc:
                if exc.status != 403:
                    raise
                as_validator = True
                # perhaps the drawn validator: the chain says who that is
                validator = await source.validator_of(rid)
                if validator is not None:
                    entitled.add(validator)
                verify_output_request(request.headers, rid, entitled)
        except AuthError as exc:
            return web.Response(status=exc.status, text=str(exc))
        except DaemonError as exc:
            return web.Response(status=503, text=str(exc))
        body = job.output
        if body.startswith(SEALED_JOB):  # sealed: each party gets only its own envelope
            try:
                if as_validator:
                    body = await source.validator_payload(rid)
                else:
                    body = requester_envelope(body)
            except (DaemonError, SealingError) as exc:
                return web.Response(status=503, text=str(exc))
        return web.Response(body=body, content_type="application/octet-stream")

    async def _health(self, request: web.Request) -> web.Response:
        """200 `ok` once serving with the node reachable; 503 `not ready` (or `stopping`)."""
        source = self._source
        problem = await source.not_ready_reason()
        status = "stopping" if source.stopping else ("not ready" if problem else "ok")
        body: dict[str, object] = {
            "status": status,
            "account": source.address,
            "last_block": source.head,
        }
        if problem:
            body["reason"] = problem
        return web.json_response(body, status=200 if status == "ok" else 503)

    async def _status(self, request: web.Request) -> web.Response:
        """The status document signed with the provider key, for the caller's fresh nonce."""
        nonce = request.query.get("nonce", "")
        if not valid_nonce(nonce):
            return web.Response(status=400, text="nonce: 16 to 128 lower-case hex digits")
        return web.json_response(await self._source.signed_status(nonce))

    async def _metrics(self, request: web.Request) -> web.Response:
        body = await self._source.render_metrics()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
