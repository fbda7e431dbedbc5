"""`ModelRegistryClient`: check a model directory, upload it to IPFS, register it on-chain."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from substrateinterface import Keypair
from substrateinterface.utils.ss58 import ss58_encode

import ipfs_store
from lifecycle import AsyncResource, State
from runtime_types import (
    ChainClient,
    ChainClientError,
    ClientConfig,
    ConnectionLost,
    ModuleError,
    Receipt,
    StorageEntry,
    unreachable_reason,
)
from runtime_types.generated import devnode as rt

from ._check import require_engine
from ._config import RegistryConfig
from ._errors import (
    BadModelDir,
    ChainError,
    HostileModel,
    IpfsUnavailable,
    NodeUnreachable,
    RegistryClientClosed,
    RegistryError,
    kubo_hint,
)
from ._types import TASKS, ModelId, ModelRecord, ModelVersionRecord, parse_model_id

if TYPE_CHECKING:
    import inference_engine

__all__ = ["ModelRegistryClient", "Progress", "UploadedModel", "check_model_dir"]

#: progress(done_bytes, total_bytes)
Progress = Callable[[int, int | None], None]
V = TypeVar("V")
PALLETS = ("System", "ModelRegistry", "Providers")
#: A refused connection is retried this long (a node that is just starting), then reported
REFUSED_WINDOW_S = 0.3


def check_model_dir(path: str | Path) -> inference_engine.ModelManifest:
    """inference_engine's loading checks (blocking: file names, small JSON, safetensors headers).

    `HostileModel` for pickle weights, remote code or an architecture outside the allow-list;
    `BadModelDir` for anything else that would not load.
    """
    require_engine()
    import inference_engine  # torch: only when a directory is checked, so the CLI starts fast

    directory = Path(path)
    if not directory.is_dir():
        raise BadModelDir(f"{directory} is not a directory")
    try:
        return inference_engine.inspect_model_dir(directory)
    except inference_engine.UnsafeModelError as exc:
        raise HostileModel(f"{directory}: {exc}", exc.reason) from exc
    except inference_engine.ModelLoadError as exc:
        raise BadModelDir(f"{directory}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class UploadedModel:
    """A directory added (and pinned) on IPFS: its CID and content bytes."""

    cid: str
    size_bytes: int


class ModelRegistryClient(AsyncResource):
    """The model author's operations; `async with` (or `connect()`) connects, `close()` is
    idempotent, and a closed client raises `RegistryClientClosed`.

    Every call that changes the chain takes the signing `Keypair` as an argument.
    """

    closed_error = RegistryClientClosed

    def __init__(self, config: RegistryConfig | None = None) -> None:
        super().__init__()
        self.config = config or RegistryConfig()
        self._chain: ChainClient | None = None
        self._ipfs: ipfs_store.IpfsStore | None = None

    async def connect(self) -> ModelRegistryClient:
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
                    submit_timeout=self.config.submit_timeout_s,
                    reconnect_timeout=self.config.connect_timeout_s,
                    connect_timeout=REFUSED_WINDOW_S,
                    socket_timeout=self.config.connect_timeout_s,
                ),
            )
            try:
                await chain.connect()
            except ConnectionLost as exc:
                await chain.close()
                raise NodeUnreachable(self.config.chain_url, unreachable_reason(exc)) from exc
            except ChainClientError as exc:
                await chain.close()
                raise ChainError(f"cannot use the node at {self.config.chain_url}: {exc}") from exc
            self._chain = chain

    async def _aclose(self) -> None:
        if self._chain is not None:
            await self._chain.close()
        if self._ipfs is not None:
            await self._ipfs.close()

    @property
    def chain(self) -> ChainClient:
        if self._chain is None:
            raise RegistryError("the client is not connected (use `async with`)")
        return self._chain

    # -- IPFS -------------------------------------------------------------------------------

    async def upload(self, path: str | Path, progress: Progress | None = None) -> UploadedModel:
        """Check the directory, then add it to IPFS (pinned)."""
        self._check_usable()
        await asyncio.to_thread(check_model_dir, path)
        if self._ipfs is None:
            self._ipfs = ipfs_store.IpfsStore(
                ipfs_store.StoreConfig(api_url=self.config.ipfs_api_url, retries=2)
            )
        try:
            added = await self._ipfs.add(Path(path), progress=progress)
        except ipfs_store.KuboUnavailable as exc:
            raise IpfsUnavailable(
                f"Kubo at {self.config.ipfs_api_url} is unreachable: {exc}"
                + kubo_hint(self.config.ipfs_api_url)
            ) from exc
        except ipfs_store.IpfsStoreError as exc:
            raise IpfsUnavailable(f"IPFS refused the upload: {exc}") from exc
        except OSError as exc:
            raise BadModelDir(f"cannot read {path}: {exc}") from exc
        return UploadedModel(str(added.cid), added.size)

    # -- calls ------------------------------------------------------------------------------

    async def register(
        self,
        keypair: Keypair,
        path: str | Path,
        *,
        name: str,
        task: str,
        price_per_1k_tokens: int,
        currency_id: int,
        author_share: int,
        progress: Progress | None = None,
    ) -> ModelRecord:
        """Check, upload and register a model directory; the record of the new model."""
        variant = TASKS.get(task)
        if variant is None:
            raise BadModelDir(f"unknown task {task!r} (one of {', '.join(TASKS)})")
        if task in ("text-generation", "embedding"):
            # the engine tells a sentence-transformers embedding model from a causal LM
            found = (await asyncio.to_thread(check_model_dir, path)).task.value
            if found != task:
                raise BadModelDir(f"the directory holds a {found} model, not {task}")
        uploaded = await self.upload(path, progress)
        existing = await self._query(rt.model_registry.storage.cid_to_model(uploaded.cid.encode()))
        if existing is not None:
            raise ChainError(
                f"CID {uploaded.cid} is already registered as model 0x{bytes(existing.value).hex()}",
                "DuplicateCid",
            )
        call = rt.model_registry.calls.register_model(
            uploaded.cid.encode(),
            name.encode("utf-8"),
            getattr(rt.types, f"ModelTask{variant}")(),
            rt.types.WeightFormatSafetensors(),
            uploaded.size_bytes,
            price_per_1k_tokens,
            currency_id,
            rt.types.Permill(author_share),
        )
        receipt = await self._submit(call, keypair)
        for record in receipt.events:
            if isinstance(record.event, rt.model_registry.events.ModelRegistered):
                return await self.show(_model_id(record.event.model_id))
        raise ChainError("register_model was included without a ModelRegistered event")

    async def update(
        self, keypair: Keypair, model_id: str, path: str | Path, progress: Progress | None = None
    ) -> ModelRecord:
        """Upload a new version of the model and point the registry at it."""
        mid = parse_model_id(model_id)
        await self._existing(mid)
        uploaded = await self.upload(path, progress)
        call = rt.model_registry.calls.update_model(
            _h256(mid), uploaded.cid.encode(), uploaded.size_bytes
        )
        await self._submit(call, keypair)
        return await self.show(mid)

    async def set_price(
        self, keypair: Keypair, model_id: str, price_per_1k_tokens: int, currency_id: int
    ) -> ModelRecord:
        mid = parse_model_id(model_id)
        await self._submit(
            rt.model_registry.calls.set_price(_h256(mid), price_per_1k_tokens, currency_id),
            keypair,
        )
        return await self.show(mid)

    async def deprecate(self, keypair: Keypair, model_id: str) -> ModelRecord:
        mid = parse_model_id(model_id)
        await self._submit(rt.model_registry.calls.deprecate_model(_h256(mid)), keypair)
        return await self.show(mid)

    # -- reads ------------------------------------------------------------------------------

    async def show(self, model_id: str) -> ModelRecord:
        """A model with every version and the providers serving it."""
        mid = parse_model_id(model_id)
        info = await self._existing(mid)
        versions = []
        for number in range(1, info.version + 1):
            version = await self._query(
                rt.model_registry.storage.model_versions(_h256(mid), number)
            )
            if version is not None:
                versions.append(
                    ModelVersionRecord(
                        number,
                        bytes(version.cid).decode(),
                        version.size_bytes,
                        version.registered_at,
                    )
                )
        providers = await self._query(rt.providers.storage.model_providers(_h256(mid)))
        return replace(
            _record(mid, info),
            versions=tuple(versions),
            providers=tuple(_ss58(p) for p in providers),
        )

    async def list_models(self, owner: str | None = None) -> list[ModelRecord]:
        """Every registered model (optionally only `owner`'s), ordered by registration block."""
        records = []
        for mid in await self._model_ids():
            info = await self._query(rt.model_registry.storage.models(_h256(mid)))
            if info is None:
                continue
            record = _record(mid, info)
            if owner is None or record.owner == owner:
                records.append(record)
        records.sort(key=lambda r: (r.registered_at, r.model_id))
        return records

    async def _model_ids(self) -> list[ModelId]:
        entry = rt.model_registry.storage.models(rt.types.H256(bytes(32)))
        ids: list[ModelId] = []
        try:
            async for key in self.chain.keys(replace(entry, keys=())):
                # Models is keyed by Identity(ModelId): the id is the key's last 32 bytes.
                ids.append(ModelId("0x" + key[-32:].hex()))
        except ChainClientError as exc:
            raise ChainError(f"cannot list models: {exc}") from exc
        return ids

    async def _existing(self, mid: ModelId) -> rt.types.ModelInfo:
        info = await self._query(rt.model_registry.storage.models(_h256(mid)))
        if info is None:
            raise ChainError(f"no model {mid} on-chain", "UnknownModel")
        return info

    async def _query(self, entry: StorageEntry[V]) -> V:
        try:
            return await self.chain.query(entry)
        except ChainClientError as exc:
            raise ChainError(f"query {entry.pallet}.{entry.name} failed: {exc}") from exc

    async def _submit(self, call: Any, keypair: Keypair) -> Receipt:
        try:
            receipt = await self.chain.submit(call, keypair, wait=self.config.wait_for)
        except ChainClientError as exc:
            raise ChainError(f"{call.pallet}.{call.name} was not included: {exc}") from exc
        error = receipt.error
        if error is not None:
            if isinstance(error, ModuleError):
                doc = (type(error).__doc__ or "").strip()
                raise ChainError(
                    f"{call.pallet}.{call.name} failed: {error.pallet}.{error.error}: {doc}",
                    error.error,
                ) from error
            raise ChainError(f"{call.pallet}.{call.name} failed: {error}") from error
        return receipt


def _record(mid: ModelId, info: rt.types.ModelInfo) -> ModelRecord:
    return ModelRecord(
        model_id=mid,
        owner=_ss58(info.owner),
        cid=bytes(info.cid).decode(),
        name=bytes(info.name).decode("utf-8", "replace"),
        task=str(type(info.task).__variant_name__),
        format=str(type(info.format).__variant_name__),
        size_bytes=info.size_bytes,
        price_per_1k_tokens=info.price_per_1k_tokens,
        currency_id=info.currency_id,
        author_share=info.author_share.value,
        version=info.version,
        status=str(type(info.status).__variant_name__),
        registered_at=info.registered_at,
    )


def _model_id(value: rt.types.H256) -> ModelId:
    return ModelId("0x" + bytes(value.value).hex())


def _h256(mid: ModelId) -> rt.types.H256:
    return rt.types.H256(bytes.fromhex(mid[2:]))


def _ss58(account: rt.types.AccountId32) -> str:
    return str(ss58_encode(bytes(account.value), 42))
