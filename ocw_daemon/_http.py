"""The HTTP server at the registered endpoint: outputs to those entitled, health, metrics."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from sealing import SealingError

from ._errors import AuthError, DaemonError
from ._sealed import SEALED_JOB, requester_envelope
from ._status import sign_status, status_document, valid_nonce
from .protocol import verify_output_request

if TYPE_CHECKING:
    from ._daemon import Daemon

__all__ = ["OutputServer"]


class OutputServer:
    """`GET /outputs/{request_id}`, `GET /healthz`, `GET /status`, `GET /metrics`;
    `close()` is idempotent."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        self._runner: web.AppRunner | None = None
        self.url = ""
        app = web.Application()
        app.router.add_get("/outputs/{request_id}", self._output)
        app.router.add_get("/healthz", self._health)
        app.router.add_get("/status", self._status)
        app.router.add_get("/metrics", self._metrics)
        daemon.direct.add_routes(app.router)
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
        daemon = self._daemon
        job = await daemon.store.job(rid)
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
                info = await daemon.request_info(rid)
                validator = getattr(getattr(info, "state", None), "validator", None)
                if validator is not None:
                    entitled.add(bytes(validator.value))
                verify_output_request(request.headers, rid, entitled)
        except AuthError as exc:
            return web.Response(status=exc.status, text=str(exc))
        except DaemonError as exc:
            return web.Response(status=503, text=str(exc))
        body = job.output
        if body.startswith(SEALED_JOB):  # sealed: each party gets only its own envelope
            try:
                if as_validator:
                    body = await daemon.validator_payload(rid)
                else:
                    body = requester_envelope(body)
            except (DaemonError, SealingError) as exc:
                return web.Response(status=503, text=str(exc))
        return web.Response(body=body, content_type="application/octet-stream")

    async def _health(self, request: web.Request) -> web.Response:
        """200 `ok` once serving with the node reachable; 503 `not ready` (or `stopping`)."""
        daemon = self._daemon
        problem = await daemon.not_ready_reason()
        status = "stopping" if daemon.stopping else ("not ready" if problem else "ok")
        body: dict[str, object] = {
            "status": status,
            "account": daemon.keypair.ss58_address,
            "last_block": daemon.head,
        }
        if problem:
            body["reason"] = problem
        return web.json_response(body, status=200 if status == "ok" else 503)

    async def _status(self, request: web.Request) -> web.Response:
        """The status document signed with the provider key, for the caller's fresh nonce."""
        nonce = request.query.get("nonce", "")
        if not valid_nonce(nonce):
            return web.Response(status=400, text="nonce: 16 to 128 lower-case hex digits")
        daemon = self._daemon
        document = status_document(
            account=daemon.keypair.ss58_address,
            endpoint=daemon.config.endpoint,
            models=daemon.config.provider.models,
            ready=not await daemon.not_ready_reason(),
            last_block=daemon.head,
            nonce=nonce,
        )
        document.update(daemon.direct.status_fields())  # warm models, queue depth, ttft_ms
        return web.json_response(sign_status(daemon.keypair, document))

    async def _metrics(self, request: web.Request) -> web.Response:
        daemon = self._daemon
        with contextlib.suppress(DaemonError):
            daemon.metrics.job_counts = await daemon.store.counts()
        body = daemon.metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
