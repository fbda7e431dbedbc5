"""`DirectClient`: the requester's side of the direct path (the gateway's core).

For each request it resolves the model on-chain, ranks the model's providers by their signed
status (warm first, then queue depth, then stake-weighted reputation; failing ones set aside
for `quarantine_s`), signs the next ticket of the chosen provider's channel, posts the request
straight to the provider's endpoint and yields tokens as they arrive. At the end it rebuilds the
canonical output record from the streamed tokens and checks the provider's signed final record
against it: a mismatch raises `StreamIntegrityError`, never a silent success. A provider that
fails before the first token is set aside and the next one is tried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import sr25519
from substrateinterface import Keypair

import protocol
import sealing
from lifecycle import AsyncResource, State
from runtime_types import Bindings, ChainClient, ChainClientError, ClientConfig
from runtime_types.generated.devnode import BINDINGS, channels, model_registry, providers, types

from ._errors import (
    BadParameter,
    ChainUnavailable,
    GatewayClosed,
    GatewayError,
    InsufficientCredit,
    NoChatTemplate,
    NoProvider,
    ProviderFailed,
    StreamIntegrityError,
    UnknownModel,
)
from .protocol import (
    ProtocolError,
    Ticket,
    escrow_for,
    final_message,
    next_ticket,
    prompt_hash,
    ticket_message,
)

__all__ = [
    "DirectClient",
    "DirectConfig",
    "DirectRequest",
    "ModelEntry",
    "StreamChunk",
    "StreamEnd",
]

log = logging.getLogger("inference_gateway")

STATUS_DOMAIN = b"genai-status:"
MAX_TICKET_LIFE = int(channels.constants.MAX_TICKET_LIFE)


@dataclass(frozen=True, slots=True)
class DirectConfig:
    """Settings of the direct path (`infer gateway` builds it from `GatewaySettings`: the
    `[gateway]` table, `INFER_GATEWAY_*`, flags; docs/settings.md)."""

    chain_url: str = "ws://127.0.0.1:9944"
    #: Where ticket chains are kept across restarts (None: in memory only)
    state_path: Path | None = None
    #: Blocks a ticket lives (at most the chain's MaxTicketLife)
    ticket_life_blocks: int = 60
    #: Seconds a provider's signed status is reused
    status_ttl_s: float = 2.0
    #: Seconds a provider that failed or answered badly is set aside
    quarantine_s: float = 30.0
    #: Connecting to an executor, and waiting for its first token / any later token
    connect_timeout_s: float = 2.0
    first_token_timeout_s: float = 60.0
    token_timeout_s: float = 30.0
    #: Providers tried before a request fails
    max_attempts: int = 3
    #: Send request bodies and receive streams unsealed from executors without an encryption
    #: key (docs/privacy.md); otherwise only keyed executors are used
    allow_plaintext: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.ticket_life_blocks <= MAX_TICKET_LIFE:
            raise ValueError(f"ticket_life_blocks must be in 1..{MAX_TICKET_LIFE}")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")


@dataclass(frozen=True, slots=True)
class ModelEntry:
    model_id: bytes
    name: str
    owner: bytes
    price_per_1k_tokens: int
    currency_id: int
    registered_at: int
    providers: tuple[bytes, ...]

    @property
    def id_hex(self) -> str:
        return "0x" + self.model_id.hex()


def _model_entry(
    model_id: bytes, info: types.ModelInfo, listed: list[types.AccountId32]
) -> ModelEntry:
    return ModelEntry(
        model_id,
        bytes(info.name).decode(errors="replace"),
        bytes(info.owner.value),
        int(info.price_per_1k_tokens),
        int(info.currency_id),
        int(info.registered_at),
        tuple(bytes(a.value) for a in listed),
    )


@dataclass(frozen=True, slots=True)
class DirectRequest:
    """What to generate: a text prompt (`kind="completion"`) or chat `messages`; or, with
    `kind="embedding"` (and `max_tokens=1`, the least a ticket may carry), the text to embed
    with an embedding model."""

    kind: str
    prompt: str | None = None
    messages: tuple[tuple[str, str], ...] = ()
    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None
    #: Ask for the text of each top-k alternative (only needed for `logprobs` answers)
    pieces: bool = False

    def body(self, model_id: bytes) -> dict[str, Any]:
        """The request object the ticket commits to (`prompt_hash`)."""
        body: dict[str, Any] = {
            "kind": self.kind,
            "model": "0x" + model_id.hex(),
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "stop": list(self.stop),
            "seed": self.seed,
            "nonce": secrets.token_hex(16),
        }
        if self.pieces:
            body["pieces"] = True
        if self.kind == "chat":
            body["messages"] = [{"role": r, "content": c} for r, c in self.messages]
        else:
            body["prompt"] = self.prompt
        return body

    def prompt_token_bound(self) -> int:
        """An upper bound on prompt tokens without the tokenizer (byte-level BPE: at most one
        token per byte, plus the chat template's markup)."""
        if self.kind == "chat":
            return sum(len(c.encode()) + len(r.encode()) + 16 for r, c in self.messages) + 32
        return len((self.prompt or "").encode()) + 8


@dataclass(frozen=True, slots=True)
class StreamChunk:
    """A token as the executor produced it; `text` is what became visible (may be empty).
    A last chunk may carry only held-back text (`token` None)."""

    index: int
    text: str
    token: int | None = None
    piece: str = ""
    logprob: float | None = None
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The verified end of a stream."""

    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    output_hash: bytes
    executor: str
    nonce: int
    text: str
    #: An embedding request's verified vector (() for text)
    embedding: tuple[float, ...] = ()


@dataclass
class _Chain:
    """This requester's ticket chain to one executor, past the last settled ticket."""

    channel_id: int
    settled_nonce: int
    settled_head: bytes
    settled_cumulative: int
    tickets: list[Ticket] = field(default_factory=list)
    acked: int = 0

    @property
    def tip(self) -> tuple[int, bytes, int]:
        if self.tickets:
            last = self.tickets[-1]
            return last.nonce, last.digest, last.cumulative
        return self.settled_nonce, self.settled_head, self.settled_cumulative

    def to_json(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "settled_nonce": self.settled_nonce,
            "settled_head": self.settled_head.hex(),
            "settled_cumulative": str(self.settled_cumulative),
            "tickets": [t.to_json() for t in self.tickets],
            "acked": self.acked,
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> _Chain:
        return cls(
            int(body["channel_id"]),
            int(body["settled_nonce"]),
            bytes.fromhex(body["settled_head"]),
            int(body["settled_cumulative"]),
            [Ticket.from_json(t) for t in body["tickets"]],
            int(body["acked"]),
        )


@dataclass
class _Provider:
    account: bytes
    endpoint: str
    weight: int
    status: dict[str, Any] | None = None
    status_at: float = 0.0
    #: The X25519 key its requests and streams are sealed with (None: it cannot take sealed ones)
    encryption_key: bytes | None = None


class _Retry(Exception):
    """The provider failed before the first token: try another."""

    def __init__(self, message: str, *, quarantine: bool = True, gap: bool = False) -> None:
        super().__init__(message)
        self.quarantine = quarantine
        #: the executor does not hold the tickets before this one (it lost them, or never got
        #: them): resend every unsettled ticket as a link
        self.gap = gap


def _status_message(document: dict[str, Any]) -> bytes:
    return STATUS_DOMAIN + json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class DirectClient(AsyncResource):
    """`async with DirectClient(config, keypair) as client: async for ev in client.stream(...)`.

    `connect()` is a no-op once open, `close()` is idempotent, and a closed client raises
    `GatewayClosed`.
    """

    closed_error = GatewayClosed

    def __init__(
        self, config: DirectConfig, keypair: Keypair, *, bindings: Bindings = BINDINGS
    ) -> None:
        super().__init__()
        self.config = config
        self.keypair = keypair
        self.account = bytes(keypair.public_key)
        self.chain = ChainClient(bindings, ClientConfig(config.chain_url, connect_timeout=5.0))
        self._session: aiohttp.ClientSession | None = None
        self._chains: dict[bytes, _Chain] = {}
        self._chain_locks: dict[bytes, asyncio.Lock] = {}
        self._quarantine: dict[bytes, float] = {}
        self._providers: dict[bytes, _Provider] = {}
        self._head: tuple[int, float] = (0, 0.0)
        self._channel_cache: dict[bytes, tuple[float, types.Channel | None]] = {}
        self._load_state()

    # -- lifecycle -----------------------------------------------------------------------------

    async def connect(self) -> DirectClient:
        """Connect to the node; a no-op once open."""
        if self.state is State.OPENED:
            return self
        return await self.open()

    async def _aopen(self) -> None:
        try:
            await self.chain.connect()
        except ChainClientError as exc:
            raise ChainUnavailable(f"node at {self.config.chain_url}: {exc}") from exc
        if self._session is None:
            self._session = aiohttp.ClientSession()

    async def _aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self.chain.close()

    # -- persistence ---------------------------------------------------------------------------

    def _load_state(self) -> None:
        path = self.config.state_path
        if path is None or not path.exists():
            return
        try:
            data = json.loads(path.read_text())
            for executor, body in data.get(self.account.hex(), {}).items():
                self._chains[bytes.fromhex(executor)] = _Chain.from_json(body)
        except (OSError, ValueError, KeyError, ProtocolError) as exc:
            log.warning("ignoring unreadable ticket state %s: %s", path, exc)

    def _save_state(self) -> None:
        path = self.config.state_path
        if path is None:
            return
        data: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text())
        data[self.account.hex()] = {e.hex(): c.to_json() for e, c in self._chains.items()}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)

    # -- chain reads ---------------------------------------------------------------------------

    async def _query(self, entry: Any) -> Any:
        try:
            return await self.chain.query(entry)
        except ChainClientError as exc:
            raise ChainUnavailable(f"chain query failed: {exc}") from exc

    async def head(self) -> int:
        number, at = self._head
        if time.monotonic() - at > 0.5:
            try:
                number = await self.chain.head_number()
            except ChainClientError as exc:
                raise ChainUnavailable(f"chain head: {exc}") from exc
            self._head = (number, time.monotonic())
        return number

    async def models(self) -> list[ModelEntry]:
        """Registered, active models with at least one active provider."""
        found = []
        whole = replace(model_registry.storage.models(types.H256(bytes(32))), keys=())
        try:
            pairs = [pair async for pair in self.chain.entries(whole)]
        except ChainClientError as exc:
            raise ChainUnavailable(f"listing models: {exc}") from exc
        for key, info in pairs:
            if info is None or not isinstance(info.status, types.ModelStatusActive):
                continue
            model_id = key[-32:]
            listed = await self._query(providers.storage.model_providers(types.H256(model_id)))
            if not listed:
                continue
            found.append(_model_entry(model_id, info, listed))
        return found

    async def resolve(self, model: str) -> ModelEntry:
        """A model by id (0x + 64 hex) or by its registered name when that is unique."""
        if not isinstance(model, str) or not model:
            raise BadParameter("model is required", param="model")
        text = model.removeprefix("0x")
        if len(text) == 64:
            try:
                model_id = bytes.fromhex(text)
            except ValueError:
                model_id = b""
            if model_id:
                info = await self._query(model_registry.storage.models(types.H256(model_id)))
                if info is None or not isinstance(info.status, types.ModelStatusActive):
                    raise UnknownModel(f"the model {model!r} does not exist", param="model")
                listed = await self._query(providers.storage.model_providers(types.H256(model_id)))
                return _model_entry(model_id, info, listed)
        named = [m for m in await self.models() if m.name == model]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise BadParameter(
                f"the name {model!r} is registered {len(named)} times: use the model id",
                param="model",
            )
        raise UnknownModel(f"the model {model!r} does not exist", param="model")

    # -- routing -------------------------------------------------------------------------------

    def _quarantined(self, account: bytes) -> bool:
        until = self._quarantine.get(account)
        return until is not None and until > time.monotonic()

    def set_aside(self, account: bytes, reason: str) -> None:
        log.warning(
            "setting provider %s aside for %.0f s: %s",
            account.hex()[:16],
            self.config.quarantine_s,
            reason,
        )
        self._quarantine[account] = time.monotonic() + self.config.quarantine_s
        provider = self._providers.get(account)
        if provider is not None:
            provider.status = None

    async def _provider(self, account: bytes) -> _Provider | None:
        info = await self._query(providers.storage.providers(types.AccountId32(account)))
        if info is None or not isinstance(info.status, types.ProviderStatusActive):
            return None
        known = self._providers.get(account)
        endpoint = bytes(info.endpoint).decode().rstrip("/")
        if known is None or known.endpoint != endpoint:
            known = _Provider(account, endpoint, int(info.weight))
            self._providers[account] = known
        known.weight = int(info.weight)
        known.encryption_key = None if info.encryption_key is None else bytes(info.encryption_key)
        return known

    async def _status(self, provider: _Provider) -> dict[str, Any] | None:
        if (
            provider.status is not None
            and time.monotonic() - provider.status_at < self.config.status_ttl_s
        ):
            return provider.status
        assert self._session is not None
        nonce = secrets.token_hex(16)
        try:
            timeout = aiohttp.ClientTimeout(total=self.config.connect_timeout_s)
            async with self._session.get(
                f"{provider.endpoint}/status", params={"nonce": nonce}, timeout=timeout
            ) as resp:
                if resp.status != 200:
                    return None
                body = await resp.json()
            document, signature = body["document"], bytes.fromhex(body["signature"][2:])
            if document.get("nonce") != nonce or not sr25519.verify(
                signature, _status_message(document), provider.account
            ):
                self.set_aside(provider.account, "a status not signed by the provider key")
                return None
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError):
            return None
        provider.status, provider.status_at = document, time.monotonic()
        return dict(document)

    async def rank(self, model: ModelEntry) -> list[_Provider]:
        """The model's providers (not this requester), best first."""
        candidates = [a for a in model.providers if a != self.account]
        found = await asyncio.gather(*(self._provider(a) for a in candidates))
        live = [p for p in found if p is not None]
        statuses = await asyncio.gather(*(self._status(p) for p in live))
        model_hex = model.id_hex
        scored = []
        for provider, status in zip(live, statuses, strict=True):
            quarantined = self._quarantined(provider.account) or status is None
            warm = status is not None and model_hex in status.get("warm", ())
            ready = status is not None and bool(status.get("ready", False))
            depth = int(status.get("queue_depth", 0)) if status is not None else 1 << 30
            scored.append(((quarantined, not ready, not warm, depth, -provider.weight), provider))
        scored.sort(key=lambda item: item[0])
        return [p for _, p in scored]

    # -- tickets -------------------------------------------------------------------------------

    async def _channel_state(self, executor: bytes) -> types.Channel | None:
        """The channel as the chain has it, reused for a second: a stale one only shows less
        free credit (settlements raise `settled_cumulative` by at least what they spend)."""
        cached = self._channel_cache.get(executor)
        if cached is not None and time.monotonic() - cached[0] < 1.0:
            return cached[1]
        found: types.Channel | None = await self._query(
            channels.storage.channels(types.AccountId32(self.account), types.AccountId32(executor))
        )
        self._channel_cache[executor] = (time.monotonic(), found)
        return found

    def _sync_chain(self, executor: bytes, on_chain: types.Channel) -> _Chain:
        local = self._chains.get(executor)
        if local is None or local.channel_id != on_chain.id or local.tip[0] < on_chain.nonce:
            local = _Chain(
                on_chain.id,
                on_chain.nonce,
                bytes(on_chain.head.value),
                on_chain.settled_cumulative,
            )
            self._chains[executor] = local
        elif on_chain.nonce > local.settled_nonce:
            settled = [t for t in local.tickets if t.nonce <= on_chain.nonce]
            if settled and settled[-1].digest != bytes(on_chain.head.value):
                raise InsufficientCredit("the channel's settled chain is not this gateway's")
            local.tickets = [t for t in local.tickets if t.nonce > on_chain.nonce]
            local.settled_nonce, local.settled_head = on_chain.nonce, bytes(on_chain.head.value)
            local.settled_cumulative = on_chain.settled_cumulative
            local.acked = max(local.acked, on_chain.nonce)
        return local

    async def _ticket(
        self, executor: bytes, model: ModelEntry, commitment: bytes, request: DirectRequest
    ) -> tuple[Ticket, list[Ticket], _Chain]:
        """The next signed ticket to `executor` and the links it must carry."""
        lock = self._chain_locks.setdefault(executor, asyncio.Lock())
        async with lock:
            on_chain = await self._channel_state(executor)
            if on_chain is None:
                raise _Retry("no channel to this provider", quarantine=False)
            if on_chain.closing_at is not None:
                raise _Retry("the channel to this provider is closing", quarantine=False)
            if on_chain.currency_id != model.currency_id:
                raise _Retry("the channel is in another currency", quarantine=False)
            local = self._sync_chain(executor, on_chain)
            nonce, head, cumulative = local.tip
            max_amount = escrow_for(
                request.prompt_token_bound() + request.max_tokens, model.price_per_1k_tokens
            )
            outstanding = cumulative + max_amount - on_chain.settled_cumulative
            if outstanding > on_chain.deposit - on_chain.held:
                raise _Retry(
                    f"credit: {outstanding} outstanding > {on_chain.deposit - on_chain.held} "
                    "free in the channel",
                    quarantine=False,
                )
            ticket = next_ticket(
                requester=self.account,
                executor=executor,
                channel_id=local.channel_id,
                nonce=nonce,
                head=head,
                cumulative=cumulative,
                model_id=model.model_id,
                prompt_hash=commitment,
                max_tokens=request.max_tokens,
                max_price=model.price_per_1k_tokens,
                max_amount=max_amount,
                expiry=await self.head() + self.config.ticket_life_blocks,
            )
            signature = bytes(self.keypair.sign(ticket_message(ticket.digest)))
            links = [t for t in local.tickets if t.nonce > local.acked]
            local.tickets.append(ticket.unsigned())
            self._save_state()
            return ticket.signed(signature), links, local

    def _acked(self, chain: _Chain, nonce: int) -> None:
        if nonce > chain.acked:
            chain.acked = nonce
            self._save_state()

    # -- streaming -----------------------------------------------------------------------------

    async def stream(
        self, model: str | ModelEntry, request: DirectRequest
    ) -> AsyncGenerator[StreamChunk | StreamEnd, None]:
        """Yield chunks as the executor produces them, then the verified `StreamEnd`."""
        self._check_usable()
        if self._session is None:
            raise GatewayError("the client is not connected (use `async with`)")
        entry = model if isinstance(model, ModelEntry) else await self.resolve(model)
        ranked = await self.rank(entry)
        if not ranked:
            raise NoProvider(f"no active provider serves {entry.id_hex}")
        credit_problems: list[str] = []
        failures: list[str] = []
        attempts = 0
        for provider in ranked:
            if attempts >= self.config.max_attempts:
                break
            body = request.body(entry.model_id)
            commitment = prompt_hash(body)
            try:
                ticket, links, chain = await self._ticket(
                    provider.account, entry, commitment, request
                )
            except _Retry as exc:
                credit_problems.append(str(exc))
                continue
            attempts += 1
            for resend in (False, True):
                if resend:  # the whole unsettled chain, for an executor that lost its part
                    links = [t for t in chain.tickets if t.nonce < ticket.nonce]
                try:
                    inner = self._stream_from(provider, entry, body, ticket, links, chain)
                    async with contextlib.aclosing(inner):  # closing early frees the executor
                        async for event in inner:
                            yield event
                    return
                except _Retry as exc:
                    if exc.gap and not resend:
                        continue
                    failures.append(f"{provider.endpoint}: {exc}")
                    if exc.quarantine:
                        self.set_aside(provider.account, str(exc))
                    break
        if failures:
            raise NoProvider("no provider could serve the request: " + "; ".join(failures))
        raise InsufficientCredit(
            "no channel with enough free credit to a provider of this model: "
            + "; ".join(credit_problems)
        )

    async def _stream_from(
        self,
        provider: _Provider,
        model: ModelEntry,
        body: dict[str, Any],
        ticket: Ticket,
        links: list[Ticket],
        chain: _Chain,
    ) -> AsyncGenerator[StreamChunk | StreamEnd, None]:
        assert self._session is not None
        payload: dict[str, Any] = {
            "request": body,
            "ticket": ticket.to_json(),
            "links": [t.to_json() for t in links],
        }
        opener: sealing.DirectStreamOpener | None = None
        if provider.encryption_key is not None:  # sealed end to end, per chunk
            payload, stream_key = sealing.seal_direct_request(
                provider.encryption_key, body, payload["ticket"], payload["links"]
            )
            opener = sealing.DirectStreamOpener(stream_key, payload["ticket"])
        elif not self.config.allow_plaintext:
            raise _Retry("the provider publishes no encryption key", quarantine=False)
        url = f"{provider.endpoint}/v1/direct/generate"
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self.config.connect_timeout_s,
            sock_read=self.config.first_token_timeout_s,
        )
        try:
            resp = await self._session.post(url, json=payload, timeout=timeout)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _Retry(f"unreachable: {exc}") from exc
        async with resp:
            if resp.status != 200:
                try:
                    error = await resp.json()
                except (aiohttp.ClientError, ValueError):
                    error = {}
                info = error.get("error", {}) if isinstance(error, dict) else {}
                code, message = info.get("code", ""), info.get("message", f"HTTP {resp.status}")
                if isinstance(error, dict) and error.get("held"):
                    self._acked(chain, ticket.nonce)
                if code == "no_chat_template":
                    raise NoChatTemplate(
                        f"model {model.id_hex} has no chat template: use /v1/completions",
                        param="messages",
                    )
                if code == "ticket_amount_too_low":
                    raise BadParameter(f"the prompt is too long: {message}", param="messages")
                if code == "bad_request":
                    raise BadParameter(message)
                if code == "wrong_task":
                    raise BadParameter(
                        f"model {model.id_hex}: {message} (embeddings: /v1/embeddings)",
                        param="model",
                    )
                raise _Retry(
                    f"{code or resp.status}: {message}",
                    quarantine=resp.status >= 500,
                    gap=code == "ticket_gap",
                )
            relay = self._relay(resp, provider, ticket, chain, body, opener)
            async with contextlib.aclosing(relay):
                async for event in relay:
                    yield event

    async def _relay(
        self,
        resp: aiohttp.ClientResponse,
        provider: _Provider,
        ticket: Ticket,
        chain: _Chain,
        body: dict[str, Any],
        opener: sealing.DirectStreamOpener | None = None,
    ) -> AsyncGenerator[StreamChunk | StreamEnd, None]:
        tokens: list[protocol.TokenLogprobs] = []
        text: list[str] = []
        started = False
        final: dict[str, Any] | None = None
        try:
            async for name, sealed_data in _sse(resp, self.config.token_timeout_s):
                data = sealed_data
                if opener is not None:
                    if name == "sealed":
                        opener.start(sealed_data)
                        continue
                    data = opener.open(sealed_data)
                if name == "accepted":
                    self._acked(chain, ticket.nonce)
                    continue
                if name == "error":
                    message = str(data.get("message", "the executor failed"))
                    if not started:
                        raise _Retry(message)
                    raise ProviderFailed(f"the executor failed mid-stream: {message}")
                if name == "final":
                    final = data
                    break
                chunk = _chunk(data)
                if chunk.token is not None:
                    tokens.append(
                        protocol.TokenLogprobs(
                            chunk.token,
                            float(data["lp"]),
                            tuple((int(t), float(lp)) for t, lp in data["top"]),
                        )
                    )
                text.append(chunk.text)
                started = True
                yield chunk
        except (
            aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError,
            sealing.SealingError,
        ) as exc:  # fmt: skip
            if not started:
                raise _Retry(f"the stream broke before the first token: {exc}") from exc
            self.set_aside(provider.account, f"failed mid-stream: {exc}")
            raise ProviderFailed(f"the executor's stream broke mid-way: {exc}") from exc
        if final is None:
            if not started:
                raise _Retry("the stream ended before the first token")
            self.set_aside(provider.account, "the stream ended without a final record")
            raise ProviderFailed("the executor's stream ended without its final record")
        try:
            if body.get("kind") == "embedding":
                end = self._verify_embedding(final, provider, ticket)
            else:
                end = self._verify(final, provider, ticket, body, tokens, "".join(text))
        except StreamIntegrityError as exc:
            self.set_aside(provider.account, str(exc))
            raise
        yield end

    def _verify_embedding(
        self, final: dict[str, Any], provider: _Provider, ticket: Ticket
    ) -> StreamEnd:
        """An embedding's final record carries the canonical record itself: its hash must be
        the signed output hash, and it must be bound to this request."""
        try:
            data = bytes.fromhex(final["record"])
            claimed = bytes.fromhex(final["output_hash"])
            signature = bytes.fromhex(final["signature"])
            prompt_tokens = int(final["prompt_tokens"])
            completion_tokens = int(final["completion_tokens"])
            ticket_digest = bytes.fromhex(final["ticket"])
            record = protocol.decode_embedding(data)
        except (KeyError, ValueError, TypeError, protocol.RecordError) as exc:
            raise StreamIntegrityError(f"malformed embedding record: {exc}") from exc
        if ticket_digest != ticket.digest:
            raise StreamIntegrityError("the final record is for another ticket")
        if protocol.output_hash(data) != claimed:
            raise StreamIntegrityError("the embedding does not match the signed output hash")
        if record.request_id != f"direct-{ticket.prompt_hash.hex()}":
            raise StreamIntegrityError("the embedding is bound to another request")
        if (record.prompt_token_count, completion_tokens) != (prompt_tokens, 0):
            raise StreamIntegrityError("the embedding's token counts differ from the record")
        if not sr25519.verify(
            signature,
            final_message(ticket.digest, claimed, prompt_tokens, completion_tokens),
            provider.account,
        ):
            raise StreamIntegrityError("the final record is not signed by the executor")
        return StreamEnd(
            "embedding",
            prompt_tokens,
            0,
            claimed,
            Keypair(public_key=provider.account, ss58_format=42).ss58_address,
            ticket.nonce,
            "",
            record.vector,
        )

    async def embed(self, model: str | ModelEntry, text: str) -> StreamEnd:
        """Embed `text` with an embedding model over the direct path; the verified vector is
        `StreamEnd.embedding` (routing, tickets and retries as for `stream`)."""
        if not text:
            raise BadParameter("input must be a non-empty string", param="input")
        end: StreamEnd | None = None
        async for event in self.stream(
            model, DirectRequest("embedding", prompt=text, max_tokens=1)
        ):
            if isinstance(event, StreamEnd):
                end = event
        if end is None:
            raise ProviderFailed("the executor's answer ended without its record")
        return end

    def _verify(
        self,
        final: dict[str, Any],
        provider: _Provider,
        ticket: Ticket,
        body: dict[str, Any],
        tokens: list[Any],
        text: str,
    ) -> StreamEnd:
        try:
            prompt_tokens = int(final["prompt_tokens"])
            completion_tokens = int(final["completion_tokens"])
            claimed = bytes.fromhex(final["output_hash"])
            signature = bytes.fromhex(final["signature"])
            finish = protocol.FinishReason(int(final["finish_reason"]))
            ticket_digest = bytes.fromhex(final["ticket"])
        except (KeyError, ValueError, TypeError) as exc:
            raise StreamIntegrityError(f"malformed final record: {exc}") from exc
        if ticket_digest != ticket.digest:
            raise StreamIntegrityError("the final record is for another ticket")
        if completion_tokens != len(tokens):
            raise StreamIntegrityError(
                f"the executor claims {completion_tokens} tokens, {len(tokens)} were streamed"
            )
        if not sr25519.verify(
            signature,
            final_message(ticket.digest, claimed, prompt_tokens, completion_tokens),
            provider.account,
        ):
            raise StreamIntegrityError("the final record is not signed by the executor")
        seed = body.get("seed")
        record = protocol.GenerationOutput(
            request_id=protocol.RecordId(_request_id(seed, ticket)),
            prompt_token_count=prompt_tokens,
            tokens=tuple(t.token for t in tokens),
            text=text,
            logprobs=tuple(tokens),
            finish_reason=finish,
            top_logprobs=protocol.MAX_TOP_LOGPROBS,
        )
        try:
            actual = protocol.output_hash(protocol.encode_output(record))
        except (protocol.RecordError, ValueError) as exc:
            raise StreamIntegrityError(f"the streamed tokens do not form a record: {exc}") from exc
        if actual != claimed:
            raise StreamIntegrityError(
                "the streamed tokens do not match the executor's signed output hash"
            )
        return StreamEnd(
            "length" if finish is protocol.FinishReason.LENGTH else "stop",
            prompt_tokens,
            completion_tokens,
            claimed,
            Keypair(public_key=provider.account, ss58_format=42).ss58_address,
            ticket.nonce,
            text,
        )


def _request_id(seed: int | None, ticket: Ticket) -> str:
    return f"seed-{seed}" if seed is not None else f"direct-{ticket.prompt_hash.hex()}"


def _chunk(data: dict[str, Any]) -> StreamChunk:
    token = data.get("t")
    if token is None:
        return StreamChunk(int(data["i"]), str(data["x"]))
    pieces = data.get("tp") or []
    top = tuple(
        (str(pieces[k]) if k < len(pieces) else "", float(lp))
        for k, (_, lp) in enumerate(data["top"])
    )
    return StreamChunk(
        int(data["i"]), str(data["x"]), int(token), str(data["p"]), float(data["lp"]), top
    )


async def _sse(
    resp: aiohttp.ClientResponse, token_timeout_s: float
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event name, JSON data) of each server-sent event (`message` when unnamed)."""
    name = "message"
    data: list[str] = []
    while True:
        line_bytes = await asyncio.wait_for(resp.content.readline(), token_timeout_s)
        if not line_bytes:
            return
        line = line_bytes.decode().rstrip("\r\n")
        if not line:
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
            continue
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
