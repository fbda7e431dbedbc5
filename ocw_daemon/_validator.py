"""The validator role: re-checks the results this account is drawn to validate.

The output comes from the executor's endpoint (`GET /outputs/{id}`, signed headers) for up to
`fetch_timeout_s`, then from IPFS when public; it must hash to the on-chain `output_hash`
(a sealed bundle is checked against its commitments once opened). With no output to be had,
`request_output` asks for it on-chain and the validation waits for `OutputProvided`. The
prompt comes from IPFS or the request extrinsic; the engine pool judges; the verdict goes out
as `submit_validation`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp
from substrateinterface import Keypair

import inference_engine as ie
import protocol
import sealing
from ipfs_store import IpfsStoreError
from runtime_types import Block
from runtime_types.generated.devnode import inference, types

from ._chain import STORAGE_PROVIDERS, blake2_256, provided_output_in_block
from ._errors import ChainError, DaemonError, JobFailed
from ._roles import Role, RoleParts
from ._sealed import open_validator_bundle
from ._types import ValidationState
from .protocol import sign_output_request

__all__ = ["SignedAttempts", "Validator"]

log = logging.getLogger("ocw_daemon")

MAX_OUTPUT_BYTES = int(inference.constants.MAX_OUTPUT_BYTES)
#: Between two attempts at an executor's endpoint
RETRY_S = 0.2


class SignedAttempts:
    """`async for headers, timeout in SignedAttempts(...)`: fetch attempts at an executor's
    endpoint, each with fresh signed headers and the time left, `RETRY_S` apart, until
    `within_s` has passed or `stopping()` (on-chain and direct validators alike)."""

    def __init__(
        self, keypair: Keypair, request_id: int, within_s: float, stopping: Callable[[], bool]
    ) -> None:
        self._keypair = keypair
        self._request_id = request_id
        self._deadline = time.monotonic() + within_s
        self._stopping = stopping
        self._first = True

    def __aiter__(self) -> SignedAttempts:
        return self

    async def __anext__(self) -> tuple[dict[str, str], aiohttp.ClientTimeout]:
        if not self._first:
            await asyncio.sleep(RETRY_S)
        self._first = False
        if time.monotonic() >= self._deadline or self._stopping():
            raise StopAsyncIteration
        headers = sign_output_request(self._keypair, self._request_id, int(time.time() * 1000))
        left = max(0.1, self._deadline - time.monotonic())
        return headers, aiohttp.ClientTimeout(total=left)


class Validator(Role):
    """Validates the requests drawn for this account (see the module docstring)."""

    def __init__(
        self, parts: RoleParts, *, session: Callable[[], aiohttp.ClientSession | None]
    ) -> None:
        super().__init__(parts)
        self._session = session
        #: The requests recorded here as this account's validations
        self.validations: set[int] = set()

    def validate_later(self, rid: int, provided: tuple[Block, int | None] | None = None) -> None:
        """Validate `rid` in a task; `provided`: the block and index of its `provide_output`."""
        self._tasks.spawn(self._validate(rid, provided), f"ocw-validate-{rid}")

    async def _prompt_of(self, rid: int, req: types.InferenceRequest) -> str:
        if req.input_cid is not None:
            try:
                raw = await self.ipfs.fetch_bytes(
                    bytes(req.input_cid).decode(), max_size=self.config.max_input_bytes
                )
            except IpfsStoreError as exc:
                raise JobFailed(f"input of {rid}: {exc}", retryable=True) from exc
        else:
            call = await self._node.request_call(rid, req)
            if not isinstance(call.input, types.InferenceInputInline):
                raise JobFailed(f"request {rid} has no inline input")
            raw = bytes(call.input.value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JobFailed("the input is not UTF-8") from exc

    async def _fetch_from_executor(self, rid: int, req: types.InferenceRequest) -> bytes | None:
        session = self._session()
        assert session is not None and req.output_hash is not None
        info = await self._node.query(STORAGE_PROVIDERS(req.executor))
        if info is None:
            return None
        url = f"{bytes(info.endpoint).decode().rstrip('/')}/outputs/{rid}"
        # a sealed bundle is checked against the commitments once opened
        expected = None if req.sealed else bytes(req.output_hash.value)
        attempts = SignedAttempts(
            self._node.keypair, rid, self.config.fetch_timeout_s, self._stopping.is_set
        )
        async for headers, timeout in attempts:
            try:
                return await protocol.fetch_verified_output(
                    session, url, expected, max_bytes=MAX_OUTPUT_BYTES, headers=headers,
                    request_timeout=timeout,
                )  # fmt: skip
            except (protocol.OutputHashMismatch, protocol.OutputTooLarge) as exc:
                log.warning("executor's output for %d does not match its hash: %s", rid, exc)
                return None
            except protocol.OutputFetchError:
                pass
        if req.output_cid is not None and not req.sealed:  # IPFS has the requester's copy only
            try:
                data = await self.ipfs.fetch_bytes(bytes(req.output_cid).decode(), max_size=1 << 20)
            except IpfsStoreError:
                return None
            if blake2_256(data) == bytes(req.output_hash.value):
                return data
        return None

    async def _validate(self, rid: int, provided: tuple[Block, int | None] | None = None) -> None:
        try:
            await self._validate_inner(rid, provided)
        except DaemonError as exc:
            log.warning("validation of %d failed: %s", rid, exc)
            await self.store.set_validation(rid, ValidationState.FAILED, error=str(exc))
            self.metrics.outcomes.labels("validator", "failed").inc()

    async def _validate_inner(self, rid: int, provided: tuple[Block, int | None] | None) -> None:
        job = await self.store.validation(rid)
        if job is None or job.state.terminal:
            return
        if job.state is ValidationState.OUTPUT_REQUESTED and provided is None:
            return
        req = await self._node.request_info(rid)
        if (
            req is None
            or not isinstance(req.state, types.RequestStateAwaitingValidation)
            or bytes(req.state.validator.value) != self.account
        ):
            await self.store.set_validation(rid, ValidationState.DONE)
            return
        if provided is not None:
            block, index = provided
            output: bytes | None = provided_output_in_block(
                self._node.bindings, block.extrinsics, index, rid
            )
        else:
            output = await self._fetch_from_executor(rid, req)
        if output is None:
            receipt = await self._node.submit(inference.calls.request_output(rid))
            if receipt.success or isinstance(
                receipt.error, inference.errors.OutputAlreadyRequested
            ):
                await self.store.set_validation(rid, ValidationState.OUTPUT_REQUESTED)
                return
            raise ChainError(f"request_output failed: {receipt.error}")
        if req.sealed:
            try:
                prompt_bytes, output = open_validator_bundle(self.encryption_key, output, rid, req)
                prompt = prompt_bytes.decode("utf-8")
            except (sealing.SealingError, UnicodeDecodeError) as exc:
                # the executor must hand over what matches its commitments: invalid otherwise
                log.warning("sealed payload of %d refused: %s", rid, type(exc).__name__)
                prompt = ""
            valid = bool(prompt) and await self._judge(rid, req, prompt, output)
        else:
            prompt = await self._prompt_of(rid, req)
            valid = await self._judge(rid, req, prompt, output)
        await self.store.set_validation(rid, ValidationState.SUBMITTING, verdict=valid)
        receipt = await self._node.submit(inference.calls.submit_validation(rid, valid))
        if receipt.success:
            await self.store.set_validation(rid, ValidationState.SUBMITTED, verdict=valid)
            self.metrics.outcomes.labels("validator", "valid" if valid else "invalid").inc()
        elif isinstance(receipt.error, inference.errors.InvalidState):
            await self.store.set_validation(rid, ValidationState.DONE)
        else:
            raise ChainError(f"submit_validation failed: {receipt.error}")

    async def _judge(self, rid: int, req: types.InferenceRequest, prompt: str, data: bytes) -> bool:
        try:
            output = ie.decode_record(data)  # a text output or an embedding
        except ie.OutputDecodeError:
            return False
        wanted: ie.GenerationRequest | ie.EmbeddingRequest
        if isinstance(output, ie.EmbeddingOutput):
            wanted = ie.EmbeddingRequest(ie.RequestId(str(rid)), prompt)
        else:
            params = ie.SamplingParams(max_tokens=req.max_tokens)
            wanted = ie.GenerationRequest(ie.RequestId(str(rid)), prompt, params)
        cid = await self._models.cid_of(bytes(req.model_id.value), req.model_version)
        return await self._engines.judge(cid, wanted, output, f"output of {rid}")
