"""The chain: genesis, block production, finality, the pool, history and persistence."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._block import Block, BlockHash, Header, extrinsics_root
from ._config import DevNodeConfig
from ._errors import DevnodeError, TransactionRejected
from ._hashing import blake2_256
from ._pool import PoolTx, TransactionPool
from ._primitives import DIGEST_ITEM
from ._runtime import RUNTIME, Runtime
from ._storage import ReadFn, VersionedStorage

__all__ = ["DEV_ACCOUNTS", "Chain", "TxStatus"]

log = logging.getLogger("devnode.chain")

DEV_ACCOUNTS = ("Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie")

#: Transaction status updates, in Substrate's `author_extrinsicUpdate` JSON shape.
TxStatus = str | dict[str, Any]
BlockListener = Callable[[Block], None]
StatusListener = Callable[[TxStatus], None]


def dev_account_ids() -> list[bytes]:
    """The sr25519 public keys of //Alice .. //Ferdie (derived like every Substrate dev chain)."""
    from substrateinterface import Keypair

    return [Keypair.create_from_uri(f"//{name}").public_key for name in DEV_ACCOUNTS]


class ChainStore:
    """SQLite persistence: each block's header, body and storage changes, written atomically."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        # Opened in a worker thread at start-up, then used only by the node's event loop.
        self.db = sqlite3.connect(
            path / "chain.sqlite", isolation_level=None, check_same_thread=False
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS blocks (number INTEGER PRIMARY KEY, header BLOB NOT NULL, body BLOB NOT NULL)"
        )
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS changes (number INTEGER NOT NULL, key BLOB NOT NULL, value BLOB)"
        )
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )

    def save(self, block: Block, changes: dict[bytes, bytes | None], finalized: int) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "INSERT INTO blocks VALUES (?, ?, ?)",
                (block.number, block.header.encode(), block.encode_body()),
            )
            self.db.executemany(
                "INSERT INTO changes VALUES (?, ?, ?)",
                [(block.number, k, v) for k, v in changes.items()],
            )
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('finalized', ?)", (str(finalized),)
            )

    def save_finalized(self, finalized: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('finalized', ?)", (str(finalized),))

    def load(self) -> tuple[list[tuple[Header, list[bytes], dict[bytes, bytes | None]]], int]:
        from ._scale import Reader

        blocks = []
        changes: dict[int, dict[bytes, bytes | None]] = {}
        for number, key, value in self.db.execute(
            "SELECT number, key, value FROM changes ORDER BY rowid"
        ):
            changes.setdefault(number, {})[bytes(key)] = None if value is None else bytes(value)
        for number, header, body in self.db.execute(
            "SELECT number, header, body FROM blocks ORDER BY number"
        ):
            reader = Reader(bytes(body))
            extrinsics = []
            for _ in range(reader.compact()):
                start = reader.pos
                length = reader.compact()
                reader.read(length)
                extrinsics.append(bytes(body[start : reader.pos]))
            blocks.append((Header.decode(bytes(header)), extrinsics, changes.get(number, {})))
        row = self.db.execute("SELECT value FROM meta WHERE key = 'finalized'").fetchone()
        return blocks, int(row[0]) if row else 0

    def close(self) -> None:
        self.db.close()


class Chain:
    """A single-authority chain: no forks, so a block is final once `finality_lag` blocks follow it."""

    def __init__(self, config: DevNodeConfig, runtime: Runtime = RUNTIME) -> None:
        self.config = config
        self.runtime = runtime
        self.storage = VersionedStorage()
        self.blocks: list[Block] = []
        self.numbers: dict[bytes, int] = {}
        self.finalized = 0
        self.pool = TransactionPool(config.pool_max_transactions)
        self.new_head_listeners: set[BlockListener] = set()
        self.finalized_listeners: set[BlockListener] = set()
        self.storage_listeners: set[Callable[[Block, dict[bytes, bytes | None]], None]] = set()
        self.watchers: dict[bytes, set[StatusListener]] = {}
        self._store: ChainStore | None = None
        self._last_timestamp = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        if self.config.base_path is not None:
            self._store = ChainStore(self.config.base_path)
            saved, finalized = self._store.load()
            if saved:
                for header, extrinsics, changes in saved:
                    root = self.storage.apply(header.number, changes)
                    if root != header.state_root:
                        raise DevnodeError(
                            f"persisted state does not match block {header.number}'s state root; "
                            f"the database at {self.config.base_path} is corrupt"
                        )
                    self._append(Block.build(header, extrinsics))
                self.finalized = min(finalized, self.best_number)
                log.info(
                    "resumed chain at block %d from %s", self.best_number, self.config.base_path
                )
                return
        self._genesis()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _genesis(self) -> None:
        accounts = dev_account_ids()
        changes = self.runtime.genesis_changes(
            [(who, self.config.endowment) for who in accounts], sudo_key=accounts[0]
        )
        root = self.storage.apply(0, changes)
        # BlockHash[0] is written by block 1's initialisation, as frame_system does.
        block = Block.build(Header(bytes(32), 0, root, extrinsics_root([])), [])
        self._append(block)
        if self._store is not None:
            self._store.save(block, changes, 0)

    def _append(self, block: Block) -> None:
        self.blocks.append(block)
        self.numbers[bytes(block.hash)] = block.number

    # -- queries -----------------------------------------------------------------------------

    @property
    def best(self) -> Block:
        return self.blocks[-1]

    @property
    def best_number(self) -> int:
        return len(self.blocks) - 1

    @property
    def genesis_hash(self) -> BlockHash:
        return self.blocks[0].hash

    def block_hash(self, number: int) -> BlockHash | None:
        if 0 <= number < len(self.blocks):
            return self.blocks[number].hash
        return None

    def block_by_hash(self, block_hash: bytes) -> Block | None:
        number = self.numbers.get(bytes(block_hash))
        return None if number is None else self.blocks[number]

    def reader(self, block: Block | None = None) -> ReadFn:
        number = self.best_number if block is None else block.number
        return self.storage.reader_at(number, self.best_number)

    def hash_at(self, number: int) -> bytes | None:
        """The hash of block `number` as bytes, None past the best block."""
        found = self.block_hash(number)
        return None if found is None else bytes(found)

    def account_nonce(self, who: bytes) -> int:
        nonce = self.runtime.system.account_from(self.storage.get, who).nonce
        return nonce

    def next_index(self, who: bytes) -> int:
        return self.pool.next_index(who, self.account_nonce(who))

    # -- transactions ------------------------------------------------------------------------

    def submit(self, raw: bytes, watcher: StatusListener | None = None) -> bytes:
        """Validate and pool a transaction; returns its hash or raises `TransactionRejected`."""
        ext = self.runtime.decode_extrinsic(raw)
        if ext.hash in self.pool:
            raise TransactionRejected.already_imported()
        valid = self.runtime.validate(ext, self.storage.get, self.best_number, self.hash_at)
        replaced = self.pool.insert(PoolTx(ext, valid, ext.hash))
        if replaced is not None:
            self._notify(replaced.hash, {"usurped": "0x" + ext.hash.hex()}, final=True)
        if watcher is not None:
            self.watchers.setdefault(ext.hash, set()).add(watcher)
            watcher("ready" if valid.ready else "future")
        return ext.hash

    def unwatch(self, tx_hash: bytes, watcher: StatusListener) -> None:
        listeners = self.watchers.get(tx_hash)
        if listeners is not None:
            listeners.discard(watcher)
            if not listeners:
                del self.watchers[tx_hash]

    def _notify(self, tx_hash: bytes, status: TxStatus, final: bool) -> None:
        listeners = self.watchers.get(tx_hash)
        if not listeners:
            return
        for listener in list(listeners):
            listener(status)
        if final:
            self.watchers.pop(tx_hash, None)

    def has_ready(self) -> bool:
        return bool(self.pool.ready(self.account_nonce, 1))

    # -- block production --------------------------------------------------------------------

    def _next_timestamp(self) -> int:
        now = int(time.time() * 1000)
        self._last_timestamp = max(now, self._last_timestamp + 1)
        return self._last_timestamp

    def produce_block(self) -> Block:
        """Build, execute and import the next block with the pool's ready transactions."""
        parent = self.best
        number = parent.number + 1
        timestamp = self._next_timestamp()
        batch = self.pool.ready(self.account_nonce, self.config.max_extrinsics_per_block)
        expired = [
            tx for tx in batch if tx.valid.valid_till is not None and number >= tx.valid.valid_till
        ]
        if expired:
            # A mortal transaction whose era ended while it waited fails its signature check at
            # inclusion in Substrate (the birth hash it signed is no longer the one checked).
            for tx in expired:
                log.info("dropped transaction at block %d: its mortal era ended", number)
                self.pool.remove(tx.hash)
                self._notify(tx.hash, "invalid", final=True)
            batch = self.pool.ready(self.account_nonce, self.config.max_extrinsics_per_block)
        digest = [DIGEST_ITEM.encode(("PreRuntime", (b"dvnd", timestamp.to_bytes(8, "little"))))]
        result = self.runtime.execute_block(
            self.storage.get,
            number,
            bytes(parent.hash),
            timestamp,
            [tx.ext for tx in batch],
            self.hash_at,
            digest_logs=[DIGEST_ITEM.decode_all(d) for d in digest],
        )
        root = self.storage.apply(number, result.changes)
        header = Header(
            bytes(parent.hash), number, root, extrinsics_root(result.included), tuple(digest)
        )
        block = Block.build(header, result.included)
        self._append(block)
        finalized_before = self.finalized
        self.finalized = max(self.finalized, number - self.config.finality_lag)
        if self._store is not None:
            self._store.save(block, result.changes, self.finalized)

        included = set(result.included)
        for tx in batch:
            self.pool.remove(tx.hash)
            if tx.ext.raw in included:
                self._notify(tx.hash, {"inBlock": "0x" + bytes(block.hash).hex()}, final=False)
        for raw, rejected in result.dropped:
            log.info("dropped transaction at block %d: %s", number, rejected.reason)
            self._notify(blake2_256(raw), "invalid", final=True)
        for stale in self.pool.prune_stale(self.account_nonce):
            self._notify(stale.hash, "dropped", final=True)

        for listener in list(self.new_head_listeners):
            listener(block)
        for storage_listener in list(self.storage_listeners):
            storage_listener(block, result.changes)
        for finalized_number in range(finalized_before + 1, self.finalized + 1):
            self._finalize(self.blocks[finalized_number])
        return block

    def _finalize(self, block: Block) -> None:
        for listener in list(self.finalized_listeners):
            listener(block)
        finalized_hex = "0x" + bytes(block.hash).hex()
        for raw in block.extrinsics:
            self._notify(blake2_256(raw), {"finalized": finalized_hex}, final=True)

    def finalize_all(self) -> None:
        """Finalize every block up to the best (a dev chain may be told to catch up)."""
        before = self.finalized
        self.finalized = self.best_number
        if self._store is not None:
            self._store.save_finalized(self.finalized)
        for number in range(before + 1, self.finalized + 1):
            self._finalize(self.blocks[number])
