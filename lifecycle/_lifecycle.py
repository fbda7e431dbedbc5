"""The state machine (pure) and the async base class built on it."""

from __future__ import annotations

import enum
from collections.abc import Callable
from types import TracebackType
from typing import ClassVar, Self

from ._errors import AlreadyOpenedError, ResourceClosedError


class State(enum.Enum):
    UNOPENED = 1
    OPENED = 2
    CLOSED = 3


class Lifecycle:
    """The state of one resource. Pure: it only checks and records transitions.

    ``begin_open()`` / ``opened()`` / ``open_failed()`` around the acquisition,
    ``begin_close()`` (True only for the first call: that caller releases), ``check_usable()``
    before each use. A resource used without being opened (lazily) stays ``UNOPENED``.
    """

    def __init__(
        self, name: str, closed_error: Callable[[str], Exception] = ResourceClosedError
    ) -> None:
        self.name = name
        self.closed_error = closed_error
        self._state = State.UNOPENED
        self._opening = False

    @property
    def state(self) -> State:
        return self._state

    @property
    def closed(self) -> bool:
        return self._state is State.CLOSED

    def check_usable(self) -> None:
        """Raise the closed error if the resource is closed."""
        if self._state is State.CLOSED:
            raise self.closed_error(f"{self.name} is closed")

    def begin_open(self) -> None:
        """Called before acquiring; raises if opened (or opening) already, or closed."""
        self.check_usable()
        if self._opening or self._state is State.OPENED:
            raise AlreadyOpenedError(f"{self.name} was already opened: open it once")
        self._opening = True

    def opened(self) -> None:
        """The acquisition succeeded (a close() meanwhile wins: the state stays CLOSED)."""
        self._opening = False
        if self._state is State.UNOPENED:
            self._state = State.OPENED

    def open_failed(self) -> None:
        """The acquisition failed: the resource may be opened again."""
        self._opening = False

    def begin_close(self) -> bool:
        """Mark the resource closed; True for the first call only (that caller releases)."""
        if self._state is State.CLOSED:
            return False
        self._state = State.CLOSED
        return True

    def __repr__(self) -> str:
        return f"<Lifecycle {self.name} {self._state.name}>"


class AsyncResource:
    """Base class of a long-lived async resource.

    Subclasses override ``_aopen()`` (acquire; the default does nothing) and ``_aclose()``
    (release what was acquired, lazily or in ``_aopen``; called at most once, also when the
    resource was never opened) and call ``_check_usable()`` before each use. ``async with``
    closes the resource when ``_aopen`` fails, since ``__aexit__`` would not run;
    a failed ``open()`` leaves it unopened, so it may be retried.
    """

    #: raised (with a message) by _check_usable() and open() once closed
    closed_error: ClassVar[type[Exception]] = ResourceClosedError

    def __init__(self) -> None:
        self._lifecycle = Lifecycle(type(self).__name__, type(self).closed_error)

    @property
    def state(self) -> State:
        return self._lifecycle.state

    @property
    def closed(self) -> bool:
        return self._lifecycle.closed

    def _check_usable(self) -> None:
        self._lifecycle.check_usable()

    async def _aopen(self) -> None:
        return None

    async def _aclose(self) -> None:
        return None

    async def open(self) -> Self:
        self._lifecycle.begin_open()
        try:
            await self._aopen()
        except BaseException:
            self._lifecycle.open_failed()
            raise
        self._lifecycle.opened()
        return self

    async def close(self) -> None:
        """Release the resource. Idempotent: later calls return at once."""
        if self._lifecycle.begin_close():
            await self._aclose()

    async def __aenter__(self) -> Self:
        try:
            return await self.open()
        except AlreadyOpenedError:
            raise  # the resource is someone else's to close
        except BaseException:
            await self.close()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
