"""What the executor and the validator roles share: the daemon's parts, handed over once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import sealing
from ipfs_store import IpfsStore

from ._config import DaemonConfig
from ._engines import EnginePool
from ._metrics import DaemonMetrics
from ._models import ModelCatalog
from ._node import Node
from ._store import JobStore
from ._tasks import SideTasks
from ._types import AccountId

__all__ = ["Role", "RoleParts"]


@dataclass(frozen=True, slots=True)
class RoleParts:
    """The daemon's parts a role works with (the daemon owns and closes them)."""

    config: DaemonConfig
    node: Node
    store: JobStore
    ipfs: IpfsStore
    engines: EnginePool
    models: ModelCatalog
    metrics: DaemonMetrics
    tasks: SideTasks
    #: X25519: what sealed inputs and validator payloads are sealed to
    encryption_key: sealing.EncryptionKey
    #: Set once the daemon stops taking work
    stopping: asyncio.Event


class Role:
    """A role of the daemon, with the parts it works with as attributes."""

    def __init__(self, parts: RoleParts) -> None:
        self.config = parts.config
        self._node = parts.node
        self.account = AccountId(bytes(parts.node.keypair.public_key))
        self.encryption_key = parts.encryption_key
        self.store = parts.store
        self.ipfs = parts.ipfs
        self._engines = parts.engines
        self._models = parts.models
        self.metrics = parts.metrics
        self._tasks = parts.tasks
        self._stopping = parts.stopping
