"""Errors of a resource used out of order.

    LifecycleError (RuntimeError: a programming error, as httpx raises)
    +-- AlreadyOpenedError   open() / async with on a resource already opened
    +-- ResourceClosedError  a resource used, opened or entered after close()

A package that wants its own closed error (so ``except <Package>Error`` keeps catching it)
subclasses both: ``class StoreClosed(StoreError, ResourceClosedError)``.
"""

from __future__ import annotations


class LifecycleError(RuntimeError):
    """A resource was used out of order (opened twice, used after close)."""


class AlreadyOpenedError(LifecycleError):
    """open() or ``async with`` on a resource that is already open (or opening)."""


class ResourceClosedError(LifecycleError):
    """The resource is closed: it cannot be used or opened again."""
