"""The transaction pool: ready and future transactions per sender, bounded in size."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from ._errors import TransactionRejected
from ._runtime import Extrinsic, ValidTransaction

__all__ = ["PoolTx", "TransactionPool"]


@dataclass
class PoolTx:
    ext: Extrinsic
    valid: ValidTransaction
    hash: bytes
    arrival: int = field(default=0)

    @property
    def sender(self) -> bytes:
        return self.valid.sender

    @property
    def nonce(self) -> int:
        return self.valid.nonce


class TransactionPool:
    """Holds transactions until their nonce comes up; a future nonce waits for its predecessors."""

    def __init__(self, max_transactions: int = 16_384, max_per_sender: int = 1_024) -> None:
        self.max_transactions = max_transactions
        self.max_per_sender = max_per_sender
        self.by_hash: dict[bytes, PoolTx] = {}
        self.by_sender: dict[bytes, dict[int, PoolTx]] = {}
        self._arrivals = itertools.count()

    def __len__(self) -> int:
        return len(self.by_hash)

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self.by_hash

    def insert(self, tx: PoolTx) -> PoolTx | None:
        """Add `tx`; returns a transaction it replaced (same sender and nonce, lower tip)."""
        if tx.hash in self.by_hash:
            raise TransactionRejected.already_imported()
        slots = self.by_sender.get(tx.sender, {})
        existing = slots.get(tx.nonce)
        if existing is not None and existing.ext.tip >= tx.ext.tip:
            raise TransactionRejected(
                1014,
                "Priority is too low",
                f"Priority is too low: ({existing.ext.tip} vs {tx.ext.tip})",
            )
        if existing is None:
            if len(self.by_hash) >= self.max_transactions:
                raise TransactionRejected(
                    1016, "Immediately Dropped", "Immediately Dropped: the transaction pool is full"
                )
            if len(slots) >= self.max_per_sender:
                raise TransactionRejected(
                    1016,
                    "Immediately Dropped",
                    f"Immediately Dropped: the sender already has {len(slots)} pending transactions",
                )
        tx.arrival = next(self._arrivals)
        self.by_sender.setdefault(tx.sender, {})[tx.nonce] = tx
        self.by_hash[tx.hash] = tx
        if existing is not None:
            del self.by_hash[existing.hash]
        return existing

    def next_index(self, sender: bytes, chain_nonce: int) -> int:
        """The next nonce `sender` should use, counting its ready transactions in the pool."""
        slots = self.by_sender.get(sender, {})
        nonce = chain_nonce
        while nonce in slots:
            nonce += 1
        return nonce

    def ready(self, nonce_of: Callable[[bytes], int], limit: int) -> list[PoolTx]:
        """Transactions that can go into the next block in order: per sender, consecutive nonces."""
        heads: list[tuple[int, bytes]] = []
        for sender, slots in self.by_sender.items():
            first = slots.get(nonce_of(sender))
            if first is not None:
                heads.append((first.arrival, sender))
        heads.sort()
        batch: list[PoolTx] = []
        for _, sender in heads:
            slots = self.by_sender[sender]
            nonce = nonce_of(sender)
            while nonce in slots and len(batch) < limit:
                batch.append(slots[nonce])
                nonce += 1
            if len(batch) >= limit:
                break
        return batch

    def remove(self, tx_hash: bytes) -> PoolTx | None:
        tx = self.by_hash.pop(tx_hash, None)
        if tx is None:
            return None
        slots = self.by_sender.get(tx.sender)
        if slots is not None and slots.get(tx.nonce) is tx:
            del slots[tx.nonce]
            if not slots:
                del self.by_sender[tx.sender]
        return tx

    def prune_stale(self, nonce_of: Callable[[bytes], int]) -> list[PoolTx]:
        """Remove transactions whose nonce the chain has already used."""
        stale = [
            tx
            for sender, slots in self.by_sender.items()
            for nonce, tx in slots.items()
            if nonce < nonce_of(sender)
        ]
        for tx in stale:
            self.remove(tx.hash)
        return stale
