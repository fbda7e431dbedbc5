"""A pure state machine over the runtime: genesis, blocks and calls on a dict, no server.

Used by tests and benchmarks to drive the pallets' state transition functions directly. Calls
are dispatched as the runtime does (transactional, rolled back on error) but without fees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._hashing import blake2_256
from .._pallet import Origin, StorageItem

if TYPE_CHECKING:
    from .._runtime import CallContext, Runtime

__all__ = ["StateMachine"]


class StateMachine:
    def __init__(
        self, accounts: list[bytes], endowment: int = 1 << 60, runtime: Runtime | None = None
    ) -> None:
        """Genesis of `runtime` (devnode's own by default) with `accounts` endowed."""
        from .._runtime import RUNTIME

        self.runtime: Runtime = runtime or RUNTIME
        changes = self.runtime.genesis_changes([(a, endowment) for a in accounts], accounts[0])
        self.state: dict[bytes, bytes] = {k: v for k, v in changes.items() if v is not None}
        self.number = 0
        self.parent_hash = blake2_256(b"genesis")
        self.events: list[dict[str, Any]] = []

    def _ctx(self) -> CallContext:
        from .._runtime import CallContext, Overlay

        return CallContext(
            self.runtime, Overlay(self.state.get), self.number, self.parent_hash, None
        )

    def _commit(self, ctx: CallContext) -> None:
        for key, value in ctx.overlay.changes.items():
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value
        self.events = ctx.events

    def next_block(self, parent_hash: bytes | None = None) -> list[dict[str, Any]]:
        """Start block `number + 1` and run every pallet's `on_initialize`; returns its events."""
        self.parent_hash = parent_hash or blake2_256(self.parent_hash + b"next")
        self.number += 1
        ctx = self._ctx()
        for pallet in self.runtime.pallets:
            pallet.on_initialize(ctx)
        self._commit(ctx)
        return ctx.events

    def call(self, origin: Origin, pallet: str, call: str, /, **args: Any) -> list[dict[str, Any]]:
        """Dispatch a call in the current block; raises `DispatchFailure` (state unchanged)."""
        ctx = self._ctx()
        with ctx.transactional():
            self.runtime.dispatch(ctx, (pallet, (call, args)), origin)
        self._commit(ctx)
        return ctx.events

    def signed(self, who: bytes, pallet: str, call: str, /, **args: Any) -> list[dict[str, Any]]:
        return self.call(Origin.signed(who), pallet, call, **args)

    def get(self, pallet: str, item: str, *keys: Any) -> Any:
        storage: StorageItem = self.runtime.by_name[pallet].storage[item]
        return self._ctx().get(storage, *keys)

    @staticmethod
    def event_names(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(e["event"][0], e["event"][1][0]) for e in events]

    @staticmethod
    def find(events: list[dict[str, Any]], pallet: str, name: str) -> Any:
        for e in events:
            if e["event"][0] == pallet and e["event"][1][0] == name:
                return e["event"][1][1]
        raise KeyError(f"no {pallet}.{name} event")
