"""The engine pool: one `InferenceEngine` per loaded model, leased from the cache per job.

Executor and validators (on-chain and direct) share it; `judge` is the one way a validator
re-runs a claimed output (`InferenceEngine.validate`, teacher-forced or by cosine).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import inference_engine as ie
from cache import (
    CacheError,
    CacheLoadError,
    CacheTimeout,
    CapacityError,
    ModelCache,
    ModelKey,
    OriginError,
)

from ._errors import JobFailed
from ._tasks import SideTasks

__all__ = ["EnginePool"]

log = logging.getLogger("ocw_daemon")


class EnginePool:
    """Engines over the models the cache holds; `close()` closes every engine."""

    def __init__(
        self, cache: ModelCache[ie.LoadedModel], config: ie.EngineConfig, tasks: SideTasks
    ) -> None:
        self._cache = cache
        self._config = config
        self._tasks = tasks
        self._engines: dict[str, ie.InferenceEngine] = {}
        #: The size of each model leased so far (what preloading weighs)
        self.sizes: dict[ModelKey, int] = {}

    @property
    def loaded(self) -> set[str]:
        """The CIDs that have an engine."""
        return set(self._engines)

    @contextlib.asynccontextmanager
    async def lease(self, cid: str) -> AsyncIterator[ie.InferenceEngine]:
        """The engine of a model, leased from the cache for the duration of the block."""
        try:
            lease = await self._cache.acquire(cid)
        except (OriginError, CacheTimeout) as exc:
            raise JobFailed(f"model {cid}: {exc}", retryable=True) from exc
        except (CacheLoadError, CapacityError) as exc:
            raise JobFailed(f"model {cid} cannot be loaded: {exc}") from exc
        except CacheError as exc:
            raise JobFailed(f"model {cid}: {exc}", retryable=True) from exc
        try:
            self.sizes[ModelKey(cid)] = lease.entry.size
            engine = self._engines.get(cid)
            if engine is None or engine.model is not lease.model:
                if engine is not None:
                    self._tasks.spawn(engine.close(), f"ocw-engine-close-{cid}")
                engine = ie.InferenceEngine(lease.model, self._config)
                engine.start()
                self._engines[cid] = engine
            yield engine
        finally:
            await lease.release()

    async def judge(
        self,
        cid: str,
        wanted: ie.GenerationRequest | ie.EmbeddingRequest,
        claimed: ie.OutputRecord,
        what: str,
    ) -> bool:
        """Whether `claimed` is what the model gives for `wanted` (`what` names it in logs).

        A request the model refuses is judged invalid; an engine that cannot run is a
        `JobFailed` (no verdict).
        """
        async with self.lease(cid) as engine:
            timeout = self._config.request_timeout_s
            try:
                if isinstance(claimed, ie.EmbeddingOutput):
                    if not isinstance(wanted, ie.EmbeddingRequest):
                        return False
                    report = await engine.validate(wanted, claimed, timeout_s=timeout)
                else:
                    if not isinstance(wanted, ie.GenerationRequest):
                        return False
                    report = await engine.validate(wanted, claimed, timeout_s=timeout)
            except ie.InvalidRequestError:
                return False
            except ie.InferenceError as exc:
                raise JobFailed(f"validation could not run: {exc}") from exc
        if not report.passed:
            log.warning("%s failed validation: %s", what, report.reason)
        return bool(report.passed)

    async def close(self) -> None:
        for engine in list(self._engines.values()):
            with contextlib.suppress(Exception):
                await engine.close()
