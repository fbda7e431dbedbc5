"""Which CID each model is, the demand for it, and the cache's side of registry events.

`ModelUpdated` prefetches a served model's new version; `ModelDeprecated` retires every known
version; the preload loop warms the most demanded models and sweeps pins of models evicted
elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import time

import inference_engine as ie
from cache import CacheError, ModelCache, ModelKey
from runtime_types.generated.devnode import types

from ._chain import STORAGE_MODEL_VERSIONS, STORAGE_MODELS, STORAGE_PROVIDERS
from ._errors import JobFailed
from ._node import Node
from ._tasks import SideTasks
from ._types import AccountId

__all__ = ["ModelCatalog"]

log = logging.getLogger("ocw_daemon")


class ModelCatalog:
    """The CIDs of model versions (read once from the registry) and of each model's current one."""

    def __init__(
        self,
        node: Node,
        cache: ModelCache[ie.LoadedModel],
        account: AccountId,
        tasks: SideTasks,
    ) -> None:
        self._node = node
        self._cache = cache
        self._account = account
        self._tasks = tasks
        self._cids: dict[tuple[bytes, int], str] = {}
        #: The CID demand counts for, per model id (the version last seen)
        self.current: dict[bytes, str] = {}

    async def cid_of(self, model_id: bytes, version: int) -> str:
        key = (model_id, version)
        if key not in self._cids:
            found = await self._node.query(STORAGE_MODEL_VERSIONS(types.H256(model_id), version))
            if found is None:
                raise JobFailed(f"model {model_id.hex()} has no version {version}")
            self._cids[key] = bytes(found.cid).decode()
        return self._cids[key]

    def serving(self, model_id: bytes, cid: str) -> None:
        """A request for `model_id` at `cid` is served here: demand counts for it."""
        self.current[model_id] = cid
        self._cache.demand.observe(ModelKey(cid), time.time())

    def warm(self, loaded: set[str]) -> list[str]:
        """The model ids (hex) whose current version has an engine."""
        return sorted("0x" + m.hex() for m, cid in self.current.items() if cid in loaded)

    def observe(self, model_id: bytes) -> None:
        """Another executor's request: demand for its model (looked up once)."""
        cid = self.current.get(model_id)
        if cid is not None:
            self._cache.demand.observe(ModelKey(cid), time.time())
            return

        async def lookup() -> None:
            info = await self._node.query(STORAGE_MODELS(types.H256(model_id)))
            if info is not None:
                self.current[model_id] = bytes(info.cid).decode()
                self._cache.demand.observe(ModelKey(self.current[model_id]), time.time())

        self._tasks.spawn(lookup(), "ocw-demand")

    # -- registry events -----------------------------------------------------------------------

    def version_announced(self, model_id: bytes, version: int, cid: str) -> None:
        """`ModelUpdated`: the version's CID is known at once; the prefetch runs as a task."""
        self._cids[(model_id, version)] = cid
        self._tasks.spawn(self.prefetch(model_id, version, cid), f"ocw-model-updated-{version}")

    async def prefetch(self, model_id: bytes, version: int, cid: str) -> None:
        """A new version of a model: fetch it ahead of its first request; the old one ages out.

        Only for models this provider serves (on-chain) or has seen requests for; the new
        version is loaded when the old one is loaded, otherwise only its files are fetched.
        A failed prefetch is logged: the version is then fetched on its first request.
        """
        seen = model_id in self.current
        if not seen:
            info = await self._node.query(STORAGE_PROVIDERS(types.AccountId32(self._account)))
            if info is None or model_id not in {bytes(m.value) for m in info.models}:
                return
        old = self.current.get(model_id)
        if old is None and version > 1:
            try:
                old = await self.cid_of(model_id, version - 1)
            except JobFailed:
                old = None
        self.current[model_id] = cid  # demand now counts for the new version
        log.info("model %s updated to version %d (%s): prefetching", model_id.hex(), version, cid)
        try:
            await self._cache.model_updated(ModelKey(old or cid), ModelKey(cid))
        except CacheError as exc:
            log.warning("prefetch of %s (model %s) failed: %s", cid, model_id.hex(), exc)

    def deprecated(self, model_id: bytes) -> None:
        """`ModelDeprecated`: retire its versions (a task)."""
        self._tasks.spawn(self.retire(model_id), f"ocw-model-deprecated-{model_id.hex()[:8]}")

    async def retire(self, model_id: bytes) -> None:
        """A deprecated model: every version of it known here leaves tier 1 and its pin."""
        cids = {cid for (mid, _), cid in self._cids.items() if mid == model_id}
        if model_id in self.current:
            cids.add(self.current[model_id])
        for cid in sorted(cids):
            try:
                await self._cache.retire(ModelKey(cid))
            except CacheError as exc:
                log.warning("could not retire %s (model %s): %s", cid, model_id.hex(), exc)
            else:
                log.info("model %s deprecated: %s unpinned", model_id.hex(), cid)

    # -- preloading ----------------------------------------------------------------------------

    async def preload_loop(self, interval_s: float, sizes: dict[ModelKey, int]) -> None:
        """Every `interval_s`: preload the most demanded models, sweep evicted models' pins."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self._cache.preload(None, dict(sizes))
            except CacheError as exc:
                log.info("preload skipped: %s", exc)
            try:  # pins of models another daemon evicted from the shared tier 2
                await self._cache.release_unheld()
            except CacheError as exc:
                log.info("pin sweep skipped: %s", exc)
