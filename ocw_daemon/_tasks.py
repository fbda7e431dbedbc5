"""The daemon's short background work (validations, `provide_output`, model prefetches)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

__all__ = ["SideTasks"]

log = logging.getLogger("ocw_daemon")


class SideTasks:
    """Tasks run at most `limit` at once; a failure is logged, never lost silently."""

    def __init__(self, limit: int) -> None:
        self._limit = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Awaitable[None], name: str) -> None:
        async def bounded() -> None:
            async with self._limit:
                await coro

        task = asyncio.create_task(bounded(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    @property
    def pending(self) -> list[asyncio.Task[None]]:
        return list(self._tasks)
