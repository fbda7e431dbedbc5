"""The daemon: follows finalized blocks, executes and validates jobs, serves outputs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from substrateinterface import Keypair

import inference_engine as ie
import sealing
from cache import (
    CacheConfig,
    CacheError,
    CacheTimeout,
    CapacityError,
    EngineLoader,
    IpfsOrigin,
    ModelCache,
    ModelKey,
    ModelLoader,
    OriginError,
)
from cache import ModelLoadError as CacheLoadError
from ipfs_store import IpfsStore, IpfsStoreError, StoreConfig
from runtime_types import (
    Bindings,
    Block,
    Call,
    ChainClient,
    ChainClientError,
    ClientConfig,
    IncompatibleMetadata,
    Receipt,
)
from runtime_types.generated.devnode import BINDINGS, inference, types

from ._chain import (
    STORAGE_MODEL_VERSIONS,
    STORAGE_MODELS,
    STORAGE_PROVIDERS,
    STORAGE_REQUESTS,
    blake2_256,
    provided_output_in_block,
    request_call_in_block,
)
from ._config import DaemonConfig, load_encryption_key
from ._direct import DirectExecutor
from ._errors import ChainError, DaemonError, JobFailed
from ._http import OutputServer
from ._metrics import DaemonMetrics
from ._sealed import (
    SEALED_JOB,
    SealedInputRefused,
    open_input,
    open_validator_bundle,
    requester_envelope,
    seal_job_output,
    validator_bundle,
)
from ._store import BlockChanges, JobStore
from ._types import (
    AccountId,
    ChainRequestId,
    ExecJob,
    JobState,
    ValidationJob,
    ValidationState,
)
from .protocol import sign_output_request

__all__ = ["MODEL_PIN_NAME", "Daemon", "JobTiming"]

# The name of the Kubo pins this daemon keeps for the models it serves (others are not touched).
MODEL_PIN_NAME = "ocw-model"

log = logging.getLogger("ocw_daemon")

#: Each attempt at reaching the node at start-up lasts this long before it is logged and retried
NODE_ATTEMPT_S = 2.0
#: /healthz gives the node this long to answer
HEALTH_PROBE_S = 1.0

_TERMINAL = {"Completed": JobState.COMPLETED, "Expired": JobState.EXPIRED, "Rejected": JobState.REJECTED, "Declined": JobState.FAILED}  # fmt: skip


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


def _state_name(state: Any) -> str:
    return str(getattr(type(state), "__variant_name__", ""))


class Daemon:
    """`async with Daemon(config, keypair) as daemon: await daemon.wait_stopped()`.

    `stop()` (SIGTERM) stops taking jobs and gives in-flight ones `grace_period_s` to finish;
    `close()` is idempotent.
    """

    def __init__(
        self,
        config: DaemonConfig,
        keypair: Keypair,
        *,
        bindings: Bindings = BINDINGS,
        loader: ModelLoader[ie.LoadedModel] | None = None,
    ) -> None:
        self.config = config
        self.keypair = keypair
        self.account = AccountId(bytes(keypair.public_key))
        # X25519: sealed inputs and validator payloads are sealed to its public half on-chain
        self.encryption_key = load_encryption_key(config)
        self._sealed_inputs: dict[int, types.SealedInput] = {}
        self._input_plain: dict[int, bytes] = {}
        self._to_decline: list[tuple[int, str]] = []
        self.bindings = bindings
        self._engine_config = ie.EngineConfig(
            device=config.device, request_timeout_s=config.inference_timeout_s
        )
        self._loader = loader or EngineLoader(self._engine_config)
        self.store = JobStore(config.database)
        self.client = ChainClient(
            bindings,
            ClientConfig(
                config.node_url,
                poll_interval=config.poll_interval_s,
                connect_timeout=NODE_ATTEMPT_S,
            ),
        )
        self.ipfs = IpfsStore(
            StoreConfig(api_url=config.ipfs_api_url, retries=1, connect_timeout=2.0)
        )
        self.cache: ModelCache[ie.LoadedModel] = ModelCache(
            CacheConfig(
                disk_dir=config.data_dir / "models",
                tier1_capacity=config.tier1_capacity,
                disk_capacity=config.disk_capacity,
                redis_url=config.redis_url,
                redis_timeout=1.0,
                fill_wait=30.0,
            ),
            # Models fetched from IPFS stay pinned in this Kubo while a tier holds them.
            IpfsOrigin(self.ipfs, pin_name=MODEL_PIN_NAME),
            self._loader,
        )
        self.metrics = DaemonMetrics(self._cache_metrics)
        self.direct = DirectExecutor(self)
        self.http = OutputServer(self)
        self.timings: list[JobTiming] = []
        self._queue: asyncio.PriorityQueue[tuple[int, int]] = asyncio.PriorityQueue(
            config.queue_size
        )
        self._queued: set[int] = set()
        self._my_jobs: set[int] = set()
        self._my_validations: set[int] = set()
        self._seen_at: dict[int, float] = {}
        self._engines: dict[str, ie.InferenceEngine] = {}
        self._cids: dict[tuple[bytes, int], str] = {}
        self._model_cids: dict[bytes, str] = {}
        self._sizes: dict[ModelKey, int] = {}
        self._head = 0
        self._workers: dict[asyncio.Task[None], bool] = {}
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._side_limit = asyncio.Semaphore(config.validators)
        self._follower: asyncio.Task[None] | None = None
        self._preloader: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._closed = False
        self._started = False
        self._ready = False
        self._not_ready = "starting"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> Daemon:
        self._started = True
        try:
            await self.store.open()
            await self.ipfs.__aenter__()
            await self.cache.__aenter__()
            self._session = aiohttp.ClientSession()
            await self.http.start(self.config.http_host, self.config.http_port)
            if not await self._connect_node():
                return self  # stop() came before the node answered
            await self._reconcile()
            for n in range(self.config.workers):
                task = asyncio.create_task(self._worker(), name=f"ocw-worker-{n}")
                self._workers[task] = False
            self._follower = asyncio.create_task(self._follow(), name="ocw-follower")
            if self.config.preload_interval_s > 0:
                self._preloader = asyncio.create_task(self._preload_loop(), name="ocw-preload")
            self.direct.start()
            self._ready = True
        except BaseException:
            await self.close()
            raise
        log.info("ocw-daemon for %s serving at %s", self.keypair.ss58_address, self.http.url)
        return self

    async def _connect_node(self) -> bool:
        """Reach the node, retrying with backoff (each retry logged; /healthz says `not ready`)
        until it answers or `stop()` is called; an incompatible node is an error."""
        delay = 1.0
        url = self.config.node_url
        self._not_ready = f"connecting to the node at {url}"
        while not self._stopping.is_set():
            try:
                await self.client.connect()
                return True
            except IncompatibleMetadata as exc:
                raise ChainError(f"the node at {url} does not match the bindings: {exc}") from exc
            except ChainClientError as exc:
                self._not_ready = f"node at {url} unreachable: {exc}"
                log.warning(
                    "node at %s unreachable (%s); retrying in %.0f s (not ready until it answers)",
                    url, exc, delay,
                )  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, 10.0)
        return False

    async def not_ready_reason(self) -> str | None:
        """None when serving with the node answering; else why not (for /healthz)."""
        if not self._ready:
            return self._not_ready
        try:
            await asyncio.wait_for(self.client.head_number(), HEALTH_PROBE_S)
        except TimeoutError:
            return f"node at {self.config.node_url} did not answer within {HEALTH_PROBE_S} s"
        except ChainClientError as exc:
            return f"node at {self.config.node_url} unreachable: {exc}"
        return None

    async def __aenter__(self) -> Daemon:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def head(self) -> int:
        """The last finalized block processed."""
        return self._head

    def stop(self) -> None:
        """Stop taking jobs (SIGTERM); `wait_stopped` returns once in-flight work is settled."""
        self._stopping.set()

    async def wait_stopped(self) -> None:
        await self._stopping.wait()
        await self.close()

    async def close(self) -> None:
        """Stop following, give in-flight jobs the grace period, release everything."""
        if self._closed:
            await self._stopped.wait()
            return
        self._closed = True
        self._stopping.set()
        try:
            for task in (self._follower, self._preloader):
                if task is not None:
                    task.cancel()
            idle = [t for t, busy in self._workers.items() if not busy]
            for task in idle:
                task.cancel()
            pending = [t for t in self._workers if not t.done()] + list(self._side_tasks)
            if pending:
                _, late = await asyncio.wait(pending, timeout=self.config.grace_period_s)
                for task in late:
                    task.cancel()
            everything = [
                t for t in (self._follower, self._preloader, *self._workers, *self._side_tasks)
                if t is not None
            ]  # fmt: skip
            await asyncio.gather(*everything, return_exceptions=True)
            await self.direct.close()
            for engine in list(self._engines.values()):
                with contextlib.suppress(Exception):
                    await engine.close()
            await self.http.close()
            if self._session is not None:
                await self._session.close()
            await self.client.close()
            await self.cache.close()
            await self.ipfs.close()
            await self.store.close()
        finally:
            self._stopped.set()

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        async def bounded() -> None:
            async with self._side_limit:
                await coro

        task = asyncio.create_task(bounded(), name=name)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_done)

    def _side_done(self, task: asyncio.Task[None]) -> None:
        self._side_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    # -- chain helpers -----------------------------------------------------------------------

    async def _query(self, entry: Any) -> Any:
        try:
            return await self.client.query(entry)
        except ChainClientError as exc:
            raise ChainError(f"storage query failed: {exc}") from exc

    async def _submit(self, call: Call[Any]) -> Receipt:
        try:
            return await self.client.submit(call, self.keypair)
        except ChainClientError as exc:
            raise ChainError(f"{call.pallet}.{call.name} was not included: {exc}") from exc

    async def request_info(self, request_id: int) -> types.InferenceRequest | None:
        info: types.InferenceRequest | None = await self._query(STORAGE_REQUESTS(request_id))
        return info

    async def _model_cid(self, model_id: bytes, version: int) -> str:
        key = (model_id, version)
        if key not in self._cids:
            found = await self._query(STORAGE_MODEL_VERSIONS(types.H256(model_id), version))
            if found is None:
                raise JobFailed(f"model {model_id.hex()} has no version {version}")
            self._cids[key] = bytes(found.cid).decode()
        return self._cids[key]

    def _cache_metrics(self) -> Any:
        return self.cache.metrics()

    # -- following the chain -----------------------------------------------------------------

    async def _follow(self) -> None:
        delay = 0.2
        while not self._stopping.is_set():
            last = await self.store.last_block()
            if last is not None:
                start = last + 1
            elif self.config.start_block is not None:
                start = self.config.start_block
            else:
                try:
                    start = await self.client.head_number(finalized=True)
                except ChainClientError as exc:
                    log.warning(
                        "cannot read the finalized head (%s); retrying in %.1fs", exc, delay
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
            try:
                async with self.client.blocks(finalized=True, start=start) as stream:
                    async for block in stream:
                        await self._process_block(block, time.perf_counter())
                        delay = 0.2
                        if self._stopping.is_set():
                            return
            except ChainClientError as exc:
                log.warning("block stream interrupted (%s); resuming in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _process_block(self, block: Block, seen: float) -> None:
        self._head = max(self._head, block.number)
        changes = BlockChanges(block.number)
        mine: list[tuple[int, int | None, Any]] = []
        after: list[Callable[[], None]] = []
        me = self.account
        for record in block.events:
            if record.pallet == "ModelRegistry" and record.name == "ModelDeprecated":
                deprecated = bytes(record.event.model_id.value)
                after.append(functools.partial(self._spawn_deprecated, deprecated))
            if record.pallet == "ModelRegistry" and record.name == "ModelUpdated":
                update = record.event
                after.append(
                    functools.partial(
                        self._spawn_model_updated,
                        bytes(update.model_id.value),
                        int(update.version),
                        bytes(update.cid).decode(),
                    )
                )
            if record.pallet == "Channels":
                after.append(functools.partial(self.direct.on_event, record, block))
            if record.pallet != "Inference":
                continue
            event = record.event
            name = record.name
            rid = int(getattr(event, "request_id", -1))
            if name == "InferenceRequested":
                if bytes(event.executor.value) == me:
                    mine.append((rid, record.extrinsic_index, event))
                else:
                    model_id = bytes(event.model_id.value)
                    after.append(functools.partial(self._observe, model_id))
            elif name == "ValidationRequested" and bytes(event.validator.value) == me:
                changes.new_validations.append(
                    ValidationJob(ChainRequestId(rid), ValidationState.PENDING, event.deadline)
                )
                self._my_validations.add(rid)
                after.append(functools.partial(self._spawn_validate, rid, None))
            elif name == "OutputRequested" and rid in self._my_jobs:
                after.append(functools.partial(self._spawn_provide, rid))
            elif name == "OutputProvided" and rid in self._my_validations:
                provided = (block, record.extrinsic_index)
                after.append(functools.partial(self._spawn_validate, rid, provided))
            elif name == "ResultSubmitted" and rid in self._my_jobs:
                changes.job_states.setdefault(ChainRequestId(rid), JobState.SUBMITTED)
            elif name in (
                "InferencePaid", "RequestExpired", "ValidationFailed", "OutputTimedOut",
                "RequestDeclined",
            ):  # fmt: skip
                outcome = {
                    "InferencePaid": JobState.COMPLETED,
                    "RequestExpired": JobState.EXPIRED,
                    "RequestDeclined": JobState.FAILED,
                }.get(name, JobState.REJECTED)
                if rid in self._my_jobs:
                    changes.job_states[ChainRequestId(rid)] = outcome
                    self.metrics.outcomes.labels("executor", outcome.value).inc()
                    if name == "InferencePaid" and bytes(event.executor.value) == me:
                        self.metrics.earnings.labels("model").inc(int(event.executor_amount))
                if rid in self._my_validations:
                    changes.validation_states[ChainRequestId(rid)] = ValidationState.DONE
        if mine:
            jobs = await asyncio.gather(*(self._new_job(block, *m) for m in mine))
            changes.new_jobs.extend(jobs)
        await self.store.commit_block(changes)
        for job in changes.new_jobs:
            self._my_jobs.add(job.request_id)
            self._seen_at[job.request_id] = seen
            if job.state is JobState.QUEUED:
                await self._enqueue(job.request_id, job.price)
        while self._to_decline:
            rid, reason = self._to_decline.pop()
            self._spawn(self._decline(rid, reason), f"ocw-decline-{rid}")
        for action in after:
            action()

    def _spawn_validate(self, rid: int, provided: tuple[Block, int | None] | None) -> None:
        self._spawn(self._validate(rid, provided), f"ocw-validate-{rid}")

    def _spawn_provide(self, rid: int) -> None:
        self._spawn(self._provide(rid), f"ocw-provide-{rid}")

    def _spawn_deprecated(self, model_id: bytes) -> None:
        self._spawn(self._deprecated(model_id), f"ocw-model-deprecated-{model_id.hex()[:8]}")

    async def _deprecated(self, model_id: bytes) -> None:
        """A deprecated model: every version of it known here leaves tier 1 and its pin."""
        cids = {cid for (mid, _), cid in self._cids.items() if mid == model_id}
        if model_id in self._model_cids:
            cids.add(self._model_cids[model_id])
        for cid in sorted(cids):
            try:
                await self.cache.retire(ModelKey(cid))
            except CacheError as exc:
                log.warning("could not retire %s (model %s): %s", cid, model_id.hex(), exc)
            else:
                log.info("model %s deprecated: %s unpinned", model_id.hex(), cid)

    def _spawn_model_updated(self, model_id: bytes, version: int, cid: str) -> None:
        self._cids[(model_id, version)] = cid
        self._spawn(self._model_updated(model_id, version, cid), f"ocw-model-updated-{version}")

    async def _model_updated(self, model_id: bytes, version: int, cid: str) -> None:
        """A new version of a model: fetch it ahead of its first request; the old one ages out.

        Only for models this provider serves (on-chain) or has seen requests for; the new
        version is loaded when the old one is loaded, otherwise only its files are fetched.
        """
        seen = model_id in self._model_cids
        if not seen:
            info = await self._query(STORAGE_PROVIDERS(types.AccountId32(self.account)))
            if info is None or model_id not in {bytes(m.value) for m in info.models}:
                return
        old = self._model_cids.get(model_id)
        if old is None and version > 1:
            try:
                old = await self._model_cid(model_id, version - 1)
            except JobFailed:
                old = None
        self._model_cids[model_id] = cid  # demand now counts for the new version
        log.info("model %s updated to version %d (%s): prefetching", model_id.hex(), version, cid)
        try:
            await self.cache.model_updated(ModelKey(old or cid), ModelKey(cid))
        except CacheError as exc:
            log.warning("prefetch of %s (model %s) failed: %s", cid, model_id.hex(), exc)

    def _observe(self, model_id: bytes) -> None:
        cid = self._model_cids.get(model_id)
        if cid is not None:
            self.cache.demand.observe(ModelKey(cid), time.time())
            return

        async def lookup() -> None:
            info = await self._query(STORAGE_MODELS(types.H256(model_id)))
            if info is not None:
                self._model_cids[model_id] = bytes(info.cid).decode()
                self.cache.demand.observe(ModelKey(self._model_cids[model_id]), time.time())

        self._spawn(lookup(), "ocw-demand")

    async def _new_job(self, block: Block, rid: int, index: int | None, event: Any) -> ExecJob:
        requester = AccountId(bytes(event.requester.value))
        req = await self.request_info(rid)
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
                model_cid = await self._model_cid(bytes(req.model_id.value), req.model_version)
                self._model_cids[bytes(req.model_id.value)] = model_cid
                self.cache.demand.observe(ModelKey(model_cid), time.time())
                if req.sealed:
                    call = request_call_in_block(self.bindings, block.extrinsics, index)
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
                    call = request_call_in_block(self.bindings, block.extrinsics, index)
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
            ChainRequestId(rid), state, block.number, index, int(event.deadline), requester,
            price, model_cid, max_tokens, inline, input_cid, error=error,
        )  # fmt: skip

    async def _enqueue(self, rid: int, price: int) -> None:
        if rid in self._queued:
            return
        self._queued.add(rid)
        await self._queue.put((-price, rid))

    # -- restart -----------------------------------------------------------------------------

    async def _reconcile(self) -> None:
        """Bring the local record in line with the chain; resume every unfinished job."""
        for job in await self.store.jobs():
            self._my_jobs.add(job.request_id)
            if job.state.terminal:
                continue
            req = await self.request_info(job.request_id)
            if req is None:
                await self.store.set_job_state(job.request_id, JobState.FAILED, error="unknown")
                continue
            name = _state_name(req.state)
            if name in _TERMINAL:
                await self.store.set_job_state(job.request_id, _TERMINAL[name])
            elif name == "AwaitingValidation":
                await self.store.set_job_state(job.request_id, JobState.SUBMITTED)
                state = req.state
                assert isinstance(state, types.RequestStateAwaitingValidation)
                if state.output_deadline is not None and job.output is not None:
                    self._spawn(self._provide(job.request_id), f"ocw-provide-{job.request_id}")
            elif job.state in (JobState.QUEUED, JobState.SUBMITTING, JobState.SUBMITTED):
                if job.state is JobState.SUBMITTED:
                    await self.store.set_job_state(job.request_id, JobState.SUBMITTING)
                self._seen_at[job.request_id] = time.perf_counter()
                self._queued.add(job.request_id)
                self._queue.put_nowait((-job.price, job.request_id))
        for validation in await self.store.validations():
            self._my_validations.add(validation.request_id)
            if validation.state in (ValidationState.PENDING, ValidationState.SUBMITTING):
                rid = validation.request_id
                self._spawn(self._validate(rid), f"ocw-validate-{rid}")

    # -- executor ----------------------------------------------------------------------------

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
                self._queued.discard(rid)
                self._workers[me] = False
                self._queue.task_done()

    async def _execute(self, rid: int) -> None:
        job = await self.store.job(rid)
        if job is None or job.state not in (JobState.QUEUED, JobState.SUBMITTING):
            return
        if job.state is JobState.SUBMITTING and job.output is not None:
            await self._submit_result(job, time.perf_counter(), 0.0, resume=True)
            return
        if self._head > job.deadline:
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
                    or self._head >= job.deadline
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
            req = await self.request_info(rid)
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
            receipt = await self._submit(inference.calls.decline(rid))
        except DaemonError as exc:
            log.warning("decline(%d) not submitted: %s", rid, exc)
            return
        if not receipt.success:
            log.warning("decline(%d) failed: %s", rid, receipt.error)

    async def _sealed_input_of(self, rid: int, req: types.InferenceRequest) -> types.SealedInput:
        cached = self._sealed_inputs.get(rid)
        if cached is not None:
            return cached
        call = await self._request_call(rid, req)
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
        req = await self.request_info(job.request_id)
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
        async with self._engine(job.model_cid) as engine:
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

    @contextlib.asynccontextmanager
    async def _engine(self, cid: str) -> Any:
        """The engine of a model, leased from the cache for the duration of the block."""
        try:
            lease = await self.cache.acquire(cid)
        except (OriginError, CacheTimeout) as exc:
            raise JobFailed(f"model {cid}: {exc}", retryable=True) from exc
        except (CacheLoadError, CapacityError) as exc:
            raise JobFailed(f"model {cid} cannot be loaded: {exc}") from exc
        except CacheError as exc:
            raise JobFailed(f"model {cid}: {exc}", retryable=True) from exc
        try:
            self._sizes[ModelKey(cid)] = lease.entry.size
            engine = self._engines.get(cid)
            if engine is None or engine.model is not lease.model:
                if engine is not None:
                    self._spawn(engine.close(), f"ocw-engine-close-{cid}")
                engine = ie.InferenceEngine(lease.model, self._engine_config)
                engine.start()
                self._engines[cid] = engine
            yield engine
        finally:
            await lease.release()

    async def _submit_result(
        self, job: ExecJob, seen: float, inference_s: float, *, resume: bool = False
    ) -> None:
        rid = job.request_id
        assert job.output is not None and job.output_hash is not None
        if resume:
            # a resubmission after a crash or failure: the chain may already have the result
            req = await self.request_info(rid)
            if req is None or _state_name(req.state) != "Assigned" or req.output_hash is not None:
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
            receipt = await self._submit(call)
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
        receipt = await self._submit(inference.calls.provide_output(rid, output))
        if not receipt.success:
            log.warning("provide_output(%d) failed: %s", rid, receipt.error)

    async def validator_payload(self, rid: int) -> bytes:
        """A sealed job's prompt and output re-sealed to the request's drawn validator."""
        job = await self.store.job(rid)
        req = await self.request_info(rid)
        if job is None or job.output is None or req is None:
            raise JobFailed(f"no output of {rid} here")
        if not isinstance(req.state, types.RequestStateAwaitingValidation):
            raise JobFailed(f"request {rid} awaits no validation")
        info = await self._query(STORAGE_PROVIDERS(req.state.validator))
        if info is None or info.encryption_key is None:
            raise JobFailed(f"the validator of {rid} publishes no encryption key")
        key = bytes(info.encryption_key)
        return validator_bundle(self.encryption_key, job.output, rid, req, key)

    # -- validator ---------------------------------------------------------------------------

    async def _request_call(
        self, rid: int, req: types.InferenceRequest
    ) -> types.PalletInferenceCallRequest:
        try:
            block = await self.client.block(req.created_at)
        except ChainClientError as exc:
            raise ChainError(f"block {req.created_at}: {exc}") from exc
        if block is None:
            raise JobFailed(f"block {req.created_at} is gone")
        index = next(
            (
                e.extrinsic_index
                for e in block.events
                if e.name == "InferenceRequested" and int(e.event.request_id) == rid
            ),
            None,
        )
        return request_call_in_block(self.bindings, block.extrinsics, index)

    async def _prompt_of(self, rid: int, req: types.InferenceRequest) -> str:
        if req.input_cid is not None:
            try:
                raw = await self.ipfs.fetch_bytes(
                    bytes(req.input_cid).decode(), max_size=self.config.max_input_bytes
                )
            except IpfsStoreError as exc:
                raise JobFailed(f"input of {rid}: {exc}", retryable=True) from exc
        else:
            call = await self._request_call(rid, req)
            if not isinstance(call.input, types.InferenceInputInline):
                raise JobFailed(f"request {rid} has no inline input")
            raw = bytes(call.input.value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JobFailed("the input is not UTF-8") from exc

    async def _fetch_from_executor(self, rid: int, req: types.InferenceRequest) -> bytes | None:
        assert self._session is not None and req.output_hash is not None
        info = await self._query(STORAGE_PROVIDERS(req.executor))
        if info is None:
            return None
        url = f"{bytes(info.endpoint).decode().rstrip('/')}/outputs/{rid}"
        deadline = time.monotonic() + self.config.fetch_timeout_s
        while time.monotonic() < deadline and not self._stopping.is_set():
            headers = sign_output_request(self.keypair, rid, int(time.time() * 1000))
            try:
                timeout = aiohttp.ClientTimeout(total=max(0.1, deadline - time.monotonic()))
                async with self._session.get(url, headers=headers, timeout=timeout) as resp:
                    if resp.status == 200:
                        data = await resp.content.read(ie_max_output() + 1)
                        # a sealed bundle is checked against the commitments once opened
                        if req.sealed or blake2_256(data) == bytes(req.output_hash.value):
                            return data
                        log.warning("executor's output for %d does not match its hash", rid)
                        return None
            except (aiohttp.ClientError, TimeoutError, ValueError):
                pass
            await asyncio.sleep(0.2)
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
        req = await self.request_info(rid)
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
                self.bindings, block.extrinsics, index, rid
            )
        else:
            output = await self._fetch_from_executor(rid, req)
        if output is None:
            receipt = await self._submit(inference.calls.request_output(rid))
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
        receipt = await self._submit(inference.calls.submit_validation(rid, valid))
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
        cid = await self._model_cid(bytes(req.model_id.value), req.model_version)
        async with self._engine(cid) as engine:
            try:
                timeout = self.config.inference_timeout_s
                if isinstance(output, ie.EmbeddingOutput):
                    embedding = ie.EmbeddingRequest(ie.RequestId(str(rid)), prompt)
                    report = await engine.validate(embedding, output, timeout_s=timeout)
                else:
                    params = ie.SamplingParams(max_tokens=req.max_tokens)
                    request = ie.GenerationRequest(ie.RequestId(str(rid)), prompt, params)
                    report = await engine.validate(request, output, timeout_s=timeout)
            except ie.InvalidRequestError:
                return False
            except ie.InferenceError as exc:
                raise JobFailed(f"validation could not run: {exc}") from exc
        if not report.passed:
            log.warning("output of %d failed validation: %s", rid, report.reason)
        return bool(report.passed)

    # -- preloading --------------------------------------------------------------------------

    async def _preload_loop(self) -> None:
        while not self._stopping.is_set():
            await asyncio.sleep(self.config.preload_interval_s)
            try:
                await self.cache.preload(None, dict(self._sizes))
            except CacheError as exc:
                log.info("preload skipped: %s", exc)
            try:  # pins of models another daemon evicted from the shared tier 2
                await self.cache.release_unheld()
            except CacheError as exc:
                log.info("pin sweep skipped: %s", exc)


def ie_max_output() -> int:
    return int(inference.constants.MAX_OUTPUT_BYTES)
