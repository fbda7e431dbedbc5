"""The executor role: admits the requests assigned to this account, runs them, submits results.

Jobs wait in a bounded priority queue (highest price first) for `workers` tasks. A worker
reads the input (inline, IPFS, or sealed), leases the model's engine from the pool, generates
or embeds, records the output before it submits `submit_result`, and retries what may pass
(IPFS, cache, an overloaded engine) while the deadline allows. On `OutputRequested` it puts
the kept output on-chain (`provide_output`), re-sealed to the validator for a sealed job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import inference_engine as ie
import sealing
from ipfs_store import IpfsStoreError
from runtime_types import Block
from runtime_types.generated.devnode import inference, types

from ._chain import STORAGE_PROVIDERS, blake2_256, request_call_in_block
from ._errors import ChainError, DaemonError, JobFailed
from ._planner import AdmitJob, Resume
from ._roles import Role, RoleParts
from ._sealed import (
    SEALED_JOB,
    SealedInputRefused,
    open_input,
    requester_envelope,
    seal_job_output,
    validator_bundle,
)
from ._types import ChainRequestId, ExecJob, JobState

__all__ = ["Executor", "JobTiming"]

log = logging.getLogger("ocw_daemon")


@dataclass(frozen=True, slots=True)
class JobTiming:
    """One executed job: when its block was seen, inference time, when the result was sent."""

    request_id: ChainRequestId
    block_seen: float
    inference_s: float
    submit_called: float

    @property
    def overhead_s(self) -> float:
        return self.submit_called - self.block_seen - self.inference_s


class Executor(Role):
    """Runs this account's jobs (see the module docstring)."""

    def __init__(self, parts: RoleParts, *, head: Callable[[], int]) -> None:
        super().__init__(parts)
        #: The last finalized block processed
        self._head = head
        self.timings: list[JobTiming] = []
        #: The requests recorded here as this executor's jobs
        self.jobs: set[int] = set()
        self._queue: asyncio.PriorityQueue[tuple[int, int]] = asyncio.PriorityQueue(
            self.config.queue_size
        )
        self.queued: set[int] = set()
        self._seen_at: dict[int, float] = {}
        self._sealed_inputs: dict[int, types.SealedInput] = {}
        self._input_plain: dict[int, bytes] = {}
        self._to_decline: list[tuple[int, str]] = []
        self._workers: dict[asyncio.Task[None], bool] = {}

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    # -- workers ---------------------------------------------------------------------------------

    def start_workers(self) -> None:
        for n in range(self.config.workers):
            task = asyncio.create_task(self._worker(), name=f"ocw-worker-{n}")
            self._workers[task] = False

    def stop_idle_workers(self) -> list[asyncio.Task[None]]:
        """Cancel the workers waiting for a job; returns them all (the busy finish theirs)."""
        for task, busy in self._workers.items():
            if not busy:
                task.cancel()
        return list(self._workers)

    # -- admitting -------------------------------------------------------------------------------

    async def accepted(self, jobs: list[ExecJob], seen: float) -> None:
        """A block's new jobs are committed: queue them; decline the unservable sealed ones."""
        for job in jobs:
            self.jobs.add(job.request_id)
            self._seen_at[job.request_id] = seen
            if job.state is JobState.QUEUED:
                await self._enqueue(job.request_id, job.price)
        while self._to_decline:
            rid, reason = self._to_decline.pop()
            self._tasks.spawn(self._decline(rid, reason), f"ocw-decline-{rid}")

    def resume(self, job: ExecJob, resume: Resume) -> None:
        """After a restart (`resume_job` decided, its state recorded): carry the job on."""
        rid = job.request_id
        if resume.provide:
            self.provide_later(rid)
        if resume.queue:
            self._seen_at[rid] = time.perf_counter()
            self.queued.add(rid)
            self._queue.put_nowait((-job.price, rid))

    def provide_later(self, rid: int) -> None:
        """`OutputRequested` for one of these jobs: `provide_output` (a task)."""
        self._tasks.spawn(self._provide(rid), f"ocw-provide-{rid}")

    async def admit(self, block: Block, admit: AdmitJob) -> ExecJob:
        """The job an `InferenceRequested` for this account becomes (`failed` if unservable)."""
        rid, index = admit.request_id, admit.extrinsic_index
        req = await self._node.request_info(rid)
        error: str | None = None
        inline: bytes | None = None
        input_cid: str | None = None
        model_cid = ""
        price = max_tokens = 0
        if req is None:
            error = "the request is not in storage"
        else:
            price, max_tokens = int(req.price_per_1k_tokens), int(req.max_tokens)
            try:
                model_cid = await self._models.cid_of(bytes(req.model_id.value), req.model_version)
                self._models.serving(bytes(req.model_id.value), model_cid)
                if req.sealed:
                    call = request_call_in_block(self._node.bindings, block.extrinsics, index)
                    if isinstance(call.input, types.InferenceInputSealedInline):
                        try:  # salt ++ prompt, checked against the commitment
                            inline = open_input(
                                self.encryption_key, self.account, call.input.value,
                                bytes(call.input.value.payload), req,
                            )  # fmt: skip
                        except SealedInputRefused as exc:
                            self._to_decline.append((rid, str(exc)))
                            raise
                    elif isinstance(call.input, types.InferenceInputSealedCid):
                        self._sealed_inputs[rid] = call.input.value
                        input_cid = bytes(call.input.value.payload).decode()
                    else:
                        raise ChainError("a sealed request without a sealed input")
                elif req.input_cid is not None:
                    input_cid = bytes(req.input_cid).decode()
                else:
                    call = request_call_in_block(self._node.bindings, block.extrinsics, index)
                    if not isinstance(call.input, types.InferenceInputInline):
                        raise ChainError("the request extrinsic has no inline input")
                    inline = bytes(call.input.value)
                    if blake2_256(inline) != bytes(req.input_hash.value):
                        raise ChainError("the inline input does not match the on-chain hash")
            except DaemonError as exc:
                error = str(exc)
        state = JobState.QUEUED if error is None else JobState.FAILED
        if error is not None:
            log.warning("request %d cannot be served: %s", rid, error)
        return ExecJob(
            rid, state, block.number, index, admit.deadline, admit.requester,
            price, model_cid, max_tokens, inline, input_cid, error=error,
        )  # fmt: skip

    async def _enqueue(self, rid: int, price: int) -> None:
        if rid in self.queued:
            return
        self.queued.add(rid)
        await self._queue.put((-price, rid))

    # -- running jobs --------------------------------------------------------------------------

    async def _worker(self) -> None:
        me = asyncio.current_task()
        assert me is not None
        while not self._stopping.is_set():
            _, rid = await self._queue.get()
            self._workers[me] = True
            try:
                await self._execute(rid)
            except Exception:
                log.exception("job %d crashed", rid)
            finally:
                self.queued.discard(rid)
                self._workers[me] = False
                self._queue.task_done()

    async def _execute(self, rid: int) -> None:
        job = await self.store.job(rid)
        if job is None or job.state not in (JobState.QUEUED, JobState.SUBMITTING):
            return
        if job.state is JobState.SUBMITTING and job.output is not None:
            await self._submit_result(job, time.perf_counter(), 0.0, resume=True)
            return
        if self._head() > job.deadline:
            await self._fail(rid, "deadline passed before the job ran")
            return
        attempt = 0
        while True:
            try:
                output, inference_s = await self._infer(job)
                break
            except SealedInputRefused as exc:
                await self._fail(rid, str(exc))
                await self._decline(rid, str(exc))
                return
            except JobFailed as exc:
                attempt = await self.store.count_attempt(rid, str(exc))
                if (
                    not exc.retryable
                    or attempt >= self.config.job_attempts
                    or self._head() >= job.deadline
                    or self._stopping.is_set()
                ):
                    await self._fail(rid, str(exc))
                    return
                log.info("job %d attempt %d failed (%s); retrying", rid, attempt, exc)
                await asyncio.sleep(self.config.retry_backoff_s * 2 ** (attempt - 1))
        data = ie.encode_record(output)  # a text output or an embedding (docs/output-format.md)
        digest = ie.output_hash(data)
        published = data
        input_plain = self._input_plain.pop(rid, None)
        if input_plain is not None:  # sealed: to the requester, commitment salted
            req = await self._node.request_info(rid)
            if req is None:
                await self._fail(rid, "the request is gone")
                return
            data, digest = seal_job_output(self.encryption_key, rid, req, input_plain, data)
            published = requester_envelope(data)  # IPFS only ever holds the sealed output
        cid: str | None = None
        if self.config.outputs_public:
            try:
                added = await self.ipfs.add_bytes(published, name=f"output-{rid}", pin=True)
                cid = str(added.cid)
            except IpfsStoreError as exc:
                log.warning("output of %d not published to IPFS: %s", rid, exc)
        prompt_tokens, completion_tokens = output.prompt_token_count, output.completion_token_count
        await self.store.record_output(rid, data, digest, cid, prompt_tokens, completion_tokens)
        self.metrics.tokens.labels("prompt").inc(prompt_tokens)
        self.metrics.tokens.labels("completion").inc(completion_tokens)
        self.metrics.inference.observe(inference_s)
        job = await self.store.job(rid)
        assert job is not None
        if job.output is None:  # the request ended on-chain (expired) while the model ran
            log.warning("job %d ended (%s) before its result was ready", rid, job.state.value)
            return
        await self._submit_result(job, self._seen_at.get(rid, time.perf_counter()), inference_s)

    async def _decline(self, rid: int, reason: str) -> None:
        """A sealed input that cannot be served: `Inference.decline` refunds the requester."""
        log.warning("declining request %d: %s", rid, reason)
        try:
            receipt = await self._node.submit(inference.calls.decline(rid))
        except DaemonError as exc:
            log.warning("decline(%d) not submitted: %s", rid, exc)
            return
        if not receipt.success:
            log.warning("decline(%d) failed: %s", rid, receipt.error)

    async def _sealed_input_of(self, rid: int, req: types.InferenceRequest) -> types.SealedInput:
        cached = self._sealed_inputs.get(rid)
        if cached is not None:
            return cached
        call = await self._node.request_call(rid, req)
        if not isinstance(
            call.input, types.InferenceInputSealedCid | types.InferenceInputSealedInline
        ):
            raise ChainError(f"request {rid} has no sealed input")
        self._sealed_inputs[rid] = call.input.value
        return call.input.value

    async def _fail(self, rid: int, reason: str) -> None:
        log.warning("job %d failed: %s", rid, reason)
        await self.store.set_job_state(rid, JobState.FAILED, error=reason)
        self.metrics.outcomes.labels("executor", "failed").inc()

    async def _infer(self, job: ExecJob) -> tuple[ie.OutputRecord, float]:
        if job.input_inline is not None:
            raw = job.input_inline
        elif job.input_cid is not None:
            try:
                raw = await self.ipfs.fetch_bytes(
                    job.input_cid, max_size=self.config.max_input_bytes
                )
            except IpfsStoreError as exc:
                raise JobFailed(f"input {job.input_cid}: {exc}", retryable=True) from exc
        else:
            raise JobFailed("the job has no input")
        req = await self._node.request_info(job.request_id)
        if req is not None and req.sealed:
            if job.input_inline is None:  # the sealed payload from IPFS
                sealed_input = await self._sealed_input_of(job.request_id, req)
                raw = open_input(self.encryption_key, self.account, sealed_input, raw, req)
            self._input_plain[job.request_id] = raw
            raw = raw[sealing.SALT_BYTES :]
        try:
            prompt = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JobFailed("the input is not UTF-8") from exc
        if not prompt:
            raise JobFailed("the input is empty")
        async with self._engines.lease(job.model_cid) as engine:
            started = time.perf_counter()
            rid = ie.RequestId(str(job.request_id))
            timeout = self.config.inference_timeout_s
            try:
                output: ie.OutputRecord
                if engine.model.task is ie.ModelTask.EMBEDDING:  # ModelTask::Embedding
                    output = await engine.embed(ie.EmbeddingRequest(rid, prompt), timeout_s=timeout)
                else:
                    params = ie.SamplingParams(max_tokens=job.max_tokens)
                    request = ie.GenerationRequest(rid, prompt, params)
                    output = await engine.generate(request, timeout_s=timeout)
            except (
                ie.EngineOverloadedError,
                ie.GenerationTimeoutError,
                ie.EngineClosedError,
            ) as exc:
                raise JobFailed(f"engine: {exc}", retryable=True) from exc
            except ie.InferenceError as exc:
                raise JobFailed(f"engine: {exc}") from exc
            return output, time.perf_counter() - started

    async def _submit_result(
        self, job: ExecJob, seen: float, inference_s: float, *, resume: bool = False
    ) -> None:
        rid = job.request_id
        assert job.output is not None and job.output_hash is not None
        if resume:
            # a resubmission after a crash or failure: the chain may already have the result
            req = await self._node.request_info(rid)
            if (
                req is None
                or not isinstance(req.state, types.RequestStateAssigned)
                or req.output_hash is not None
            ):
                await self.store.set_job_state(rid, JobState.SUBMITTED)
                return
        call = inference.calls.submit_result(
            rid,
            types.H256(job.output_hash),
            None if job.output_cid is None else job.output_cid.encode(),
            job.prompt_tokens,
            job.completion_tokens,
        )
        called = time.perf_counter()
        if inference_s > 0:
            self.timings.append(JobTiming(rid, seen, inference_s, called))
            self.metrics.latency.observe(max(0.0, called - seen - inference_s))
        try:
            receipt = await self._node.submit(call)
        except ChainError as exc:
            await self._fail(rid, str(exc))
            return
        if receipt.success or isinstance(receipt.error, inference.errors.InvalidState):
            await self.store.set_job_state(rid, JobState.SUBMITTED)
        else:
            await self._fail(rid, f"submit_result failed: {receipt.error}")

    async def _provide(self, rid: int) -> None:
        job = await self.store.job(rid)
        if job is None or job.output is None:
            log.error("output of %d was requested but is not kept here", rid)
            return
        output = job.output
        if output.startswith(SEALED_JOB):
            try:
                output = await self.validator_payload(rid)
            except (DaemonError, sealing.SealingError) as exc:
                log.error("output of %d cannot be re-sealed to its validator: %s", rid, exc)
                return
        receipt = await self._node.submit(inference.calls.provide_output(rid, output))
        if not receipt.success:
            log.warning("provide_output(%d) failed: %s", rid, receipt.error)

    async def validator_payload(self, rid: int) -> bytes:
        """A sealed job's prompt and output re-sealed to the request's drawn validator."""
        job = await self.store.job(rid)
        req = await self._node.request_info(rid)
        if job is None or job.output is None or req is None:
            raise JobFailed(f"no output of {rid} here")
        if not isinstance(req.state, types.RequestStateAwaitingValidation):
            raise JobFailed(f"request {rid} awaits no validation")
        info = await self._node.query(STORAGE_PROVIDERS(req.state.validator))
        if info is None or info.encryption_key is None:
            raise JobFailed(f"the validator of {rid} publishes no encryption key")
        key = bytes(info.encryption_key)
        return validator_bundle(self.encryption_key, job.output, rid, req, key)
