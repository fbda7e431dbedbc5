"""The daemon: follows finalized blocks and hands each block's plan to its roles.

`plan` (`_planner.py`) decides what a block means; the executor (`_executor.py`) and the
validator (`_validator.py`) carry out the actions, sharing the engine pool (`_engines.py`), the
model catalog (`_models.py`) and the chain (`_node.py`); the output server
(`_output_server.py`) sees the daemon as an `OutputSource` only. Everything long-lived is
entered on one `AsyncExitStack`, so `close()` releases it in reverse order, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import aiohttp
from substrateinterface import Keypair

import inference_engine as ie
from cache import CacheConfig, EngineLoader, IpfsOrigin, ModelCache, ModelLoader
from ipfs_store import IpfsStore, StoreConfig
from runtime_types import (
    Bindings,
    Block,
    ChainClient,
    ChainClientError,
    ClientConfig,
    IncompatibleMetadata,
)
from runtime_types.generated.devnode import BINDINGS, types

from ._config import DaemonConfig, load_encryption_key
from ._direct import DirectExecutor
from ._engines import EnginePool
from ._errors import ChainError, DaemonError
from ._executor import Executor, JobTiming
from ._metrics import DaemonMetrics
from ._models import ModelCatalog
from ._node import Node
from ._output_server import OutputServer
from ._planner import (
    Action,
    AdmitJob,
    CountOutcome,
    Earned,
    Known,
    ObserveDemand,
    PrefetchVersion,
    ProvideOutput,
    RetireModel,
    Validate,
    ValidateDirect,
    ValidateProvided,
    plan,
    resume_job,
    resume_validation,
)
from ._roles import RoleParts
from ._status import sign_status, status_document
from ._store import BlockChanges, JobStore
from ._tasks import SideTasks
from ._types import AccountId, ExecJob
from ._validator import Validator

__all__ = ["MODEL_PIN_NAME", "Daemon", "JobTiming"]

# The name of the Kubo pins this daemon keeps for the models it serves (others are not touched).
MODEL_PIN_NAME = "ocw-model"

log = logging.getLogger("ocw_daemon")

#: Each attempt at reaching the node at start-up lasts this long before it is logged and retried
NODE_ATTEMPT_S = 2.0
#: /healthz gives the node this long to answer
HEALTH_PROBE_S = 1.0


class Daemon:
    """`async with Daemon(config, keypair) as daemon: await daemon.wait_stopped()`.

    `stop()` (SIGTERM) stops taking jobs and gives in-flight ones `grace_period_s` to finish;
    `close()` is idempotent.
    """

    #: The executor role (a test may put in one that misbehaves)
    executor_class: type[Executor] = Executor

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
        self.bindings = bindings
        engine_config = ie.EngineConfig(
            device=config.device, request_timeout_s=config.inference_timeout_s
        )
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
            loader or EngineLoader(engine_config),
        )
        self.metrics = DaemonMetrics(self._cache_metrics)
        self.node = Node(self.client, keypair)
        self.tasks = SideTasks(config.validators)
        self.engines = EnginePool(self.cache, engine_config, self.tasks)
        self.models = ModelCatalog(self.node, self.cache, self.account, self.tasks)
        #: The HTTP client validators fetch outputs with (open while the daemon runs)
        self.session: aiohttp.ClientSession | None = None
        self._stopping = asyncio.Event()
        parts = RoleParts(
            config, self.node, self.store, self.ipfs, self.engines, self.models, self.metrics,
            self.tasks, self.encryption_key, self._stopping,
        )  # fmt: skip
        self.executor = self.executor_class(parts, head=lambda: self._head)
        self.validator = Validator(parts, session=lambda: self.session)
        self.direct = DirectExecutor(self)
        self.http = OutputServer(self, self.direct.add_routes)
        self._head = 0
        self._follower: asyncio.Task[None] | None = None
        self._preloader: asyncio.Task[None] | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._stopped = asyncio.Event()
        self._closed = False
        self._started = False
        self._ready = False
        self._not_ready = "starting"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> Daemon:
        self._started = True
        self._stack = stack = contextlib.AsyncExitStack()
        try:
            # released in reverse: tasks, direct path, engines, HTTP, session, node, cache...
            await stack.enter_async_context(self.store)
            await stack.enter_async_context(self.ipfs)
            await stack.enter_async_context(self.cache)
            stack.push_async_callback(self.client.close)
            self.session = await stack.enter_async_context(aiohttp.ClientSession())
            stack.push_async_callback(self.http.close)
            await self.http.start(self.config.http_host, self.config.http_port)
            stack.push_async_callback(self.engines.close)
            stack.push_async_callback(self.direct.close)
            stack.push_async_callback(self._settle_tasks)
            if not await self._connect_node():
                return self  # stop() came before the node answered
            await self._reconcile()
            self.executor.start_workers()
            self._follower = asyncio.create_task(self._follow(), name="ocw-follower")
            if self.config.preload_interval_s > 0:
                self._preloader = asyncio.create_task(
                    self.models.preload_loop(self.config.preload_interval_s, self.engines.sizes),
                    name="ocw-preload",
                )
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

    @property
    def queue_depth(self) -> int:
        """On-chain jobs waiting for a worker (the signed status adds direct streams)."""
        return self.executor.queue_depth

    @property
    def timings(self) -> list[JobTiming]:
        """Each executed job's timing (bench/e2e_latency.py)."""
        return self.executor.timings

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
            if self._stack is not None:
                await self._stack.aclose()
        finally:
            self._stopped.set()

    async def _settle_tasks(self) -> None:
        """Stop following; busy workers and side tasks get the grace period, then are cancelled."""
        for task in (self._follower, self._preloader):
            if task is not None:
                task.cancel()
        workers = self.executor.stop_idle_workers()
        pending = [t for t in workers if not t.done()] + self.tasks.pending
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.config.grace_period_s)
            for task in late:
                task.cancel()
        everything = [
            t for t in (self._follower, self._preloader, *workers, *self.tasks.pending)
            if t is not None
        ]  # fmt: skip
        await asyncio.gather(*everything, return_exceptions=True)

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
        """Plan the block, admit its new jobs, commit it in one transaction, then act."""
        self._head = max(self._head, block.number)
        result = plan(block, self.account, Known(self.executor.jobs, self.validator.validations))
        self.validator.validations |= result.known.validations
        admitted = await asyncio.gather(*(self.executor.admit(block, a) for a in result.admitted))
        jobs = list(admitted)
        planned = result.changes
        await self.store.commit_block(
            BlockChanges(
                planned.number,
                jobs,
                list(planned.new_validations),
                dict(planned.job_states),
                dict(planned.validation_states),
            )
        )
        await self.executor.accepted(jobs, seen)
        for action in result.actions:
            self._carry_out(block, action)

    def _carry_out(self, block: Block, action: Action) -> None:
        """One planned action, once its block is committed (long work goes to a task)."""
        match action:
            case AdmitJob():
                pass  # admitted with the commit
            case ObserveDemand(model_id):
                self.models.observe(model_id)
            case Validate(rid):
                self.validator.validate_later(rid)
            case ValidateProvided(rid, index):
                self.validator.validate_later(rid, (block, index))
            case ProvideOutput(rid):
                self.executor.provide_later(rid)
            case CountOutcome(_, outcome):
                self.metrics.outcomes.labels("executor", outcome.value).inc()
            case Earned(_, amount):
                self.metrics.earnings.labels("model").inc(amount)
            case PrefetchVersion(model_id, version, cid):
                self.models.version_announced(model_id, version, cid)
            case RetireModel(model_id):
                self.models.deprecated(model_id)
            case ValidateDirect(direct_id):
                self.direct.validate_drawn(direct_id)

    # -- restart -----------------------------------------------------------------------------

    async def _reconcile(self) -> None:
        """Bring the local record in line with the chain; resume every unfinished job."""
        for job in await self.store.jobs():
            self.executor.jobs.add(job.request_id)
            if job.state.terminal:
                continue
            resume = resume_job(job, await self.node.request_info(job.request_id))
            if resume.state is not None:
                await self.store.set_job_state(job.request_id, resume.state, error=resume.error)
            self.executor.resume(job, resume)
        for validation in await self.store.validations():
            self.validator.validations.add(validation.request_id)
            if resume_validation(validation):
                self.validator.validate_later(validation.request_id)

    # -- what the output server sees (OutputSource) --------------------------------------------

    @property
    def address(self) -> str:
        return str(self.keypair.ss58_address)

    async def kept_job(self, request_id: int) -> ExecJob | None:
        return await self.store.job(request_id)

    async def request_info(self, request_id: int) -> types.InferenceRequest | None:
        return await self.node.request_info(request_id)

    async def validator_of(self, request_id: int) -> bytes | None:
        info = await self.node.request_info(request_id)
        state = None if info is None else info.state
        if isinstance(state, types.RequestStateAwaitingValidation):
            return bytes(state.validator.value)
        return None

    async def validator_payload(self, request_id: int) -> bytes:
        """A sealed job's prompt and output re-sealed to the request's drawn validator."""
        return await self.executor.validator_payload(request_id)

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

    async def signed_status(self, nonce: str) -> dict[str, Any]:
        document = status_document(
            account=self.keypair.ss58_address,
            endpoint=self.config.endpoint,
            models=self.config.provider.models,
            ready=not await self.not_ready_reason(),
            last_block=self.head,
            nonce=nonce,
        )
        document.update(self.direct.status_fields())  # warm models, queue depth, ttft_ms
        return sign_status(self.keypair, document)

    async def render_metrics(self) -> bytes:
        with contextlib.suppress(DaemonError):
            self.metrics.job_counts = await self.store.counts()
        return self.metrics.render()
