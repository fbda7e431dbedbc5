"""One way to own a long-lived async resource: open once, use, close idempotently.

A resource (a client, a store, a server) moves through three states, as httpx's client does::

    UNOPENED --open()/async with--> OPENED --close()--> CLOSED
        \\________________close()________________________/^

``AsyncResource`` is the base class: a subclass writes ``_aopen()`` (acquire) and ``_aclose()``
(release) and gets ``open()``, ``close()`` (idempotent), ``async with`` and ``state``. Opening
twice raises ``AlreadyOpenedError``; using or reopening after close raises the class's
``closed_error`` (a ``ResourceClosedError`` unless the package names its own). ``Lifecycle`` is
the pure state machine underneath, for a class that cannot take the base class.
"""

from ._errors import AlreadyOpenedError, LifecycleError, ResourceClosedError
from ._lifecycle import AsyncResource, Lifecycle, State

__all__ = [
    "AlreadyOpenedError",
    "AsyncResource",
    "Lifecycle",
    "LifecycleError",
    "ResourceClosedError",
    "State",
]
