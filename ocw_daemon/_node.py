"""The chain as the daemon's roles use it: typed reads and this account's extrinsics.

Client errors are translated once, here, into the daemon's `ChainError`.
"""

from __future__ import annotations

from typing import Any

from substrateinterface import Keypair

from runtime_types import Bindings, Call, ChainClient, ChainClientError, Receipt
from runtime_types.generated.devnode import inference, types

from ._chain import STORAGE_REQUESTS, request_call_in_block
from ._errors import ChainError, JobFailed

__all__ = ["Node"]


class Node:
    """Reads and submissions for one account over one `ChainClient` (owned by the daemon)."""

    def __init__(self, client: ChainClient, keypair: Keypair) -> None:
        self.client = client
        self.keypair = keypair

    @property
    def bindings(self) -> Bindings:
        """The client's: the generated package's, or on a runtime with other metadata (the Rust
        runtime) the same classes over that runtime's metadata, once connected."""
        return self.client.bindings

    async def query(self, entry: Any) -> Any:
        try:
            return await self.client.query(entry)
        except ChainClientError as exc:
            raise ChainError(f"storage query failed: {exc}") from exc

    async def submit(self, call: Call[Any]) -> Receipt:
        try:
            return await self.client.submit(call, self.keypair)
        except ChainClientError as exc:
            raise ChainError(f"{call.pallet}.{call.name} was not included: {exc}") from exc

    async def request_info(self, request_id: int) -> types.InferenceRequest | None:
        info: types.InferenceRequest | None = await self.query(STORAGE_REQUESTS(request_id))
        return info

    async def request_call(
        self, rid: int, req: types.InferenceRequest
    ) -> types.PalletInferenceCallRequest:
        """The `Inference.request` call that placed `rid`, from its block `created_at`."""
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
                if isinstance(e.event, inference.events.InferenceRequested)
                and int(e.event.request_id) == rid
            ),
            None,
        )
        return request_call_in_block(self.bindings, block.extrinsics, index)
