"""The executor's side of the direct path: stream at once against a ticket, settle later.

`POST /v1/direct/generate` takes `{"request": {...}, "ticket": {...}, "links": [...]}` (see
docs/gateway.md): the ticket must extend the channel's chain (links carry earlier tickets the
gateway could not deliver), be signed by the requester, unexpired, within the channel's free
deposit and the model's price, and commit to the request (`prompt_hash`). The answer is a
server-sent event stream: `accepted` (the ticket is taken), one `data` event per token as the
engine produces it, and `final` with the output hash, token counts and the provider key's
signature over them; `error` if generation fails. A request of kind `embedding` (to an
embedding model) has no token events: its `final` also carries the canonical embedding record
(`record`, hex), whose hash is the signed output hash; it reports 0 completion tokens.

Served tickets are settled in batches (`Channels.settle`, one signature per channel run) every
`direct_settle_interval_s` or once `direct_settle_batch` are waiting. The request and output of
each settled ticket stay here for validators (`GET /direct/{direct_id}`); sampled direct
results this provider must validate are fetched from their executor, re-run and judged with
`Channels.submit_direct_validations`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import statistics
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
import sr25519
from aiohttp import web

import inference_engine as ie
import sealing
from inference_gateway.protocol import (
    ProtocolError,
    Ticket,
    blake2_256,
    canonical_json,
    escrow_for,
    final_message,
    prompt_hash,
    ticket_message,
)
from runtime_types.generated.devnode import channels, types

from ._chain import STORAGE_MODELS, STORAGE_PROVIDERS
from ._errors import AuthError, DaemonError, JobFailed
from ._validator import SignedAttempts
from .protocol import verify_output_request

if TYPE_CHECKING:
    from substrateinterface import Keypair

    from ._config import DaemonConfig
    from ._engines import EnginePool
    from ._metrics import DaemonMetrics
    from ._models import ModelCatalog
    from ._node import Node
    from ._tasks import SideTasks
    from ._types import AccountId

__all__ = ["DirectExecutor", "DirectHost", "embedding_request", "generation_request"]

log = logging.getLogger("ocw_daemon.direct")

#: Mirrors of the Channels constants (docs/pallets.md)
MAX_TICKET_LIFE = int(channels.constants.MAX_TICKET_LIFE)
MIN_TICKET_MARGIN = int(channels.constants.MIN_TICKET_MARGIN)
#: Chain reads on the serving path are reused this long (seconds)
CACHE_TTL_S = 1.0
#: Served records kept for validators (oldest dropped first)
KEEP_RECORDS = 20_000
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
# The sealer of the stream being answered (per request task): `_send` seals every event with it.
_STREAM_SEALER: contextvars.ContextVar[sealing.DirectStreamSealer | None] = contextvars.ContextVar(
    "direct_stream_sealer", default=None
)


class DirectHost(Protocol):
    """What the direct path uses of the daemon it runs in."""

    config: DaemonConfig
    account: AccountId
    keypair: Keypair
    encryption_key: sealing.EncryptionKey
    metrics: DaemonMetrics
    node: Node
    engines: EnginePool
    models: ModelCatalog
    tasks: SideTasks
    #: The HTTP client validators fetch with (None while not running)
    session: aiohttp.ClientSession | None

    @property
    def head(self) -> int: ...

    @property
    def stopping(self) -> bool: ...

    @property
    def queue_depth(self) -> int:
        """On-chain jobs waiting for a worker."""
        ...


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def _refusal(status: int, code: str, message: str, *, held: bool = False) -> web.Response:
    """An error answer; `held` tells the gateway the ticket is taken (settled as unused)."""
    body = {"error": {"code": code, "message": message}, "held": held}
    return web.json_response(body, status=status)


def _amount_too_low(ticket: Ticket, prompt_tokens: int, price: int) -> web.Response | None:
    """The 402 refusal when the ticket cannot pay for the prompt plus its `max_tokens`."""
    needed = escrow_for(prompt_tokens + ticket.max_tokens, price)
    if needed <= ticket.max_amount:
        return None
    return _refusal(
        402,
        "ticket_amount_too_low",
        f"{prompt_tokens} prompt tokens + {ticket.max_tokens} max_tokens cost {needed}",
        held=True,
    )


def generation_request(request: dict[str, Any], commitment: bytes) -> ie.GenerationRequest:
    """The engine request a direct request stands for (executor and validator alike).

    The sampling seed is the request id: `seed-<n>` when the caller gave a seed (so the same
    seed and prompt give the same output), else `direct-<prompt hash>`.
    """
    try:
        seed = request.get("seed")
        rid = f"seed-{int(seed)}" if seed is not None else f"direct-{commitment.hex()}"
        params = ie.SamplingParams(
            max_tokens=int(request["max_tokens"]),
            temperature=float(request.get("temperature", 1.0)),
            top_p=float(request.get("top_p", 1.0)),
            stop=tuple(str(s) for s in request.get("stop") or ()),
        )
        prompt: str | ie.ChatPrompt
        if request.get("kind") == "chat":
            messages = request["messages"]
            if not isinstance(messages, list) or not messages:
                raise ie.InvalidRequestError("messages must be a non-empty list")
            prompt = ie.ChatPrompt(
                tuple(ie.ChatMessage(str(m["role"]), str(m["content"])) for m in messages)
            )
        else:
            prompt = str(request["prompt"])
        return ie.GenerationRequest(ie.RequestId(rid), prompt, params)
    except (KeyError, TypeError, ValueError) as exc:
        raise ie.InvalidRequestError(f"malformed direct request: {exc}") from exc


def embedding_request(request: dict[str, Any], commitment: bytes) -> ie.EmbeddingRequest:
    """The engine request a direct `embedding` request stands for (id `direct-<prompt hash>`)."""
    try:
        text = request["prompt"]
        if request.get("kind") != "embedding" or not isinstance(text, str):
            raise ie.InvalidRequestError("an embedding request needs kind 'embedding' and a prompt")
        return ie.EmbeddingRequest(ie.RequestId(f"direct-{commitment.hex()}"), text)
    except KeyError as exc:
        raise ie.InvalidRequestError(f"malformed direct request: {exc}") from exc


@dataclass
class _Held:
    """A ticket this executor holds: served (a record), unserved (a link) or being served."""

    ticket: Ticket
    digest: bytes
    serving: bool = False
    request_bytes: bytes | None = None
    output: bytes | None = None
    output_hash: bytes = bytes(32)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def direct_result(self, model_index: int) -> types.DirectResult:
        """This ticket as `Channels.settle` carries it (`model_index` into the run's models)."""
        t = self.ticket
        return types.DirectResult(
            model_index,
            types.H256(t.prompt_hash),
            t.max_tokens,
            t.max_price,
            t.max_amount,
            t.expiry,
            types.H256(self.output_hash),
            self.prompt_tokens,
            self.completion_tokens,
        )


@dataclass
class _Channel:
    """The chain of tickets past the last settled one, as this executor holds it."""

    channel_id: int
    nonce: int
    head: bytes
    cumulative: int
    tickets: dict[int, _Held] = field(default_factory=dict)

    @property
    def tip(self) -> tuple[int, bytes, int]:
        if self.tickets:
            last = self.tickets[max(self.tickets)]
            return last.ticket.nonce, last.digest, last.ticket.cumulative
        return self.nonce, self.head, self.cumulative

    def run(self) -> list[_Held]:
        """The longest settleable run: consecutive, none being served, ending at a signed one."""
        run: list[_Held] = []
        best: list[_Held] = []
        nonce = self.nonce + 1
        while nonce in self.tickets and not self.tickets[nonce].serving:
            run.append(self.tickets[nonce])
            if self.tickets[nonce].ticket.signature is not None:
                best = list(run)
            nonce += 1
        return best


class DirectExecutor:
    """The daemon's direct-path executor and validator (see the module docstring)."""

    def __init__(self, host: DirectHost) -> None:
        self._host = host
        self._channels: dict[bytes, _Channel] = {}
        self._locks: dict[bytes, asyncio.Lock] = {}
        self._records: OrderedDict[tuple[bytes, int], _Held] = OrderedDict()
        self._ttft: deque[float] = deque(maxlen=64)
        self._active = 0
        self._wake = asyncio.Event()
        self._settle_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._validating: set[int] = set()
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self.settled = 0

    async def _cached(
        self, key: tuple[Any, ...], fetch: Callable[[], Awaitable[Any]], ttl: float = CACHE_TTL_S
    ) -> Any:
        """A chain read reused for `ttl` seconds. Safe for what is read here: a stale channel
        shows less credit than there is (top-ups, releases), never more, except through this
        executor's own settlements, which drop it; a close is seen within the TTL, far inside
        `CloseDelay`."""
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
        value = await fetch()
        self._cache[key] = (now, value)
        return value

    # -- lifecycle and hooks -----------------------------------------------------------------

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/direct/generate", self._generate)
        router.add_get("/direct/{direct_id}", self._record)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._settle_loop(), name="ocw-direct-settle")

    async def close(self) -> None:
        """Settle what is served (best effort), stop the settler."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.settle_now(), 5.0)

    def status_fields(self) -> dict[str, Any]:
        """Warm models, queue depth and recent time to first token, for the signed status."""
        host = self._host
        warm = host.models.warm(host.engines.loaded)
        ttft = statistics.median(self._ttft) if self._ttft else None
        return {
            "warm": warm,
            "queue_depth": host.queue_depth + self._active,
            "ttft_ms": None if ttft is None else round(ttft * 1000, 2),
        }

    def validate_drawn(self, direct_id: int) -> None:
        """A direct result drawn for this account (`DirectValidationRequested`): judge it."""
        if direct_id not in self._validating:
            self._validating.add(direct_id)
            self._host.tasks.spawn(self._validate(direct_id), f"ocw-direct-validate-{direct_id}")

    # -- chain reads ---------------------------------------------------------------------------

    async def _chain_channel(self, requester: bytes) -> types.Channel | None:
        found: types.Channel | None = await self._host.node.query(
            channels.storage.channels(
                types.AccountId32(requester), types.AccountId32(self._host.account)
            )
        )
        return found

    async def _sync(self, requester: bytes) -> tuple[_Channel, types.Channel]:
        on_chain = await self._cached(
            ("channel", requester), lambda: self._chain_channel(requester)
        )
        if on_chain is None:
            raise _Refused(402, "no_channel", "no payment channel from this requester to me")
        local = self._channels.get(requester)
        if local is None or local.channel_id != on_chain.id or local.nonce < on_chain.nonce:
            kept = {} if local is None or local.channel_id != on_chain.id else local.tickets
            local = _Channel(
                on_chain.id,
                on_chain.nonce,
                bytes(on_chain.head.value),
                on_chain.settled_cumulative,
                {n: h for n, h in kept.items() if n > on_chain.nonce},
            )
            self._channels[requester] = local
        return local, on_chain

    # -- serving -------------------------------------------------------------------------------

    def _accept(self, local: _Channel, ticket: Ticket, links: list[Ticket]) -> _Held:
        """Extend the local chain with `links` + `ticket`; the signature covers them all."""
        me = self._host.account
        nonce, head, cumulative = local.tip
        fresh: list[_Held] = []
        for item in [*links, ticket]:
            if item.executor != me or item.requester != ticket.requester:
                raise _Refused(400, "wrong_channel", "a ticket of another channel")
            if item.channel_id != local.channel_id:
                raise _Refused(409, "stale_channel", "the ticket is for an older channel")
            if item.nonce <= local.nonce:
                if item is not ticket:
                    continue  # a link already settled: history, nothing to hold
                raise _Refused(409, "ticket_settled", f"ticket {item.nonce} is settled already")
            known = local.tickets.get(item.nonce)
            if known is not None:
                if known.digest != item.digest:
                    raise _Refused(409, "ticket_conflict", f"another ticket {item.nonce} is held")
                continue
            if item.nonce != nonce + 1 or item.prev != head:
                raise _Refused(409, "ticket_gap", f"ticket {item.nonce} does not extend {nonce}")
            if item.cumulative != cumulative + item.max_amount:
                raise _Refused(400, "bad_cumulative", "cumulative is not the running total")
            held = _Held(item.unsigned(), item.digest)
            fresh.append(held)
            nonce, head, cumulative = item.nonce, held.digest, item.cumulative
        digest = ticket.digest
        assert ticket.signature is not None
        if not sr25519.verify(ticket.signature, ticket_message(digest), ticket.requester):
            raise _Refused(401, "bad_signature", "the requester did not sign this ticket")
        for held in fresh:
            local.tickets[held.ticket.nonce] = held
        target = local.tickets[ticket.nonce]
        target.ticket = ticket  # now with its signature
        if target.serving or target.output is not None:
            raise _Refused(409, "ticket_used", f"ticket {ticket.nonce} was served already")
        return target

    async def _admit(
        self, body: Any
    ) -> tuple[_Held, dict[str, Any], ie.GenerationRequest, str, int]:
        if not isinstance(body, dict) or not isinstance(body.get("request"), dict):
            raise _Refused(400, "bad_request", "expected {request, ticket, links}")
        try:
            ticket = Ticket.from_json(body.get("ticket"))
            links = [Ticket.from_json(t) for t in body.get("links") or []]
        except ProtocolError as exc:
            raise _Refused(400, "bad_ticket", str(exc)) from exc
        request: dict[str, Any] = body["request"]
        commitment = prompt_hash(request)
        if ticket.signature is None:
            raise _Refused(400, "bad_ticket", "the ticket is not signed")
        if commitment != ticket.prompt_hash:
            raise _Refused(400, "prompt_mismatch", "the request does not match prompt_hash")
        if request.get("model") != "0x" + ticket.model_id.hex():
            raise _Refused(400, "model_mismatch", "the request names another model")
        if request.get("max_tokens") != ticket.max_tokens:
            raise _Refused(400, "max_tokens_mismatch", "max_tokens differs from the ticket")
        try:
            gen = generation_request(request, commitment)
        except ie.InvalidRequestError as exc:
            raise _Refused(400, "bad_request", str(exc)) from exc
        host = self._host
        model = await self._cached(
            ("model", ticket.model_id),
            lambda: host.node.query(STORAGE_MODELS(types.H256(ticket.model_id))),
        )
        if model is None:
            raise _Refused(404, "unknown_model", "no such model on-chain")
        me = await self._cached(
            ("provider",),
            lambda: host.node.query(STORAGE_PROVIDERS(types.AccountId32(host.account))),
        )
        if me is None or ticket.model_id not in {bytes(m.value) for m in me.models}:
            raise _Refused(404, "model_not_served", "this provider does not serve the model")
        price = int(model.price_per_1k_tokens)
        if price > ticket.max_price:
            raise _Refused(402, "price_above_maximum", "the model costs more than the ticket")
        head = max(host.head, await self._cached(("head",), host.node.client.head_number, 0.5))
        if ticket.expiry < head + MIN_TICKET_MARGIN or ticket.expiry > head + MAX_TICKET_LIFE:
            raise _Refused(
                400,
                "bad_expiry",
                f"expiry must be in {head + MIN_TICKET_MARGIN}..{head + MAX_TICKET_LIFE}",
            )
        requester = ticket.requester
        lock = self._locks.setdefault(requester, asyncio.Lock())
        async with lock:
            local, on_chain = await self._sync(requester)
            if on_chain.closing_at is not None:
                raise _Refused(402, "channel_closing", "the channel is closing")
            if on_chain.currency_id != int(model.currency_id):
                raise _Refused(402, "currency_mismatch", "the channel is in another currency")
            outstanding = ticket.cumulative - on_chain.settled_cumulative
            if outstanding > on_chain.deposit - on_chain.held:
                raise _Refused(
                    402,
                    "insufficient_credit",
                    f"outstanding tickets ({outstanding}) exceed the channel's free deposit "
                    f"({on_chain.deposit - on_chain.held})",
                )
            held = self._accept(local, ticket, links)
            held.serving = True
        held.request_bytes = canonical_json(request)
        cid = bytes(model.cid).decode()
        host.models.serving(ticket.model_id, cid)  # warm in the status once loaded
        return held, request, gen, cid, price

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        host = self._host
        if host.stopping:
            return _refusal(503, "stopping", "the daemon is stopping")
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _refusal(400, "bad_request", "the body is not JSON")
        if isinstance(body, dict) and "sealed" in body:  # docs/privacy.md: the direct path
            try:
                inner, stream_key = sealing.open_direct_request(host.encryption_key, body)
            except sealing.SealingError as exc:
                log.warning("sealed direct request refused: %s", type(exc).__name__)
                return _refusal(400, "sealed_refused", f"{type(exc).__name__}: {exc}")
            body = {**body, "request": inner}
            _STREAM_SEALER.set(sealing.DirectStreamSealer(stream_key, body["ticket"]))
        started = time.perf_counter()
        try:
            held, direct, gen, cid, price = await self._admit(body)
        except _Refused as exc:
            return _refusal(exc.status, exc.code, str(exc))
        except DaemonError as exc:
            return _refusal(503, "chain_unavailable", str(exc))
        self._active += 1
        response: web.StreamResponse | None = None
        try:
            async with host.engines.lease(cid) as engine:
                embedding = engine.model.task is ie.ModelTask.EMBEDDING
                if embedding != (direct.get("kind") == "embedding"):
                    kind = "an embedding" if embedding else "a text"
                    return _refusal(400, "wrong_task", f"the model is {kind} model", held=True)
                if embedding:
                    return await self._embed(request, engine, held, direct, price)
                try:
                    prompt_tokens = len(engine.model.encode_prompt(gen.prompt))
                except ie.ChatTemplateError as exc:
                    return _refusal(400, "no_chat_template", str(exc), held=True)
                except ie.InferenceError as exc:
                    return _refusal(400, "bad_request", str(exc), held=True)
                pieces = bool(direct.get("pieces"))
                short = _amount_too_low(held.ticket, prompt_tokens, price)
                if short is not None:
                    return short
                response = web.StreamResponse(headers=SSE_HEADERS)
                await response.prepare(request)
                accepted = {"nonce": held.ticket.nonce, "ticket": held.digest.hex()}
                await _send(response, accepted, "accepted")
                record: ie.GenerationOutput | None = None
                first = True
                events = engine.stream(gen, timeout_s=host.config.inference_timeout_s)
                async with contextlib.aclosing(events):  # a gone client stops the row
                    async for event in events:
                        if isinstance(event, ie.GenerationOutput):
                            record = event
                            break
                        if first and event.entry is not None:
                            self._ttft.append(time.perf_counter() - started)
                            first = False
                        await _send(response, _chunk_json(event, engine.model, pieces))
                assert record is not None
                data = ie.encode_output(record)
                digest = ie.output_hash(data)
                signature = host.keypair.sign(
                    final_message(
                        held.digest, digest, record.prompt_token_count, len(record.tokens)
                    )
                )
                final = {
                    "ticket": held.digest.hex(),
                    "output_hash": digest.hex(),
                    "prompt_tokens": record.prompt_token_count,
                    "completion_tokens": len(record.tokens),
                    "finish_reason": int(record.finish_reason),
                    "signature": bytes(signature).hex(),
                }
                held.output, held.output_hash = data, digest
                held.prompt_tokens = record.prompt_token_count
                held.completion_tokens = len(record.tokens)
                self._keep(held)
                await _send(response, final, "final")
                await response.write_eof()
                host.metrics.tokens.labels("prompt").inc(record.prompt_token_count)
                host.metrics.tokens.labels("completion").inc(len(record.tokens))
                return response
        except JobFailed as exc:
            if response is None:
                return _refusal(503, "model_unavailable", str(exc), held=True)
            with contextlib.suppress(Exception):
                await _send(response, {"message": str(exc)}, "error")
            return response
        except ie.InferenceError as exc:
            if response is None:
                return _refusal(503, "engine_error", str(exc), held=True)
            with contextlib.suppress(Exception):
                await _send(response, {"message": str(exc)}, "error")
            return response
        except (ConnectionResetError, asyncio.CancelledError):
            log.info("direct stream of ticket %d dropped by the client", held.ticket.nonce)
            raise
        finally:
            self._active -= 1
            held.serving = False
            if held.output is None:  # not served: settled as an unused link, for nothing
                held.request_bytes = None
            if self._ready_count() >= host.config.direct_settle_batch:
                self._wake.set()

    async def _embed(
        self,
        request: web.Request,
        engine: ie.InferenceEngine,
        held: _Held,
        direct: dict[str, Any],
        price: int,
    ) -> web.StreamResponse:
        """Serve an `embedding` request: `accepted`, then `final` with the record itself."""
        host = self._host
        try:
            wanted = embedding_request(direct, held.ticket.prompt_hash)
            prompt_tokens = len(engine.model.encode_input(wanted.input)[0])
        except ie.InferenceError as exc:
            return _refusal(400, "bad_request", str(exc), held=True)
        short = _amount_too_low(held.ticket, prompt_tokens, price)
        if short is not None:
            return short
        response = web.StreamResponse(headers=SSE_HEADERS)
        await response.prepare(request)
        await _send(response, {"nonce": held.ticket.nonce, "ticket": held.digest.hex()}, "accepted")
        try:
            record = await engine.embed(wanted, timeout_s=host.config.inference_timeout_s)
        except ie.InferenceError as exc:
            with contextlib.suppress(Exception):
                await _send(response, {"message": str(exc)}, "error")
            return response
        data = ie.encode_embedding(record)
        digest = ie.output_hash(data)
        signature = host.keypair.sign(
            final_message(held.digest, digest, record.prompt_token_count, 0)
        )
        final = {
            "ticket": held.digest.hex(),
            "output_hash": digest.hex(),
            "prompt_tokens": record.prompt_token_count,
            "completion_tokens": 0,
            "finish_reason": int(ie.FinishReason.LENGTH),
            "signature": bytes(signature).hex(),
            "record": data.hex(),
        }
        held.output, held.output_hash = data, digest
        held.prompt_tokens, held.completion_tokens = record.prompt_token_count, 0
        self._keep(held)
        await _send(response, final, "final")
        await response.write_eof()
        host.metrics.tokens.labels("prompt").inc(record.prompt_token_count)
        return response

    def _keep(self, held: _Held) -> None:
        self._records[(held.ticket.requester, held.ticket.nonce)] = held
        while len(self._records) > KEEP_RECORDS:
            self._records.popitem(last=False)

    async def _record(self, request: web.Request) -> web.Response:
        """The request and output of a settled direct result, for its requester and validator."""
        try:
            direct_id = int(request.match_info["direct_id"])
        except ValueError:
            return web.Response(status=400, text="bad direct id")
        try:
            check = await self._host.node.query(channels.storage.direct_checks(direct_id))
        except DaemonError as exc:
            return web.Response(status=503, text=str(exc))
        if check is None or bytes(check.executor.value) != self._host.account:
            return web.Response(status=404, text="no direct result to validate here")
        requester = bytes(check.requester.value)
        validator = bytes(check.validator.value)
        try:
            verify_output_request(request.headers, direct_id, {requester, validator})
        except AuthError as exc:
            return web.Response(status=exc.status, text=str(exc))
        held = self._records.get((requester, int(check.nonce)))
        if held is None or held.output is None or held.request_bytes is None:
            return web.Response(status=404, text="the record is not kept here")
        try:
            verify_output_request(request.headers, direct_id, {validator})
            info = await self._host.node.query(STORAGE_PROVIDERS(check.validator))
        except (AuthError, DaemonError):
            info = None
        if info is not None and info.encryption_key is not None:  # sealed to the validator
            inner = sealing.pack(held.request_bytes, held.output)
            context = _record_context(direct_id, check)
            envelope = sealing.seal_for(bytes(info.encryption_key), inner, context)
            return web.json_response({"sealed": envelope.hex()})
        return web.json_response(
            {"request": held.request_bytes.decode(), "output": held.output.hex()}
        )

    # -- settling ------------------------------------------------------------------------------

    def _ready_count(self) -> int:
        return sum(len(c.run()) for c in self._channels.values())

    def _expiring(self) -> bool:
        """A settleable ticket expires within `2 * MinTicketMargin` blocks: settle now, or
        its fee is lost (the chain never pays an expired ticket)."""
        limit = self._host.head + 2 * MIN_TICKET_MARGIN
        return any(held.ticket.expiry <= limit for c in self._channels.values() for held in c.run())

    async def _settle_loop(self) -> None:
        interval = self._host.config.direct_settle_interval_s
        last = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(interval, 1.0))
            woken = self._wake.is_set()
            self._wake.clear()
            if not (woken or time.monotonic() - last >= interval or self._expiring()):
                continue
            last = time.monotonic()
            try:
                await self.settle_now()
            except DaemonError as exc:
                log.warning("direct settlement failed: %s", exc)

    async def settle_now(self) -> int:
        """Settle every settleable run in one extrinsic; returns how many tickets it carried."""
        async with self._settle_lock:
            runs = [(r, c, c.run()) for r, c in self._channels.items()]
            runs = [(r, c, run) for r, c, run in runs if run]
            if not runs:
                return 0
            settlements = []
            for requester, local, run in runs:
                models: list[bytes] = []
                results = []
                for held in run:
                    if held.ticket.model_id not in models:
                        models.append(held.ticket.model_id)
                    results.append(held.direct_result(models.index(held.ticket.model_id)))
                signature = run[-1].ticket.signature
                assert signature is not None
                settlements.append(
                    types.ChannelSettlement(
                        types.AccountId32(requester),
                        local.nonce + 1,
                        [types.H256(m) for m in models],
                        results,
                        signature,
                    )
                )
            receipt = await self._host.node.submit(channels.calls.settle(settlements))
            if not receipt.success:
                log.warning("Channels.settle failed: %s; resyncing", receipt.error)
                for requester, _, _ in runs:
                    self._channels.pop(requester, None)
                    self._cache.pop(("channel", requester), None)
                return 0
            count = 0
            for _, local, run in runs:
                last = run[-1]
                for held in run:
                    local.tickets.pop(held.ticket.nonce, None)
                local.nonce, local.head = last.ticket.nonce, last.digest
                local.cumulative = last.ticket.cumulative
                count += len(run)
            self.settled += count
            for requester, _, _ in runs:
                self._cache.pop(("channel", requester), None)
            log.info("settled %d direct results in one extrinsic", count)
            return count

    # -- validating ----------------------------------------------------------------------------

    async def _validate(self, direct_id: int) -> None:
        host = self._host
        try:
            check = await host.node.query(channels.storage.direct_checks(direct_id))
            if check is None or bytes(check.validator.value) != host.account:
                return
            valid = await self._judge(direct_id, check)
            receipt = await host.node.submit(
                channels.calls.submit_direct_validations([(direct_id, valid)])
            )
            if receipt.success:
                host.metrics.outcomes.labels("validator", "valid" if valid else "invalid").inc()
            else:
                log.warning("direct verdict on %d failed: %s", direct_id, receipt.error)
        except DaemonError as exc:
            log.warning("direct validation of %d failed: %s", direct_id, exc)
        finally:
            self._validating.discard(direct_id)

    async def _fetch(self, direct_id: int, check: types.DirectCheck) -> tuple[bytes, bytes] | None:
        host = self._host
        info = await host.node.query(STORAGE_PROVIDERS(check.executor))
        session = host.session
        if info is None or session is None:
            return None
        url = f"{bytes(info.endpoint).decode().rstrip('/')}/direct/{direct_id}"
        attempts = SignedAttempts(
            host.keypair, direct_id, host.config.fetch_timeout_s, lambda: host.stopping
        )
        async for headers, timeout in attempts:
            try:
                async with session.get(url, headers=headers, timeout=timeout) as resp:
                    if resp.status == 200:
                        body = await resp.json()
                        if "sealed" in body:
                            try:
                                plain = sealing.open_for(
                                    host.encryption_key,
                                    bytes.fromhex(str(body["sealed"])),
                                    _record_context(direct_id, check),
                                )
                                request_part, output_part = sealing.unpack(plain, 2)
                            except sealing.SealingError as exc:
                                log.warning("sealed record %d refused: %s", direct_id, exc)
                                return None  # judged invalid: the record was not handed over
                            return request_part, output_part
                        request_bytes = str(body["request"]).encode()
                        output = bytes.fromhex(str(body["output"]))
                        return request_bytes, output
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError):
                pass
        return None

    async def _judge(self, direct_id: int, check: types.DirectCheck) -> bool:
        fetched = await self._fetch(direct_id, check)
        if fetched is None:
            log.warning("direct result %d: the executor did not hand over its record", direct_id)
            return False
        request_bytes, output = fetched
        if blake2_256(request_bytes) != bytes(check.prompt_hash.value):
            return False
        if blake2_256(output) != bytes(check.output_hash.value):
            return False
        try:
            request = json.loads(request_bytes)
            record = ie.decode_record(output)  # a text output or an embedding
            wanted: ie.GenerationRequest | ie.EmbeddingRequest
            if isinstance(record, ie.EmbeddingOutput):
                wanted = embedding_request(request, bytes(check.prompt_hash.value))
            else:
                wanted = generation_request(request, bytes(check.prompt_hash.value))
        except (ValueError, ie.InferenceError):
            return False
        if (record.prompt_token_count, record.completion_token_count) != (
            check.prompt_tokens,
            check.completion_tokens,
        ):
            return False
        host = self._host
        cid = await host.models.cid_of(bytes(check.model_id.value), check.model_version)
        return await host.engines.judge(cid, wanted, record, f"direct result {direct_id}")


def _record_context(direct_id: int, check: types.DirectCheck) -> sealing.Context:
    return sealing.Context(
        "direct", direct_id, bytes(check.model_id.value), sealing.Role.EXECUTOR,
        sealing.Role.VALIDATOR, bytes(check.requester.value),
    )  # fmt: skip


def _chunk_json(chunk: ie.TokenChunk, model: ie.LoadedModel, pieces: bool) -> dict[str, Any]:
    if chunk.entry is None:
        return {"i": chunk.index, "x": chunk.text}
    return {
        "i": chunk.index,
        "t": chunk.entry.token,
        "lp": chunk.entry.logprob,
        "top": [[t, lp] for t, lp in chunk.entry.top],
        "tp": [model.decode([t]) for t, _ in chunk.entry.top] if pieces else [],
        "p": chunk.piece,
        "x": chunk.text,
    }


async def _send(response: web.StreamResponse, data: Any, event: str | None = None) -> None:
    sealer = _STREAM_SEALER.get()
    if sealer is not None:
        if event == "accepted":  # the first event: the stream's header goes before it
            header = json.dumps(sealer.header_event(), separators=(",", ":"))
            await response.write(f"event: sealed\ndata: {header}\n\n".encode())
        data = sealer.event(data, final=event in ("final", "error"))
    head = f"event: {event}\n" if event else ""
    await response.write(f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode())
