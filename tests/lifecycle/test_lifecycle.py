"""The lifecycle helper: states, idempotent close, typed errors out of order."""

from __future__ import annotations

import asyncio

import pytest

from lifecycle import (
    AlreadyOpenedError,
    AsyncResource,
    Lifecycle,
    LifecycleError,
    ResourceClosedError,
    State,
)


class StoreError(Exception):
    pass


class StoreClosed(StoreError, ResourceClosedError):
    pass


class Resource(AsyncResource):
    closed_error = StoreClosed

    def __init__(self, fail_opens: int = 0) -> None:
        super().__init__()
        self.fail_opens = fail_opens
        self.opens = 0
        self.closes = 0

    async def _aopen(self) -> None:
        await asyncio.sleep(0)
        if self.fail_opens:
            self.fail_opens -= 1
            raise OSError("refused")
        self.opens += 1

    async def _aclose(self) -> None:
        await asyncio.sleep(0)
        self.closes += 1

    def use(self) -> str:
        self._check_usable()
        return "ok"


def is_state(obj: Lifecycle | AsyncResource, state: State) -> bool:
    """Read the state afresh (mypy would otherwise narrow it across awaits)."""
    return obj.state is state


def test_pure_state_machine() -> None:
    life = Lifecycle("thing")
    assert is_state(life, State.UNOPENED)
    life.check_usable()
    life.begin_open()
    with pytest.raises(AlreadyOpenedError):
        life.begin_open()  # while opening
    life.opened()
    assert is_state(life, State.OPENED)
    with pytest.raises(AlreadyOpenedError, match="thing was already opened"):
        life.begin_open()
    assert life.begin_close() is True
    assert life.begin_close() is False
    assert is_state(life, State.CLOSED) and life.closed
    with pytest.raises(ResourceClosedError, match="thing is closed"):
        life.check_usable()
    with pytest.raises(ResourceClosedError):
        life.begin_open()


def test_failed_open_may_be_retried_and_close_during_open_wins() -> None:
    life = Lifecycle("thing")
    life.begin_open()
    life.open_failed()
    assert is_state(life, State.UNOPENED)
    life.begin_open()
    assert life.begin_close() is True
    life.opened()
    assert is_state(life, State.CLOSED)


async def test_async_with_opens_and_closes_once() -> None:
    res = Resource()
    assert is_state(res, State.UNOPENED)
    async with res as entered:
        assert entered is res
        assert is_state(res, State.OPENED) and res.use() == "ok"
    assert is_state(res, State.CLOSED) and res.closed
    await res.close()
    await res.close()
    assert (res.opens, res.closes) == (1, 1)


async def test_used_after_close_raises_the_package_error() -> None:
    res = Resource()
    await res.close()
    assert res.closes == 1  # never opened, still released once (lazy acquisitions)
    with pytest.raises(StoreClosed, match="Resource is closed") as info:
        res.use()
    assert isinstance(info.value, StoreError) and isinstance(info.value, LifecycleError)
    with pytest.raises(StoreClosed):
        await res.open()
    with pytest.raises(StoreClosed):
        async with res:
            pass
    assert res.opens == 0


async def test_opened_twice_raises_and_leaves_the_resource_open() -> None:
    res = Resource()
    await res.open()
    with pytest.raises(AlreadyOpenedError):
        await res.open()
    with pytest.raises(AlreadyOpenedError):
        async with res:
            pass
    assert is_state(res, State.OPENED) and res.closes == 0
    await res.close()


async def test_concurrent_opens_one_wins() -> None:
    res = Resource()
    results = await asyncio.gather(res.open(), res.open(), return_exceptions=True)
    assert sum(r is res for r in results) == 1
    assert sum(isinstance(r, AlreadyOpenedError) for r in results) == 1
    assert res.opens == 1
    await res.close()


async def test_failed_open_retry_and_failed_enter_closes() -> None:
    res = Resource(fail_opens=1)
    with pytest.raises(OSError):
        await res.open()
    assert is_state(res, State.UNOPENED) and res.closes == 0
    await res.open()
    assert is_state(res, State.OPENED)
    await res.close()

    entered = Resource(fail_opens=1)
    with pytest.raises(OSError):
        async with entered:
            pass
    assert is_state(entered, State.CLOSED) and entered.closes == 1


async def test_concurrent_closes_release_once() -> None:
    res = Resource()
    await res.open()
    await asyncio.gather(res.close(), res.close(), res.close())
    assert res.closes == 1


async def test_exception_in_body_still_closes() -> None:
    res = Resource()
    with pytest.raises(KeyError):
        async with res:
            raise KeyError("x")
    assert res.closes == 1 and is_state(res, State.CLOSED)
