"""Waiting on a condition in tests: until it holds, within a bound, with a message that says
what did not happen. For state that offers no awaitable event of its own (a listener set, a
daemon's head, a counter); where an event exists, wait on it instead."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable


async def until(
    check: Callable[[], bool | Awaitable[bool]], within: float, what: str, every: float = 0.01
) -> None:
    """Return once `check()` (sync or async) is true; AssertionError after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"{what}: not within {within} s"
        await asyncio.sleep(every)
