"""The OpenAI-compatible HTTP API over `DirectClient` (aiohttp).

`POST /v1/chat/completions`, `POST /v1/completions` (`stream` true or false),
`POST /v1/embeddings` (embedding models; `input` a string or a list of strings, each embedded
over its own ticket, concurrently; `encoding_format` float or base64), `GET /v1/models`, `GET /healthz`. Errors use OpenAI's JSON shape (`{"error": {"message", "type", "param",
"code"}}`) with the status of the `GatewayError` subclass; an error after a stream has started
is sent as a final `data: {"error": ...}` event (the `openai` client raises it), never as a
silent end.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import struct
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from lifecycle import AsyncResource

from ._client import DirectClient, DirectRequest, ModelEntry, StreamChunk, StreamEnd
from ._errors import BadParameter, GatewayError

__all__ = ["GatewayServer", "parse_request"]

log = logging.getLogger("inference_gateway")

MAX_STOP = 4
#: Inputs one /v1/embeddings call may carry (each is its own ticket and executor call)
MAX_EMBEDDING_INPUTS = 64
MAX_TOP_LOGPROBS = 5
#: Defaults when the caller gives no max_tokens
DEFAULT_MAX_TOKENS = {"chat": 64, "completion": 16}


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadParameter(f"{name} must be a number", param=name)
    if not low <= float(value) <= high:
        raise BadParameter(f"{name} must be between {low} and {high}", param=name)
    return float(value)


def _content(message: Any, index: int) -> tuple[str, str]:
    if not isinstance(message, dict):
        raise BadParameter(f"messages[{index}] must be an object", param="messages")
    role, content = message.get("role"), message.get("content")
    if not isinstance(role, str) or not role:
        raise BadParameter(f"messages[{index}].role is required", param="messages")
    if isinstance(content, list):  # content parts: only text is supported
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise BadParameter("only text content parts are supported", param="messages")
            texts.append(str(part.get("text", "")))
        content = "".join(texts)
    if not isinstance(content, str):
        raise BadParameter(f"messages[{index}].content must be a string", param="messages")
    return role, content


def parse_request(kind: str, body: Any) -> tuple[str, DirectRequest, dict[str, Any]]:
    """(model, request, options) from an OpenAI request body; `BadParameter` on bad input.

    options: `stream`, `include_usage`, `logprobs` (bool), `top_logprobs` (int), `echo`.
    """
    if not isinstance(body, dict):
        raise BadParameter("the body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadParameter("model is required", param="model")
    n = body.get("n", 1)
    if n not in (1, None):
        raise BadParameter("only n=1 is supported", param="n")
    for penalty in ("presence_penalty", "frequency_penalty"):
        if body.get(penalty) not in (None, 0, 0.0):
            raise BadParameter(f"{penalty} is not supported (use 0)", param=penalty)
    limit_name = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    max_tokens = body.get(limit_name, DEFAULT_MAX_TOKENS[kind])
    if max_tokens is None:
        max_tokens = DEFAULT_MAX_TOKENS[kind]
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise BadParameter(f"{limit_name} must be a positive integer", param=limit_name)
    temperature = _number(body, "temperature", 1.0, 0.0, 2.0)
    top_p = _number(body, "top_p", 1.0, 0.0, 1.0)
    if top_p == 0.0:
        raise BadParameter("top_p must be greater than 0", param="top_p")
    stop_value = body.get("stop")
    stop: tuple[str, ...]
    if stop_value is None:
        stop = ()
    elif isinstance(stop_value, str):
        stop = (stop_value,)
    elif isinstance(stop_value, list) and all(isinstance(s, str) for s in stop_value):
        stop = tuple(stop_value)
    else:
        raise BadParameter("stop must be a string or a list of strings", param="stop")
    if len(stop) > MAX_STOP or any(not s for s in stop):
        raise BadParameter(f"stop: at most {MAX_STOP} non-empty strings", param="stop")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadParameter("seed must be an integer", param="seed")
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise BadParameter("user must be a string", param="user")
    stream = body.get("stream", False)
    if not isinstance(stream, bool | None):
        raise BadParameter("stream must be a boolean", param="stream")
    stream_options = body.get("stream_options") or {}
    if not isinstance(stream_options, dict):
        raise BadParameter("stream_options must be an object", param="stream_options")
    if stream_options and not stream:
        raise BadParameter("stream_options is only allowed with stream", param="stream_options")
    options: dict[str, Any] = {
        "stream": bool(stream),
        "include_usage": bool(stream_options.get("include_usage", False)),
    }
    if kind == "chat":
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadParameter("messages must be a non-empty list", param="messages")
        turns = tuple(_content(m, i) for i, m in enumerate(messages))
        logprobs = body.get("logprobs", False)
        if not isinstance(logprobs, bool | None):
            raise BadParameter("logprobs must be a boolean", param="logprobs")
        top = body.get("top_logprobs")
        if top is not None:
            if isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= 5:
                raise BadParameter("top_logprobs must be an integer in 0..5", param="top_logprobs")
            if not logprobs:
                raise BadParameter("top_logprobs needs logprobs=true", param="top_logprobs")
        options["logprobs"] = bool(logprobs)
        options["top_logprobs"] = int(top or 0)
        prompt = None
    else:
        prompt = body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
            prompt = prompt[0]
        if not isinstance(prompt, str) or not prompt:
            raise BadParameter("prompt must be a non-empty string", param="prompt")
        logprobs_n = body.get("logprobs")
        if logprobs_n is not None and (
            isinstance(logprobs_n, bool)
            or not isinstance(logprobs_n, int)
            or not 0 <= logprobs_n <= MAX_TOP_LOGPROBS
        ):
            raise BadParameter("logprobs must be an integer in 0..5", param="logprobs")
        if body.get("echo"):
            raise BadParameter("echo is not supported", param="echo")
        if body.get("suffix"):
            raise BadParameter("suffix is not supported", param="suffix")
        options["logprobs"] = logprobs_n is not None
        options["top_logprobs"] = int(logprobs_n or 0)
        turns = ()
    request = DirectRequest(
        kind,
        prompt=prompt,
        messages=turns,
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        stop=stop,
        seed=seed,
        pieces=bool(options["logprobs"]),
    )
    return model, request, options


def _vector(values: tuple[float, ...], encoding: str) -> list[float] | str:
    """A vector as OpenAI sends it: floats, or base64 of little-endian float32 (the openai
    client's default, which it decodes itself)."""
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")
    return list(values)


def _error_response(error: GatewayError) -> web.Response:
    return web.json_response(error.to_json(), status=error.status)


def _sse(data: Any) -> bytes:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class _Shaper:
    """OpenAI chunk and response bodies for one request."""

    def __init__(self, kind: str, model: str, options: dict[str, Any]) -> None:
        self.kind = kind
        self.model = model
        self.options = options
        self.created = int(time.time())
        prefix = "chatcmpl" if kind == "chat" else "cmpl"
        self.id = f"{prefix}-{uuid.uuid4().hex}"
        self.object = "chat.completion" if kind == "chat" else "text_completion"

    def _chat_logprobs(self, chunks: list[StreamChunk]) -> dict[str, Any] | None:
        if not self.options["logprobs"]:
            return None
        k = self.options["top_logprobs"]
        content = [
            {
                "token": c.piece,
                "logprob": c.logprob,
                "bytes": list(c.piece.encode()),
                "top_logprobs": [
                    {"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in c.top[:k]
                ],
            }
            for c in chunks
            if c.token is not None
        ]
        return {"content": content, "refusal": None}

    def _completion_logprobs(self, chunks: list[StreamChunk], offset: int) -> Any:
        if not self.options["logprobs"]:
            return None
        k = self.options["top_logprobs"]
        tokens = [c for c in chunks if c.token is not None]
        offsets = []
        for c in tokens:
            offsets.append(offset)
            offset += len(c.piece)
        return {
            "tokens": [c.piece for c in tokens],
            "token_logprobs": [c.logprob for c in tokens],
            "top_logprobs": [dict(c.top[:k]) for c in tokens] if k else None,
            "text_offset": offsets,
        }

    def chunk(self, chunk: StreamChunk, first: bool, offset: int) -> dict[str, Any] | None:
        wants_logprobs = self.options["logprobs"] and chunk.token is not None
        if not chunk.text and not wants_logprobs and not first:
            return None
        if self.kind == "chat":
            delta: dict[str, Any] = {"content": chunk.text}
            if first:
                delta["role"] = "assistant"
            choice: dict[str, Any] = {
                "index": 0,
                "delta": delta,
                "logprobs": self._chat_logprobs([chunk]),
                "finish_reason": None,
            }
            return self._envelope("chat.completion.chunk", [choice])
        choice = {
            "index": 0,
            "text": chunk.text,
            "logprobs": self._completion_logprobs([chunk], offset),
            "finish_reason": None,
        }
        return self._envelope("text_completion", [choice])

    def finish(self, end: StreamEnd) -> dict[str, Any]:
        if self.kind == "chat":
            choice: dict[str, Any] = {
                "index": 0,
                "delta": {},
                "logprobs": None,
                "finish_reason": end.finish_reason,
            }
            return self._envelope("chat.completion.chunk", [choice])
        choice = {"index": 0, "text": "", "logprobs": None, "finish_reason": end.finish_reason}
        return self._envelope("text_completion", [choice])

    def usage(self, end: StreamEnd) -> dict[str, Any]:
        return {
            "prompt_tokens": end.prompt_tokens,
            "completion_tokens": end.completion_tokens,
            "total_tokens": end.prompt_tokens + end.completion_tokens,
        }

    def usage_chunk(self, end: StreamEnd) -> dict[str, Any]:
        kind = "chat.completion.chunk" if self.kind == "chat" else "text_completion"
        body = self._envelope(kind, [])
        body["usage"] = self.usage(end)
        return body

    def whole(self, chunks: list[StreamChunk], end: StreamEnd) -> dict[str, Any]:
        text = "".join(c.text for c in chunks)
        if self.kind == "chat":
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": self._chat_logprobs(chunks),
                "finish_reason": end.finish_reason,
            }
        else:
            choice = {
                "index": 0,
                "text": text,
                "logprobs": self._completion_logprobs(chunks, 0),
                "finish_reason": end.finish_reason,
            }
        body = self._envelope(self.object, [choice])
        body["usage"] = self.usage(end)
        body["direct"] = {
            "executor": end.executor,
            "ticket_nonce": end.nonce,
            "output_hash": "0x" + end.output_hash.hex(),
        }
        return body

    def _envelope(self, kind: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": kind,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": choices,
        }


class GatewayServer(AsyncResource):
    """The HTTP server; `start(host, port)` (once), `url` (ends in /v1), idempotent `close()`."""

    def __init__(self, client: DirectClient) -> None:
        super().__init__()
        self.client = client
        self._runner: web.AppRunner | None = None
        self._bind = ("127.0.0.1", 8000)
        self.url = ""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/models/{model}", self._model)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/healthz", self._health)
        self.app = app

    async def start(self, host: str = "127.0.0.1", port: int = 8000) -> GatewayServer:
        self._bind = (host, port)
        return await self.open()

    async def _aopen(self) -> None:
        host, port = self._bind
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        sockets = getattr(site._server, "sockets", None)
        bound = int(sockets[0].getsockname()[1]) if sockets else port
        self.url = f"http://{host}:{bound}/v1"

    async def _aclose(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    @staticmethod
    def _model_json(model: ModelEntry) -> dict[str, Any]:
        from substrateinterface import Keypair

        return {
            "id": model.id_hex,
            "object": "model",
            "created": model.registered_at,
            "owned_by": Keypair(public_key=model.owner, ss58_format=42).ss58_address,
            "name": model.name,
            "price_per_1k_tokens": str(model.price_per_1k_tokens),
            "currency_id": model.currency_id,
            "providers": len(model.providers),
        }

    async def _models(self, request: web.Request) -> web.Response:
        try:
            models = await self.client.models()
        except GatewayError as exc:
            return _error_response(exc)
        return web.json_response({"object": "list", "data": [self._model_json(m) for m in models]})

    async def _model(self, request: web.Request) -> web.Response:
        try:
            model = await self.client.resolve(request.match_info["model"])
        except GatewayError as exc:
            return _error_response(exc)
        return web.json_response(self._model_json(model))

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, "chat")

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, "completion")

    async def _embeddings(self, request: web.Request) -> web.Response:
        """OpenAI's embeddings API: `{"model", "input", "encoding_format": "float"}`."""
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error_response(BadParameter("the body is not valid JSON"))
        try:
            if not isinstance(body, dict) or not isinstance(body.get("model"), str):
                raise BadParameter("model is required", param="model")
            texts = body.get("input")
            if isinstance(texts, str):
                texts = [texts]
            if (
                not isinstance(texts, list)
                or not 1 <= len(texts) <= MAX_EMBEDDING_INPUTS
                or not all(isinstance(t, str) and t for t in texts)
            ):
                raise BadParameter(
                    f"input must be a non-empty string or a list of 1..{MAX_EMBEDDING_INPUTS} "
                    "non-empty strings (token arrays are not supported)",
                    param="input",
                )
            encoding = body.get("encoding_format") or "float"
            if encoding not in ("float", "base64"):
                raise BadParameter(
                    "encoding_format must be 'float' or 'base64'", param="encoding_format"
                )
            if body.get("dimensions") is not None:
                raise BadParameter("dimensions is not supported", param="dimensions")
            model = await self.client.resolve(body["model"])
            ends = await asyncio.gather(*(self.client.embed(model, t) for t in texts))
        except GatewayError as exc:
            return _error_response(exc)
        tokens = sum(e.prompt_tokens for e in ends)
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {"object": "embedding", "index": i, "embedding": _vector(e.embedding, encoding)}
                    for i, e in enumerate(ends)
                ],
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _serve(self, request: web.Request, kind: str) -> web.StreamResponse:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error_response(BadParameter("the body is not valid JSON"))
        try:
            model_name, direct, options = parse_request(kind, body)
            model = await self.client.resolve(model_name)
        except GatewayError as exc:
            return _error_response(exc)
        shaper = _Shaper(kind, model_name, options)
        events = self.client.stream(model, direct)
        try:
            # the first event decides the status: errors before it are plain JSON errors
            try:
                first = await anext(events)
            except StopAsyncIteration:
                return _error_response(GatewayError("the stream ended before it began"))
            except GatewayError as exc:
                return _error_response(exc)
            if options["stream"]:
                return await self._stream(request, shaper, first, events)
            return await self._whole(shaper, first, events)
        finally:
            await events.aclose()

    async def _whole(
        self, shaper: _Shaper, first: StreamChunk | StreamEnd, events: AsyncIterator[Any]
    ) -> web.Response:
        chunks: list[StreamChunk] = []
        event: StreamChunk | StreamEnd = first
        try:
            while not isinstance(event, StreamEnd):
                chunks.append(event)
                event = await anext(events)
        except GatewayError as exc:
            return _error_response(exc)
        return web.json_response(shaper.whole(chunks, event))

    async def _stream(
        self,
        request: web.Request,
        shaper: _Shaper,
        first: StreamChunk | StreamEnd,
        events: AsyncIterator[Any],
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        event: StreamChunk | StreamEnd = first
        is_first = True
        offset = 0
        try:
            while not isinstance(event, StreamEnd):
                body = shaper.chunk(event, is_first, offset)
                offset += len(event.text)
                if body is not None:
                    await response.write(_sse(body))
                    is_first = False
                event = await anext(events)
            await response.write(_sse(shaper.finish(event)))
            if shaper.options["include_usage"]:
                await response.write(_sse(shaper.usage_chunk(event)))
            await response.write(b"data: [DONE]\n\n")
        except GatewayError as exc:
            log.warning("stream failed after it started: %s", exc)
            await response.write(_sse(exc.to_json()))
        await response.write_eof()
        return response
