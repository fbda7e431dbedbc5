"""Interfaces to the layers around the cache: the origin (IPFS) and the model loader."""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from ipfs_store import ContentNotFound, IpfsStore, IpfsStoreError

from ._errors import OriginError
from ._types import ModelKey

M = TypeVar("M")
log = logging.getLogger("cache")


class Origin(Protocol):
    """Where models come from when no tier has them."""

    async def fetch(self, key: ModelKey, dest: Path) -> int:
        """Materialise ``key`` at ``dest`` (which must not exist); return its bytes."""
        ...


@runtime_checkable
class PinningOrigin(Origin, Protocol):
    """An origin that keeps what it delivered (pins), until the cache releases it."""

    async def release(self, key: ModelKey) -> None:
        """The model left every tier: stop keeping it (idempotent)."""
        ...

    async def kept(self) -> set[ModelKey]:
        """The models this origin keeps now (for a sweep after restarts)."""
        ...


class ModelLoader(Protocol[M]):
    """Turns a local model directory into a loaded model. Every method blocks (worker thread)."""

    def measure(self, path: Path) -> int:
        """Bytes of (device) memory the loaded model will take: its tier-1 size."""
        ...

    def load(self, path: Path, key: ModelKey) -> M: ...

    def release(self, model: M) -> None:
        """Free the model's memory (on CUDA too); it is no longer used after this."""
        ...

    def warm_up(self, model: M) -> None:
        """Run a first pass so the first real request does not pay for lazy setup."""
        ...


class IpfsOrigin:
    """``ipfs_store`` as the origin; its errors become ``OriginError``.

    With ``pin_name``, every model fetched is pinned in the local Kubo under that name (so
    Kubo's garbage collector never takes a model in use, and it can be served again from this
    node alone), and ``release`` unpins it when the cache no longer holds it in any tier.
    Only pins of that name are ever removed.
    """

    def __init__(
        self, store: IpfsStore, *, max_size: int | None = None, pin_name: str | None = None
    ) -> None:
        self.store = store
        self.max_size = max_size
        self.pin_name = pin_name

    async def fetch(self, key: ModelKey, dest: Path) -> int:
        try:
            result = await self.store.fetch(key, dest, max_size=self.max_size)
        except IpfsStoreError as exc:
            raise OriginError(f"origin could not deliver {key}: {exc}") from exc
        if self.pin_name is not None:
            # Every block is local now: the pin is a walk of the local DAG, no transfer. The
            # model is verified and delivered either way: a failed pin only costs durability.
            try:
                await self.store.pin(key, name=self.pin_name)
            except IpfsStoreError as exc:
                log.warning("could not pin %s in Kubo: %s", key, exc)
        return result.size

    async def release(self, key: ModelKey) -> None:
        if self.pin_name is None:
            return
        try:
            if str(key) in {str(c) for c in await self.store.pins(name=self.pin_name)}:
                await self.store.unpin(key)
        except ContentNotFound:
            pass  # not pinned (any more)
        except IpfsStoreError as exc:
            raise OriginError(f"could not unpin {key}: {exc}") from exc

    async def kept(self) -> set[ModelKey]:
        if self.pin_name is None:
            return set()
        try:
            return {ModelKey(str(c)) for c in await self.store.pins(name=self.pin_name)}
        except IpfsStoreError as exc:
            raise OriginError(f"could not list pins: {exc}") from exc


class EngineLoader:
    """``inference_engine`` as the loader: safe loading, placement and memory estimates.

    The tier-1 size is the engine's estimate (weights plus the KV cache for ``batch_size``
    sequences of ``context_tokens``, +10 %).
    """

    def __init__(
        self, config: Any = None, *, batch_size: int = 1, context_tokens: int = 2048
    ) -> None:
        from inference_engine import EngineConfig

        self.config: EngineConfig = config if config is not None else EngineConfig()
        self.batch_size = batch_size
        self.context_tokens = context_tokens

    def measure(self, path: Path) -> int:
        from inference_engine import estimate_memory, inspect_model_dir, select_placement

        manifest = inspect_model_dir(path)
        placement = select_placement(self.config, manifest, context_tokens=self.context_tokens)
        memory = estimate_memory(manifest, placement.dtype)
        return memory.total_bytes(self.batch_size, self.context_tokens)

    def load(self, path: Path, key: ModelKey) -> Any:
        from inference_engine import load_model

        return load_model(path, self.config, model_id=key)

    def release(self, model: Any) -> None:
        """Free a loaded model's memory, on CUDA too, even if a stray reference remains.

        Every parameter and buffer of the module is replaced by a storage-less ``meta``
        tensor (no copy to the host), so the weights' memory goes as soon as this returns;
        a caller that kept the model past its lease fails loudly instead of running on freed
        weights. Then garbage is collected and, when CUDA is in use, the caching allocator
        returns its free blocks to the driver (``torch.cuda.empty_cache()``).
        """
        import torch

        module = getattr(model, "module", None)
        del model
        if module is not None:
            with torch.no_grad():
                module.to_empty(device="meta")
            del module
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()  # a no-op unless this process initialised CUDA

    def warm_up(self, model: Any) -> None:
        from inference_engine import warm_up

        warm_up(model)  # a token of generation, or one embedding for an embedding model
