"""`InferenceClient`: place a request, follow blocks to its end, fetch and verify the output."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from substrateinterface import Keypair
from substrateinterface.utils.ss58 import ss58_encode

import ipfs_store
import protocol
import sealing
from lifecycle import AsyncResource, State
from runtime_types import (
    ChainClient,
    ChainClientError,
    ClientConfig,
    ConnectionLost,
    ModuleError,
    Receipt,
    StorageEntry,
)
from runtime_types.generated import devnode as rt

from ._auth import sign_output_request
from ._config import InferenceClientConfig
from ._errors import (
    ChainError,
    ClientClosed,
    ConfigError,
    InputUnavailable,
    ModelUnavailable,
    NodeUnreachable,
    OutputTampered,
    OutputUnavailable,
    PlaintextRefused,
    RequestFailed,
    RequestRejected,
    RequestTimeout,
)
from ._stages import Stage, StageCallback, StageName, StageTimer
from ._types import (
    InferenceResult,
    ModelId,
    RequestId,
    Settlement,
    SubmittedRequest,
    parse_model_id,
)

__all__ = ["InferenceClient", "RequestProgress"]

V = TypeVar("V")

#: The pallets whose bindings must match the node (the others are not used)
PALLETS = ("System", "ModelRegistry", "Providers", "Inference")
MAX_INLINE_INPUT = rt.inference.constants.MAX_INLINE_INPUT
MAX_SEALED_INLINE = rt.inference.constants.MAX_SEALED_INLINE
#: A refused connection is retried this long (a node that is just starting), then reported
REFUSED_WINDOW_S = 0.3
#: Outputs smaller than this are hashed and decoded on the event loop (well under a millisecond)
_INLINE_WORK = 256 * 1024
#: The order of a request's events when several come in one block
_STAGE_ORDER = {
    name: index
    for index, name in enumerate(
        ("ResultSubmitted", "ValidationRequested", "OutputRequested", "ValidationPassed")
    )
}
_FAILURES = {
    "RequestExpired": "Expired",
    "ValidationFailed": "Rejected",
    "OutputTimedOut": "Rejected",
    "RequestDeclined": "Declined",
}


class InferenceClient(AsyncResource):
    """A dApp's client for the Inference pallet.

    ```python
    async with InferenceClient(InferenceClientConfig(), keypair) as client:
        result = await client.infer(model_id, "Hello", max_tokens=32)
    ```
    `infer` = `submit` + `wait` + `fetch_output`; each is public for callers that want to
    place many requests before waiting. `connect()` (or `async with`) opens the node
    connection; `close()` is idempotent, and a closed client raises `ClientClosed`.
    """

    closed_error = ClientClosed

    def __init__(self, config: InferenceClientConfig | None, keypair: Keypair) -> None:
        super().__init__()
        self.config = config or InferenceClientConfig()
        self.keypair = keypair
        self._chain: ChainClient | None = None
        self._http: aiohttp.ClientSession | None = None
        self._ipfs: ipfs_store.IpfsStore | None = None
        self._direct: Any = None  # inference_gateway.DirectClient, made by the first stream()
        self._tokenizers: dict[ModelId, Any] = {}

    def use_tokenizer(self, model_id: ModelId | str, directory: str | Path) -> None:
        """Count `model_id`'s prompt tokens with its real tokenizer (the model's
        tokenizer.json and tokenizer_config.json in `directory`; the weights are not needed),
        so the escrow is for exactly the tokens the executor will report.

        Needs the engine (the `[provider]` extra: `pip install 'genai-substrate[provider]'`):
        only this method imports it, so the client itself never loads torch."""
        try:
            import inference_engine
        except ImportError as exc:
            raise ConfigError(
                f"use_tokenizer needs inference_engine and its dependencies ({exc}): "
                "pip install 'genai-substrate[provider]'"
            ) from exc
        try:
            tokenizer = inference_engine.load_tokenizer(directory)
        except inference_engine.InferenceError as exc:
            raise ConfigError(f"no usable tokenizer in {directory}: {exc}") from exc
        self._tokenizers[parse_model_id(str(model_id))] = tokenizer

    # -- lifecycle --------------------------------------------------------------------------

    async def connect(self) -> InferenceClient:
        """Open the node connection; a no-op once open."""
        if self.state is State.OPENED:
            return self
        return await self.open()

    async def _aopen(self) -> None:
        if self._chain is None:
            chain = ChainClient(
                rt.BINDINGS,
                ClientConfig(
                    self.config.chain_url,
                    pallets=PALLETS,
                    connect_timeout=REFUSED_WINDOW_S,
                    socket_timeout=self.config.connect_timeout_s,
                ),
            )
            try:
                await chain.connect()
            except ConnectionLost as exc:
                await chain.close()
                raise NodeUnreachable(self.config.chain_url, exc) from exc
            except ChainClientError as exc:
                await chain.close()
                raise ChainError(f"cannot use the node at {self.config.chain_url}: {exc}") from exc
            self._chain = chain

    async def _aclose(self) -> None:
        if self._chain is not None:
            await self._chain.close()
        if self._http is not None:
            await self._http.close()
        if self._ipfs is not None:
            await self._ipfs.close()
        if self._direct is not None:
            await self._direct.close()

    @property
    def chain(self) -> ChainClient:
        if self._chain is None:
            raise ChainError("the client is not connected (use `async with`)")
        return self._chain

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.http_timeout_s)
            )
        return self._http

    def _store(self) -> ipfs_store.IpfsStore:
        if not self.config.ipfs_api_url:
            raise InputUnavailable("IPFS is disabled (ipfs_api_url is empty)")
        if self._ipfs is None:
            self._ipfs = ipfs_store.IpfsStore(
                ipfs_store.StoreConfig(api_url=self.config.ipfs_api_url)
            )
        return self._ipfs

    # -- the direct path --------------------------------------------------------------------

    async def stream(
        self,
        model: str,
        prompt: str | None = None,
        *,
        messages: list[tuple[str, str]] | None = None,
        max_tokens: int = 16,
        temperature: float = 1.0,
        top_p: float = 1.0,
        stop: tuple[str, ...] = (),
        seed: int | None = None,
        state_path: Path | None = None,
    ) -> AsyncIterator[Any]:
        """The direct path (docs/gateway.md): tokens straight from a warm executor, paid from
        this account's payment channels and settled on-chain afterwards.

        Yields `inference_gateway.StreamChunk`s (`.text`: the new text) as the executor
        produces them, then one verified `inference_gateway.StreamEnd` (token counts, output
        hash, executor); a mismatch with the executor's signed record raises
        `inference_gateway.StreamIntegrityError`. Give `prompt` (a completion) or `messages`
        (`[(role, content), ...]`, rendered with the model's chat template).
        """
        from inference_gateway import DirectClient, DirectConfig, DirectRequest

        if (prompt is None) == (messages is None):
            raise ValueError("give exactly one of prompt and messages")
        request = DirectRequest(
            "chat" if messages is not None else "completion",
            prompt=prompt,
            messages=tuple(messages or ()),
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=stop,
            seed=seed,
        )
        if self._direct is None:
            config = DirectConfig(chain_url=self.config.chain_url, state_path=state_path)
            self._direct = await DirectClient(config, self.keypair).connect()
        async for event in self._direct.stream(model, request):
            yield event

    # -- the whole flow ---------------------------------------------------------------------

    async def infer(
        self,
        model_id: ModelId | str,
        prompt: str,
        *,
        max_tokens: int,
        deadline_blocks: int | None = None,
        max_price_per_1k_tokens: int | None = None,
        prompt_tokens: int | None = None,
        on_stage: StageCallback | None = None,
        plaintext: bool = False,
    ) -> InferenceResult:
        """Submit a request, wait for its completion, fetch and verify its output.

        The prompt is sealed to the model's providers and the output to a fresh key of this
        request (`docs/privacy.md`); `plaintext=True` sends both readable by anyone (public
        models, tests), and is the only way plaintext is ever sent (`PlaintextRefused`).

        `on_stage(stage)` is called as each `Stage` is reached (placed, assigned, result
        submitted, validation drawn, paid, output verified); see also `progress()`.
        """
        timer = StageTimer(on_stage)
        submitted = await self._place(
            model_id,
            prompt,
            max_tokens=max_tokens,
            deadline_blocks=deadline_blocks,
            max_price_per_1k_tokens=max_price_per_1k_tokens,
            prompt_tokens=prompt_tokens,
            timer=timer,
            plaintext=plaintext,
        )
        settlement = await self._follow(submitted, timer)
        return await self._fetch(submitted, settlement, timer)

    def progress(
        self,
        model_id: ModelId | str,
        prompt: str,
        *,
        max_tokens: int,
        deadline_blocks: int | None = None,
        max_price_per_1k_tokens: int | None = None,
        prompt_tokens: int | None = None,
        plaintext: bool = False,
    ) -> RequestProgress:
        """`infer` as an async iterator of its stages; `await progress.result()` at the end.

        ```python
        progress = client.progress(model_id, "Hello", max_tokens=32)
        async for stage in progress:
            print(stage.describe())
        result = await progress.result()
        ```
        """

        def start(callback: StageCallback) -> Awaitable[InferenceResult]:
            return self.infer(
                model_id,
                prompt,
                max_tokens=max_tokens,
                deadline_blocks=deadline_blocks,
                max_price_per_1k_tokens=max_price_per_1k_tokens,
                prompt_tokens=prompt_tokens,
                on_stage=callback,
                plaintext=plaintext,
            )

        return RequestProgress(start)

    # -- steps ------------------------------------------------------------------------------

    async def model(self, model_id: ModelId | str) -> rt.types.ModelInfo:
        """The model's on-chain record (`ModelUnavailable` when unknown)."""
        mid = parse_model_id(model_id)
        info = await self._query(rt.model_registry.storage.models(_h256(mid)))
        if info is None:
            raise ModelUnavailable(f"no model {mid} on-chain")
        return info

    async def submit(
        self,
        model_id: ModelId | str,
        prompt: str,
        *,
        max_tokens: int,
        deadline_blocks: int | None = None,
        max_price_per_1k_tokens: int | None = None,
        prompt_tokens: int | None = None,
        on_stage: StageCallback | None = None,
        plaintext: bool = False,
    ) -> SubmittedRequest:
        """Place `Inference.request`: inline UTF-8 input up to `MaxInlineInput` bytes, else the
        prompt's IPFS CID; the maximum price defaults to the model's current price.

        `prompt_tokens` defaults to the model's real count when `use_tokenizer` gave its
        tokenizer, else to an upper bound (UTF-8 bytes + 1: byte-level tokenizers never produce
        more tokens than bytes); the chain charges the executor's reported count.
        `on_stage` gets the PLACED and ASSIGNED stages.
        """
        return await self._place(
            model_id,
            prompt,
            max_tokens=max_tokens,
            deadline_blocks=deadline_blocks,
            max_price_per_1k_tokens=max_price_per_1k_tokens,
            prompt_tokens=prompt_tokens,
            timer=StageTimer(on_stage),
            plaintext=plaintext,
        )

    def _prompt_tokens(self, model_id: ModelId, prompt: str) -> int:
        """The model's real token count where `use_tokenizer` gave its tokenizer, else an
        upper bound (UTF-8 bytes + 1: byte-level tokenizers never produce more tokens than
        bytes, plus a BOS)."""
        tokenizer = self._tokenizers.get(model_id)
        if tokenizer is None:
            return len(prompt.encode("utf-8")) + 1
        return int(tokenizer.count(prompt))

    async def _place(
        self,
        model_id: ModelId | str,
        prompt: str,
        *,
        max_tokens: int,
        deadline_blocks: int | None,
        max_price_per_1k_tokens: int | None,
        prompt_tokens: int | None,
        timer: StageTimer,
        plaintext: bool = False,
    ) -> SubmittedRequest:
        mid = parse_model_id(model_id)
        data = prompt.encode("utf-8")
        if not data:
            raise RequestRejected("the prompt is empty", "EmptyInput")
        info = await self.model(mid)
        if type(info.status).__name__ != "ModelStatusActive":
            raise ModelUnavailable(f"model {mid} is deprecated")
        max_price = (
            info.price_per_1k_tokens if max_price_per_1k_tokens is None else max_price_per_1k_tokens
        )
        declared = self._prompt_tokens(mid, prompt) if prompt_tokens is None else prompt_tokens
        input_cid: str | None = None
        chain_input: rt.types.InferenceInput
        output_key: sealing.EncryptionKey | None = None
        if not plaintext:
            output_key = sealing.EncryptionKey.generate()
            chain_input, input_cid = await self._seal_input(mid, data, output_key)
        elif len(data) <= MAX_INLINE_INPUT:
            chain_input = rt.types.InferenceInputInline(data)
        else:
            input_cid = await self._upload(data)
            chain_input = rt.types.InferenceInputCid(input_cid.encode("ascii"))
        call = rt.inference.calls.request(
            _h256(mid),
            chain_input,
            declared,
            max_tokens,
            max_price,
            self.config.deadline_blocks if deadline_blocks is None else deadline_blocks,
        )
        receipt = await self._submit(call)
        for record in receipt.events:
            event = record.event
            if isinstance(event, rt.inference.events.InferenceRequested):
                submitted = SubmittedRequest(
                    RequestId(event.request_id),
                    mid,
                    _ss58(event.executor),
                    event.escrow,
                    info.currency_id,
                    event.deadline,
                    receipt.block_number,
                    input_cid,
                    output_key,
                )
                number = receipt.block_number
                timer.reached(
                    StageName.PLACED,
                    submitted.request_id,
                    number,
                    detail=f"request {submitted.request_id}, escrow {submitted.escrow}",
                )
                timer.reached(
                    StageName.ASSIGNED,
                    submitted.request_id,
                    number,
                    executor=submitted.executor,
                    detail=f"executor {submitted.executor}, deadline block {submitted.deadline}",
                )
                return submitted
        raise ChainError("the request was included without an InferenceRequested event")

    async def wait(
        self, request: SubmittedRequest, on_stage: StageCallback | None = None
    ) -> Settlement:
        """Follow blocks from the request's own until its terminal event.

        `InferencePaid` returns the settlement; `RequestExpired`, `ValidationFailed` and
        `OutputTimedOut` raise `RequestFailed` with the terminal state. `on_stage` gets the
        stages from RESULT_SUBMITTED to PAID (or EXPIRED / REJECTED).
        """
        return await self._follow(request, StageTimer(on_stage))

    async def _follow(self, request: SubmittedRequest, timer: StageTimer) -> Settlement:
        rid = request.request_id
        drawn = False
        stream = self.chain.blocks(
            finalized=self.config.follow_finalized, start=request.block_number
        )
        try:
            async with asyncio.timeout(self.config.wait_timeout_s), stream:
                async for block in stream:
                    mine = [
                        r
                        for r in block.events
                        if r.pallet == "Inference" and getattr(r.event, "request_id", None) == rid
                    ]
                    # one block may settle the request and report the validation: stages in order
                    mine.sort(key=lambda r: _STAGE_ORDER.get(r.name, len(_STAGE_ORDER)))
                    for record in mine:
                        event = record.event
                        number = block.number
                        if isinstance(event, rt.inference.events.ResultSubmitted):
                            timer.reached(
                                StageName.RESULT_SUBMITTED,
                                rid,
                                number,
                                detail=f"{event.prompt_tokens} prompt + "
                                f"{event.completion_tokens} completion tokens",
                            )
                        elif isinstance(event, rt.inference.events.ValidationRequested):
                            drawn = True
                            validator = _ss58(event.validator)
                            timer.reached(
                                StageName.VALIDATION_DRAWN,
                                rid,
                                number,
                                validator=validator,
                                detail=f"validator {validator}, by block {event.deadline}",
                            )
                        elif isinstance(event, rt.inference.events.OutputRequested):
                            timer.reached(
                                StageName.OUTPUT_REQUESTED,
                                rid,
                                number,
                                detail=f"the output must be on-chain by block {event.deadline}",
                            )
                        elif isinstance(event, rt.inference.events.ValidationPassed):
                            timer.reached(
                                StageName.VALIDATED,
                                rid,
                                number,
                                validator=_ss58(event.validator),
                                detail="the validator confirmed the result",
                            )
                        if isinstance(event, rt.inference.events.InferencePaid):
                            if not drawn:
                                timer.reached(
                                    StageName.VALIDATION_DRAWN,
                                    rid,
                                    number,
                                    detail="not sampled for validation",
                                )
                            timer.reached(
                                StageName.PAID,
                                rid,
                                number,
                                detail=f"cost {event.cost}, refund {event.refund}",
                            )
                            return Settlement(
                                rid,
                                event.cost,
                                event.refund,
                                event.author_amount,
                                event.executor_amount,
                                block.number,
                            )
                        if record.name in _FAILURES:
                            refund = int(getattr(event, "refund", 0))
                            if record.name != "RequestExpired":
                                refund = request.escrow  # a rejection refunds the escrow in full
                            state = _FAILURES[record.name]
                            timer.reached(
                                StageName.EXPIRED if state == "Expired" else StageName.REJECTED,
                                rid,
                                number,
                                detail=f"{record.name}; refund {refund}",
                            )
                            raise RequestFailed(rid, _FAILURES[record.name], record.name, refund)
        except TimeoutError as exc:
            raise RequestTimeout(
                f"request {rid}: no terminal event within {self.config.wait_timeout_s} s"
            ) from exc
        except ChainClientError as exc:
            raise ChainError(f"lost the chain while waiting for request {rid}: {exc}") from exc
        raise RequestTimeout(f"request {rid}: the block stream ended")  # pragma: no cover

    async def fetch_result(
        self,
        request: SubmittedRequest,
        settlement: Settlement,
        on_stage: StageCallback | None = None,
    ) -> InferenceResult:
        """Fetch the output (executor first, then IPFS by CID), verify it, decode it."""
        return await self._fetch(request, settlement, StageTimer(on_stage))

    async def _fetch(
        self, request: SubmittedRequest, settlement: Settlement, timer: StageTimer
    ) -> InferenceResult:
        rid = request.request_id
        stored = await self._query(rt.inference.storage.requests(rid))
        if stored is None or stored.output_hash is None:
            raise OutputUnavailable(f"request {rid} has no output hash on-chain")
        expected = bytes(stored.output_hash.value)
        if request.output_key is not None:
            data, source = await self._fetch_sealed(request, stored, request.output_key)
        else:
            data, source = await self.fetch_output(
                rid, stored.executor, expected, stored.output_cid
            )
        try:
            if len(data) < _INLINE_WORK:
                output = protocol.decode_record(data)  # text or embedding
            else:
                output = await asyncio.to_thread(protocol.decode_record, data)
        except protocol.RecordDecodeError as exc:
            raise OutputTampered(
                f"request {rid}: the output does not decode: {exc}", source
            ) from exc
        if output.request_id != str(rid):
            raise OutputTampered(
                f"request {rid}: the output is bound to request {output.request_id!r}", source
            )
        timer.reached(
            StageName.OUTPUT_VERIFIED,
            rid,
            None,
            detail=f"{len(data)} bytes from the {source}, hash matches the chain",
        )
        if isinstance(output, protocol.EmbeddingOutput):
            return InferenceResult(
                request_id=rid,
                model_id=request.model_id,
                text="",
                tokens=(),
                prompt_tokens=output.prompt_token_count,
                completion_tokens=0,
                cost=settlement.cost,
                refund=settlement.refund,
                currency_id=request.currency_id,
                executor=_ss58(stored.executor),
                output_hash="0x" + expected.hex(),
                finish_reason="embedding",
                source=source,
                embedding=output.vector,
            )
        return InferenceResult(
            request_id=rid,
            model_id=request.model_id,
            text=output.text,
            tokens=tuple(output.tokens),
            prompt_tokens=output.prompt_token_count,
            completion_tokens=len(output.tokens),
            cost=settlement.cost,
            refund=settlement.refund,
            currency_id=request.currency_id,
            executor=_ss58(stored.executor),
            output_hash="0x" + expected.hex(),
            finish_reason=output.finish_reason.name.lower(),
            source=source,
        )

    async def fetch_output(
        self,
        request_id: RequestId,
        executor: rt.types.AccountId32,
        expected_hash: bytes,
        output_cid: bytes | None = None,
    ) -> tuple[bytes, str]:
        """The output bytes whose blake2-256 is `expected_hash`, and where they came from.

        `OutputTampered` when some source delivered bytes that do not match and none delivered
        matching ones; `OutputUnavailable` when nothing was delivered at all.
        """
        attempts: list[str] = []
        tampered: str | None = None
        try:
            data = await self._from_executor(request_id, executor, attempts, expected_hash)
        except protocol.OutputHashMismatch:
            tampered = "executor"
            attempts.append("executor: bytes do not match the on-chain hash")
        else:
            if data is not None:
                return data, "executor"
        if output_cid:
            data = await self._from_ipfs(bytes(output_cid).decode("ascii", "replace"), attempts)
            if data is not None:
                if await _output_hash(data) == expected_hash:
                    return data, "ipfs"
                tampered = "ipfs"
                attempts.append("ipfs: bytes do not match the on-chain hash")
        if tampered is not None:
            raise OutputTampered(
                f"request {request_id}: output from the {tampered} does not match the on-chain "
                f"hash 0x{expected_hash.hex()}",
                tampered,
            )
        raise OutputUnavailable(
            f"request {request_id}: no source delivered the output", tuple(attempts)
        )

    async def _seal_input(
        self, mid: ModelId, data: bytes, output_key: sealing.EncryptionKey
    ) -> tuple[rt.types.InferenceInput, str | None]:
        """Seal `data` once to every active provider of the model that publishes a key (the
        chain assigns one of them), behind a salted commitment."""
        me = bytes(self.keypair.public_key)
        listed = await self._query(rt.providers.storage.model_providers(_h256(mid)))
        recipients: list[tuple[bytes, bytes]] = []
        for account in listed:
            info = await self._query(rt.providers.storage.providers(account))
            if bytes(account.value) == me or info is None or info.encryption_key is None:
                continue
            if type(info.status).__name__ != "ProviderStatusActive":
                continue
            recipients.append((bytes(account.value), bytes(info.encryption_key)))
        if not recipients:
            raise PlaintextRefused(
                f"no provider of model {mid} publishes an encryption key, so the prompt cannot "
                "be sealed; nothing was sent (plaintext=True / --plaintext sends it readable "
                "by anyone following the chain)"
            )
        salt = os.urandom(sealing.SALT_BYTES)
        context = sealing.Context(
            "chain-input", 0, bytes.fromhex(mid[2:]), sealing.Role.REQUESTER,
            sealing.Role.EXECUTOR, me,
        )  # fmt: skip
        sealed = sealing.seal_multi(recipients, salt + data, context)
        input_cid: str | None = None
        payload = sealed.payload
        if len(payload) > MAX_SEALED_INLINE:
            input_cid = await self._upload(payload)  # IPFS holds the sealed payload only
            payload = input_cid.encode("ascii")
        body = rt.types.SealedInput(
            rt.types.H256(sealing.commit_input(salt, data)),
            output_key.public,
            [rt.types.KeyWrap(rt.types.AccountId32(a), w) for a, w in sealed.wraps],
            payload,
        )
        if input_cid is None:
            return rt.types.InferenceInputSealedInline(body), None
        return rt.types.InferenceInputSealedCid(body), input_cid

    async def _fetch_sealed(
        self,
        request: SubmittedRequest,
        stored: rt.types.InferenceRequest,
        output_key: sealing.EncryptionKey,
    ) -> tuple[bytes, str]:
        """The sealed output from the executor (else from IPFS), opened with the request's
        key and checked against the salted on-chain commitment."""
        assert stored.output_hash is not None
        rid = request.request_id
        context = sealing.Context(
            "request", rid, bytes(stored.model_id.value), sealing.Role.EXECUTOR,
            sealing.Role.REQUESTER, bytes(self.keypair.public_key),
        )  # fmt: skip
        attempts: list[str] = []
        tampered: str | None = None
        sources: list[tuple[str, Callable[[], Awaitable[bytes | None]]]] = [
            ("executor", lambda: self._from_executor(rid, stored.executor, attempts, None)),
        ]
        if stored.output_cid:
            cid = bytes(stored.output_cid).decode("ascii", "replace")
            sources.append(("ipfs", lambda: self._from_ipfs(cid, attempts)))
        for source, fetch in sources:
            envelope = await fetch()
            if envelope is None:
                continue
            try:
                record = sealing.open_output(
                    output_key, envelope, context, bytes(stored.output_hash.value)
                )
            except sealing.SealingError as exc:
                tampered = source
                attempts.append(f"{source}: {type(exc).__name__}: {exc}")
                continue
            return record, source
        if tampered is not None:
            raise OutputTampered(
                f"request {rid}: the sealed output from the {tampered} does not open to the "
                "on-chain commitment",
                tampered,
            )
        raise OutputUnavailable(f"request {rid}: no source delivered the output", tuple(attempts))

    async def _from_executor(
        self,
        request_id: RequestId,
        executor: rt.types.AccountId32,
        attempts: list[str],
        expected_hash: bytes | None,
    ) -> bytes | None:
        """The executor's output (whose hash is `expected_hash`; None: a sealed envelope,
        checked once opened), retried `fetch_attempts` times; None when it never came.
        Bytes that do not match raise `protocol.OutputHashMismatch` (not retried)."""
        provider = await self._query(rt.providers.storage.providers(executor))
        if provider is None or not provider.endpoint:
            attempts.append("executor: no registered endpoint")
            return None
        endpoint = bytes(provider.endpoint).decode("utf-8", "replace").rstrip("/")
        url = f"{endpoint}/outputs/{request_id}"
        session = self._session()
        for attempt in range(self.config.fetch_attempts):
            if attempt:
                await asyncio.sleep(self.config.fetch_backoff_s * 2 ** (attempt - 1))
            headers = sign_output_request(self.keypair, request_id)
            try:
                return await protocol.fetch_verified_output(
                    session,
                    url,
                    expected_hash,
                    max_bytes=self.config.max_output_bytes,
                    headers=headers,
                )
            except protocol.OutputRefused as exc:
                attempts.append(f"executor: HTTP {exc.status} (refused)")
                return None
            except protocol.OutputHTTPError as exc:
                note = f"executor: HTTP {exc.status}"
            except (protocol.OutputUnreachable, protocol.OutputTooLarge) as exc:
                note = f"executor: {type(exc).__name__}: {exc}"
            attempts.append(note)
        return None

    async def _from_ipfs(self, cid: str, attempts: list[str]) -> bytes | None:
        try:
            store = self._store()
            return await store.fetch_bytes(cid, max_size=self.config.max_output_bytes)
        except ipfs_store.IntegrityError as exc:
            attempts.append(f"ipfs: {exc}")
        except (ipfs_store.IpfsStoreError, InputUnavailable) as exc:
            attempts.append(f"ipfs: {type(exc).__name__}: {exc}")
        return None

    async def _upload(self, data: bytes) -> str:
        try:
            added = await self._store().add_bytes(data, name="prompt")
        except ipfs_store.IpfsStoreError as exc:
            raise InputUnavailable(f"cannot add the prompt to IPFS: {exc}") from exc
        return str(added.cid)

    # -- chain helpers ----------------------------------------------------------------------

    async def _query(self, entry: StorageEntry[V]) -> V:
        try:
            return await self.chain.query(entry)
        except ChainClientError as exc:
            raise ChainError(f"query {entry.pallet}.{entry.name} failed: {exc}") from exc

    async def _submit(self, call: Any) -> Receipt:
        try:
            receipt = await self.chain.submit(call, self.keypair)
        except ChainClientError as exc:
            raise ChainError(f"{call.pallet}.{call.name} was not included: {exc}") from exc
        if receipt.error is not None:
            name = receipt.error.error if isinstance(receipt.error, ModuleError) else "Dispatch"
            pallet = receipt.error.pallet if isinstance(receipt.error, ModuleError) else ""
            if pallet == "ModelRegistry" or name in ("UnknownModel", "ModelDeprecated"):
                raise ModelUnavailable(f"{call.pallet}.{call.name}: {receipt.error}")
            raise RequestRejected(
                f"{call.pallet}.{call.name} failed: {receipt.error} "
                f"({(receipt.error.__doc__ or '').strip()})",
                name,
            ) from receipt.error
        return receipt


class RequestProgress:
    """The stages of one `infer` as an async iterator; `result()` is its outcome.

    The request runs in a task from the moment `InferenceClient.progress` returns; iterating
    ends after its last stage, and raises the request's error if it failed. `cancel()` stops it.
    """

    def __init__(self, start: Callable[[StageCallback], Awaitable[InferenceResult]]) -> None:
        self._queue: asyncio.Queue[Stage | None] = asyncio.Queue()
        self._task = asyncio.ensure_future(start(self._queue.put_nowait))
        self._task.add_done_callback(lambda _: self._queue.put_nowait(None))
        self._ended = False

    def __aiter__(self) -> RequestProgress:
        return self

    async def __anext__(self) -> Stage:
        if not self._ended:
            item = await self._queue.get()
            if item is not None:
                return item
            self._ended = True
        if not self._task.cancelled() and self._task.exception() is not None:
            await self._task  # raises the request's error
        raise StopAsyncIteration

    async def result(self) -> InferenceResult:
        return await self._task

    def cancel(self) -> None:
        self._task.cancel()


async def _output_hash(data: bytes) -> bytes:
    """The output's on-chain hash, off the event loop for large outputs."""
    if len(data) < _INLINE_WORK:
        return protocol.output_hash(data)
    return await asyncio.to_thread(protocol.output_hash, data)


def _h256(model_id: ModelId) -> rt.types.H256:
    return rt.types.H256(bytes.fromhex(model_id[2:]))


def _ss58(account: rt.types.AccountId32) -> str:
    return str(ss58_encode(bytes(account.value), 42))
