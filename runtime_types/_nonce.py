"""Per-account nonces handed out locally, so one account can keep many extrinsics in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["NonceManager"]


class NonceManager:
    """Hands out consecutive nonces per account; refetches after `resync`.

    The first nonce of an account (and the first after a resync) comes from `fetch`, which
    should return the chain's next index including pool transactions
    (`system_accountNextIndex`). Every later one is the previous plus one, with no round trip.
    """

    def __init__(self, fetch: Callable[[str], Awaitable[int]]) -> None:
        self._fetch = fetch
        self._next: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def next(self, account: str) -> int:
        lock = self._locks.setdefault(account, asyncio.Lock())
        async with lock:
            nonce = self._next.get(account)
            if nonce is None:
                nonce = await self._fetch(account)
            self._next[account] = nonce + 1
            return nonce

    def resync(self, account: str) -> None:
        """Forget the local nonce: the next one is fetched from the chain."""
        self._next.pop(account, None)

    def peek(self, account: str) -> int | None:
        return self._next.get(account)
